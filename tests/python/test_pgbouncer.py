"""dolibak through PgBouncer (Debian's pgbouncer in front of the PostgreSQL fixture): backup,
check and restore through a session pool; a transaction pool refused with what to change; the
dump's session read-only although PgBouncer refuses the `options` startup parameter."""
import json
import os
import re
import subprocess

import pytest

import dolibarr_gen as gen
import pgfixture
import json_contract

try:
    import pgbouncerfixture
    pgbouncerfixture.find_pgbouncer()
    HAVE_PGBOUNCER = True
except Exception:  # noqa: BLE001
    HAVE_PGBOUNCER = False

BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None

pytestmark = [
    pytest.mark.skipif(not CLI or not os.path.exists(CLI), reason="no built bin/dolibak"),
    pytest.mark.skipif(not HAVE_PGBOUNCER, reason="pgbouncer is not installed"),
]


def run(args, role, extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
    env.update({"DOLIBAK_DB_HOST": str(role["host"]), "DOLIBAK_DB_PORT": str(role["port"]),
                "DOLIBAK_DB_USER": role["user"], "DOLIBAK_DB_NAME": role["dbname"],
                "DOLIBAK_DB_PASSWORD": role["password"]})
    env.update(extra or {})
    return subprocess.run([CLI] + args, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def bouncer(pg_server, fresh_db, empty_db):
    gen.create_db(pgfixture.libpq_env(fresh_db), 5, 3)
    sandbox = pg_server["sandbox"]
    with pgbouncerfixture.PgBouncer(pg_server, fresh_db, [empty_db["dbname"], sandbox["dbname"]],
                                    [sandbox]) as b:
        yield b


def test_backup_check_restore_through_a_session_pool(bouncer, empty_db, tmp_path):
    role = bouncer.role("session")
    store = "file://" + str(tmp_path / "store")
    (tmp_path / "store").mkdir()
    # PgBouncer 1.18 refuses the startup parameter the dump's session used to need: check
    # probes the path backup takes and says how the session is read-only there.
    p = run(["check", "--store", store], role)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "READ ONLY transaction" in p.stdout and "unsupported startup parameter" in p.stdout
    assert "each connection kept its own server process" in p.stdout
    p = run(["backup", "--store", store, "--db-only", "--json"], role)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "pg_dump's session: read-only by pg_dump's own READ ONLY transaction" in p.stderr
    report = json_contract.loads(p.stdout, "backup")
    assert report["ok"] is True
    target = bouncer.role("session", empty_db["dbname"])
    to = "host=%s port=%d user=%s dbname=%s" % (target["host"], target["port"], target["user"],
                                                target["dbname"])
    p = run(["restore", "db", "latest", "--store", store, "--to", to], role,
            {"DOLIBAK_TARGET_PASSWORD": target["password"]})
    assert p.returncode == 0, p.stdout + p.stderr
    rows = pgfixture.psql(empty_db, "SELECT count(*) FROM llx_facture;", args=["-At"])
    assert int(rows) > 0


def test_a_transaction_pool_is_refused_with_what_to_change(bouncer, tmp_path):
    role = bouncer.role("transaction")
    (tmp_path / "store").mkdir()
    store = "file://" + str(tmp_path / "store")
    p = run(["backup", "--store", store, "--db-only"], role)
    assert p.returncode == 3, p.stdout + p.stderr  # the run failed: nothing was dumped
    assert "does not keep one server session per connection" in p.stderr
    assert "pool_mode = session" in p.stderr
    assert not (tmp_path / "store" / "db").exists() or not os.listdir(tmp_path / "store" / "db")
    p = run(["check", "--store", store], role)
    assert p.returncode != 0
    assert "does not keep one server session per connection" in p.stdout


def test_the_dump_session_is_read_only_through_the_pooler(pg_server, bouncer, tmp_path):
    """The server's own log of the dump's session: every statement pg_dump sends after its
    first BEGIN runs in a READ ONLY transaction, although no startup option arrived."""
    su = pg_server["superuser"]
    bin_dir = pg_server["bin_dir"]
    pgfixture.psql(su, "ALTER SYSTEM SET log_statement = 'all';"
                       "ALTER SYSTEM SET log_line_prefix = '%p %a: ';"
                       "SELECT pg_reload_conf();", bin_dir=bin_dir)
    try:
        role = bouncer.role("session")
        (tmp_path / "store").mkdir()
        p = run(["backup", "--store", "file://" + str(tmp_path / "store"), "--db-only"], role)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        pgfixture.psql(su, "ALTER SYSTEM RESET log_statement; ALTER SYSTEM RESET "
                           "log_line_prefix; SELECT pg_reload_conf();", bin_dir=bin_dir)
    log_path = os.path.join(pg_server["dir"], "server.log")
    with open(log_path, errors="replace") as fh:
        text = fh.read()
    lines = [ln for ln in text.splitlines() if " pg_dump: " in ln and "statement:" in ln]
    assert lines, "no statement of pg_dump in the server log (%s)" % log_path
    pid = lines[-1].split()[0]
    session = [ln.split("statement:", 1)[1].strip() for ln in lines if ln.split()[0] == pid]
    begin = next(i for i, s in enumerate(session) if s.upper().startswith("BEGIN"))
    assert re.search(r"READ ONLY", session[begin + 1], re.I), session[begin:begin + 2]
    copies = [s for s in session[begin:] if s.upper().startswith("COPY ")]
    assert copies, "pg_dump copied no table inside its read-only transaction"


def test_refresh_through_a_session_pool(pg_server, bouncer):
    """A sandbox refresh with both ends behind the pooler: production dumped through the
    session pool, the sandbox reset and restored through it, proven."""
    sandbox = pg_server["sandbox"]
    target = bouncer.role("session", sandbox["dbname"])
    to = "host=%s port=%d dbname=%s" % (target["host"], target["port"], target["dbname"])
    p = run(["refresh", "--to-db", to, "--role", sandbox["user"]], bouncer.role("session"),
            {"DOLIBAK_TARGET_PASSWORD": sandbox["password"]})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "pg_dump's session: read-only by pg_dump's own READ ONLY transaction" in p.stderr
    rows = pgfixture.psql(sandbox, "SELECT count(*) FROM llx_facture;", args=["-At"])
    assert int(rows) > 0


def test_a_statement_pool_is_refused(bouncer, tmp_path):
    (tmp_path / "store").mkdir()
    p = run(["check", "--store", "file://" + str(tmp_path / "store")], bouncer.role("statement"))
    assert p.returncode != 0
    assert "does not keep one server session per connection" in p.stdout
    assert "a transaction block was refused" in p.stdout


def test_a_session_pool_of_one_connection_passes(bouncer, tmp_path):
    """The probe's second connection waits for the only server session, which the first one
    holds: that wait is itself the proof of session pooling, and the backup goes on."""
    (tmp_path / "store").mkdir()
    role = bouncer.role("single")
    p = run(["check", "--store", "file://" + str(tmp_path / "store")], role)
    assert "waited for a server session while the first held its own" in p.stdout, p.stdout
    p = run(["backup", "--store", "file://" + str(tmp_path / "store"), "--db-only"], role)
    assert p.returncode == 0, p.stdout + p.stderr
