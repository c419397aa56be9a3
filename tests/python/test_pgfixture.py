"""The throwaway PostgreSQL fixture (tools/testenv/pgfixture.py)."""
import json
import os
import signal
import subprocess
import sys

import pytest

import pgfixture

FIXTURE = pgfixture.__file__


def _psql_raw(role, sql, **over):
    """Run psql with the role's env overridden by ``over`` (None removes a variable);
    return the CompletedProcess (never raises)."""
    env = pgfixture.clean_env(pgfixture.libpq_env(role))
    for k, v in over.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return subprocess.run([os.path.join(pgfixture.find_pg_bin(), "psql"), "-X", "-w", "-At", "-c", sql],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


def _postmaster_pid(dir_):
    with open(os.path.join(dir_, "data", "postmaster.pid")) as f:
        return int(f.readline())


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie left for init to reap counts as dead
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_serves_postgresql_15(pg_server):
    out = pgfixture.psql(pg_server["prod"], "SHOW server_version;", args=["-At"]).strip()
    assert out.startswith("15."), out
    assert pg_server["version"].startswith("15.")
    assert 150000 <= pg_server["version_num"] < 160000
    assert pg_server["hostaddr"] == "127.0.0.1"
    assert pg_server["host"] == pg_server["dir"]


def test_info_shape(pg_server):
    for key, user, db in (("superuser", "dolibak_admin", "postgres"), ("prod", "prod_owner", "prod"),
                          ("sandbox", "sandbox_owner", "sandbox")):
        r = pg_server[key]
        assert r["user"] == user and r["dbname"] == db
        assert len(r["password"]) >= 20
        env = pgfixture.libpq_env(r)
        assert set(env) == {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"}
        assert env["PGPORT"] == str(pg_server["port"])
    pws = {pg_server[k]["password"] for k in ("superuser", "prod", "sandbox")}
    assert len(pws) == 3


def test_databases_owned_by_roles(pg_server):
    out = pgfixture.psql(pg_server["superuser"],
                         "SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
                         "WHERE datname IN ('prod','sandbox') ORDER BY 1;", args=["-At"])
    assert out.split() == ["prod|prod_owner", "sandbox|sandbox_owner"]


def test_roles_are_not_privileged(pg_server):
    out = pgfixture.psql(pg_server["superuser"],
                         "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles "
                         "WHERE rolname IN ('prod_owner','sandbox_owner') ORDER BY 1;", args=["-At"])
    assert out.split() == ["prod_owner|f|f|f|t", "sandbox_owner|f|f|f|t"]
    # and the prod role really cannot do superuser things
    p = _psql_raw(pg_server["prod"], "CREATE DATABASE nope;")
    assert p.returncode != 0 and "permission denied" in p.stderr


def test_wrong_password_is_rejected(pg_server):
    for over in ({}, {"PGHOST": "127.0.0.1"}):
        p = _psql_raw(pg_server["prod"], "SELECT 1;", PGPASSWORD="wrong-" + pg_server["prod"]["password"], **over)
        assert p.returncode != 0
        assert "password authentication failed" in p.stderr, p.stderr


def test_no_password_is_rejected(pg_server):
    for over in ({}, {"PGHOST": "127.0.0.1"}):
        p = _psql_raw(pg_server["prod"], "SELECT 1;", PGPASSWORD=None, PGPASSFILE="/nonexistent", **over)
        assert p.returncode != 0
        assert "no password supplied" in p.stderr, p.stderr


def test_right_password_over_tcp(pg_server):
    p = _psql_raw(pg_server["sandbox"], "SELECT current_user, inet_server_addr();", PGHOST="127.0.0.1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "sandbox_owner|127.0.0.1"


def test_hba_has_no_trust(pg_server):
    out = pgfixture.psql(pg_server["superuser"], "SELECT DISTINCT auth_method FROM pg_hba_file_rules;",
                         args=["-At"])
    assert out.split() == ["scram-sha-256"]
    assert pgfixture.psql(pg_server["superuser"], "SHOW fsync;", args=["-At"]).strip() == "off"


def test_no_password_in_server_argv_or_log(pg_server):
    secrets_ = [pg_server[k]["password"] for k in ("superuser", "prod", "sandbox")]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        for s in secrets_:
            assert s not in cmd
    with open(os.path.join(pg_server["dir"], "server.log"), errors="replace") as f:
        log = f.read()
    for s in secrets_:
        assert s not in log
    assert not os.path.exists(os.path.join(pg_server["dir"], "pwfile"))


def test_fresh_db(fresh_db, pg_server):
    out = pgfixture.psql(fresh_db, "SELECT current_database(), pg_get_userbyid(datdba) FROM pg_database "
                                   "WHERE datname = current_database();", args=["-At"]).strip()
    assert out == "%s|prod_owner" % fresh_db["dbname"]
    pgfixture.psql(fresh_db, "CREATE TABLE t (x int); INSERT INTO t VALUES (1);")


def test_context_manager_teardown():
    with pgfixture.PgServer() as pg:
        d = pg.info["dir"]
        pid = _postmaster_pid(d)
        assert pgfixture.psql(pg.info["prod"], "SELECT 1;", args=["-At"]).strip() == "1"
        role = pg.info["prod"]
    assert not os.path.exists(d)
    assert not _alive(pid)
    p = _psql_raw(role, "SELECT 1;")
    assert p.returncode != 0


def test_teardown_on_exception():
    seen = {}
    with pytest.raises(ZeroDivisionError):
        with pgfixture.PgServer() as pg:
            seen["dir"] = pg.info["dir"]
            seen["pid"] = _postmaster_pid(pg.info["dir"])
            1 / 0
    assert not os.path.exists(seen["dir"])
    assert not _alive(seen["pid"])


def _spawn_serve():
    p = subprocess.Popen([sys.executable, FIXTURE, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    line = p.stdout.readline()
    info = json.loads(line)
    return p, info


def test_serve_stops_on_stdin_eof():
    p, info = _spawn_serve()
    try:
        pid = _postmaster_pid(info["dir"])
        assert pgfixture.psql(info["prod"], "SELECT current_user;", args=["-At"]).strip() == "prod_owner"
    finally:
        p.stdin.close()
        rc = p.wait(60)
    assert rc == 0, p.stderr.read()
    assert p.stdout.read() == b""  # exactly one line on stdout
    assert not os.path.exists(info["dir"])
    assert not _alive(pid)


def test_serve_stops_on_sigterm():
    p, info = _spawn_serve()
    pid = _postmaster_pid(info["dir"])
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 0
    p.stdin.close()
    assert not os.path.exists(info["dir"])
    assert not _alive(pid)


def _fixture_dir():
    # not pytest's tmp_path: when run as root the server runs as "postgres", which
    # cannot traverse /tmp/pytest-of-root (mode 0700)
    import tempfile
    parent = tempfile.mkdtemp(prefix="dolibak-test-")
    os.chmod(parent, 0o755)
    return os.path.join(parent, "pg")


def test_start_stop_cli():
    d = _fixture_dir()
    out = subprocess.run([sys.executable, FIXTURE, "start", "--dir", d, "--json"], capture_output=True,
                         text=True, timeout=120)
    try:
        assert out.returncode == 0, out.stderr
        info = json.loads(out.stdout)
        assert info["dir"] == d
        with open(os.path.join(d, "fixture.json")) as f:
            assert json.load(f)["port"] == info["port"]
        assert oct(os.stat(os.path.join(d, "fixture.json")).st_mode & 0o777) == "0o600"
        pid = _postmaster_pid(d)
        assert pgfixture.psql(info["prod"], "SELECT 1;", args=["-At"]).strip() == "1"
    finally:
        st = subprocess.run([sys.executable, FIXTURE, "stop", d], capture_output=True, text=True, timeout=120)
    assert st.returncode == 0, st.stderr
    assert not os.path.exists(d)
    assert not _alive(pid)
    os.rmdir(os.path.dirname(d))


def test_start_prints_exports():
    d = _fixture_dir()
    out = subprocess.run([sys.executable, FIXTURE, "start", "--dir", d], capture_output=True, text=True,
                         timeout=120)
    try:
        assert out.returncode == 0, out.stderr
        first = out.stdout.splitlines()[0]
        assert first.startswith("export PGHOST=%s PGPORT=" % d)
        assert "PGUSER=prod_owner" in first and "PGDATABASE=prod" in first
        assert "# superuser:" in out.stdout and "# sandbox:" in out.stdout
    finally:
        subprocess.run([sys.executable, FIXTURE, "stop", d], capture_output=True, timeout=120)
    assert not os.path.exists(d)
    os.rmdir(os.path.dirname(d))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to the postgres OS user")
def test_untraversable_base_dir_is_reported(tmp_path):
    os.chmod(tmp_path, 0o700)
    with pytest.raises(pgfixture.PgFixtureError, match="cannot traverse"):
        pgfixture.PgServer(base_dir=str(tmp_path)).start()
    assert os.listdir(tmp_path) == []


def test_missing_binaries_error(tmp_path):
    with pytest.raises(pgfixture.PgFixtureError, match="no PostgreSQL server binaries"):
        pgfixture.find_pg_bin(str(tmp_path))
