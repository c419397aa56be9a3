"""Ctrl-C and exceptions of on_event during a Job operation, against the real PostgreSQL
fixture and a file:// store: the operation stops promptly, the exception reaches the caller,
and nothing is published (no new run, no object, no advanced stored fingerprint).

The backups run with a pg_dump that trickles its output (1 KiB every 0.1 s) and creates a
marker file once its first block is out: the run is then certainly mid-dump, and the test
waits for that marker rather than guessing with a sleep."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import dolibak
import dolibarr_gen as gen
import pg_tools_dir
import pgfixture

# Runs Job.backup() in a child process; prints one JSON line saying how it ended.
CHILD = r"""
import json, signal, sys, time
# Ctrl-C as in a terminal's Python, whatever this child inherited: a process started in the
# background by a shell without job control (a CI's runner may be one) has SIGINT ignored,
# and Python then leaves it so.
signal.signal(signal.SIGINT, signal.default_int_handler)
import dolibak
settings, mode = json.loads(sys.argv[1]), sys.argv[2]
events = []
on_event = events.append if mode == "callback" else None
job = dolibak.Job(settings, use_environment=False, on_event=on_event)
try:
    job.backup(docs=False)
    print(json.dumps({"ended": "returned"}), flush=True)
except KeyboardInterrupt:
    print(json.dumps({"ended": "KeyboardInterrupt", "at": time.time(),
                      "events": len(events)}), flush=True)
except BaseException as e:
    print(json.dumps({"ended": type(e).__name__, "message": str(e)}), flush=True)
"""


def snapshot(store):
    """{relative path: bytes} of every file of a directory store."""
    return {str(p.relative_to(store)): p.read_bytes()
            for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture
def changed_since_last_run(fresh_db, tmp_path):
    """A database backed up once into a store, then changed (so that the next backup dumps
    it): (settings without pg_tools_dir, store, the store's files after the first run)."""
    gen.create_db(pgfixture.libpq_env(fresh_db), 20, 5)
    store = tmp_path / "store"
    settings = {"store": "file://" + str(store), "create_store_dir": True,
                "db_host": str(fresh_db["host"]), "db_port": int(fresh_db["port"]),
                "db_user": fresh_db["user"], "db_name": fresh_db["dbname"],
                "db_password": fresh_db["password"]}
    first = dolibak.Job(settings, use_environment=False).backup(docs=False)
    assert first.ok and first.half("db").outcome == "uploaded"
    before = snapshot(store)
    assert ".fp-db" in before and any(k.startswith("manifests/") for k in before)
    pgfixture.psql(fresh_db, "CREATE TABLE llx_after_first_run (rowid serial PRIMARY KEY);"
                             "INSERT INTO llx_after_first_run DEFAULT VALUES;")
    return settings, store, before


def child_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
    build = os.environ.get("DOLIBAK_PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(p for p in [build, env.get("PYTHONPATH")] if p)
    return env


@pytest.mark.parametrize("mode", ["plain", "callback"])
def test_ctrl_c_cancels_a_running_backup(changed_since_last_run, pg_server, tmp_path, mode):
    settings, store, before = changed_since_last_run
    marker = tmp_path / "dump-started"
    settings = dict(settings, pg_tools_dir=str(pg_tools_dir.trickling(tmp_path / "slowbin", pg_server, marker, delay=0.1)))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(settings), mode],
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "pg_dump never started"
            time.sleep(0.02)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        exited = time.time()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, err)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ended"] == "KeyboardInterrupt", (result, err)
    print(f"{mode}: KeyboardInterrupt {result['at'] - sent:.2f} s after SIGINT, "
          f"exit after {exited - sent:.2f} s")
    assert result["at"] - sent < 2.0 and exited - sent < 5.0, (result["at"] - sent, exited - sent)
    if mode == "callback":
        assert result["events"] > 0  # the callback did see the run
    # Nothing published: the store is as the first run left it (no new manifest, no dump
    # object, the stored fingerprint not advanced, the lock released).
    assert snapshot(store) == before


def test_an_exception_of_on_event_propagates_and_cancels(changed_since_last_run):
    settings, store, before = changed_since_last_run

    class Stop(Exception):
        pass

    seen = []

    def on_event(e):
        seen.append(e.kind)
        if e.kind == "progress":
            raise Stop("enough")

    job = dolibak.Job(settings, use_environment=False, on_event=on_event)
    with pytest.raises(Stop, match="enough"):
        job.backup(docs=False)
    assert seen.count("progress") == 1  # no event is delivered after the exception
    assert snapshot(store) == before
    # The job stays cancelled; a new one backs up the change.
    with pytest.raises(dolibak.Cancelled):
        job.backup(docs=False)
    again = dolibak.Job(settings, use_environment=False).backup(docs=False)
    assert again.ok and again.half("db").outcome == "uploaded"
    assert snapshot(store)[".fp-db"] != before[".fp-db"]


def test_a_keyboard_interrupt_raised_by_on_event_propagates(changed_since_last_run):
    settings, store, before = changed_since_last_run
    seen = []

    def on_event(e):
        seen.append(e)
        raise KeyboardInterrupt

    job = dolibak.Job(settings, use_environment=False, on_event=on_event)
    with pytest.raises(KeyboardInterrupt):
        job.backup(docs=False)
    assert len(seen) == 1
    assert snapshot(store) == before
