"""docs_mode packs through the CLI on a file:// store: a generated Dolibarr tree backed up,
changed, backed up again; dolibak restores each run, and docs/recover-packs.py (Python and
the zstd command, no dolibak) rebuilds each run byte for byte from the store's objects."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

import dolibarr_gen as gen
from test_cli import CLI, run, store_url

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")

RECOVER = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "recover-packs.py")
EXCLUDED = ("/temp/", ".pdf_preview")


def tree(root):
    """relative path (bytes) -> (kind, mode, content or target, mtime) of every entry kept."""
    out = {}
    root = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if any(x.encode() in b"/" + rel + b"/" for x in EXCLUDED) or rel.startswith(b"dolibarr"):
                continue
            st = os.lstat(full)
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = ("dir", st.st_mode & 0o755)
            else:
                with open(full, "rb") as f:
                    out[rel] = ("file", st.st_mode & 0o755, f.read(), st.st_mtime_ns)
    return out


def test_packs_runs_restore_and_rebuild_without_dolibak(tmp_path):
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), scale=30, seed=3)
    (docs / "ecm" / "caf\xe9").parent.mkdir(parents=True, exist_ok=True)
    with open(os.path.join(os.fsencode(docs / "ecm"), b"caf\xe9-latin1.txt"), "wb") as f:
        f.write(b"a name that is not UTF-8")
    (docs / "ecm" / "empty.txt").write_bytes(b"")
    os.symlink("empty.txt", docs / "ecm" / "link.txt")
    store = tmp_path / "store"
    at = ["--store", store_url(store)]
    common = at + ["--create-store-dir", "--docs-only", "--docs-dir", str(docs),
                   "--docs-mode", "packs"]

    run(["backup"] + common, check_rc=0)
    first = tree(docs)
    [index1] = sorted((store / "docs").glob("*.index.zst"))
    packs1 = set((store / "packs").rglob("*.pack"))
    assert packs1

    # a changed day: a new invoice and an edited file; only their content is uploaded
    (docs / "facture" / "FA-NEW").mkdir(parents=True)
    (docs / "facture" / "FA-NEW" / "FA-NEW.pdf").write_bytes(b"%PDF-1.4 new" * 1000)
    (docs / "ecm" / "empty.txt").write_bytes(b"no longer empty")
    run(["backup"] + common, check_rc=0)
    second = tree(docs)
    index2 = sorted((store / "docs").glob("*.index.zst"))[-1]
    assert index2 != index1
    new_packs = set((store / "packs").rglob("*.pack")) - packs1
    # the new content, and the index's pieces of the changed folders (FA-NEW, facture, ecm
    # and the root): about 4 kB, a little more or less from run to run (the pieces record
    # mtimes, which compress differently); the whole tree's packs are far larger
    assert len(new_packs) == 2
    added = sum(p.stat().st_size for p in new_packs)
    assert added < 5000
    assert added * 500 < sum(p.stat().st_size for p in packs1)

    v = run(["verify", "latest"] + at, check_rc=0)
    assert "index.zst" in v.stdout

    for index, expected in ((index1, first), (index2, second)):
        ts = index.name.split(".")[0]
        restored = tmp_path / ("restored-" + ts)
        run(["restore", "docs", ts, "--to", str(restored)] + at, check_rc=0)
        assert tree(restored) == expected
        rebuilt = tmp_path / ("rebuilt-" + ts)
        p = subprocess.run([sys.executable, RECOVER, str(store), ts, str(rebuilt)],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
        assert p.returncode == 0, p.stderr
        assert tree(rebuilt) == expected


def test_recover_script_refuses_a_damaged_blob(tmp_path):
    docs = tmp_path / "documents"
    (docs / "facture").mkdir(parents=True)
    (docs / "install.lock").write_bytes(b"")
    (docs / "facture" / "FA1.pdf").write_bytes(os.urandom(50_000))
    store = tmp_path / "store"
    run(["backup", "--store", store_url(store), "--create-store-dir", "--docs-only",
         "--docs-dir", str(docs), "--docs-mode", "packs"], check_rc=0)
    # the content's pack (the other holds the index's pieces)
    pack = max((store / "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    ts = next((store / "docs").glob("*.index.zst")).name.split(".")[0]
    p = subprocess.run([sys.executable, RECOVER, str(store), ts, str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "cannot be decompressed" in p.stderr or "does not match its digest" in p.stderr
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_a_repacked_store_restores_and_rebuilds_through_its_move_records(tmp_path):
    """Most of the first run's files go; once the first run is pruned, its pack is mostly
    garbage and is repacked: the kept run's index still names the old pack, which is gone,
    and dolibak and recover-packs.py both find its blobs through packs/moved/."""
    docs = tmp_path / "documents"
    (docs / "facture").mkdir(parents=True)
    (docs / "install.lock").write_bytes(b"")
    for i in range(30):
        (docs / "facture" / f"FA{i:02}.pdf").write_bytes(os.urandom(20_000 + 1000 * i))
    store = tmp_path / "store"
    at = ["--store", store_url(store)]
    backup = ["backup", "--create-store-dir", "--docs-only", "--docs-dir", str(docs),
              "--docs-mode", "packs"] + at
    run(backup, check_rc=0)
    # the content's pack (the other holds the index's pieces)
    old_pack = max((store / "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    for i in range(5, 30):
        (docs / "facture" / f"FA{i:02}.pdf").unlink()
    run(backup, check_rc=0)
    kept = tree(docs)
    p = run(["prune", "--retention", "count", "--keep-last", "1"] + at, check_rc=0)
    assert "repacked" in p.stdout + p.stderr
    assert not old_pack.exists()
    [record] = list((store / "packs" / "moved").glob("*.json"))
    assert record.name == old_pack.name.replace(".pack", ".json")
    # the repacked content, and the kept run's pieces
    new_pack = max((store / "packs").rglob("*.pack"), key=lambda p: p.stat().st_size)
    assert len(list((store / "packs").rglob("*.pack"))) == 2
    assert new_pack.stat().st_size < old_pack_size_bound(kept)

    [index] = list((store / "docs").glob("*.index.zst"))
    ts = index.name.split(".")[0]
    run(["verify", ts] + at, check_rc=0)
    q = run(["verify", "--quick", ts] + at, check_rc=0)
    assert "quick verify" in q.stdout
    restored = tmp_path / "restored"
    run(["restore", "docs", ts, "--to", str(restored)] + at, check_rc=0)
    assert tree(restored) == kept
    rebuilt = tmp_path / "rebuilt"
    p = subprocess.run([sys.executable, RECOVER, str(store), ts, str(rebuilt)],
                       capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert p.returncode == 0, p.stderr
    assert tree(rebuilt) == kept

    # without its move record, the old pack's blobs cannot be found: the script says so
    record.rename(tmp_path / "record.json")
    q = run(["verify", "--quick", ts] + at)
    assert q.returncode == 1 and "missing" in q.stdout, (q.stdout, q.stderr)
    p = subprocess.run([sys.executable, RECOVER, str(store), ts, str(tmp_path / "lost")],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "has no move record" in p.stderr


def old_pack_size_bound(files):
    """The live content's bytes plus a little: what a repacked pack of random data may hold."""
    return sum(len(v[2]) for v in files.values() if v[0] == "file") + 4096


