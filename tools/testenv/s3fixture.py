#!/usr/bin/env python3
"""A throwaway S3 server on loopback that really verifies SigV4 (moto, fixed and hardened).

Standard library only: the server itself (``moto_launcher.py``, next to this file) runs in a
Python that can ``import moto``, found as follows: ``$DOLIBAK_MOTO_PYTHON``, this
interpreter, ``python3`` on PATH, ``~/.pyenv/shims/python3``,
``/root/.pyenv/versions/*/bin/python3``; the first one where ``import moto`` works.

Three ways to use it:

* Python::

      from s3fixture import S3Server
      with S3Server(bucket="dolibak-test") as s3:
          s3.info["endpoint"], s3.info["access_key"], s3.info["secret_key"], ...

* ``s3fixture.py serve [options]``: prints one JSON line (the info dict) on stdout, then
  blocks until stdin reaches EOF or SIGTERM/SIGINT/SIGHUP arrives; then stops the server
  and removes its temporary directory. For test programs that spawn it with pipes.

* Shell::

      eval "$(tools/testenv/s3fixture.py start --dir /tmp/s3fx)"
      ...                              # AWS_* variables and S3_BUCKET are set
      tools/testenv/s3fixture.py stop /tmp/s3fx

The info dict: endpoint, host, port, region, bucket, access_key, secret_key, role_arn (a
role the key may assume through STS on the same endpoint), web_identity_token_file (the
token AssumeRoleWithWebIdentity accepts for that role), dir, request_log (JSONL: method,
path, query, status, header names), pid (the server process).
Secrets never appear on a command line: the server creates the key and hands it back over
a pipe.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "moto_launcher.py")
STARTUP_TIMEOUT = 60.0
INFO_FILE = "info.json"
MARKER_FILE = ".s3fixture"


class S3FixtureError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------
# Finding a Python with moto
# --------------------------------------------------------------------------------------
def _moto_interpreter(python: str) -> str | None:
    """The real interpreter behind ``python`` (resolving pyenv shims) if it has moto."""
    try:
        proc = subprocess.run(
            [python, "-c", "import moto, werkzeug, sys; print(sys.executable)"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    real = proc.stdout.decode(errors="replace").strip()
    return real if real and os.access(real, os.X_OK) else python


_MOTO_PYTHON: str | None = None


def find_moto_python() -> str:
    """An interpreter that can ``import moto``; cached for the process."""
    global _MOTO_PYTHON
    if _MOTO_PYTHON:
        return _MOTO_PYTHON
    candidates: list[str] = []
    tried: list[str] = []
    env = os.environ.get("DOLIBAK_MOTO_PYTHON")
    if env:
        real = _moto_interpreter(env)
        if real is None:
            raise S3FixtureError(
                f"DOLIBAK_MOTO_PYTHON={env} cannot 'import moto, werkzeug'"
            )
        _MOTO_PYTHON = real
        return real
    candidates.append(sys.executable)
    on_path = shutil.which("python3")
    if on_path:
        candidates.append(on_path)
    candidates.append(os.path.expanduser("~/.pyenv/shims/python3"))
    candidates.extend(sorted(glob.glob("/root/.pyenv/versions/*/bin/python3"), reverse=True))
    for cand in candidates:
        if not cand or cand in tried or not os.access(cand, os.X_OK):
            continue
        tried.append(cand)
        if cand == sys.executable:
            try:
                import importlib.util
                ok = (importlib.util.find_spec("moto") is not None
                      and importlib.util.find_spec("werkzeug") is not None)
            except (ImportError, ValueError):
                ok = False
            real = cand if ok else None
        else:
            real = _moto_interpreter(cand)
        if real:
            _MOTO_PYTHON = real
            return real
    raise S3FixtureError(
        "no Python interpreter with moto found (tried: "
        + (", ".join(tried) or "none")
        + "); install moto[server] or set DOLIBAK_MOTO_PYTHON"
    )


# --------------------------------------------------------------------------------------
# Process helpers
# --------------------------------------------------------------------------------------
def _wait_port(host: str, port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise S3FixtureError(f"S3 server did not open {host}:{port}")
            time.sleep(0.05)


def _read_line(proc: subprocess.Popen, deadline: float, log_path: str) -> str:
    """One line from proc.stdout, or an error quoting the server's log."""
    fd = proc.stdout.fileno()
    buf = b""
    while b"\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise S3FixtureError("S3 server did not start in time" + _log_tail(log_path))
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if not ready:
            if proc.poll() is not None:
                raise S3FixtureError(
                    f"S3 server exited with status {proc.returncode}" + _log_tail(log_path)
                )
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            proc.wait(timeout=5)
            raise S3FixtureError(
                f"S3 server exited with status {proc.returncode}" + _log_tail(log_path)
            )
        buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8")


