"""docs_mode packs: `dolibak backup` and `dolibak prune` killed with SIGKILL (no handler runs)
on a directory store, day after day, in the clear and encrypted with age (`age_recipients`,
`age_identity_file`). Files are added three at a time and most of them deleted later, so that
prunes collect packs and repack the ones that are mostly garbage. Backups are killed at random
points; prunes, each after a complete backup (a run goes, a pack becomes mostly garbage), at
random points or the moment the first new pack or move record appears: inside a repack. After
every kill, each run that `list` shows as succeeded still verifies in full (its index and every
blob of every pack it references, through the move records; encrypted, every pack decrypted
with the identity), and the next runs go on; in the encrypted store no plain pack, index or
move record ever appears, not even as an interrupted upload's temporary file. At the end a
clean prune leaves no garbage pack and no move record that no index reference goes through,
and the newest run restores byte for byte, with dolibak and with docs/recover-packs.py
(`--identity` and the age CLI for the encrypted store). The campaign asserts that kills landed
in backups, in prunes and in repacks, and that complete prunes repacked.
DOLIBAK_PACKS_KILLS raises the number of kills of both campaigns (default 12);
DOLIBAK_PACKS_AGE_KILLS that of the encrypted one alone."""
import hashlib
import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

import dolibarr_gen as gen
from test_cli import CLI, base_env, run, store_url
from test_packs_recovery import tree

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")


RECOVER = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "recover-packs.py")
AGE_HEADER = b"age-encryption.org/v1\n"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # the first bytes of a plain pack, piece pack or index
PLAIN_RECORD = b'{"format":"dolibak-pack-moved"'


