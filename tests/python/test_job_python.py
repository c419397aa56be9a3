"""dolibak.Job from Python: settings (same keys as the CLI), report objects, events from
worker threads, errors as dolibak exceptions; against the real PostgreSQL fixture, a file://
store and the S3 fixture."""
import fnmatch
import hashlib
import json
import os
import secrets
import stat
import subprocess
import threading
import time

import pytest

import dolibak
import dolibak.retention
import dolibarr_gen as gen
import pgfixture
import json_contract


def db_settings(role):
    return {"db_host": str(role["host"]), "db_port": int(role["port"]), "db_user": role["user"],
            "db_name": role["dbname"], "db_password": role["password"]}


def target(role, **over):
    """A role of the fixture as the dict form of a database target."""
    t = {"host": str(role["host"]), "port": int(role["port"]), "user": role["user"],
         "dbname": role["dbname"], "password": role["password"]}
    t.update(over)
    return t


def sql(role, text):
    """psql -At as the role; the output without its last newline."""
    return pgfixture.psql(role, text, args=["-At"]).rstrip("\n")


def row_counts(role):
    """{table: exact row count} of every table of the public schema."""
    out = sql(role, "SELECT c.relname, (xpath('/row/n/text()', query_to_xml(format("
                    "'SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]"
                    "::text FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
                    "WHERE s.nspname = 'public' AND c.relkind = 'r' ORDER BY 1")
    return {name: int(n) for name, n in (line.split("|") for line in out.splitlines())}


# The dolibarr profile's document_excludes (libdolibak/job/profile.cpp), matched like
# tarball::ExcludeMatcher: "/" + path (and + "/" for a directory) and each tail after a "/".
DOC_EXCLUDES = ["*/temp/*", "*.pdf_preview*.png", "/dolibarr.log", "/dolibarr_*.log"]


def excluded(rel, is_dir):
    cands = ["/" + rel] + (["/" + rel + "/"] if is_dir else [])
    for c in cands:
        tails = [c] + [c[i + 1:] for i in range(len(c) - 1) if c[i] == "/"]
        if any(fnmatch.fnmatchcase(t, p) for t in tails for p in DOC_EXCLUDES):
            return True
    return False


def tree(root, apply_excludes=True):
    """{relative path: "dir" | (mode, SHA-256)} of what a backup keeps of a tree."""
    out = {}
    for d, dirs, files in os.walk(root):
        rel_d = os.path.relpath(d, root)
        for name in list(dirs):
            rel = os.path.normpath(os.path.join(rel_d, name))
            if apply_excludes and excluded(rel, True):
                dirs.remove(name)
            else:
                out[rel] = "dir"
        for name in files:
            rel = os.path.normpath(os.path.join(rel_d, name))
            if apply_excludes and excluded(rel, False):
                continue
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            out[rel] = (stat.S_IMODE(os.lstat(path).st_mode), digest)
    return out


def files_of(t):
    return sum(1 for v in t.values() if v != "dir")


