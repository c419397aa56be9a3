"""pytest plugin: a real PostgreSQL server (tools/testenv/pgfixture.py).

* ``pg_server`` (session): the fixture's info dict (see pgfixture's docstring).
* ``fresh_db`` (function): a new empty database owned by prod_owner, dropped after;
  yields a role dict (prod_owner's credentials with ``dbname`` set to the new database).
* ``empty_db`` (function): another such database, for a test that needs a restore target
  beside ``fresh_db``.
"""
import secrets

import pytest

import pgfixture


@pytest.fixture(scope="session")
def pg_server():
    try:
        srv = pgfixture.PgServer()
    except pgfixture.PgFixtureError as e:
        pytest.skip(str(e))
    with srv:
        yield srv.info


@pytest.fixture
def fresh_db(pg_server):
    su = pg_server["superuser"]
    name = "t_" + secrets.token_hex(6)
    owner = pg_server["prod"]["user"]
    pgfixture.psql(su, "CREATE DATABASE %s OWNER %s;" % (name, owner),
                   bin_dir=pg_server["bin_dir"])
    role = dict(pg_server["prod"], dbname=name)
    try:
        yield role
    finally:
        pgfixture.psql(su, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % name,
                       bin_dir=pg_server["bin_dir"], check=False)


@pytest.fixture
def empty_db(pg_server):
    """A new empty database owned by prod_owner (a restore target); its role dict."""
    su = pg_server["superuser"]
    name = "r_" + secrets.token_hex(6)
    pgfixture.psql(su, "CREATE DATABASE %s OWNER %s;" % (name, pg_server["prod"]["user"]),
                   bin_dir=pg_server["bin_dir"])
    try:
        yield dict(pg_server["prod"], dbname=name)
    finally:
        pgfixture.psql(su, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % name,
                       bin_dir=pg_server["bin_dir"], check=False)
