"""The disaster-recovery drill of docs/runbook.md ("Disaster recovery from a bare machine"),
run from the runbook's own commands: a production database and documents tree are backed up
to the S3 fixture (with the globals); then a *fresh* PostgreSQL cluster and an empty documents
directory are restored from the store alone by running the section's shell blocks (roles,
database with proof, documents), with only the names of this test substituted in (store URL,
endpoint, socket, paths, role); last, a backup from the restored machine into the same store.

The substitutions are the ones a reader makes for their own installation; anything else in the
blocks runs as written, so a runbook command that stops working fails this test."""
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

import dolibarr_gen as gen
import pgfixture
from s3fixture import S3Server
import json_contract

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNBOOK = os.path.join(ROOT, "docs", "runbook.md")
BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None
AWS = shutil.which("aws") or "/usr/bin/aws"

pytestmark = [
    pytest.mark.skipif(not CLI or not os.path.exists(CLI), reason="no built bin/dolibak"),
    pytest.mark.skipif(not os.path.exists(AWS), reason="aws-cli is not installed"),
]


def runbook_blocks():
    """The shell blocks of the bare-machine section's steps, in order."""
    with open(RUNBOOK) as f:
        text = f.read()
    section = text.split("## Disaster recovery from a bare machine", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


# What the dolibarr profile leaves out (Dolibarr regenerates it; docs/manifest.md).
REGENERATED = ("*/temp/*", "temp/*", "*.pdf_preview*.png", "dolibarr.log", "dolibarr_*.log")


def tree_digest(root, skip_regenerated=False):
    h = hashlib.sha256()
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if skip_regenerated and any(fnmatch.fnmatch(rel, pat) for pat in REGENERATED):
                continue
            h.update(rel.encode() + b"\0")
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def table_digest(role, bin_dir):
    return pgfixture.psql(role, "SELECT count(*), sum(hashtext(t::text)) FROM llx_facture t; "
                                "SELECT count(*) FROM llx_facturedet;", args=["-At"],
                          bin_dir=bin_dir)


@pytest.fixture
def aws_like_s3():
    """An S3 fixture that, like AWS, accepts flexible-checksum headers: aws-cli 2 sends
    x-amz-checksum-mode on every download (the session fixture refuses it, as GCS does)."""
    with S3Server(bucket="acme-erp-backups", forbid_checksum_headers=False) as server:
        yield server.info


def test_the_runbook_restores_a_bare_machine(pg_server, fresh_db, aws_like_s3, tmp_path):
    s3_server = aws_like_s3
    s3_bucket = s3_server["bucket"]
    blocks = runbook_blocks()
    assert len(blocks) == 3, "the section's steps changed: roles, database, documents"
    roles_block, db_block, docs_block = blocks

    # ---- production, backed up with its globals
    prod_env = pgfixture.libpq_env(fresh_db)
    gen.create_db(prod_env, 20, 7)
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), 20, 7)
    store = f"s3://{s3_bucket}/dolibarr-prod"
    common = {k: v for k, v in os.environ.items()
              if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
    common.update({"DOLIBAK_STORE": store, "DOLIBAK_S3_ENDPOINT": s3_server["endpoint"],
                   "DOLIBAK_S3_REGION": s3_server["region"], "DOLIBAK_S3_ADDRESSING": "path",
                   "AWS_ACCESS_KEY_ID": s3_server["access_key"],
                   "AWS_SECRET_ACCESS_KEY": s3_server["secret_key"],
                   "AWS_DEFAULT_REGION": s3_server["region"], "AWS_CONFIG_FILE": "/nonexistent",
                   "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "HOME": str(tmp_path)})
    prod = dict(common, DOLIBAK_DB_HOST=str(fresh_db["host"]),
                DOLIBAK_DB_PORT=str(fresh_db["port"]), DOLIBAK_DB_USER=fresh_db["user"],
                DOLIBAK_DB_NAME=fresh_db["dbname"], DOLIBAK_DB_PASSWORD=fresh_db["password"],
                DOLIBAK_DOCS_DIR=str(docs), DOLIBAK_GLOBALS="true")
    p = subprocess.run([CLI, "backup", "--json"], env=prod, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    globals_keys = [h["key"] for h in json_contract.loads(p.stdout, "backup")["halves"]
                    if h["half"] == "globals"]
    assert globals_keys, p.stdout
    source_rows = table_digest(fresh_db, pg_server["bin_dir"])
    source_docs = tree_digest(docs, skip_regenerated=True)

    # ---- the bare machine: a fresh cluster, an empty documents directory
    with pgfixture.PgServer() as new:
        su = new.info["superuser"]
        owner = new.info["prod"]  # the application's role, as a rebuilt server has it
        target_docs = tmp_path / "restored-documents"
        names = [
            ("s3://acme-erp-backups/dolibarr-prod", store),
            ("globals/20261123T020000Z.sql", globals_keys[-1]),
            ("aws s3 cp", f"{AWS} --endpoint-url {s3_server['endpoint']} s3 cp"),
            ("sudo -u postgres psql", os.path.join(new.info["bin_dir"], "psql")),
            ("sudo -u postgres createdb", os.path.join(new.info["bin_dir"], "createdb")),
            ("-O dolibarr dolibarr", f"-O {owner['user']} dolibarr"),
            ("host=/var/run/postgresql", f"host={new.info['host']} port={new.info['port']}"),
            ("user=dolibarr", f"user={owner['user']}"),
            ("/var/www/dolibarr/documents", str(target_docs)),
            ("dolibak ", CLI + " "),
        ]

        def literal(block):
            for old, new_text in names:
                block = block.replace(old, new_text)
            return block

        shell = dict(common, PGHOST=str(su["host"]), PGPORT=str(su["port"]), PGUSER=su["user"],
                     PGPASSWORD=su["password"], DOLIBAK_TARGET_PASSWORD=owner["password"])
        for step, block in (("roles", roles_block), ("database", db_block),
                            ("documents", docs_block)):
            script = literal(block)
            p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], env=shell,
                               capture_output=True, text=True, timeout=300)
            assert p.returncode == 0, (step, script, p.stdout, p.stderr)
            if step == "database":
                # The restore was proven on the restored database itself: every table of the
                # archive, each with the archive's row count.
                m = re.search(r"(\d+) tables? checked, (\d+) with the archive's row count",
                              p.stdout)
                assert m and m.group(1) == m.group(2) and int(m.group(1)) > 250, p.stdout
        restored = dict(owner, dbname="dolibarr")
        assert table_digest(restored, new.info["bin_dir"]) == source_rows
        assert tree_digest(target_docs) == source_docs
        assert (target_docs / "install.lock").exists()

        # ---- backups again, from the restored machine into the same store
        again = dict(common, DOLIBAK_DB_HOST=str(owner["host"]),
                     DOLIBAK_DB_PORT=str(owner["port"]), DOLIBAK_DB_USER=owner["user"],
                     DOLIBAK_DB_NAME="dolibarr", DOLIBAK_DB_PASSWORD=owner["password"],
                     DOLIBAK_DOCS_DIR=str(target_docs), DOLIBAK_GLOBALS="true")
        p = subprocess.run([CLI, "backup", "--json"], env=again, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        halves = {h["half"]: h for h in json_contract.loads(p.stdout, "backup")["halves"]}
        # The database is another server's: its fingerprint differs, so it is stored again;
        # the documents came back byte for byte: unchanged is right, uploaded is fine too.
        assert halves["db"]["outcome"] == "uploaded", halves["db"]
        assert halves["docs"]["outcome"] in ("uploaded", "unchanged"), halves["docs"]
