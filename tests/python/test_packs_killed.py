"""docs_mode packs: `dolibak backup` and `dolibak prune` killed with SIGKILL at random points
(no handler runs) on a directory store, day after day. After every kill, each run that
`list` shows as succeeded still verifies (its index and every blob of every pack it
references), and the next runs go on; at the end a clean prune leaves no garbage pack and the
newest run restores. DOLIBAK_PACKS_KILLS raises the number of kills (default 12)."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

import dolibarr_gen as gen
from test_cli import CLI, base_env, run, store_url

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")


def killed(args, delay):
    p = subprocess.Popen([CLI] + args, env=base_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True
    return False


def listed_runs(at):
    out = json.loads(run(["list", "--json"] + at, check_rc=0).stdout)
    return [r["ts"] for r in out["runs"] if r["loaded"] and r["succeeded"]]


def test_kill_9_during_packs_backups_and_prunes_never_loses_a_listed_run(tmp_path):
    rng = random.Random(13)
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), scale=60, seed=5)
    at = ["--store", store_url(tmp_path / "store")]
    backup = ["backup", "--docs-only", "--docs-dir", str(docs), "--docs-mode", "packs",
              "--create-store-dir"] + at
    prune = ["prune", "--retention", "count", "--keep-last", "3"] + at
    started = time.monotonic()
    run(backup, check_rc=0)
    first_run = time.monotonic() - started
    kills = int(os.environ.get("DOLIBAK_PACKS_KILLS", "12"))
    landed = 0
    for i in range(kills):
        # a new document each round, large enough that the backup has work to be killed in
        (docs / "facture" / f"KILL-{i}.pdf").write_bytes(
            os.urandom(rng.randrange(1_000_000, 6_000_000)))
        if i % 2 == 0:
            landed += killed(backup, rng.uniform(0.0, first_run))
        else:
            landed += killed(prune, rng.uniform(0.0, 0.08))
        if i % 3 == 2:  # a backup and a prune that complete, now and then
            run(backup, check_rc=0)
            run(prune, check_rc=0)
        for ts in listed_runs(at):
            v = run(["verify", ts] + at)
            assert v.returncode == 0, (i, ts, v.stdout, v.stderr)
    print(f"{landed} of {kills} kills landed in a running backup or prune")
    assert landed >= kills // 4, f"only {landed} of {kills} kills landed in a running process"
    run(backup, check_rc=0)
    run(prune, check_rc=0)
    # no pack is left that no index references
    packs = {str(p.relative_to(tmp_path / "store")) for p in (tmp_path / "store").rglob("*.pack")}
    referenced = set()
    for index in (tmp_path / "store" / "docs").glob("*.index.zst"):
        lines = subprocess.run(["zstd", "-dc", str(index)], capture_output=True,
                               check=True).stdout.decode().splitlines()
        for line in lines[1:-1]:
            for blob in json.loads(line).get("blobs", []):
                referenced.add(blob["pack"])
    assert packs == referenced
    restored = tmp_path / "restored"
    run(["restore", "docs", "latest", "--to", str(restored)] + at, check_rc=0)
    assert (restored / "facture" / f"KILL-{kills - 1}.pdf").read_bytes() == \
        (docs / "facture" / f"KILL-{kills - 1}.pdf").read_bytes()
