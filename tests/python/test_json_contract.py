"""The versioned JSON contract (docs/json.md): every document names its schema and matches
docs/schemas/; list and status summarise runs unless --manifests; JSON log lines carry the
structured fields; a dry run names the tables that changed since the stored fingerprint."""
import json
import os
import re

import pytest

import json_contract
import pgfixture
from test_cli import CLI, run, store_url  # noqa: F401  (skips without a built CLI)

ROOT = json_contract.ROOT


def small_db(role):
    pgfixture.psql(role, "CREATE TABLE llx_a (id int); INSERT INTO llx_a SELECT "
                         "generate_series(1, 40); CREATE TABLE llx_b (t text); "
                         "INSERT INTO llx_b VALUES ('x'); CREATE TABLE llx_c (n int);")


def db_common(store, extra=()):
    return ["--store", store_url(store), "--create-store-dir"] + list(extra)


def docs_tree(tmp_path):
    docs = tmp_path / "documents"
    (docs / "facture" / "FA1").mkdir(parents=True)
    (docs / "install.lock").write_text("")
    (docs / "facture" / "FA1" / "FA1.pdf").write_bytes(b"%PDF-1.4 x")
    return docs


# ---- the contract itself ----------------------------------------------------------------------

def test_every_kind_has_a_schema_and_a_section_in_json_md():
    text = open(os.path.join(ROOT, "docs", "json.md")).read()
    documented = set(re.findall(r"^### `dolibak\.([a-z-]+)/1`", text, re.M))
    assert documented == set(json_contract.kinds())
    for kind in json_contract.kinds():
        # Each schema is a valid 2020-12 schema whose "schema" field is pinned to its kind.
        with open(os.path.join(json_contract.SCHEMAS, kind + ".schema.json")) as f:
            s = json.load(f)
        assert s["properties"]["schema"] == {"const": f"dolibak.{kind}/1"}
        assert "schema" in s["required"]


def test_the_validator_refuses_what_the_contract_forbids():
    good = {"schema": "dolibak.check/1", "ok": True, "items": [
        {"name": "store", "ok": True, "detail": "put, get, delete"}]}
    assert json_contract.validate(dict(good), "check") == good
    with pytest.raises(AssertionError, match="schema"):
        json_contract.validate({k: v for k, v in good.items() if k != "schema"})
    with pytest.raises(AssertionError, match="expected a dolibak.list"):
        json_contract.validate(dict(good), "list")
    with pytest.raises(AssertionError, match="items/0"):
        json_contract.validate(dict(good, items=[{"name": "x", "ok": "yes", "detail": ""}]))
    with pytest.raises(AssertionError, match="surprise"):
        json_contract.validate(dict(good, surprise=1))


# ---- list / status: summaries, manifests on request --------------------------------------------

def test_list_and_status_summarise_runs_unless_manifests(tmp_path):
    docs = docs_tree(tmp_path)
    common = db_common(tmp_path / "store", ["--docs-dir", str(docs)])
    b = json_contract.loads(run(["backup", "--json"] + common, check_rc=0).stdout, "backup")
    docs_key = next(h["key"] for h in b["halves"] if h["half"] == "docs")

    lst = json_contract.loads(run(["list", "--json"] + common, check_rc=0).stdout, "list")
    [r] = lst["runs"]
    assert "manifest" not in r
    assert r["result"] == "success" and r["succeeded"] is True and r["loaded"] is True
    assert r["ts"] == b["manifest_key"].split("/")[1].split(".")[0]
    assert r["halves"]["docs"]["status"] == "uploaded" and r["halves"]["docs"]["key"] == docs_key
    assert r["halves"]["db"]["status"] == "skipped"
    assert r["uploaded_bytes"] == r["halves"]["docs"]["bytes"] > 0
    assert [x["pattern"] for x in r["halves"]["docs"]["exclusions"]][0] == "*/temp/*"
    # Why it is kept: what a prune would decide now.
    kept = r["halves"]["docs"]["retention"]
    assert kept["keep"] is True and "newest-success" in kept["reasons"], kept
    assert "newest successful backup" in kept["detail"]

    full = json_contract.loads(run(["list", "--json", "--manifests"] + common,
                                   check_rc=0).stdout, "list")
    m = full["runs"][0]["manifest"]
    assert m["schema"] == "dolibak-manifest" and m["halves"]["docs"]["key"] == docs_key
    assert {k: v for k, v in full["runs"][0].items() if k != "manifest"} == r

    st = json_contract.loads(run(["status", "--json"] + common, check_rc=0).stdout, "status")
    assert "manifest" not in st["last_run"] and st["last_success"]["result"] == "success"
    st = json_contract.loads(run(["status", "--json", "--manifests"] + common,
                                 check_rc=0).stdout, "status")
    assert st["last_success"]["manifest"]["halves"]["docs"]["key"] == docs_key


