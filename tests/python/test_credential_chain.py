"""The dolibak CLI with credentials from aws-cli's chain against the S3 fixture (signatures
and session tokens checked by moto): a backup through web identity (an EKS pod's variables),
a credential_process profile and an assume-role profile; explicit credentials beside a stale
AWS_PROFILE; the message when nothing works. Secrets are never printed."""
import json
import os
import stat

import pytest

import dolibarr_gen as gen
import pgfixture

import json_contract
BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")


def run(args, env, home):
    import subprocess
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
    clean["HOME"] = str(home)
    clean.update({k: str(v) for k, v in env.items()})
    return subprocess.run([CLI] + list(args), env=clean, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def dolibarr(fresh_db, tmp_path):
    env = pgfixture.libpq_env(fresh_db)
    gen.create_db(env, 10, 3)
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), 10, 3)
    return env, docs


def s3_args(s3_server, bucket, docs):
    return ["--store", f"s3://{bucket}/erp", "--s3-endpoint", s3_server["endpoint"],
            "--s3-region", s3_server["region"], "--s3-addressing", "path",
            "--docs-dir", str(docs)]


def backup_and_list(env, home, args, secrets):
    p = run(["backup", "--json"] + args, env, home)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert {h["outcome"] for h in json_contract.loads(p.stdout, "backup")["halves"]} == {"uploaded"}
    p2 = run(["list", "--json"] + args, env, home)
    assert p2.returncode == 0, (p2.stdout, p2.stderr)
    assert {b["half"] for b in json_contract.loads(p2.stdout, "list")["backups"]} == {"db", "docs"}
    for s in secrets:
        assert s not in p.stdout + p.stderr + p2.stdout + p2.stderr


def test_backup_with_web_identity(dolibarr, s3_server, s3_bucket, tmp_path):
    env, docs = dolibarr
    token = open(s3_server["web_identity_token_file"]).read().strip()
    env = dict(env, AWS_WEB_IDENTITY_TOKEN_FILE=s3_server["web_identity_token_file"],
               AWS_ROLE_ARN=s3_server["role_arn"], AWS_ROLE_SESSION_NAME="dolibak-pod",
               AWS_ENDPOINT_URL_STS=s3_server["endpoint"])
    backup_and_list(env, tmp_path, s3_args(s3_server, s3_bucket, docs), [token])


def write_aws_files(home, s3_server):
    aws = home / ".aws"
    aws.mkdir(exist_ok=True)
    creds = home / "creds.json"
    creds.write_text(json.dumps({"Version": 1, "AccessKeyId": s3_server["access_key"],
                                 "SecretAccessKey": s3_server["secret_key"]}))
    script = home / "vault-aws"
    script.write_text(f"#!/bin/sh\ncat '{creds}'\n")
    script.chmod(stat.S_IRWXU)
    (aws / "config").write_text(
        f"[profile proc]\ncredential_process = {script} --role backup\n"
        f"[profile role]\nrole_arn = {s3_server['role_arn']}\nsource_profile = proc\n"
        "role_session_name = nightly\n"
        f"[profile broken]\ncredential_process = /bin/sh -c 'exit 3'\n")


@pytest.mark.parametrize("profile", ["proc", "role"])
def test_backup_with_profile(dolibarr, s3_server, s3_bucket, tmp_path, profile):
    env, docs = dolibarr
    write_aws_files(tmp_path, s3_server)
    env = dict(env, AWS_PROFILE=profile, AWS_ENDPOINT_URL_STS=s3_server["endpoint"])
    backup_and_list(env, tmp_path, s3_args(s3_server, s3_bucket, docs),
                    [s3_server["secret_key"]])


def test_explicit_credentials_ignore_a_stale_profile(s3_server, s3_bucket, tmp_path):
    env = {"AWS_PROFILE": "gone", "DOLIBAK_S3_ACCESS_KEY_ID": s3_server["access_key"],
           "DOLIBAK_S3_SECRET_ACCESS_KEY": s3_server["secret_key"]}
    args = ["--store", f"s3://{s3_bucket}/x", "--s3-endpoint", s3_server["endpoint"],
            "--s3-region", s3_server["region"], "--s3-addressing", "path"]
    p = run(["list", "--json"] + args, env, tmp_path)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert json_contract.loads(p.stdout, "list")["backups"] == []
    # Without them the chain is asked, and the stale profile is the error.
    p = run(["list"] + args, {"AWS_PROFILE": "gone"}, tmp_path)
    assert p.returncode != 0
    assert "'gone'" in p.stderr


def test_failures_name_each_source(s3_server, s3_bucket, tmp_path):
    write_aws_files(tmp_path, s3_server)
    args = ["--store", f"s3://{s3_bucket}/x", "--s3-endpoint", s3_server["endpoint"],
            "--s3-region", s3_server["region"], "--s3-addressing", "path"]
    p = run(["list"] + args, {"AWS_PROFILE": "broken"}, tmp_path)
    assert p.returncode != 0
    assert "profile 'broken'" in p.stderr and "exited with status 3" in p.stderr
    assert "AWS_ACCESS_KEY_ID unset" in p.stderr
    (tmp_path / ".aws" / "config").unlink()
    p = run(["list"] + args, {}, tmp_path)
    assert p.returncode != 0
    for part in ("no AWS credentials found", "environment: AWS_ACCESS_KEY_ID unset",
                 "profile 'default'", "web identity: AWS_WEB_IDENTITY_TOKEN_FILE unset"):
        assert part in p.stderr, p.stderr