def _log_tail(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read()[-4000:].decode("utf-8", "replace")
    except OSError:
        return ""
    return f"; its log ({path}):\n{data}" if data else ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie counts as dead.
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state != b"Z"
    except (OSError, IndexError):
        return True


def _kill_group(pgid: int, proc: subprocess.Popen | None, grace: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
    def gone() -> bool:
        if proc is not None:
            return proc.poll() is not None
        return not _alive(pgid)

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if gone():
            break
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + wait
        while not gone() and time.monotonic() < deadline:
            time.sleep(0.05)
    # Leftovers of the group (if any) go too.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# --------------------------------------------------------------------------------------
# The fixture
# --------------------------------------------------------------------------------------
class S3Server:
    """A moto S3 server on 127.0.0.1 with SigV4 checking on.

    ``dir``: the fixture directory (request log, server log). When None a temporary one
    is created and removed on stop; a given one is created if missing and left in place.
    """

    def __init__(
        self,
        bucket: str = "dolibak-test",
        region: str = "us-east-1",
        *,
        dir: str | None = None,  # noqa: A002
        forbid_checksum_headers: bool = True,
        clock_offset: float = 0.0,
        object_lock_days: int = 0,
        moto_api: bool = False,
        python: str | None = None,
        detached: bool = False,
        startup_timeout: float = STARTUP_TIMEOUT,
    ):
        self.bucket = bucket
        self.region = region
        self.dir = dir
        self.forbid_checksum_headers = forbid_checksum_headers
        self.clock_offset = clock_offset
        self.object_lock_days = object_lock_days
        self.moto_api = moto_api
        self.python = python
        self.detached = detached
        self.startup_timeout = startup_timeout
        self.info: dict = {}
        self._proc: subprocess.Popen | None = None
        self._own_dir = False

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> dict:
        if self._proc is not None:
            raise S3FixtureError("already started")
        python = self.python or find_moto_python()
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="dolibak-s3-")
            self._own_dir = True
        else:
            os.makedirs(self.dir, exist_ok=True)
        self.dir = os.path.abspath(self.dir)
        log_path = os.path.join(self.dir, "server.log")
        argv = [
            python, LAUNCHER,
            "--dir", self.dir,
            "--bucket", self.bucket,
            "--region", self.region,
            f"--clock-offset={float(self.clock_offset)!r}",
            f"--object-lock-days={int(self.object_lock_days)}",
            "--forbid-checksum-headers" if self.forbid_checksum_headers
            else "--allow-checksum-headers",
        ]
        if self.moto_api:
            argv.append("--moto-api")
        if self.detached:
            argv.append("--detached")
        elif self._own_dir:
            # If we die without stopping it, the server still removes the dir on its way out.
            argv.append("--remove-dir")
        env = dict(os.environ)
        # The server must not pick up the caller's real AWS identity or endpoint.
        for var in list(env):
            if var.startswith("AWS_"):
                del env[var]
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("PYTHONPATH", None)
        try:
            with open(log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL if self.detached else subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=env,
                    cwd=self.dir,
                    start_new_session=True,  # its own process group: killed as a whole
                    close_fds=True,
                )
            deadline = time.monotonic() + self.startup_timeout
            line = _read_line(self._proc, deadline, log_path)
            try:
                info = json.loads(line)
            except ValueError:
                raise S3FixtureError(f"S3 server printed {line!r}" + _log_tail(log_path))
            info["server_log"] = log_path
            _wait_port(info["host"], info["port"], deadline)
            self.info = info
        except BaseException:
            self.stop()
            raise
        return self.info

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()  # EOF: the server shuts down by itself
                except OSError:
                    pass
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
            _kill_group(proc.pid, proc)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._own_dir and self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self._own_dir = False

    def detach(self) -> None:
        """Forget the process without stopping it (``start`` subcommand)."""
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None
        self._own_dir = False

    def __enter__(self) -> "S3Server":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):  # last resort; never rely on it
        try:
            self.stop()
        except Exception:
            pass

    # -- conveniences ----------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.info["endpoint"]

    def env(self) -> dict[str, str]:
        """The AWS_* variables a client needs to reach this server."""
        return aws_env(self.info)

    def requests(self) -> list[dict]:
        """The request log so far."""
        return read_request_log(self.info["request_log"])


def aws_env(info: dict) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": info["access_key"],
        "AWS_SECRET_ACCESS_KEY": info["secret_key"],
        "AWS_ENDPOINT_URL": info["endpoint"],
        "AWS_REGION": info["region"],
    }


def read_request_log(path: str) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------
class _Stop(Exception):
    pass


