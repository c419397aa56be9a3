#!/usr/bin/env python3
"""A throwaway PostgreSQL server for dolibak's tests (standard library only).

Three ways to use it:

* Python: ``with PgServer() as pg: ... pg.info ...`` -- the server is stopped and
  its directory removed when the block exits, exceptions included.
* ``pgfixture.py serve [--pg-bin DIR] [--base-dir DIR]`` -- for the C++ tests: starts a
  server, prints exactly one JSON line (the info dict) on stdout, then waits until its
  stdin reaches EOF (the parent closed the pipe or died) or it receives
  SIGTERM/SIGINT/SIGHUP, and tears the server down.  The postmaster is a direct child
  with a parent-death signal, so it also goes away if this process is killed.
* ``pgfixture.py start [--dir DIR] [--json]`` starts a detached server (it keeps
  running), prints ``export PG...`` lines for the prod role (or the JSON with --json);
  ``pgfixture.py stop DIR`` stops it and removes DIR.  State lives in DIR/fixture.json.

In the first two modes the postmaster carries a parent-death signal (SIGQUIT): it stops
when the thread that started it ends, so start PgServer from a long-lived thread.

What it sets up: initdb (UTF8, locale C, scram-sha-256, superuser ``dolibak_admin``
whose random password goes through a 0600 --pwfile that is deleted right after),
a unix socket in the fixture dir plus 127.0.0.1 on a free port, pg_hba with
scram-sha-256 only (no trust), fsync off; roles ``prod_owner`` and ``sandbox_owner``
(LOGIN, no superuser/createdb/createrole) owning databases ``prod`` and ``sandbox``.
Role passwords are random per start and sent to the server only as SCRAM verifiers
computed here, so no plaintext password ever reaches a server log or a process argv;
they appear only in the info dict.

Info dict::

    {"dir", "host" (socket dir), "hostaddr": "127.0.0.1", "port", "version" ("15.x"),
     "version_num", "bin_dir",
     "superuser": {"user", "password", "dbname": "postgres", "host", "hostaddr", "port"},
     "prod": {...prod_owner/prod}, "sandbox": {...sandbox_owner/sandbox}}

Binaries: --pg-bin, else $DOLIBAK_PG_BIN, else the highest /usr/lib/postgresql/<N>/bin.
When run as root (initdb refuses root) the server runs as the OS user
$DOLIBAK_PG_OS_USER (default ``postgres``); the fixture dir then belongs to that user,
so the base dir must be traversable by it (the default, the system temp dir, is).
"""
import argparse
import base64
import ctypes
import glob
import hashlib
import hmac
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SUPERUSER = "dolibak_admin"
ROLES = {"prod": ("prod_owner", "prod"), "sandbox": ("sandbox_owner", "sandbox")}
_PG_ENV_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE",
                "PGSERVICE", "PGSERVICEFILE", "PGPASSFILE", "PGOPTIONS", "PGSSLMODE",
                "PGCONNECT_TIMEOUT", "PGAPPNAME", "PGSYSCONFDIR", "PGREQUIRESSL")


class PgFixtureError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- helpers

def find_pg_bin(pg_bin=None):
    """Directory holding initdb/postgres/pg_ctl/psql."""
    cands = []
    if pg_bin:
        cands.append(pg_bin)
    elif os.environ.get("DOLIBAK_PG_BIN"):
        cands.append(os.environ["DOLIBAK_PG_BIN"])
    else:
        found = []
        for d in glob.glob("/usr/lib/postgresql/*/bin"):
            ver = os.path.basename(os.path.dirname(d))
            try:
                found.append((float(ver), d))
            except ValueError:
                continue
        cands.extend(d for _, d in sorted(found, reverse=True))
    for d in cands:
        if all(os.access(os.path.join(d, exe), os.X_OK) for exe in ("initdb", "postgres", "psql")):
            return os.path.abspath(d)
    where = cands[0] if cands else "/usr/lib/postgresql/<N>/bin"
    raise PgFixtureError(
        "no PostgreSQL server binaries (initdb, postgres, psql) found in %s; "
        "install postgresql-<N> or pass --pg-bin / set DOLIBAK_PG_BIN" % where)


