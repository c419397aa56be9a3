"""A store upload killed (SIGKILL) in the middle of a multipart upload: no object appears,
and the open upload it left is found and aborted by Store.cleanup() (what the next run does)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

dolibak = pytest.importorskip("dolibak")
import dolibak.store  # noqa: E402

MiB = 1024 * 1024

CHILD = r"""
import os, sys
sys.path.insert(0, os.environ["DOLIBAK_PYTHONPATH"])
import dolibak.store
store = dolibak.store.open(os.environ["STORE_URL"], addressing="path", part_size=5 * 1024 * 1024,
                           parallel_parts=1)
store.put_file(os.environ["STORE_KEY"], os.environ["SOURCE_FILE"])
print("finished")
"""


def test_killed_upload_leaves_no_object_and_cleanup_aborts_it(s3_server, s3_bucket, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(40 * MiB))
    key = "db/20261123T010000Z.dump"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": s3_server["access_key"],
        "AWS_SECRET_ACCESS_KEY": s3_server["secret_key"],
        "AWS_ENDPOINT_URL": s3_server["endpoint"],
        "AWS_REGION": s3_server["region"],
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "STORE_URL": f"s3://{s3_bucket}/killed",
        "STORE_KEY": key,
        "SOURCE_FILE": str(src),
        "DOLIBAK_PYTHONPATH": os.path.dirname(os.path.dirname(dolibak.__file__)),
    })
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        # Wait until the first part has been stored, then kill the process outright.
        deadline = time.monotonic() + 60
        seen = False
        while time.monotonic() < deadline and not seen:
            with open(s3_server["request_log"]) as fh:
                for line in fh:
                    e = json.loads(line)
                    if (e["path"].endswith(f"/{s3_bucket}/killed/{key}")
                            and "partNumber=1&" in e["query"] and e["status"] == 200):
                        seen = True
            time.sleep(0.02)
        assert seen, child.stderr.read().decode() if child.poll() is not None else "no part"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, "the upload finished before it could be killed"

    store = dolibak.store.open(f"s3://{s3_bucket}/killed", endpoint=s3_server["endpoint"],
                               region=s3_server["region"], access_key=s3_server["access_key"],
                               secret_key=s3_server["secret_key"], addressing="path",
                               use_environment=False)
    assert store.head(key) is None
    assert store.list() == []
    assert store.cleanup(0) == 1  # the open upload the killed run left
    assert store.cleanup(0) == 0
    assert store.head(key) is None