# ---- outputs no other CLI test reads as JSON ---------------------------------------------------

def test_check_restore_docs_and_tar_list_match_their_schemas(tmp_path):
    docs = docs_tree(tmp_path)
    # An archive, for tar-list (a new store's default is packs).
    common = db_common(tmp_path / "store", ["--docs-dir", str(docs), "--docs-mode", "tar"])
    b = json_contract.loads(run(["backup", "--json"] + common, check_rc=0).stdout, "backup")
    p = run(["check", "--json"] + common)
    assert p.returncode in (0, 1), p.stderr
    c = json_contract.loads(p.stdout, "check")
    assert {"store"} <= {i["name"].split()[0] for i in c["items"]}, c

    out = tmp_path / "restored"
    r = json_contract.loads(run(["restore", "docs", "--to", str(out), "--json"] + common,
                                check_rc=0).stdout, "restore-docs")
    assert r["summary"]["files"] == 2 and r["missing_required"] == []

    key = next(h["key"] for h in b["halves"] if h["half"] == "docs")
    lines = json_contract.lines(run(["tar-list", "--json", str(tmp_path / "store" / key)],
                                    check_rc=0).stdout)
    assert [d["schema"] for d in lines][-1] == "dolibak.tar-summary/1"
    assert {d["path"] for d in lines[:-1] if d["type"] == "file"} >= {"install.lock"} or \
        any(d["path"].endswith("install.lock") for d in lines[:-1])

    v = json_contract.loads(run(["verify", "--json"] + common, check_rc=0).stdout, "verify")
    assert v["ok"]
    pr = json_contract.loads(run(["prune", "--dry-run", "--json"] + common, check_rc=0).stdout,
                             "prune")
    assert pr["dry_run"] is True and pr["kept"] >= 1


# ---- JSON log lines ------------------------------------------------------------------------------

def test_json_log_lines_carry_key_bytes_seconds_outcome(tmp_path):
    docs = docs_tree(tmp_path)
    common = db_common(tmp_path / "store", ["--docs-dir", str(docs), "--log-format", "json"])
    p = run(["backup", "--json"] + common, check_rc=0)
    b = json_contract.loads(p.stdout, "backup")
    logs = json_contract.log_lines(p.stderr)
    docs_half = next(h for h in b["halves"] if h["half"] == "docs")
    stored = [l for l in logs if l.get("outcome") == "uploaded"]
    assert len(stored) == 1, logs
    assert stored[0]["half"] == "docs" and stored[0]["key"] == docs_half["key"]
    assert stored[0]["bytes"] == docs_half["bytes"] and stored[0]["seconds"] >= 0
    [manifest] = [l for l in logs if l.get("outcome") == "success"]
    assert manifest["key"] == b["manifest_key"] and "half" not in manifest
    # Lines about nothing in particular carry none of the fields.
    assert any(set(l) == {"schema", "time", "level", "message", "half"} for l in logs), logs

    p = run(["backup", "--json"] + common, check_rc=0)
    [same] = [l for l in json_contract.log_lines(p.stderr) if l.get("outcome") == "unchanged"]
    assert same["key"] == docs_half["key"] and same["bytes"] == docs_half["bytes"]

    p = run(["verify", "--json"] + common, check_rc=0)
    [checked] = [l for l in json_contract.log_lines(p.stderr) if l.get("outcome") == "verified"]
    assert checked["key"] == docs_half["key"] and checked["bytes"] == docs_half["bytes"]
    p = run(["restore", "docs", "--to", str(tmp_path / "back")] + common, check_rc=0)
    [restored] = [l for l in json_contract.log_lines(p.stderr) if l.get("outcome") == "restored"]
    assert restored["key"] == docs_half["key"] and restored["half"] == "docs"


