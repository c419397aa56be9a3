"""A --pg-tools-dir (pg_tools_dir setting) for tests that watch, interrupt or kill a run in
the middle of its dump: its pg_dump is a script around the real one, the real pg_restore and
pg_dumpall are linked beside it.

    tools = pg_tools_dir.trickling(tmp_path / "slowbin", pg_server, marker=tmp_path / "dumping")
    tools = pg_tools_dir.make(tmp_path / "latebin", pg_server, MY_SCRIPT, extra=...)
"""
import os
import sys

# The real pg_dump, its output passed on %(piece)d bytes at a time, %(delay)s s apart; the
# marker file, when one is named, appears once the first piece is out (the run is dumping).
TRICKLING = """#!/bin/sh
case "$1" in --version) exec %(bin)s/pg_dump --version;; esac
%(bin)s/pg_dump "$@" | %(python)s -c '
import sys, time
marker = sys.argv[1] if len(sys.argv) > 1 else ""
first = True
while True:
    b = sys.stdin.buffer.read(%(piece)d)
    if not b:
        break
    sys.stdout.buffer.write(b)
    sys.stdout.buffer.flush()
    if first and marker:
        open(marker, "w").close()
    first = False
    time.sleep(%(delay)s)
' %(marker)s
"""


def make(directory, pg_server, script, **values):
    """`directory` with `script` as its pg_dump; the script's %(bin)s is the server's bin
    directory, %(python)s this interpreter, the other %(name)s come from `values`."""
    os.makedirs(directory)
    f = os.path.join(directory, "pg_dump")
    with open(f, "w") as out:
        out.write(script % dict(bin=pg_server["bin_dir"], python=sys.executable, **values))
    os.chmod(f, 0o755)
    for name in ("pg_restore", "pg_dumpall"):
        os.symlink(os.path.join(pg_server["bin_dir"], name), os.path.join(directory, name))
    return directory


def trickling(directory, pg_server, marker=None, delay=0.2, piece=1024):
    """A pg_dump that trickles its output (`piece` bytes every `delay` seconds)."""
    return make(directory, pg_server, TRICKLING, delay=delay, piece=piece,
                marker="" if marker is None else marker)
