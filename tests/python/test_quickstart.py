"""docs/quickstart.md, run as a new user would run it: its sections 2 to 4 ("A real setup",
"Check, then the first backup", "The first restore drill") against a fresh PostgreSQL server
locked down as production servers are (CONNECT revoked from PUBLIC, the Dolibarr database
owned by its application role and holding a large object) and the S3 fixture standing in for
the bucket the guide names.

The shell blocks are taken from the guide and run with bash; the JSON block and the secrets
block are written to the files the guide names. The only substitutions are the ones a reader
makes for their own machine: the paths of the files and directories, the placeholders
REPLACE_WITH_..., and `sudo -u postgres` (here the fixture's superuser, whose password is in
~/.pgpass). The server's socket and port are the shell's PGHOST/PGPORT, as for a local
server; the S3 endpoint is DOLIBAK_S3_ENDPOINT (AWS needs none). So a guide command that
stops working fails this test."""
import json
import os
import re
import secrets
import subprocess
import textwrap
import time

import pytest

import dolibarr_gen as gen
import pgfixture

import json_contract
from s3fixture import S3Server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICKSTART = os.path.join(ROOT, "docs", "quickstart.md")
BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI), reason="no built bin/dolibak")


class Output(str):
    """What a command printed, stdout then stderr; `.stdout` alone."""

    def __new__(cls, stdout, stderr):
        self = super().__new__(cls, stdout + stderr)
        self.stdout = stdout
        return self


def section(text, title):
    part = text.split("\n## " + title, 1)[1]
    return part.split("\n## ", 1)[0]


def blocks(text):
    """(language, code) of every fenced block, dedented as a reader's copy is (the guide
    indents the blocks of its lists)."""
    return [(lang, textwrap.dedent(body)) for indent, lang, body in
            re.findall(r"^( *)```(\w+)\n(.*?)^\1```", text, re.S | re.M)]