@pytest.mark.skipif(shutil.which("age") is None or shutil.which("age-keygen") is None,
                    reason="the age CLI is not installed (tools/setup-debian installs it)")
def test_encrypted_packs_rebuild_with_the_age_cli(tmp_path):
    """docs_mode packs with age_recipients: only .age objects, no plaintext digest in a name;
    recover-packs.py --identity (age -d) rebuilds each run byte for byte, and refuses without
    the identity; after a prune that repacks, it follows the encrypted move records."""
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), scale=10, seed=5)
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    os.chmod(key, 0o600)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                               text=True).stdout.strip()
    store = tmp_path / "store"
    at = ["--store", store_url(store), "--age-identity-file", str(key)]
    common = at + ["--create-store-dir", "--docs-only", "--docs-dir", str(docs),
                   "--docs-mode", "packs", "--age-recipients", recipient]

    run(["backup"] + common, check_rc=0)
    first = tree(docs)
    (docs / "facture" / "FA-NEW").mkdir(parents=True)
    (docs / "facture" / "FA-NEW" / "FA-NEW.pdf").write_bytes(b"%PDF-1.4 new" * 1000)
    run(["backup"] + common, check_rc=0)
    second = tree(docs)

    indexes = sorted((store / "docs").glob("*.index.zst.age"))
    assert len(indexes) == 2
    assert not list((store / "docs").glob("*.index.zst"))
    packs = list((store / "packs").rglob("*"))
    packs = [p for p in packs if p.is_file()]
    assert packs and all(p.name.endswith(".pack.age") for p in packs)
    assert all(p.read_bytes().startswith(b"age-encryption.org/v1\n") for p in packs)
    new_pdf = hashlib.sha256(b"%PDF-1.4 new" * 1000).hexdigest()
    for p in store.rglob("*"):
        assert new_pdf not in p.name
    v = run(["verify", "latest"] + at, check_rc=0)
    assert "decrypted and checked" in v.stdout + v.stderr

    for index, expected in zip(indexes, (first, second)):
        ts = index.name.split(".")[0]
        restored = tmp_path / ("restored-" + ts)
        run(["restore", "docs", ts, "--to", str(restored)] + at, check_rc=0)
        assert tree(restored) == expected
        rebuilt = tmp_path / ("rebuilt-" + ts)
        p = subprocess.run([sys.executable, RECOVER, "--identity", str(key), str(store), ts,
                            str(rebuilt)], capture_output=True, text=True,
                           env={"PATH": os.environ["PATH"]})
        assert p.returncode == 0, p.stderr
        assert tree(rebuilt) == expected

    p = subprocess.run([sys.executable, RECOVER, str(store), ts, str(tmp_path / "no-key")],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "--identity" in p.stderr

    # Nine files in ten go; once the earlier runs are pruned their packs are mostly garbage and
    # are repacked: encrypted packs and encrypted move records, which the script follows.
    files = sorted(f for f in docs.rglob("*") if f.is_file() and not f.is_symlink())
    for i, f in enumerate(files):
        if i % 10 and f.name != "install.lock":
            f.unlink()
    run(["backup"] + common, check_rc=0)
    third = tree(docs)
    # (the recipients, as the configuration gives them to every command: a repack writes to
    # them; without them the encrypted packs are left as they are, with a warning)
    p = run(["prune", "--retention", "count", "--keep-last", "1", "--age-recipients", recipient]
            + at, check_rc=0)
    assert "repacked into" in p.stdout + p.stderr, p.stderr
    records = list((store / "packs" / "moved").glob("*"))
    assert records and all(r.name.endswith(".json.age") for r in records)
    assert all(r.read_bytes().startswith(b"age-encryption.org/v1\n") for r in records)
    [index] = list((store / "docs").glob("*.index.zst.age"))
    ts = index.name.split(".")[0]
    rebuilt = tmp_path / "rebuilt-repacked"
    p = subprocess.run([sys.executable, RECOVER, "--identity", str(key), str(store), ts,
                        str(rebuilt)], capture_output=True, text=True,
                       env={"PATH": os.environ["PATH"]})
    assert p.returncode == 0, p.stderr
    assert tree(rebuilt) == third
