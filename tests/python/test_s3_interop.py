"""Interoperability with the aws CLI (v1, the pyenv one) through the moto fixture: what
dolibak uploads (single and multipart, awkward keys) the aws CLI downloads byte-identical,
and the other way round. The CLI runs with AWS_REQUEST_CHECKSUM_CALCULATION=when_required,
as the fixture (like GCS) refuses the flexible-checksum headers."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

dolibak = pytest.importorskip("dolibak")
import dolibak.store  # noqa: E402

AWS = shutil.which("aws") or (os.path.expanduser("~/.pyenv/shims/aws")
                              if os.path.exists(os.path.expanduser("~/.pyenv/shims/aws")) else None)
pytestmark = pytest.mark.skipif(AWS is None, reason="no aws CLI on PATH")

MiB = 1024 * 1024


def payload(n: int, seed: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


@pytest.fixture
def aws_env(s3_server, tmp_path):
    config = tmp_path / "aws-config"
    config.write_text("[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n"
                      "  addressing_style = path\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("PYTHONPATH", None)
    env.update({
        "AWS_ACCESS_KEY_ID": s3_server["access_key"],
        "AWS_SECRET_ACCESS_KEY": s3_server["secret_key"],
        "AWS_DEFAULT_REGION": s3_server["region"],
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    })
    return env


def aws(env, s3_server, *args, stdin=None, ok=(0,)) -> bytes:
    proc = subprocess.run([AWS, "--endpoint-url", s3_server["endpoint"], *args], env=env,
                          input=stdin, capture_output=True, timeout=300)
    assert proc.returncode in ok, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout


def open_store(s3_server, bucket):
    return dolibak.store.open(
        f"s3://{bucket}/interop", endpoint=s3_server["endpoint"], region=s3_server["region"],
        access_key=s3_server["access_key"], secret_key=s3_server["secret_key"],
        addressing="path", part_size=5 * MiB, parallel_parts=2, use_environment=False)


@pytest.mark.parametrize("key,size", [
    ("db/20261123T010000Z.dump", 12 * MiB + 5),
    ("docs/dump-2026-11-23T01:00:00Z (1)+\u00fc.tar.gz", 100_000),
])
def test_aws_cli_reads_what_dolibak_wrote(s3_server, s3_bucket, aws_env, key, size):
    store = open_store(s3_server, s3_bucket)
    data = payload(size, size)
    store.put_bytes(key, data)
    got = aws(aws_env, s3_server, "s3", "cp", f"s3://{s3_bucket}/interop/{key}", "-")
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    listing = aws(aws_env, s3_server, "s3", "ls", "--recursive", f"s3://{s3_bucket}/interop/")
    assert key.encode() in listing
    head = aws(aws_env, s3_server, "s3api", "head-object", "--bucket", s3_bucket,
               "--key", f"interop/{key}")
    if size > 5 * MiB:
        assert b'-3\\"' in head  # a 3-part multipart ETag


def test_dolibak_reads_what_aws_cli_wrote(s3_server, s3_bucket, aws_env, tmp_path):
    key = "db/aws wrote: it+(2).dump"
    data = payload(11 * MiB + 17, 3)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    aws(aws_env, s3_server, "s3", "cp", str(src), f"s3://{s3_bucket}/interop/{key}")
    store = open_store(s3_server, s3_bucket)
    info = store.head(key)
    assert info["size"] == len(data)
    assert info["etag"].endswith('-3"')
    out = tmp_path / "out.bin"
    assert store.get_file(key, str(out)) == len(data)
    assert out.read_bytes() == data
    assert [o["key"] for o in store.list("db/")] == [key]
    store.remove(key)
    assert store.head(key) is None
    # (aws s3 ls exits 1 when it finds nothing)
    assert aws(aws_env, s3_server, "s3", "ls", "--recursive", f"s3://{s3_bucket}/interop/",
               ok=(0, 1)) == b""


def test_directory_store_round_trip(tmp_path):
    store = dolibak.store.open("file://" + str(tmp_path))
    store.put_bytes(".fp-db", b"{}")
    assert store.get_bytes(".fp-db") == b"{}"
    assert [o["key"] for o in store.list()] == [".fp-db"]
    with pytest.raises(dolibak.store.ObjectNotFound):
        store.get_bytes("missing")
    with pytest.raises(dolibak.ConfigError):
        store.put_bytes("../x", b"")
    with pytest.raises(dolibak.ConfigError):
        dolibak.store.open("file://" + str(tmp_path / "absent"))
