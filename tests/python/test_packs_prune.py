"""`dolibak prune --dry-run` in a docs_mode packs store (docs/packs.md, "Crash safety, by
ordering" and "Repacking"): the text and the JSON name the packs the collection would delete
and repack and the bytes; the store is left as it was; the prune that follows does exactly
that. Encrypted, without the identity: the plan of the runs, and a warning instead of the
preview."""
import os
import shutil
import subprocess

import pytest

import json_contract
from test_cli import CLI, run, store_url

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")


def snapshot(store):
    """relative path -> bytes of every file of a directory store."""
    return {str(p.relative_to(store)): p.read_bytes()
            for p in sorted(store.rglob("*")) if p.is_file()}


def two_runs(tmp_path, extra=()):
    """Two packs runs; the second keeps 5 of the first run's 30 files: once the first run
    goes, its pack of content is mostly garbage and its pack of pieces unreferenced."""
    docs = tmp_path / "documents"
    (docs / "facture").mkdir(parents=True)
    (docs / "install.lock").write_bytes(b"")
    for i in range(30):
        (docs / "facture" / f"FA{i:02}.pdf").write_bytes(os.urandom(20_000 + 1000 * i))
    store = tmp_path / "store"
    at = ["--store", store_url(store)] + list(extra)
    backup = ["backup", "--create-store-dir", "--docs-only", "--docs-dir", str(docs),
              "--docs-mode", "packs"] + at
    run(backup, check_rc=0)
    first_packs = {str(p.relative_to(store)) for p in (store / "packs").rglob("*.pack*")}
    content = max((store / "packs").rglob("*.pack*"), key=lambda p: p.stat().st_size)
    for i in range(5, 30):
        (docs / "facture" / f"FA{i:02}.pdf").unlink()
    (docs / "late.pdf").write_bytes(os.urandom(8_000))
    run(backup, check_rc=0)
    return store, at, first_packs, str(content.relative_to(store))


def test_prune_dry_run_shows_the_packs_the_prune_then_collects(tmp_path):
    store, at, first_packs, content = two_runs(tmp_path)
    prune = ["prune", "--retention", "count", "--keep-last", "1"] + at
    before = snapshot(store)

    text = run(prune + ["--dry-run"], check_rc=0).stdout
    doc = json_contract.loads(run(prune + ["--dry-run", "--json"], check_rc=0).stdout, "prune")
    assert snapshot(store) == before  # nothing deleted, nothing written (no lock either)

    assert doc["dry_run"] is True and doc["deleted"] == [] and doc["packs_error"] == ""
    packs = doc["packs"]
    # the first run's pack of pieces goes; its pack of content is repacked
    [deleted] = packs["deleted"]
    assert deleted["key"] in first_packs and deleted["key"] != content
    assert deleted["bytes"] == len(before[deleted["key"]])
    [repacked] = packs["repacked"]
    assert repacked["key"] == content
    assert repacked["bytes"] == len(before[content])
    assert 0 < repacked["live"] * 2 < repacked["bytes"]
    assert packs["deleted_bytes"] == deleted["bytes"]
    assert packs["repacked_bytes"] == repacked["bytes"]
    assert packs["records_deleted"] == [] and packs["written"] == []
    assert packs["indexes"] == 1

    # the text says the same: the totals, then one line per pack
    assert "packs: would delete 1 pack (" in text
    assert ", repack 1 (" in text
    assert f"  delete  {deleted['key']}  " in text
    assert f"  repack  {content}  " in text
    assert "referenced by 1 index" in text

    real = json_contract.loads(run(prune + ["--json"], check_rc=0).stdout, "prune")
    assert real["dry_run"] is False and real["failures"] == []
    assert real["packs"]["deleted"] == packs["deleted"]
    assert real["packs"]["repacked"] == packs["repacked"]
    assert real["packs"]["kept_bytes"] == packs["kept_bytes"]
    assert len(real["packs"]["written"]) == 1
    after = snapshot(store)
    gone = {k for k in before if k.startswith("packs/") and k not in after}
    assert gone == {deleted["key"], content}
    # its record was written: the kept run reads the moved frames through it
    assert [k for k in after if k.startswith("packs/moved/")] == [
        "packs/moved/" + os.path.basename(content).replace(".pack", ".json")]


def test_job_prune_dry_run_in_python_reports_the_same_preview(tmp_path):
    import dolibak
    store, _, _, content = two_runs(tmp_path)
    before = snapshot(store)
    job = dolibak.Job({"store": store_url(store), "retention": "count", "keep_last": 1},
                      use_environment=False)
    r = job.prune(dry_run=True)
    assert r.dry_run and r.deleted == [] and r.packs_error == ""
    packs = r.packs
    assert isinstance(packs, dolibak.PacksCollection)
    [(key, size, live)] = packs.repacked
    assert key == content and size == len(before[content]) and 0 < live * 2 < size
    [(gone, gone_size)] = packs.deleted
    assert packs.deleted_bytes == gone_size == len(before[gone])
    assert packs.repacked_bytes == size and packs.repacked_live_bytes == live
    assert packs.indexes == 1 and packs.written == [] and packs.bytes_written == 0
    # to_dict() is the CLI's --json
    d = json_contract.validate(r.to_dict(), "prune")
    assert d["packs"]["repacked"] == [{"key": key, "bytes": size, "live": live}]
    assert snapshot(store) == before


@pytest.mark.skipif(shutil.which("age-keygen") is None,
                    reason="the age CLI is not installed (tools/setup-debian installs it)")
def test_prune_dry_run_without_the_identity_shows_the_plan_and_warns(tmp_path):
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True,
                               text=True).stdout.strip()
    store, at, _, content = two_runs(
        tmp_path, ["--age-recipients", recipient, "--age-identity-file", str(key)])
    assert content.endswith(".pack.age")
    # the same store, without the identity
    at = at[:at.index("--age-identity-file")]
    prune = ["prune", "--dry-run", "--retention", "count", "--keep-last", "1"] + at
    before = snapshot(store)
    p = run(prune, check_rc=0)
    assert "DROP" in p.stdout
    assert "packs: not previewed: " in p.stdout and "age_identity_file" in p.stdout
    assert "not previewed" in p.stderr
    doc = json_contract.loads(run(prune + ["--json"], check_rc=0).stdout, "prune")
    assert doc["dropped"] >= 1 and doc["packs"] is None
    assert "age_identity_file" in doc["packs_error"]
    # with it, the preview: the encrypted pack of content would be repacked
    doc = json_contract.loads(
        run(prune + ["--age-identity-file", str(key), "--json"], check_rc=0).stdout, "prune")
    assert [p["key"] for p in doc["packs"]["repacked"]] == [content]
    assert doc["packs"]["problems"] == []
    assert snapshot(store) == before