def test_the_quickstart_runs_as_written(tmp_path):
    with open(QUICKSTART) as f:
        guide = f.read()
    setup = blocks(section(guide, "2. A real setup"))
    first = blocks(section(guide, "3. Check, then the first backup"))
    drill = blocks(section(guide, "4. The first restore drill"))
    assert [lang for lang, _ in setup] == ["sh", "json", "sh", "sh"], setup
    role_sql, config_json, secrets_file, load = (code for _, code in setup)
    assert [lang for lang, _ in first] == ["sh", "sh", "sh"] and len(drill) == 1
    check_block, backup_block, look_block = (code for _, code in first)
    drill_block = drill[0][1]

    with S3Server(bucket="acme-erp-backups", region="eu-west-3") as s3, \
            pgfixture.PgServer() as server:
        info = server.info
        su = info["superuser"]
        bin_dir = info["bin_dir"]
        # Production as the guide assumes it: database dolibarr of role dolibarr, nobody
        # else allowed to connect, Dolibarr's tables and a large object.
        app_password = secrets.token_hex(12)
        pgfixture.psql(su, f"CREATE ROLE dolibarr LOGIN PASSWORD '{app_password}';",
                       bin_dir=bin_dir)
        pgfixture.psql(su, "CREATE DATABASE dolibarr OWNER dolibarr;", bin_dir=bin_dir)
        pgfixture.psql(su, "REVOKE ALL ON DATABASE dolibarr FROM PUBLIC;", bin_dir=bin_dir)
        app = dict(su, user="dolibarr", password=app_password, dbname="dolibarr")
        gen.create_db(pgfixture.libpq_env(app), 5, 3,
                      psql_bin=os.path.join(bin_dir, "psql"))
        los = pgfixture.psql(app, "SELECT count(*) FROM pg_largeobject_metadata",
                             args=["-At"], bin_dir=bin_dir).strip()
        assert int(los) >= 1, "the generated database must hold a large object"
        docs = tmp_path / "documents"
        gen.create_docs(str(docs), 5, 3)

        home = tmp_path / "home"
        home.mkdir()
        pgpass = home / ".pgpass"
        pgpass.write_text(f"*:*:*:{su['user']}:{su['password']}\n")
        pgpass.chmod(0o600)
        etc = tmp_path / "etc"
        etc.mkdir()
        db_password = secrets.token_hex(12)
        names = [
            ("/etc/dolibak/", f"{etc}/"),
            ("/var/run/postgresql", str(info["host"])),
            ("/var/www/dolibarr/documents", str(docs)),
            ("/srv/drill/documents", str(tmp_path / "drill-documents")),
            ("REPLACE_WITH_DATABASE_PASSWORD", db_password),
            ("REPLACE_WITH_ACCESS_KEY_ID", s3.info["access_key"]),
            ("REPLACE_WITH_SECRET_ACCESS_KEY", s3.info["secret_key"]),
            ("sudo -u postgres ", f"PGUSER={su['user']} PGDATABASE=postgres {bin_dir}/"),
            ("dolibak ", CLI + " "),
        ]

        def literal(block):
            for old, new in names:
                block = block.replace(old, new)
            return block

        shell_env = {k: v for k, v in os.environ.items()
                     if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
        shell_env.update({"HOME": str(home), "PGHOST": str(info["host"]),
                          "PGPORT": str(info["port"]),
                          "DOLIBAK_S3_ENDPOINT": s3.info["endpoint"],
                          "DOLIBAK_S3_ADDRESSING": "path",
                          "AWS_CONFIG_FILE": "/nonexistent",
                          "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})

        def sh(step, script, rc=0):
            p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], env=shell_env,
                               capture_output=True, text=True, timeout=600)
            assert p.returncode == rc, (step, script, p.stdout, p.stderr)
            return Output(p.stdout, p.stderr)

        # ---- the role, first without the large-object grant: check and backup agree
        partial = literal(role_sql).replace("dolibak_backup", "partial_backup")
        partial = re.sub(r"DO \$\$.*?END \$\$;\n", "", partial, flags=re.S)
        assert "LARGE OBJECT" not in partial
        sh("partial role", partial)

        # ---- section 2: the role, the config file, the secrets file, loaded in the shell
        sh("role", literal(role_sql))
        (etc / "dolibak.json").write_text(literal(config_json))
        json.loads((etc / "dolibak.json").read_text())
        (etc / "dolibak.env").write_text(literal(secrets_file))
        (etc / "dolibak.env").chmod(0o600)
        prefix = literal(load) + "\n"

        out = sh("check without the large-object grant",
                 prefix + CLI + " check --db-user partial_backup", rc=1)
        assert re.search(r"FAIL\s+database read access\s+1 of \d+ large object", out), out
        out = sh("backup without the large-object grant",
                 prefix + CLI + " backup --db-user partial_backup", rc=3)
        assert "permission denied for large object" in out, out

        # ---- section 3: check, the first backup, again (unchanged), list, verify, status
        out = sh("check", prefix + literal(check_block))
        assert re.search(r"ok\s+database read access", out), out
        sh("backup", prefix + literal(backup_block))
        time.sleep(1.1)  # the next run has its own time stamp
        out = sh("backup again", prefix + CLI + " backup --json").stdout
        halves = {h["half"]: h["outcome"] for h in json_contract.loads(out, "backup")["halves"]}
        assert halves == {"db": "unchanged", "docs": "unchanged", "globals": "unchanged"}, halves
        out = sh("list, verify, status", prefix + literal(look_block))
        assert "every byte checked" in out, out

        # A run named by the time list prints, or by its store time stamp.
        listed = sh("list", prefix + CLI + " list").stdout
        first_run = re.findall(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\s+db\s", listed, re.M)[0]
        compact = first_run.replace("-", "").replace(":", "")
        for name in (first_run, compact):
            out = sh("verify " + name, prefix + CLI + " verify " + name)
            assert f"verified/{compact}.ok.json" in out, out
        out = sh("verify a date", prefix + CLI + " verify " + first_run[:10], rc=2)
        assert "YYYY-MM-DDTHH:MM:SSZ" in out and "latest" in out, out

        # ---- section 4: the drill, into a scratch database on the configured connection
        out = sh("drill", prefix + literal(drill_block))
        assert (f"into dolibak_backup@{info['host']}:{info['port']}/dolibarr_drill"
                in out), out
        m = re.search(r"(\d+) tables? checked, (\d+) with the archive's row count", out)
        assert m and m.group(1) == m.group(2) and int(m.group(1)) > 250, out
        digest = ("SELECT count(*), sum(hashtext(t::text)) FROM llx_facture t; "
                  "SELECT count(*) FROM pg_largeobject_metadata;")
        source = pgfixture.psql(app, digest, args=["-At"], bin_dir=bin_dir)
        restored = pgfixture.psql(dict(su, dbname="dolibarr_drill"), digest, args=["-At"],
                                  bin_dir=bin_dir)
        assert restored == source
        assert (tmp_path / "drill-documents" / "install.lock").exists()

        # The configured database itself is refused as a target (it holds data).
        out = sh("over the source", prefix + CLI + " restore db latest --to dolibarr", rc=2)
        assert "it is the database dolibak backs up" in out, out
