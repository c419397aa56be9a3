"""`dolibak backup` killed outright (SIGKILL: no handler runs) at points of a real run against
the PostgreSQL fixture: while the documents are uploaded as a multipart upload to the S3
fixture, and while pg_dump streams into a directory store. Each time: no object under a final
key, the fingerprint of the killed half unchanged, and the next run succeeds and removes what
the killed one left (the open multipart upload, the temporary file). The database password
is never left on disk (pg_dump's password file is in memory)."""
import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from fixtures_s3 import s3_signed_request
from test_cli import CLI, base_env, dolibarr, run, slow_pg_tools, store, store_url  # noqa: F401
import json_contract

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")

MiB = 1024 * 1024
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def open_uploads(info, bucket, prefix):
    """Keys of the open multipart uploads under `prefix` (ListMultipartUploads)."""
    status, _, body = s3_signed_request(info, "GET", f"/{bucket}",
                                        {"uploads": "", "prefix": prefix})
    assert status == 200, body
    return [u.findtext(f"{S3NS}Key") for u in ET.fromstring(body).iter(f"{S3NS}Upload")]


def object_keys(info, bucket, prefix):
    status, _, body = s3_signed_request(info, "GET", f"/{bucket}",
                                        {"list-type": "2", "prefix": prefix})
    assert status == 200, body
    return sorted(c.findtext(f"{S3NS}Key") for c in ET.fromstring(body).iter(f"{S3NS}Contents"))


def kill_when(proc, seen, what, timeout=120):
    """SIGKILL `proc` as soon as `seen()` is true."""
    deadline = time.monotonic() + timeout
    try:
        while not seen():
            assert proc.poll() is None, (f"finished before {what}", proc.communicate())
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_killed_during_the_documents_upload_to_s3(dolibarr, s3_server, s3_bucket):
    env, docs = dolibarr
    # Enough incompressible bytes for several 5 MiB parts.
    (docs / "ecm" / "archive").mkdir(parents=True, exist_ok=True)
    (docs / "ecm" / "archive" / "scan-2025.pdf").write_bytes(os.urandom(40 * MiB))
    env = dict(env, AWS_ACCESS_KEY_ID=s3_server["access_key"],
               AWS_SECRET_ACCESS_KEY=s3_server["secret_key"])
    common = ["--store", f"s3://{s3_bucket}/erp", "--s3-endpoint", s3_server["endpoint"],
              "--s3-region", s3_server["region"], "--s3-addressing", "path",
              "--s3-part-size", str(5 * MiB), "--s3-parallel-parts", "1",
              "--docs-dir", str(docs), "--docs-mode", "tar", "--docs-compression", "gzip"]
    log = s3_server["request_log"]
    log_start = os.path.getsize(log)

    def docs_part_stored():
        with open(log) as fh:
            fh.seek(log_start)
            for line in fh:
                e = json.loads(line)
                if (f"/{s3_bucket}/erp/docs/" in e["path"] and "partNumber=" in e["query"]
                        and e["status"] == 200):
                    return True
        return False

    proc = subprocess.Popen([CLI, "backup", "--docs-only"] + common, env=base_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kill_when(proc, docs_part_stored, "a stored part of the documents")

    assert [k for k in object_keys(s3_server, s3_bucket, "erp/") if "/docs/" in k] == []
    assert "erp/.fp-docs" not in object_keys(s3_server, s3_bucket, "erp/")
    assert len(open_uploads(s3_server, s3_bucket, "erp/")) == 1

    # The lock of the killed run is taken over (its process is gone); the run aborts the
    # upload it left, then uploads the documents whole.
    p = run(["backup", "--docs-only", "--json"] + common, env=env, check_rc=0)
    assert [h["outcome"] for h in json_contract.loads(p.stdout, "backup")["halves"]
            if h["half"] == "docs"] == \
        ["uploaded"]
    assert "removed 1 unfinished upload left by an interrupted run" in p.stderr
    assert open_uploads(s3_server, s3_bucket, "erp/") == []
    keys = object_keys(s3_server, s3_bucket, "erp/")
    assert len([k for k in keys if k.startswith("erp/docs/")]) == 1
    assert "erp/.fp-docs" in keys
    p = run(["verify", "latest"] + common, env=env, check_rc=0)


def test_killed_during_the_dump_into_a_directory(dolibarr, store, tmp_path, pg_server):
    env, docs = dolibarr
    common = ["--store", store_url(store), "--docs-dir", str(docs)]
    # A first good run: the fingerprints the killed run must not advance.
    run(["backup"] + common, env=env, check_rc=0)
    fp_db = (store / ".fp-db").read_text()
    fp_docs = (store / ".fp-docs").read_text()
    objects = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
    # A business change (an invoice line: no tms), so that the DB half has something to upload.
    p = subprocess.run([os.path.join(pg_server["bin_dir"], "psql"), "-X", "-At", "-v",
                        "ON_ERROR_STOP=1", "-c",
                        "UPDATE llx_facturedet SET qty = qty + 1 WHERE rowid = 1 RETURNING rowid"],
                       env=base_env(env), capture_output=True, text=True, check=True)
    assert p.stdout.splitlines()[0] == "1", p.stdout  # the row was there and changed

    tools = slow_pg_tools(tmp_path, pg_server)
    tmpdir = store / ".dolibak-tmp"

    def dump_streaming():
        # Files come and go in there (a lease's .part renamed into place, the store's lock
        # file of tree changes): one listed may be gone by the time it is looked at.
        for p in (tmpdir.iterdir() if tmpdir.is_dir() else []):
            try:
                if p.name.endswith(".part") and p.stat().st_size > 0:
                    return True
            except FileNotFoundError:
                pass
        return False

    # The killed run's own temporary directory, which nothing else uses.
    run_tmp = tmp_path / "run-tmp"
    run_tmp.mkdir()
    proc = subprocess.Popen([CLI, "backup", "--db-only", "--pg-tools-dir", str(tools)] + common,
                            env=base_env(dict(env, TMPDIR=run_tmp)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    kill_when(proc, dump_streaming, "the dump streaming into a temporary file")
    # pg_dump had the password (it was dumping); no file of it is left behind.
    assert list(run_tmp.glob("dolibak-pgpass-*")) == []
    # Nothing under a final key, the fingerprints as they were, the temporary file left.
    after = sorted(str(p.relative_to(store)) for p in store.rglob("*")
                   if p.is_file() and tmpdir not in p.parents and p.name != ".lock")
    assert after == objects
    assert (store / ".fp-db").read_text() == fp_db
    assert (store / ".fp-docs").read_text() == fp_docs
    assert any(tmpdir.iterdir())

    p = run(["backup", "--json"] + common, env=env, check_rc=0)
    outcomes = {h["half"]: h["outcome"]
                for h in json_contract.loads(p.stdout, "backup")["halves"]}
    assert outcomes == {"db": "uploaded", "docs": "unchanged"}
    assert "left by an interrupted run" in p.stderr
    assert not tmpdir.exists() or not any(tmpdir.iterdir())
    assert (store / ".fp-db").read_text() != fp_db
    assert (store / ".fp-docs").read_text() == fp_docs