def recover_module():
    spec = importlib.util.spec_from_file_location("recover_packs", RECOVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def killed(args, delay=None, watch=None):
    """Runs `dolibak args` and kills it with SIGKILL after `delay` seconds, or as soon as
    `watch()` holds; False when it ended first."""
    p = subprocess.Popen([CLI] + args, env=base_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if watch is None:
        time.sleep(delay)
    else:
        while p.poll() is None and not watch():
            time.sleep(0.0005)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    return p.wait() == -signal.SIGKILL


def listed_runs(at):
    """The runs `list` shows as succeeded, oldest first."""
    out = json.loads(run(["list", "--json"] + at, check_rc=0).stdout)
    return [r for r in out["runs"] if r["loaded"] and r["succeeded"]]


def pack_files(root):
    """(packs, move records) stored under packs/, as keys (paths relative to the store); read
    while a prune may be removing them (os.walk passes over what went meanwhile)."""
    keys = {os.path.relpath(os.path.join(d, f), root)
            for d, _, files in os.walk(root / "packs") for f in files}
    records = {k for k in keys if k.startswith("packs/moved/")}
    return keys - records, records


def old_pack(record):
    """The pack a move record moved: packs/moved/<sha>.json[.age] -> packs/xx/<sha>.pack[.age]"""
    name = os.path.basename(record).split(".")[0]
    return f"packs/{name[:2]}/{name}.pack" + (".age" if record.endswith(".age") else "")


def assert_sealed(root, documents):
    """Nothing of the packs mode in the clear: every pack, move record and index is an age
    file, and no file of the store (the publish's temporaries in .dolibak-tmp included) begins
    as a plain pack, index or move record does, or holds 64 bytes of a document (random bytes,
    which a plain pack stores as they are)."""
    packs, records = pack_files(root)
    for key in packs | records:
        assert key.endswith((".pack.age", ".json.age")), key
    for key in (root / "docs").iterdir() if (root / "docs").exists() else []:
        if ".index" in key.name:
            assert key.name.endswith(".index.zst.age"), key
    samples = [d.read_bytes()[1000:1064] for d in documents]
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        assert not data.startswith(ZSTD_MAGIC), path
        assert not data.startswith(PLAIN_RECORD), path
        assert not any(sample in data for sample in samples), path
        key = str(path.relative_to(root))
        if key in packs | records or key.endswith(".index.zst.age"):
            assert data.startswith(AGE_HEADER), path


def left_unreferenced(root, identity):
    """The packs no index references (through the move records, as recover-packs.py follows
    them) and the move records no reference goes through, in a store that no run is writing."""
    recover = recover_module()
    # the pieces of a directory no run changed are the same frame in every index: each
    # distinct frame is decompressed once (a zstd process each)
    decompressed, zstd_decompress = {}, recover.zstd_decompress

    def decompress_once(data):
        key = hashlib.sha256(data).digest()
        if key not in decompressed:
            decompressed[key] = zstd_decompress(data)
        return decompressed[key]

    recover.zstd_decompress = decompress_once
    pieces = []  # the pieces of the version 2 indexes, as recover-packs.py reads them

    class Recording(recover.Packs):
        def frame(self, blob):
            pieces.append(blob)
            return super().frame(blob)

    located = Recording(str(root), identity)
    packs, records = pack_files(root)
    referenced = set()
    for index in (root / "docs").glob("*.index.zst*"):
        if index.name.endswith(".age"):
            compressed = recover.age_decrypt(str(index), identity)
        else:
            compressed = index.read_bytes()
        lines = recover.zstd_decompress(compressed).decode().splitlines()
        if json.loads(lines[0])["version"] == 2:
            entries = [e for _, e in recover.tree_entries(located, json.loads(lines[0])["root"])]
        else:
            entries = [json.loads(line) for line in lines[1:-1]]
        for blob in [b for e in entries for b in e.get("blobs", [])] + pieces:
            referenced.add(located.locate(blob)[0])
        pieces.clear()
    # every record a reference went through (each of a chain), as the script read them
    through = {os.path.relpath(path, root) for path in located.moved}
    return packs - referenced, referenced - packs, records - through, through - records


def campaign(tmp_path, kills, age=None):
    """Kills `kills` backups and prunes (alternately; prunes at random points or inside a
    repack), checking the store after each; `age` = (recipient, identity file) encrypts the
    store. Returns counts."""
    rng = random.Random(13)
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), scale=30, seed=5)
    root = tmp_path / "store"
    at = ["--store", store_url(root)]
    encrypt = []
    if age:
        at += ["--age-identity-file", str(age[1])]
        # (the recipients, as a configuration gives them to every command: the collection
        # repacks encrypted packs into packs encrypted to them)
        encrypt = ["--age-recipients", age[0]]
    backup = ["backup", "--docs-only", "--docs-dir", str(docs), "--docs-mode", "packs",
              "--create-store-dir"] + at + encrypt
    prune = ["prune", "--json", "--retention", "count", "--keep-last", "3"] + at + encrypt
    stats = {"rounds": 0, "landed": {"backup": 0, "prune": 0},
             "in_repack": {"before its records": 0, "before its deletions": 0},
             "prunes": 0, "repacks": 0, "verified": 0}

    def complete(args):
        started = time.monotonic()
        p = run(args, check_rc=0)
        # what a kill leaves, the next run says; anything else (a pack not repacked, a
        # repack stopped) is a defect
        for line in (p.stdout + p.stderr).splitlines():
            assert " WARNING " not in line or any(
                known in line for known in ("taking over the lock held by the run of pid",
                                            "left by an interrupted run")), line
        if args is prune:
            # what the collection did (docs/json.md, dolibak.prune/1 packs)
            packs = json.loads(p.stdout)["packs"]
            assert not packs["problems"], packs
            stats["prunes"] += 1
            stats["repacks"] += bool(packs["repacked"])
            if age:
                assert all(k["key"].endswith(".pack.age") for k in packs["repacked"]), packs
                assert all(k.endswith(".pack.age") for k in packs["written"]), packs
        return time.monotonic() - started

    def check():
        if age:
            assert_sealed(root, (docs / "facture").glob("KILL-*"))
        for r in listed_runs(at):
            v = run(["verify", r["ts"]] + at)
            assert v.returncode == 0, (r["ts"], v.stdout, v.stderr)
            if age:
                assert "decrypted and checked" in v.stdout + v.stderr, (v.stdout, v.stderr)
            stats["verified"] += 1

    # kills are drawn within the time a complete run of the same kind took last
    backup_time = complete(backup)
    prune_time = complete(prune)
    check()
    i = 0
    # past `kills`, rounds go on (prunes killed when watched) until a kill has landed in a
    # repack: a prune has one to do only once the runs that held most of a pack are gone
    while i < kills or (not sum(stats["in_repack"].values()) and i < kills + 8):
        extra = i >= kills
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
        if i % 2 == 0 and not extra:
            stats["landed"]["backup"] += killed(backup, rng.uniform(0.0, backup_time))
        else:
            # a run more: the oldest kept one goes, and with it the last reference to most of
            # an earlier pack, which the prune repacks
            backup_time = complete(backup)
            before = pack_files(root)
            watched = i % 4 == 3 or extra
            if not watched:
                landed = killed(prune, rng.uniform(0.0, prune_time))
            else:
                # at the first new pack, or the first new move record, that appears: a prune
                # writes them only when it repacks (a new pack, then each old pack's record,
                # its commit point, then the old packs' deletion)
                kind = i % 8 == 7  # 0: packs, 1: move records
                landed = killed(prune, watch=lambda: pack_files(root)[kind] - before[kind])
            where = "ended first"
            if landed:
                stats["landed"]["prune"] += 1
                packs, records = pack_files(root)
                where = "elsewhere"
                if packs - before[0] and not records - before[1]:
                    where = "before its records"
                elif [r for r in records - before[1] if old_pack(r) in packs]:
                    where = "before its deletions"
                if where in stats["in_repack"]:
                    stats["in_repack"][where] += 1
            print(f"round {i}: prune killed {'when watched' if watched else 'at random'}: "
                  f"{where}")
        if i % 3 == 2:  # a prune that completes, now and then
            prune_time = complete(prune)
        check()
        i += 1
    stats["rounds"] = i
    landed = sum(stats["landed"].values())
    print(f"{landed} kills in {i} rounds landed in a running backup or prune "
          f"({stats['landed']['backup']} backups, {stats['landed']['prune']} prunes; in a "
          f"repack: {stats['in_repack']}); {stats['repacks']} of the {stats['prunes']} "
          f"complete prunes repacked; {stats['verified']} verifications")
    assert landed >= kills // 4, f"only {landed} of {kills} kills landed in a running process"
    for kind, n in stats["landed"].items():
        assert n > 0, f"no kill landed in a running {kind}"
    assert sum(stats["in_repack"].values()) > 0, "no kill landed in a repack"

    # The end: a backup and a clean prune.
    complete(backup)
    complete(prune)
    # a campaign whose complete prunes never repacked would not have tested repacking
    assert stats["repacks"] > 0, stats
    if age:
        assert_sealed(root, (docs / "facture").glob("KILL-*"))
    # no pack is left that no index references, no move record that no reference goes through
    garbage, missing, unneeded, lost = left_unreferenced(root, age[1] if age else None)
    assert not garbage and not missing, (garbage, missing)
    assert not unneeded and not lost, (unneeded, lost)
    print(f"{len(pack_files(root)[1])} move records kept at the end")
    # the newest run restores byte for byte, with dolibak and without it
    expected = tree(docs)
    restored = tmp_path / "restored"
    run(["restore", "docs", "latest", "--to", str(restored)] + at, check_rc=0)
    assert tree(restored) == expected
    index = listed_runs(at)[-1]["halves"]["docs"]["key"]
    assert index.endswith(".index.zst.age" if age else ".index.zst"), index
    rebuilt = tmp_path / "rebuilt"
    p = subprocess.run([sys.executable, RECOVER] + (["--identity", str(age[1])] if age else [])
                       + [str(root), os.path.basename(index).split(".")[0], str(rebuilt)],
                       capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert p.returncode == 0, p.stderr
    assert tree(rebuilt) == expected
    return stats


def test_kill_9_during_packs_backups_and_prunes_never_loses_a_listed_run(tmp_path):
    campaign(tmp_path, int(os.environ.get("DOLIBAK_PACKS_KILLS", "12")))


@pytest.mark.skipif(shutil.which("age") is None or shutil.which("age-keygen") is None,
                    reason="the age CLI is not installed (tools/setup-debian installs it)")
def test_kill_9_in_an_encrypted_packs_store_never_loses_a_run_nor_writes_plaintext(tmp_path):
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    os.chmod(key, 0o600)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                               text=True).stdout.strip()
    kills = os.environ.get("DOLIBAK_PACKS_AGE_KILLS",
                           os.environ.get("DOLIBAK_PACKS_KILLS", "12"))
    campaign(tmp_path, int(kills), age=(recipient, key))