@pytest.fixture
def dolibarr(fresh_db, tmp_path):
    gen.create_db(pgfixture.libpq_env(fresh_db), 20, 3)
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), 20, 3)
    return fresh_db, docs


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("PG", "AWS_")) or (k.startswith("DOLIBAK_") and k != "DOLIBAK_PYTHONPATH"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def test_settings_errors_are_config_errors(tmp_path):
    store = "file://" + str(tmp_path)
    with pytest.raises(dolibak.ConfigError, match="sotre"):
        dolibak.Job({"sotre": store})
    with pytest.raises(dolibak.ConfigError, match="70000.*db_port.*1 to 65535"):
        dolibak.Job({"store": store, "db_port": 70000, "db_name": "x"})
    with pytest.raises(dolibak.ConfigError, match="keep_last"):
        dolibak.Job({"store": store, "retention": "tiered", "keep_last": 3})
    # The store is opened at its first use (a sandbox refresh needs none): without one, the
    # first operation that needs it says so.
    with pytest.raises(dolibak.ConfigError, match="store"):
        dolibak.Job({}).list()
    with pytest.raises(dolibak.ConfigError):
        dolibak.Job({"store": store, "db_port": 1.5})
    with pytest.raises(dolibak.ConfigError, match="list must hold strings"):
        dolibak.Job({"store": store, "docs_exclude": [1, 2]})
    with pytest.raises(TypeError):
        dolibak.Job([("store", store)])
    with pytest.raises(dolibak.ConfigError) as e:
        dolibak.Job({"store": store, "s3_session_token": "TOKEN-VALUE-123"})
    assert "TOKEN-VALUE-123" not in str(e.value)
    assert "db_password" in dolibak.setting_keys()


def test_settings_sources(tmp_path, monkeypatch):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"store": "file://" + str(a), "docs_dir": str(tmp_path),
                               "docs_exclude": ["x,y", "z"]}))
    j = dolibak.Job(config_file=cfg)
    assert j.store_url == "file://" + str(a) + "/"
    assert j.has_docs and not j.has_db
    # The environment beats the file; the dict beats the environment.
    monkeypatch.setenv("DOLIBAK_STORE", "file://" + str(b))
    assert dolibak.Job(config_file=str(cfg)).store_url.startswith("file://" + str(b))
    assert dolibak.Job({"store": "file://" + str(a)}, config_file=cfg).store_url.startswith(
        "file://" + str(a))
    # use_environment=False ignores DOLIBAK_* and DOLIBAK_CONFIG.
    assert dolibak.Job(config_file=cfg, use_environment=False).store_url.startswith(
        "file://" + str(a))
    monkeypatch.setenv("DOLIBAK_CONFIG", str(cfg))
    monkeypatch.delenv("DOLIBAK_STORE")
    assert dolibak.Job().store_url.startswith("file://" + str(a))
    with pytest.raises(dolibak.ConfigError, match="no store given"):
        dolibak.Job(use_environment=False).status()  # no store: the first use says so
    # PGDATABASE turns the database half on (libpq fallback), not without the environment.
    monkeypatch.setenv("PGDATABASE", "erp")
    assert dolibak.Job({"store": "file://" + str(a)}).has_db
    assert not dolibak.Job({"store": "file://" + str(a)}, use_environment=False).has_db


