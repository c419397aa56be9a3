#!/usr/bin/env python3
"""A throwaway PgBouncer in front of the PostgreSQL fixture (standard library only).

    with PgBouncer(pg_info, role) as bouncer:
        bouncer.role("session")      # a role dict (as pgfixture's) reaching role["dbname"]
        bouncer.role("transaction")  # through a transaction-pooling entry

Debian's pgbouncer (1.18 on bookworm) listens on 127.0.0.1 and a free port, with one
[databases] entry per pool for the role's database and any other given
(``<dbname>_session``, ``<dbname>_transaction``, ``<dbname>_statement``, and
``<dbname>_single``: a session pool of one server connection), client authentication scram-sha-256, and an auth file (0600, in a
private temp dir removed on exit) holding the role's password, which PgBouncer uses to log in
to the server. Like the server it runs as the unprivileged OS user when we are root
(PgBouncer refuses to run as root), and it gets SIGTERM when the process that started it dies.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pgfixture


class PgBouncerError(RuntimeError):
    pass


def find_pgbouncer():
    for d in ("/usr/sbin", "/usr/bin"):
        exe = os.path.join(d, "pgbouncer")
        if os.access(exe, os.X_OK):
            return exe
    exe = shutil.which("pgbouncer")
    if exe:
        return exe
    raise PgBouncerError("pgbouncer is not installed (apt-get install pgbouncer)")


def _die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


class PgBouncer:
    # Pool entries: name suffix -> the entry's settings. "single" is a session pool of one
    # server connection (a second client waits for it).
    MODES = {"session": "pool_mode=session", "transaction": "pool_mode=transaction",
             "statement": "pool_mode=statement", "single": "pool_mode=session pool_size=1"}

    def __init__(self, pg_info, role, databases=(), other_roles=()):
        self.pg = pg_info
        self.target = role
        self.databases = [role["dbname"]] + list(databases)
        self.roles = [role] + list(other_roles)  # who may log in (the auth file)
        self.exe = find_pgbouncer()
        self.dir = None
        self.proc = None
        self.port = None

    def role(self, mode, dbname=None):
        """A role dict reaching the target database (or ``dbname``, one of ``databases``)
        through the ``mode`` pool."""
        assert mode in self.MODES
        return dict(self.target, host="127.0.0.1", hostaddr="127.0.0.1", port=self.port,
                    dbname="%s_%s" % (dbname or self.target["dbname"], mode))

    def log(self):
        try:
            with open(os.path.join(self.dir, "pgbouncer.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        run_as = pgfixture._run_as()
        self.dir = tempfile.mkdtemp(prefix="dolibak-pgbouncer-")
        os.chmod(self.dir, 0o700)
        userlist = os.path.join(self.dir, "userlist.txt")
        fd = os.open(userlist, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            for r in self.roles:
                f.write('"%s" "%s"\n' % (r["user"], r["password"]))
        for attempt in range(8):
            self.port = pgfixture._free_port()
            lines = ["[databases]"]
            for db in self.databases:
                for mode, settings in self.MODES.items():
                    lines.append("%s_%s = host=127.0.0.1 port=%d dbname=%s %s" % (
                        db, mode, self.pg["port"], db, settings))
            lines += [
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "listen_port = %d" % self.port,
                "unix_socket_dir =",
                "auth_type = scram-sha-256",
                "auth_file = " + userlist,
                "pool_mode = session",
                "default_pool_size = 5",
                "max_client_conn = 50",
                "logfile = " + os.path.join(self.dir, "pgbouncer.log"),
                "pidfile = " + os.path.join(self.dir, "pgbouncer.pid"),
                "log_connections = 1",
                "log_disconnections = 1",
            ]
            ini = os.path.join(self.dir, "pgbouncer.ini")
            with open(ini, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(ini, 0o600)
            if run_as:
                for p in (self.dir, userlist, ini):
                    os.chown(p, run_as["user"], run_as["group"])
            self.proc = subprocess.Popen(
                [self.exe, ini], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd=self.dir, env=pgfixture.clean_env({"LC_ALL": "C"}),
                start_new_session=True, preexec_fn=_die_with_parent, **run_as)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self
                except OSError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                self.__exit__(None, None, None)
                raise PgBouncerError("pgbouncer did not listen in 20 s:\n" + self.log()[-2000:])
            if "Address already in use" not in self.log():
                break
        err = self.log()[-2000:]
        self.__exit__(None, None, None)
        raise PgBouncerError("pgbouncer did not start:\n" + err)

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        return False
