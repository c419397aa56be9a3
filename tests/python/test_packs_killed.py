"""docs_mode packs: `dolibak backup` and `dolibak prune` killed with SIGKILL at random points
(no handler runs) on a directory store, day after day. Files are added three at a time and
most of them deleted later, so that prunes collect packs and repack the ones that are mostly
garbage: kills land in backups, in collections and in repacks. After every kill, each run
that `list` shows as succeeded still verifies (its index and every blob of every pack it
references, through the move records), and the next runs go on; at the end a clean prune
leaves no garbage pack and no unneeded move record, and the newest run restores.
DOLIBAK_PACKS_KILLS raises the number of kills (default 12)."""
import importlib.util
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


RECOVER = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "recover-packs.py")


def recover_module():
    spec = importlib.util.spec_from_file_location("recover_packs", RECOVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    repacks = []

    def timed(args):
        started = time.monotonic()
        p = run(args, check_rc=0)
        repacks.append("repacked" in p.stdout + p.stderr)
        return time.monotonic() - started

    # kills are drawn within the time a complete run of the same kind took last
    backup_time = timed(backup)
    prune_time = timed(prune)
    kills = int(os.environ.get("DOLIBAK_PACKS_KILLS", "12"))
    landed = 0
    for i in range(kills):
        # three new documents each round (one pack), large enough that the backup has work to
        # be killed in; two of an earlier round's go, so that its pack becomes mostly garbage
        # once the runs that had them are pruned, and is repacked
        for k, (low, high) in enumerate(((1_000_000, 2_000_000), (1_000_000, 2_000_000),
                                         (200_000, 600_000))):
            (docs / "facture" / f"KILL-{i}-{k}.pdf").write_bytes(
                os.urandom(rng.randrange(low, high)))
        if i >= 2:
            for k in (0, 1):
                (docs / "facture" / f"KILL-{i - 2}-{k}.pdf").unlink()
        if i % 2 == 0:
            landed += killed(backup, rng.uniform(0.0, backup_time))
        else:
            landed += killed(prune, rng.uniform(0.0, prune_time))
        if i % 3 == 2:  # a backup and a prune that complete, now and then
            backup_time = timed(backup)
            prune_time = timed(prune)
        for ts in listed_runs(at):
            v = run(["verify", ts] + at)
            assert v.returncode == 0, (i, ts, v.stdout, v.stderr)
    print(f"{landed} of {kills} kills landed in a running backup or prune; "
          f"{sum(repacks)} of the complete prunes repacked")
    assert landed >= kills // 4, f"only {landed} of {kills} kills landed in a running process"
    run(backup, check_rc=0)
    run(prune, check_rc=0)
    # no pack is left that no index references (through the move records, as recover-packs.py
    # follows them), no move record that no reference goes through
    root = tmp_path / "store"
    recover = recover_module()
    pieces = []  # the pieces of the version 2 indexes, as recover-packs.py reads them

    class Recording(recover.Packs):
        def frame(self, blob):
            pieces.append(blob)
            return super().frame(blob)

    located = Recording(str(root), None)
    packs = {str(p.relative_to(root)) for p in root.rglob("*.pack")}
    records = {p.name for p in root.glob("packs/moved/*.json")}
    referenced, through = set(), set()
    for index in (root / "docs").glob("*.index.zst"):
        lines = subprocess.run(["zstd", "-dc", str(index)], capture_output=True,
                               check=True).stdout.decode().splitlines()
        if json.loads(lines[0])["version"] == 2:
            entries = [e for _, e in recover.tree_entries(located, json.loads(lines[0])["root"])]
        else:
            entries = [json.loads(line) for line in lines[1:-1]]
        for blob in [b for e in entries for b in e.get("blobs", [])] + pieces:
            referenced.add(located.locate(blob)[0])
            if not (root / blob["pack"]).exists():
                through.add(os.path.basename(blob["pack"]).replace(".pack", ".json"))
        pieces.clear()
    assert packs == referenced
    assert through <= records
    print(f"{len(records)} move records kept at the end")
    restored = tmp_path / "restored"
    run(["restore", "docs", "latest", "--to", str(restored)] + at, check_rc=0)
    last = docs / "facture" / f"KILL-{kills - 1}-2.pdf"
    assert (restored / "facture" / last.name).read_bytes() == last.read_bytes()
