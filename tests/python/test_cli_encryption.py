"""Encrypted backups end to end (docs/encryption.md): the CLI backs up the real PostgreSQL
fixture and a documents tree to a directory store with an age recipient; Debian's `age -d`
decrypts the objects into a pg_dump archive that pg_restore reads and a tar archive that tar
lists; verify without the identity checks the ciphertext and finds a flipped byte; restore
with the identity works, without it fails naming the setting; the identity never reaches
output, the store, or a child's argv and environment."""
import json
import os
import shutil
import subprocess
import time

import pytest

import dolibarr_gen as gen
import json_contract
import pgfixture

BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None
AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")

pytestmark = [
    pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                       reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak"),
    pytest.mark.skipif(AGE is None or AGE_KEYGEN is None,
                       reason="the age CLI is not installed (tools/setup-debian installs it)"),
]


def base_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
    env["HOME"] = os.environ.get("HOME", "/tmp")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(args, env, rc=None):
    p = subprocess.run([CLI] + list(args), env=base_env(env), capture_output=True, text=True,
                       timeout=300)
    if rc is not None:
        assert p.returncode == rc, (args, p.returncode, p.stdout, p.stderr)
    return p


def watched_pg_tools(directory, pg_server, log):
    """A --pg-tools-dir whose pg_restore writes its argv and environment to `log` first."""
    os.makedirs(directory)
    for name in ("pg_dump", "pg_dumpall"):
        os.symlink(os.path.join(pg_server["bin_dir"], name), os.path.join(directory, name))
    script = os.path.join(directory, "pg_restore")
    with open(script, "w") as f:
        f.write('#!/bin/sh\n{ printf "argv %%s\\n" "$@"; env; } >> %s\nexec %s "$@"\n'
                % (log, os.path.join(pg_server["bin_dir"], "pg_restore")))
    os.chmod(script, 0o755)
    return str(directory)


def test_encrypted_backup_decrypts_with_age_verifies_without_key_restores_with_it(
        fresh_db, empty_db, pg_server, tmp_path):
    env = pgfixture.libpq_env(fresh_db)
    gen.create_db(env, 20, 7)
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), 20, 7)
    store = tmp_path / "store"
    store.mkdir()
    key = tmp_path / "key.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
    os.chmod(key, 0o600)
    recipient = subprocess.run([AGE_KEYGEN, "-y", str(key)], check=True, capture_output=True,
                               text=True).stdout.strip()
    identity = [l for l in key.read_text().splitlines() if l.startswith("AGE-SECRET-KEY-1")][0]
    log = tmp_path / "children.log"
    tools = watched_pg_tools(tmp_path / "bin", pg_server, log)
    common = ["--store", "file://" + str(store), "--docs-dir", str(docs),
              "--pg-tools-dir", tools]
    outputs = []

    # Backup: every object is a .age file; the manifest keeps no table name.
    p = run(["backup", "--json", "--dump-mode", "zstd", "--age-recipients", recipient] + common,
            env, rc=0)
    outputs.append(p.stdout + p.stderr)
    r = json_contract.loads(p.stdout, "backup")
    halves = {h["half"]: h for h in r["halves"] if h["outcome"] == "uploaded"}
    assert set(halves) == {"db", "docs"}
    for h in halves.values():
        assert h["key"].endswith(".age"), h["key"]
    manifest = json.loads((store / r["manifest_key"]).read_text())
    assert manifest["halves"]["db"]["encryption"] == "age"
    assert manifest["halves"]["db"]["archive_summary"] is None
    assert "llx_facture" not in json.dumps(manifest)

    # The age CLI decrypts them into a pg_dump archive and a tar archive.
    dump = tmp_path / "out.dump.zst"
    subprocess.run([AGE, "-d", "-i", str(key), "-o", str(dump), str(store / halves["db"]["key"])],
                   check=True)
    plain = tmp_path / "out.dump"
    subprocess.run(["zstd", "-q", "-d", "-o", str(plain), str(dump)], check=True)
    toc = subprocess.run([os.path.join(pg_server["bin_dir"], "pg_restore"), "--list", str(plain)],
                         check=True, capture_output=True, text=True).stdout
    assert "llx_facture" in toc
    tar = tmp_path / "docs.tar"
    subprocess.run([AGE, "-d", "-i", str(key), "-o", str(tar),
                    str(store / halves["docs"]["key"])], check=True)
    listing = subprocess.run(["tar", "-tf", str(tar)], check=True, capture_output=True,
                             text=True).stdout
    assert len(listing.splitlines()) > 10

    # verify without the identity: every ciphertext byte against the manifest's digest.
    p = run(["verify", "--json"] + common, env, rc=0)
    outputs.append(p.stdout + p.stderr)
    assert json_contract.loads(p.stdout, "verify")["ok"]
    assert "not decrypted" in p.stderr
    # with it: decrypted and checked.
    with_key = dict(env, DOLIBAK_AGE_IDENTITY_FILE=key)
    p = run(["verify"] + common, with_key, rc=0)
    outputs.append(p.stdout + p.stderr)
    assert "decrypted and checked" in p.stderr

    # restore without the identity: a clear error naming the setting, nothing restored.
    target = (f"host={env['PGHOST']} port={env['PGPORT']} user={empty_db['user']} "
              f"dbname={empty_db['dbname']}")
    tenv = dict(env, DOLIBAK_TARGET_PASSWORD=empty_db["password"])
    p = run(["restore", "db", "latest", "--to", target] + common, tenv)
    outputs.append(p.stdout + p.stderr)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "age_identity_file" in p.stderr
    # with it (from the environment, a file's path): restored and proven.
    p = run(["restore", "db", "latest", "--to", target] + common,
            dict(tenv, DOLIBAK_AGE_IDENTITY_FILE=key), rc=0)
    outputs.append(p.stdout + p.stderr)
    p = run(["restore", "docs", "latest", "--to", str(tmp_path / "restored")] + common, with_key,
            rc=0)
    outputs.append(p.stdout + p.stderr)
    restored = {x.name for x in (tmp_path / "restored").iterdir()}
    assert "facture" in restored and restored <= {x.name for x in docs.iterdir()}

    # A flipped byte of the ciphertext: verify without the identity finds it.
    obj = store / halves["db"]["key"]
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x01
    os.chmod(obj, 0o644)
    obj.write_bytes(bytes(data))
    p = run(["verify", "--json"] + common, env)
    outputs.append(p.stdout + p.stderr)
    assert p.returncode != 0
    v = json_contract.loads(p.stdout, "verify")
    bad = [o for o in v["objects"] if o["key"] == halves["db"]["key"]][0]
    assert not bad["ok"] and "SHA-256" in bad["problem"]

    # The identity is nowhere: outputs, store, the children's argv and environment.
    assert log.exists()
    children = log.read_text()
    assert "argv" in children
    for out in outputs + [children]:
        assert identity not in out
    for f in store.rglob("*"):
        if f.is_file():
            assert identity.encode() not in f.read_bytes(), f