def scram_verifier(password, iterations=4096):
    """SCRAM-SHA-256 verifier as PostgreSQL stores it (for CREATE ROLE ... PASSWORD)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(stored_key), b64(server_key))


def _new_password():
    return secrets.token_urlsafe(24)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def libpq_env(role):
    """PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE for one role dict of the info."""
    return {
        "PGHOST": str(role["host"]),
        "PGPORT": str(role["port"]),
        "PGUSER": role["user"],
        "PGPASSWORD": role["password"],
        "PGDATABASE": role["dbname"],
    }


def clean_env(extra=None):
    """os.environ without any libpq variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _PG_ENV_VARS}
    if extra:
        env.update(extra)
    return env


def psql(role, sql, dbname=None, bin_dir=None, args=(), check=True, timeout=600):
    """Run ``sql`` (given on stdin) with psql as ``role``; return stdout (str).

    Options -X -q -v ON_ERROR_STOP=1 are always set; ``args`` adds more (e.g. ["-At"]).
    The password travels in PGPASSWORD only.  Raises PgFixtureError on failure when
    ``check`` (the message holds psql's stderr)."""
    exe = os.path.join(bin_dir or role.get("bin_dir") or find_pg_bin(), "psql")
    env = clean_env(libpq_env(role))
    if dbname:
        env["PGDATABASE"] = dbname
    env["PGCONNECT_TIMEOUT"] = "10"
    cmd = [exe, "-X", "-q", "-v", "ON_ERROR_STOP=1"] + list(args)
    p = subprocess.run(cmd, input=sql, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise PgFixtureError("psql failed (exit %d): %s" % (p.returncode, p.stderr.strip()))
    return p.stdout


def _run_as():
    """(user, group) kwargs for subprocess when we are root, else {}."""
    if os.geteuid() != 0:
        return {}
    name = os.environ.get("DOLIBAK_PG_OS_USER", "postgres")
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise PgFixtureError("running as root: initdb needs an unprivileged OS user; "
                             "user %r does not exist (set DOLIBAK_PG_OS_USER)" % name)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _check_traversable(path, uid, gid):
    """Raise when the OS user running the server cannot reach ``path``."""
    p = os.path.abspath(path)
    while True:
        st = os.stat(p)
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            raise PgFixtureError("the server runs as uid %d, which cannot traverse %s; choose a base dir "
                                 "under a world-traversable path (e.g. /tmp)" % (uid, p))
        if p == "/":
            return
        p = os.path.dirname(p)


def _set_pdeathsig():
    # Runs in the child after the uid switch: the postmaster gets SIGQUIT (immediate
    # shutdown) when the process that started it dies, whatever the cause.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGQUIT, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pidfile(data_dir):
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            return [l.rstrip("\n") for l in f]
    except OSError:
        return None


# ----------------------------------------------------------------------------- server

class PgServer:
    """A throwaway PostgreSQL server.  ``start()``/``stop()`` or a context manager."""

    def __init__(self, pg_bin=None, base_dir=None, dir=None, detached=False):
        self.bin_dir = find_pg_bin(pg_bin)
        self.base_dir = base_dir
        self.fixed_dir = dir
        self.detached = detached
        self.dir = None
        self.data_dir = None
        self.proc = None
        self.info = None
        self._run_as = _run_as()

    # -- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        try:
            self._make_dir()
            self._initdb()
            self._launch()
            self._setup_roles()
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self.info

    def stop(self):
        """Stop the server (fast, then immediate, then SIGKILL) and remove the dir."""
        if self.data_dir:
            stop_data_dir(self.data_dir, self.bin_dir, self.proc)
        self.proc = None
        if self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = self.data_dir = None

    # -- steps
    def _make_dir(self):
        if self.fixed_dir:
            d = os.path.abspath(self.fixed_dir)
            if os.path.exists(d) and os.listdir(d):
                raise PgFixtureError("%s exists and is not empty" % d)
            os.makedirs(d, mode=0o700, exist_ok=True)
            self.dir = d
        else:
            self.dir = tempfile.mkdtemp(prefix="dolibak-pg-", dir=self.base_dir)
        os.chmod(self.dir, 0o700)
        # unix socket path limit (sun_path 108 bytes incl. ".s.PGSQL.NNNNN")
        if len(self.dir) + len("/.s.PGSQL.65535") >= 107:
            raise PgFixtureError("fixture dir path too long for a unix socket: %s" % self.dir)
        if self._run_as:
            os.chown(self.dir, self._run_as["user"], self._run_as["group"])
            _check_traversable(os.path.dirname(self.dir), self._run_as["user"], self._run_as["group"])
        self.data_dir = os.path.join(self.dir, "data")

    def _spawn(self, cmd, **kw):
        return subprocess.run(cmd, env=clean_env({"LC_ALL": "C"}), cwd=self.dir,
                              capture_output=True, text=True, **self._run_as, **kw)

    def _initdb(self):
        self.super_password = _new_password()
        pwfile = os.path.join(self.dir, "pwfile")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.super_password + "\n")
        if self._run_as:
            os.chown(pwfile, self._run_as["user"], self._run_as["group"])
        try:
            p = self._spawn([os.path.join(self.bin_dir, "initdb"), "-D", self.data_dir,
                             "-U", SUPERUSER, "--pwfile", pwfile, "--auth=scram-sha-256",
                             "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"])
        finally:
            os.unlink(pwfile)
        if p.returncode != 0:
            raise PgFixtureError("initdb failed: %s%s" % (p.stdout, p.stderr))
        with open(os.path.join(self.data_dir, "pg_hba.conf"), "w") as f:
            f.write("# dolibak test fixture: password (SCRAM) everywhere, no trust\n"
                    "local all all scram-sha-256\n"
                    "host  all all 127.0.0.1/32 scram-sha-256\n")

    def _write_conf(self, port):
        conf = os.path.join(self.data_dir, "postgresql.auto.conf")
        settings = {
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "'%s'" % self.dir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "max_wal_size": "'2GB'",
            "shared_buffers": "'64MB'",
            "max_connections": "100",
            "max_locks_per_transaction": "256",
            "logging_collector": "off",
            "log_min_error_statement": "panic",  # never echo statements into the log
            "password_encryption": "'scram-sha-256'",
            "dynamic_shared_memory_type": "posix",
        }
        with open(conf, "w") as f:
            f.write("# written by dolibak pgfixture\n")
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))
        if self._run_as:
            os.chown(conf, self._run_as["user"], self._run_as["group"])

    def _launch(self):
        log_path = os.path.join(self.dir, "server.log")
        last_err = ""
        for _attempt in range(8):
            self.port = _free_port()
            self._write_conf(self.port)
            log = open(log_path, "ab")
            try:
                kw = dict(stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir,
                          env=clean_env({"LC_ALL": "C"}), start_new_session=True,
                          **self._run_as)
                if not self.detached:
                    kw["preexec_fn"] = _set_pdeathsig
                self.proc = subprocess.Popen(
                    [os.path.join(self.bin_dir, "postgres"), "-D", self.data_dir], **kw)
            finally:
                log.close()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                lines = _read_pidfile(self.data_dir)
                if lines and len(lines) >= 8 and lines[7].strip() == "ready":
                    return
                time.sleep(0.05)
            with open(log_path, errors="replace") as f:
                last_err = f.read()[-2000:]
            if self.proc.poll() is None:
                stop_data_dir(self.data_dir, self.bin_dir, self.proc)
                raise PgFixtureError("server did not become ready in 60 s:\n" + last_err)
            self.proc = None
            if "could not bind" not in last_err and "already in use" not in last_err:
                break
        raise PgFixtureError("postgres failed to start:\n" + last_err)

    def _setup_roles(self):
        common = {"host": self.dir, "hostaddr": "127.0.0.1", "port": self.port}
        su = dict(user=SUPERUSER, password=self.super_password, dbname="postgres", **common)
        info = {"dir": self.dir, "host": self.dir, "hostaddr": "127.0.0.1", "port": self.port,
                "bin_dir": self.bin_dir, "superuser": su}
        sql = []
        for key, (user, db) in ROLES.items():
            pw = _new_password()
            info[key] = dict(user=user, password=pw, dbname=db, **common)
            sql.append("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                       "NOREPLICATION PASSWORD '%s';" % (user, scram_verifier(pw)))
        sql.append("SELECT current_setting('server_version'), "
                   "current_setting('server_version_num');")
        out = psql(su, "\n".join(sql), bin_dir=self.bin_dir, args=["-At"])
        ver, num = out.strip().splitlines()[-1].split("|")
        info["version"] = ver.split()[0]
        info["version_num"] = int(num)
        for key, (user, db) in ROLES.items():
            # CREATE DATABASE cannot run inside a multi-statement transaction block.
            psql(su, "CREATE DATABASE %s OWNER %s;" % (db, user), bin_dir=self.bin_dir)
            psql(su, "REVOKE ALL ON DATABASE %s FROM PUBLIC;\n"
                     "GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s;" % (db, db, user),
                 bin_dir=self.bin_dir)
        self.info = info

    def _write_state(self):
        state = dict(self.info)
        state["postmaster_pid"] = self.proc.pid if self.proc else None
        path = os.path.join(self.dir, "fixture.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=1)
            f.write("\n")


def stop_data_dir(data_dir, bin_dir, proc=None, timeout=30):
    """Stop the postmaster of ``data_dir``: SIGINT (fast), then SIGQUIT, then SIGKILL."""
    lines = _read_pidfile(data_dir)
    pid = proc.pid if proc is not None else None
    if pid is None and lines:
        try:
            pid = int(lines[0])
        except ValueError:
            pid = None
    if pid is None:
        return
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10), (signal.SIGKILL, 10)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc is not None:
                if proc.poll() is not None:
                    return
            elif not _pid_alive(pid):
                return
            time.sleep(0.05)
    if proc is not None:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


# ----------------------------------------------------------------------------- CLI

class _Stop(Exception):
    pass


def _cmd_serve(args):
    def on_signal(signum, frame):
        raise _Stop()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    srv = PgServer(pg_bin=args.pg_bin, base_dir=args.base_dir)
    try:
        srv.start()
        try:
            sys.stdout.write(json.dumps(srv.info) + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            return 1
        try:
            while True:
                chunk = os.read(sys.stdin.fileno(), 65536)
                if not chunk:
                    break
        except OSError:
            pass
    except _Stop:
        pass
    finally:
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        srv.stop()
    return 0


def _cmd_start(args):
    srv = PgServer(pg_bin=args.pg_bin, base_dir=args.base_dir, dir=args.dir, detached=True)
    info = srv.start()
    if args.json:
        print(json.dumps(info))
    else:
        env = libpq_env(info["prod"])
        print(" ".join(["export"] + ["%s=%s" % (k, _shq(v)) for k, v in env.items()]))
        for key in ("superuser", "sandbox"):
            r = info[key]
            print("# %s: PGUSER=%s PGPASSWORD=%s PGDATABASE=%s" %
                  (key, r["user"], _shq(r["password"]), r["dbname"]))
        print("# stop with: %s stop %s" % (os.path.abspath(__file__), _shq(info["dir"])))
    return 0


def _shq(s):
    s = str(s)
    if re.fullmatch(r"[A-Za-z0-9_./:@=+-]+", s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def _cmd_stop(args):
    d = os.path.abspath(args.dir)
    state_path = os.path.join(d, "fixture.json")
    if not os.path.exists(state_path):
        if not os.path.isdir(d):
            print("pgfixture: %s does not exist" % d, file=sys.stderr)
            return 1
        if not os.path.isdir(os.path.join(d, "data")):
            print("pgfixture: %s is not a fixture dir (no fixture.json)" % d, file=sys.stderr)
            return 1
    bin_dir = None
    try:
        with open(state_path) as f:
            bin_dir = json.load(f).get("bin_dir")
    except (OSError, ValueError):
        pass
    stop_data_dir(os.path.join(d, "data"), bin_dir)
    shutil.rmtree(d, ignore_errors=True)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="throwaway PostgreSQL server for dolibak tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve", help="start, print one JSON line, stop at stdin EOF/signal")
    p.add_argument("--pg-bin")
    p.add_argument("--base-dir")
    p = sub.add_parser("start", help="start a detached server")
    p.add_argument("--pg-bin")
    p.add_argument("--base-dir")
    p.add_argument("--dir", help="fixture dir (created; must be empty)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("stop", help="stop a detached server and remove its dir")
    p.add_argument("dir")
    args = ap.parse_args(argv)
    try:
        return {"serve": _cmd_serve, "start": _cmd_start, "stop": _cmd_stop}[args.cmd](args)
    except PgFixtureError as e:
        print("pgfixture: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