# ---- a dry run names the tables that changed ---------------------------------------------------

def dry_run_db(common, env):
    p = run(["backup", "--db-only", "--dry-run", "--json"] + common, env=env, check_rc=0)
    [db] = [h for h in json_contract.loads(p.stdout, "backup")["halves"] if h["half"] == "db"]
    text = run(["backup", "--db-only", "--dry-run"] + common, env=env, check_rc=0).stdout
    return db, text


def test_dry_run_names_exactly_the_changed_table(fresh_db, tmp_path):
    small_db(fresh_db)
    env = pgfixture.libpq_env(fresh_db)
    store = tmp_path / "store"
    common = db_common(store)
    run(["backup", "--db-only"] + common, env=env, check_rc=0)
    stored = json.loads((store / ".fp-db").read_text())
    assert set(stored["tables"]) == {"public.llx_a", "public.llx_b", "public.llx_c"}
    assert re.fullmatch("[0-9a-f]{64}", stored["schema_digest"])

    db, _ = dry_run_db(common, env)
    assert db["outcome"] == "unchanged" and db["table_changes"] is None

    pgfixture.psql(fresh_db, "UPDATE llx_b SET t = 'y';")
    db, text = dry_run_db(common, env)
    assert db["outcome"] == "would-upload"
    assert db["table_changes"] == {"known": True, "schema_changed": False,
                                   "changed": ["public.llx_b"], "added": [], "removed": []}
    assert "changed public.llx_b" in text and "llx_a" not in text

    # A new table and a dropped one: the schema changed too.
    pgfixture.psql(fresh_db, "CREATE TABLE llx_d (n int); DROP TABLE llx_c;")
    db, text = dry_run_db(common, env)
    assert db["table_changes"] == {"known": True, "schema_changed": True,
                                   "changed": ["public.llx_b"], "added": ["public.llx_d"],
                                   "removed": ["public.llx_c"]}
    assert "schema changed" in text and "added public.llx_d" in text
    # Python's report names them too, in the same shape.
    dolibak = pytest.importorskip("dolibak")
    job = dolibak.Job({"store": store_url(store), "db_host": str(fresh_db["host"]),
                       "db_port": int(fresh_db["port"]), "db_user": fresh_db["user"],
                       "db_name": fresh_db["dbname"], "db_password": fresh_db["password"]},
                      use_environment=False)
    half = job.backup(dry_run=True).half("db")
    assert half.table_changes == db["table_changes"]
    # Another fingerprint mode: its digests do not compare with the stored ones; the reason
    # says so and no table is named.
    db, text = dry_run_db(common + ["--db-fingerprint", "content"], env)
    assert db["outcome"] == "would-upload" and db["table_changes"] is None
    assert "mode changed" in db["reason"]
    # The dry run stored nothing: the fingerprint is the one of the first run.
    assert json.loads((store / ".fp-db").read_text()) == stored


def test_an_old_format_stored_fingerprint_compares_but_cannot_name_tables(fresh_db, tmp_path):
    small_db(fresh_db)
    env = pgfixture.libpq_env(fresh_db)
    store = tmp_path / "store"
    common = db_common(store)
    run(["backup", "--db-only"] + common, env=env, check_rc=0)
    fp = json.loads((store / ".fp-db").read_text())
    old = {k: v for k, v in fp.items() if k not in ("tables", "schema_digest")}
    (store / ".fp-db").write_text(json.dumps(old, indent=2) + "\n")

    db, _ = dry_run_db(common, env)
    assert db["outcome"] == "unchanged"  # still compared by its combined value
    pgfixture.psql(fresh_db, "INSERT INTO llx_a VALUES (41);")
    db, text = dry_run_db(common, env)
    assert db["outcome"] == "would-upload"
    assert db["table_changes"] == {"known": False, "schema_changed": False, "changed": [],
                                   "added": [], "removed": []}
    assert "tables unknown" in text
    # The next real run writes the new format again.
    run(["backup", "--db-only"] + common, env=env, check_rc=0)
    assert "public.llx_a" in json.loads((store / ".fp-db").read_text())["tables"]