def _server_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--bucket", default="dolibak-test")
    ap.add_argument("--region", default="us-east-1")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--forbid-checksum-headers", dest="forbid", action="store_true",
                       default=True, help="refuse x-amz-checksum-* & co. (default)")
    group.add_argument("--allow-checksum-headers", dest="forbid", action="store_false")
    ap.add_argument("--clock-offset", type=float, default=0.0, metavar="SECONDS",
                    help="pretend the server clock is off by SECONDS")
    ap.add_argument("--object-lock-days", type=int, default=0, metavar="DAYS",
                    help="> 0: the bucket has Object Lock with a default retention of DAYS "
                         "(uploads then need Content-MD5)")
    ap.add_argument("--moto-api", action="store_true",
                    help="let requests reach /moto-api/ (off by default)")


def _server_from(args, **kw) -> S3Server:
    return S3Server(
        bucket=args.bucket, region=args.region, forbid_checksum_headers=args.forbid,
        clock_offset=args.clock_offset, object_lock_days=args.object_lock_days,
        moto_api=args.moto_api, **kw,
    )


def cmd_serve(args) -> int:
    def on_signal(signum, frame):  # noqa: ARG001
        raise _Stop()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # A closed stdout reader must not kill us before cleanup.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    server = _server_from(args, dir=args.dir)
    try:
        server.start()
        info = dict(server.info)
        try:
            sys.stdout.write(json.dumps(info) + "\n")
            sys.stdout.flush()
        except OSError:
            pass
        while True:
            try:
                if not os.read(0, 65536):
                    break
            except OSError:
                break
    except _Stop:
        pass
    except S3FixtureError as exc:
        print(f"s3fixture: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        server.stop()
    return 0


def cmd_start(args) -> int:
    fdir = args.dir or tempfile.mkdtemp(prefix="dolibak-s3-")
    fdir = os.path.abspath(fdir)
    if os.path.exists(fdir) and os.listdir(fdir):
        print(f"s3fixture: {fdir} is not empty", file=sys.stderr)
        return 2
    os.makedirs(fdir, exist_ok=True)
    os.chmod(fdir, 0o700)
    server = _server_from(args, dir=fdir, detached=True)
    try:
        server.start()
    except S3FixtureError as exc:
        shutil.rmtree(fdir, ignore_errors=True)
        print(f"s3fixture: {exc}", file=sys.stderr)
        return 1
    info = dict(server.info)
    server.detach()
    with open(os.path.join(fdir, MARKER_FILE), "w") as fh:
        fh.write("created by s3fixture.py start; removed by s3fixture.py stop\n")
    fd = os.open(os.path.join(fdir, INFO_FILE), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    if args.json:
        print(json.dumps(info))
    else:
        for name, value in aws_env(info).items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"export S3_BUCKET={shlex.quote(info['bucket'])}")
        print(f"# bucket: {info['bucket']}  server pid: {info['pid']}  "
              f"stop with: {shlex.quote(os.path.abspath(__file__))} stop {shlex.quote(fdir)}")
    sys.stdout.flush()
    return 0


def _is_our_launcher(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"moto_launcher.py" in fh.read()
    except OSError:
        return False


def cmd_stop(args) -> int:
    fdir = os.path.abspath(args.dir)
    info_path = os.path.join(fdir, INFO_FILE)
    if not os.path.exists(os.path.join(fdir, MARKER_FILE)):
        print(f"s3fixture: {fdir} was not made by 's3fixture.py start'", file=sys.stderr)
        return 2
    try:
        with open(info_path) as fh:
            pid = int(json.load(fh)["pid"])
    except (OSError, ValueError, KeyError):
        pid = 0
    if pid and _alive(pid) and _is_our_launcher(pid):
        _kill_group(pid, None)
    shutil.rmtree(fdir, ignore_errors=True)
    return 0


def cmd_python(args) -> int:  # noqa: ARG001
    try:
        print(find_moto_python())
    except S3FixtureError as exc:
        print(f"s3fixture: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Throwaway S3 server (moto with SigV4 checking on) on 127.0.0.1."
    )
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("serve", help="print the info JSON line, serve until stdin EOF")
    _server_options(p)
    p.add_argument("--dir", help="fixture dir (default: a temporary one, removed on exit)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("start", help="start detached; print export lines")
    _server_options(p)
    p.add_argument("--dir", help="fixture dir (must be empty or absent)")
    p.add_argument("--json", action="store_true", help="print the info dict as JSON")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("stop", help="stop a server started with 'start' and remove DIR")
    p.add_argument("dir")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("python", help="print the interpreter that runs the server")
    p.set_defaults(func=cmd_python)

    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