def test_group_readable_config_with_secret_warns(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"store": "file://" + str(tmp_path), "db_password": "pw-xyz"}))
    os.chmod(cfg, 0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        dolibak.Job(config_file=cfg)


def test_backup_list_status_prune(dolibarr, tmp_path):
    role, docs = dolibarr
    store = tmp_path / "store"
    events = []
    main = threading.get_ident()

    done = {}

    def on_event(e):
        events.append((e.kind, e.half, e.message, threading.get_ident()))
        if e.kind == "progress" and e.done:
            done[e.half] = e.bytes

    settings = dict(db_settings(role), store="file://" + str(store), create_store_dir=True,
                    docs_dir=docs, docs_compression="zstd", dump_mode="zstd",
                    volatile_tables=["llx_nothing_*"])
    job = dolibak.Job(settings, use_environment=False, on_event=on_event)
    r = job.backup()
    assert isinstance(r, dolibak.BackupReport)
    assert r.ok
    assert r.manifest_key.startswith("manifests/")
    assert r.time.tzinfo is not None
    db = r.half("db")
    assert db.outcome == "uploaded" and db.key.endswith(".dump.zst")
    assert r.half("docs").key.endswith(".index.zst")  # a new store: packs
    assert (store / db.key).stat().st_size == db.bytes
    assert len(db.sha256) == 64
    d = json_contract.validate(r.to_dict(), "backup")
    assert d["ok"] is True and {h["half"] for h in d["halves"]} == {"db", "docs"}
    with pytest.raises(AttributeError):
        r.manifest_key = "x"  # read-only
    # Events came from the job's worker threads, with the GIL held (the callback ran).
    assert any(k == "info" and h == "db" for k, h, _, _ in events)
    assert any(t != main for *_, t in events)
    # Each uploaded half's progress ends with a `done` event carrying its final size.
    assert done == {"db": db.bytes, "docs": r.half("docs").bytes}

    time.sleep(1.1)
    r2 = job.backup()
    assert {h.outcome for h in r2.halves} == {"unchanged"}
    assert r2.half("db").key == db.key

    dry = job.backup(force=True, dry_run=True)
    assert {h.outcome for h in dry.halves} == {"would-upload"}

    lst = job.list()
    assert isinstance(lst, dolibak.ListReport)
    assert {b.half for b in lst.backups} == {"db", "docs"}
    assert all(b.has_manifest for b in lst.backups)
    assert len(lst.runs) == 2 and all(run.succeeded for run in lst.runs)
    assert lst.runs[-1].manifest["halves"]["db"]["status"] == "unchanged"
    assert json_contract.validate(lst.to_dict(), "list")["backups"][0]["key"] == lst.backups[0].key
    summary, full = lst.to_dict()["runs"][-1], lst.to_dict(manifests=True)["runs"][-1]
    assert "manifest" not in summary and summary["halves"]["db"]["status"] == "unchanged"
    assert json_contract.validate(lst.to_dict(manifests=True), "list")
    assert full["manifest"] == lst.runs[-1].manifest

    metrics = tmp_path / "metrics.prom"
    st = job.status(max_age_seconds=3600, metrics_file=metrics)
    assert st.stale is False and st.age_seconds is not None
    assert st.last_success.manifest_key == lst.runs[-1].manifest_key
    assert "dolibak_last_success_timestamp_seconds" in metrics.read_text()
    assert json_contract.validate(job.status(max_age_seconds=3600).to_dict(), "status")["stale"] is False

    # Retention decides over runs: the newest run of the day stands for it (each half); the
    # first run goes, but not its objects, which the second (unchanged) run names.
    p = job.prune(dry_run=True)
    assert p.dry_run and len(p.kept) == 2 and len(p.dropped) == 2
    assert {x.key for x in p.kept} == {lst.runs[-1].manifest_key + "#db",
                                      lst.runs[-1].manifest_key + "#docs"}
    assert p.objects[lst.runs[-1].manifest_key + "#db"] == db.key
    assert p.drop_keys == [lst.runs[0].manifest_key]
    assert all(isinstance(x, dolibak.retention.Decision) for x in p.decisions)
    assert all(x.reasons for x in p.kept)
    assert json_contract.validate(p.to_dict(), "prune")["kept"] == 2


def test_backup_to_s3(dolibarr, s3_server, s3_bucket, tmp_path):
    role, docs = dolibarr
    settings = dict(db_settings(role), store=f"s3://{s3_bucket}/erp",
                    s3_endpoint=s3_server["endpoint"], s3_region=s3_server["region"],
                    s3_addressing="path", s3_access_key_id=s3_server["access_key"],
                    s3_secret_access_key=s3_server["secret_key"], s3_part_size="5M",
                    docs_dir=str(docs))
    job = dolibak.Job(settings, use_environment=False)
    r = job.backup()
    assert r.ok and {h.outcome for h in r.halves} == {"uploaded"}
    assert {b.half for b in job.list().backups} == {"db", "docs"}
    assert s3_server["secret_key"] not in json.dumps(r.to_dict())
    # Every byte read back from S3 and checked; the documents restored from there.
    v = job.verify()
    assert v.ok and {(o.half, o.key, o.sha256) for o in v.objects} == {
        (h.half, h.key, h.sha256) for h in r.halves}
    d = job.restore_docs(tmp_path / "from-s3")
    assert d.key == r.half("docs").key
    assert tree(tmp_path / "from-s3") == tree(docs)
    # Without credentials anywhere the store cannot be opened (at its first use).
    with pytest.raises(dolibak.ConfigError):
        dolibak.Job({"store": f"s3://{s3_bucket}/erp", "s3_endpoint": s3_server["endpoint"]},
                    use_environment=False).list()


@pytest.mark.parametrize("module", ["", "io", "s3", "store", "pgdump", "tarball",
                                    "fingerprint", "retention", "job"])
def test_type_stubs_cover_the_module(module):
    """Every public name of each module, and every public attribute of its classes, is in
    the module's .pyi stub (the stubs are parsed, not imported)."""
    import ast
    import importlib
    mod = importlib.import_module("dolibak" + ("." + module if module else ""))
    stub_path = os.path.join(os.path.dirname(dolibak.__file__),
                             (module or "__init__") + ".pyi")
    tree = ast.parse(open(stub_path).read())
    names, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            members[node.name] = {n.name for n in node.body
                                  if isinstance(n, (ast.FunctionDef, ast.AnnAssign))
                                  and hasattr(n, "name")} | {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, (ast.AnnAssign,)):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    public = {n for n in dir(mod) if not n.startswith("_")} - {"annotations"}
    assert public - names == set()
    for cls, declared in members.items():
        obj = getattr(mod, cls, None)
        if obj is None or not isinstance(obj, type) or issubclass(obj, BaseException):
            continue
        attrs = {a for a in vars(obj) if not a.startswith("_")}
        assert attrs - declared == set(), cls


# ---- dolibak.fingerprint.database --------------------------------------------------------

def test_db_fingerprint_sees_an_invoice_line_not_a_constant(dolibarr):
    role, _ = dolibarr
    fp = dolibak.fingerprint.database(target(role))
    assert isinstance(fp, dolibak.fingerprint.DbFingerprint)
    assert fp.mode == "xmin"
    assert len(fp.value) == 64 and len(fp.schema_digest) == 64 and fp.value != fp.schema_digest
    # The dolibarr profile: llx_* tables, its volatile tables left out.
    names = {t.name for t in fp.tables}
    assert names and all(n.startswith("llx_") for n in names)
    assert "llx_const" not in names and "public.llx_const" in fp.excluded
    assert "public.llx_user" in fp.excluded
    line = fp.table("llx_facturedet")
    assert fp.table("public.llx_facturedet").digest == line.digest
    assert line.schema == "public" and len(line.digest) > 0
    assert line.rows == int(sql(role, "SELECT count(*) FROM llx_facturedet")) > 0
    assert fp.table("llx_const") is None
    assert fp.to_dict()["tables"][0]["name"] == fp.tables[0].name
    assert fp.to_dict()["value"] == fp.value
    # An invoice line has no tms column: only a row-level fingerprint can see its edit.
    assert sql(role, "SELECT count(*) FROM information_schema.columns WHERE "
                     "table_name = 'llx_facturedet' AND column_name = 'tms'") == "0"

    again = dolibak.fingerprint.database(target(role))
    assert again == fp and again.value == fp.value and again.differences(fp) == []

    sql(role, "UPDATE llx_const SET value = value || 'x' "
              "WHERE rowid = (SELECT min(rowid) FROM llx_const)")
    after_const = dolibak.fingerprint.database(target(role))
    assert after_const.value == fp.value and after_const.differences(fp) == []

    count_tms = dolibak.fingerprint.database(target(role), mode="count-tms")
    assert count_tms.mode == "count-tms" and count_tms.value != fp.value
    sql(role, "UPDATE llx_facturedet SET qty = qty + 1 "
              "WHERE rowid = (SELECT min(rowid) FROM llx_facturedet)")
    after_line = dolibak.fingerprint.database(target(role))
    assert after_line.value != fp.value and after_line != fp
    assert after_line.differences(fp) == ["public.llx_facturedet"]
    assert after_line.schema_digest == fp.schema_digest
    assert after_line.table("llx_facturedet").rows == line.rows
    assert after_line.table("llx_facturedet").digest != line.digest
    # What the original scripts' count+max(tms) way misses.
    assert dolibak.fingerprint.database(target(role), mode="count-tms") == count_tms
    with pytest.raises(dolibak.ConfigError, match="count-tms"):
        count_tms.differences(fp)

    # exclude_tables adds to the profile's volatile tables; include_tables replaces llx_*.
    fewer = dolibak.fingerprint.database(target(role), exclude_tables=["llx_facture*"])
    assert {"public.llx_facturedet", "public.llx_facture", "public.llx_const"} <= set(
        fewer.excluded)
    only = dolibak.fingerprint.database(target(role), include_tables=["llx_facturedet"])
    assert [t.name for t in only.tables] == ["llx_facturedet"]
    everything = dolibak.fingerprint.database(target(role), profile=None)
    assert "llx_const" in {t.name for t in everything.tables} and everything.excluded == []


def test_db_fingerprint_is_the_one_a_backup_compares(dolibarr, tmp_path, monkeypatch):
    role, _ = dolibarr
    job = dolibak.Job(dict(db_settings(role), store="file://" + str(tmp_path / "s"),
                           create_store_dir=True, volatile_tables=["llx_societe*"]),
                      use_environment=False)
    half = job.backup(dry_run=True).half("db")
    assert half.outcome == "would-upload"
    fp = dolibak.fingerprint.database(target(role), exclude_tables=["llx_societe*"])
    assert fp.value == half.fingerprint
    assert dolibak.fingerprint.database(target(role)).value != half.fingerprint
    # A conninfo string works too; the password comes from DOLIBAK_TARGET_PASSWORD.
    conninfo = "host=%s port=%d user=%s dbname=%s" % (role["host"], role["port"], role["user"],
                                                      role["dbname"])
    monkeypatch.setenv("DOLIBAK_TARGET_PASSWORD", role["password"])
    assert dolibak.fingerprint.database(conninfo, exclude_tables=["llx_societe*"]) == fp


def test_db_fingerprint_errors_never_show_the_password(dolibarr):
    role, _ = dolibarr
    secret = "pw-SECRET-4711"
    with pytest.raises(dolibak.DatabaseError) as e:
        dolibak.fingerprint.database(target(role, password=secret))
    assert "password authentication failed" in str(e.value) and secret not in str(e.value)
    with pytest.raises(dolibak.DatabaseError) as e:
        dolibak.fingerprint.database(target(role, password=secret, dbname="no_such_db"))
    assert "no_such_db" in str(e.value) and secret not in str(e.value)
    with pytest.raises(dolibak.ConfigError, match="password") as e:
        dolibak.fingerprint.database("dbname=x password=" + secret)
    assert secret not in str(e.value)
    with pytest.raises(dolibak.ConfigError, match="'passwd'"):
        dolibak.fingerprint.database({"dbname": "x", "passwd": secret})
    with pytest.raises(dolibak.ConfigError, match="'xmax'"):
        dolibak.fingerprint.database(target(role), mode="xmax")
    with pytest.raises(dolibak.ConfigError, match="odoo"):
        dolibak.fingerprint.database(target(role), profile="sap")
    with pytest.raises(TypeError):
        dolibak.fingerprint.database(42)
    fp = dolibak.fingerprint.database(target(role))
    assert role["password"] not in repr(fp) and repr(fp).startswith("<DbFingerprint xmin ")
    assert role["password"] not in json.dumps(fp.to_dict())


def test_db_fingerprint_releases_the_gil(dolibarr):
    """A table locked by another session makes the fingerprint wait inside the C++ call; this
    thread must still run meanwhile (it watches the server see the wait)."""
    role, _ = dolibarr
    env = pgfixture.clean_env(pgfixture.libpq_env(role))
    holder = subprocess.Popen(
        [os.path.join(pgfixture.find_pg_bin(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
    try:
        # The lock holder commits by itself after 8 s: a held GIL would make the fingerprint
        # finish before this thread could look, and the assertions below fail, not hang.
        holder.stdin.write("BEGIN; LOCK TABLE llx_facturedet IN ACCESS EXCLUSIVE MODE;\n"
                           "SELECT pg_sleep(8); COMMIT;\n")
        holder.stdin.close()
        deadline = time.monotonic() + 5
        while sql(role, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE c.relname = 'llx_facturedet' AND l.mode = 'AccessExclusiveLock' "
                        "AND l.granted") != "1":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        result = {}
        worker = threading.Thread(
            target=lambda: result.setdefault("fp", dolibak.fingerprint.database(target(role))))
        started = time.monotonic()
        worker.start()
        waiting = "0"
        while waiting == "0" and time.monotonic() - started < 5:
            waiting = sql(role, "SELECT count(*) FROM pg_stat_activity WHERE "
                                "application_name = 'dolibak' AND wait_event_type = 'Lock'")
            time.sleep(0.05)
        assert waiting == "1" and worker.is_alive() and "fp" not in result
        assert time.monotonic() - started < 5
        sql(role, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE "
                  "query LIKE 'SELECT pg_sleep(8)%' AND pid <> pg_backend_pid()")
        worker.join(30)
        assert not worker.is_alive() and len(result["fp"].value) == 64
    finally:
        holder.wait(30)


# ---- verify, restore, check, refresh, cancel -----------------------------------------------

def backed_up(role, docs, store, **more):
    job = dolibak.Job(dict(db_settings(role), store="file://" + str(store), create_store_dir=True,
                           docs_dir=str(docs), **more), use_environment=False)
    r = job.backup()
    assert r.ok and {h.outcome for h in r.halves} == {"uploaded"}
    return job, r


def test_verify_a_good_run_then_a_flipped_byte(dolibarr, tmp_path):
    role, docs = dolibarr
    store = tmp_path / "store"
    job, r = backed_up(role, docs, store)
    v = job.verify()
    assert isinstance(v, dolibak.VerifyReport)
    assert v.ok and v.time == r.time
    assert {o.half for o in v.objects} == {"db", "docs"}
    for o in v.objects:
        data = (store / o.key).read_bytes()
        assert o.ok and o.problem == ""
        assert o.key == r.half(o.half).key
        assert o.bytes == len(data) and o.sha256 == hashlib.sha256(data).hexdigest()
    assert json_contract.validate(v.to_dict(), "verify")["objects"][0]["ok"] is True
    ts = dolibak.retention.format_timestamp(r.time)
    assert [o.key for o in job.verify(ts).objects] == [o.key for o in v.objects]
    with pytest.raises(dolibak.ConfigError, match="20000101T000000Z"):
        job.verify("20000101T000000Z")

    # One byte flipped in the middle of the stored dump: a finding, not an exception.
    dump = store / r.half("db").key
    os.chmod(dump, 0o644)
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    bad = job.verify()
    assert not bad.ok
    by_half = {o.half: o for o in bad.objects}
    assert not by_half["db"].ok
    assert by_half["db"].sha256 == hashlib.sha256(bytes(data)).hexdigest()
    assert ("SHA-256 %s differs from the manifest's %s" % (by_half["db"].sha256,
                                                            r.half("db").sha256)
            in by_half["db"].problem)
    assert by_half["docs"].ok and by_half["docs"].problem == ""
    # The quick verify checks presence and sizes only: the flipped byte keeps the size, so it
    # passes, and records nothing; a truncated object fails it.
    record = (store / bad.record_key).read_bytes()
    quick = job.verify(quick=True)
    assert quick.quick and quick.ok and not bad.quick
    assert quick.record_key == "" and (store / bad.record_key).read_bytes() == record
    assert json_contract.validate(quick.to_dict(), "verify")["quick"] is True
    dump.write_bytes(bytes(data[:-1]))
    short = job.verify(quick=True)
    assert not short.ok and not {o.half: o for o in short.objects}["db"].ok


def test_restore_db_and_docs_into_fresh_targets_with_the_proof(dolibarr, empty_db, tmp_path,
                                                               monkeypatch):
    role, docs = dolibarr
    job, r = backed_up(role, docs, tmp_path / "store", dump_mode="zstd")
    # The target as a conninfo string; its password from DOLIBAK_TARGET_PASSWORD.
    monkeypatch.setenv("DOLIBAK_TARGET_PASSWORD", empty_db["password"])
    conninfo = "host=%s port=%d user=%s dbname=%s" % (empty_db["host"], empty_db["port"],
                                                      empty_db["user"], empty_db["dbname"])
    rep = job.restore_db(conninfo)
    assert isinstance(rep, dolibak.RestoreReport)
    assert rep.pg_restore_exit == 0 and rep.pattern_tables >= 250
    assert len(rep.tables) >= 250
    assert all(t.expected_rows == t.actual_rows for t in rep.tables)
    source, restored = row_counts(role), row_counts(empty_db)
    assert restored == source and len(source) >= 250
    assert source["llx_facturedet"] > 0
    assert {(t.name, t.actual_rows) for t in rep.tables} <= set(restored.items())
    # A non-empty target is refused unless confirmed.
    with pytest.raises(dolibak.ConfigError):
        job.restore_db(target(empty_db))

    out = tmp_path / "restored"
    d = job.restore_docs(out)
    assert isinstance(d, dolibak.DocsRestoreReport)
    assert d.key == r.half("docs").key and d.missing_required == []
    source_tree = tree(docs)
    assert tree(out, apply_excludes=False) == source_tree
    assert d.files == files_of(source_tree) > 0
    assert len(tree(docs, apply_excludes=False)) > len(source_tree)  # the excludes were applied
    (out / "extra.txt").write_text("x")
    with pytest.raises(dolibak.ConfigError):
        job.restore_docs(out)
    job.restore_docs(out, yes=True)
    assert tree(out, apply_excludes=False) == source_tree


def test_restore_db_by_name_keeps_the_configured_connection(dolibarr, empty_db, tmp_path):
    """A bare name is that database on the configured connection: its host, port, user and
    password (no PG* variable, no DOLIBAK_TARGET_PASSWORD here); the run named by its time
    as list prints it."""
    role, docs = dolibarr
    job, r = backed_up(role, docs, tmp_path / "store")
    run_time = job.list().runs[-1].time.strftime("%Y-%m-%dT%H:%M:%SZ")
    rep = job.restore_db(empty_db["dbname"], run_time)
    assert rep.pattern_tables >= 250
    assert row_counts(empty_db) == row_counts(role)
    # The configured database itself, by its name, holds data: refused.
    with pytest.raises(dolibak.ConfigError, match="it is the database dolibak backs up"):
        job.restore_db(role["dbname"], yes=True)


def test_check_reports_each_item(dolibarr, tmp_path):
    role, docs = dolibarr
    good = dolibak.Job(dict(db_settings(role), store="file://" + str(tmp_path / "s"),
                            create_store_dir=True, docs_dir=str(docs),
                            temp_dir=str(tmp_path)), use_environment=False)
    c = good.check()
    assert isinstance(c, dolibak.CheckReport)
    items = {i.name: i for i in c.items}
    assert set(items) == {"database", "database session", "database read access", "pg tools",
                          "documents", "store", "clock", "temp space",
                          "history: no run stamped in the future"}
    for name in ("database", "database session", "database read access", "pg tools",
                 "documents", "store", "clock"):
        assert items[name].ok, (name, items[name].detail)
    assert "session read-only: on, writes refused" in items["database"].detail
    assert "superuser" not in items["database"].detail  # prod_owner is none
    assert "startup option" in items["database session"].detail  # no pooler: PGOPTIONS holds
    assert str(tmp_path) in items["temp space"].detail
    assert c.ok == items["temp space"].ok
    assert json_contract.validate(c.to_dict(), "check")["items"][0]["name"] == c.items[0].name

    secret = "pw-WRONG-0815"
    empty_docs = tmp_path / "empty-docs"
    empty_docs.mkdir()
    bad = dolibak.Job(dict(db_settings(role), db_password=secret,
                           store="file://" + str(tmp_path / "s"), docs_dir=str(empty_docs)),
                      use_environment=False).check()
    items = {i.name: i for i in bad.items}
    assert not bad.ok
    assert not items["database"].ok and "password authentication failed" in items[
        "database"].detail
    assert not items["pg tools"].ok and "unreachable" in items["pg tools"].detail
    assert not items["database session"].ok
    assert "password authentication failed" in items["database session"].detail
    assert not items["documents"].ok and "install.lock missing" in items["documents"].detail
    assert items["store"].ok
    assert secret not in json.dumps(bad.to_dict())


def test_refresh_the_sandbox_as_its_owner_role(dolibarr, pg_server, tmp_path):
    role, docs = dolibarr
    sandbox = pg_server["sandbox"]
    sql(sandbox, "DROP TABLE IF EXISTS junk; CREATE TABLE junk (a int); "
                 "INSERT INTO junk VALUES (1);")
    sdocs = tmp_path / "sandbox-docs"
    (sdocs / "other").mkdir(parents=True)
    (sdocs / "other" / "keep.txt").write_text("kept")
    (sdocs / "mycompany").mkdir()
    (sdocs / "mycompany" / "stale.txt").write_text("stale")
    post = tmp_path / "post"
    job = dolibak.Job(dict(db_settings(role), store="file://" + str(tmp_path / "s"),
                           create_store_dir=True), use_environment=False)
    to_db = {"host": str(sandbox["host"]), "port": int(sandbox["port"]),
             "dbname": sandbox["dbname"], "password": sandbox["password"]}
    rep = job.refresh(to_db, role="sandbox_owner", docs_from=docs, docs_to=sdocs,
                      docs_subtree="mycompany",
                      post_hook=["/bin/sh", "-c", 'printf "%s" "$DOLIBAK_REFRESH_RESULT" > "$0"',
                                 str(post)])
    assert isinstance(rep, dolibak.RefreshReport)
    assert rep.post_hook_exit == 0 and post.read_text() == "ok"
    assert rep.restore.pg_restore_exit == 0 and rep.restore.pattern_tables >= 250
    assert row_counts(sandbox) == row_counts(role)
    assert sql(sandbox, "SELECT count(*) FROM pg_class WHERE relname = 'junk'") == "0"
    assert sql(sandbox, "SELECT DISTINCT tableowner FROM pg_tables "
                        "WHERE tablename LIKE 'llx\\_%'") == "sandbox_owner"
    assert sql(sandbox, "SELECT rolsuper FROM pg_roles WHERE rolname = 'sandbox_owner'") == "f"
    # Documents: the subtree mirrors prod's, the rest of the sandbox tree is left alone.
    assert tree(sdocs / "mycompany") == tree(docs / "mycompany")
    assert rep.docs_files == files_of(tree(docs / "mycompany")) > 0
    assert not (sdocs / "mycompany" / "stale.txt").exists()
    assert (sdocs / "other" / "keep.txt").read_text() == "kept"
    assert json_contract.validate(rep.to_dict(), "refresh")["post_hook_exit"] == 0


def test_a_cancel_before_the_run_stores_nothing_even_for_a_tiny_tree(tmp_path):
    """A tree this small reaches the store in the tar writer's last flush only: its failure
    (here the cancellation) must not be lost, leaving an empty object "uploaded"."""
    docs = tmp_path / "docs"
    (docs / "a").mkdir(parents=True)
    (docs / "a" / "f.txt").write_text("tiny")
    (docs / "install.lock").write_text("")
    store = tmp_path / "s"
    job = dolibak.Job({"store": "file://" + str(store), "create_store_dir": True,
                       "docs_dir": str(docs)}, use_environment=False)
    job.cancel()
    with pytest.raises(dolibak.Cancelled, match="backing up the (docs half|documents)"):
        job.backup()
    # Nothing but the store's marker (written once, before anything else).
    assert [p.name for p in store.rglob("*") if not p.is_dir()] == [".dolibak"]


def test_cancel_from_another_thread_while_a_backup_streams(dolibarr, tmp_path):
    """A third thread cancels once a half streams. The half whose upload first reports
    progress waits in its callback until the cancel is issued (so that it is certainly
    mid-stream then); events are delivered one at a time, so the other half cannot report
    its own first block meanwhile: it has not stored anything yet either."""
    role, docs = dolibarr
    store = tmp_path / "s"
    first = []
    streaming = threading.Event()
    issued = threading.Event()
    main = threading.get_ident()

    def on_event(e):
        if e.kind == "progress" and not first:
            first.append((e.half, e.bytes, threading.get_ident()))
            streaming.set()
            issued.wait(20)

    # Archives: both halves stream their object from the start (in packs, the documents'
    # index is written last, after packs no manifest will name: prune collects them).
    settings = dict(db_settings(role), store="file://" + str(store), create_store_dir=True,
                    docs_dir=str(docs), docs_mode="tar")
    job = dolibak.Job(settings, use_environment=False, on_event=on_event)

    def canceller():
        if streaming.wait(20):
            job.cancel()
        issued.set()

    t = threading.Thread(target=canceller)
    t.start()
    try:
        with pytest.raises(dolibak.Cancelled, match="backing up the (db|docs) half"):
            job.backup()
    finally:
        issued.set()
        t.join()
    assert len(first) == 1
    half, nbytes, thread = first[0]
    assert half in ("db", "docs") and nbytes > 0 and thread not in (main, t.ident)
    # Nothing stored: no object, no manifest, no stored fingerprint, no lock left behind; only
    # the store's marker (written once, before anything else).
    assert [p.name for p in store.rglob("*") if not p.is_dir()] == [".dolibak"]
    fresh = dolibak.Job(settings, use_environment=False)
    assert fresh.list().backups == [] and fresh.list().runs == []
    # So the next run uploads both halves.
    r = fresh.backup()
    assert r.ok and {h.outcome for h in r.halves} == {"uploaded"}
