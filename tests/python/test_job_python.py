"""dolibak.Job from Python: settings (same keys as the CLI), report objects, events from
worker threads, errors as dolibak exceptions; against the real PostgreSQL fixture, a file://
store and the S3 fixture."""
import json
import os
import threading
import time

import pytest

import dolibak
import dolibak.retention
import dolibarr_gen as gen
import pgfixture


def db_settings(role):
    return {"db_host": str(role["host"]), "db_port": int(role["port"]), "db_user": role["user"],
            "db_name": role["dbname"], "db_password": role["password"]}


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
    with pytest.raises(dolibak.ConfigError, match="store"):
        dolibak.Job({})
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
    with pytest.raises(dolibak.ConfigError):
        dolibak.Job(use_environment=False)
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

    def on_event(e):
        events.append((e.kind, e.half, e.message, threading.get_ident()))

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
    assert r.half("docs").key.endswith(".tar.zst")
    assert (store / db.key).stat().st_size == db.bytes
    assert len(db.sha256) == 64
    d = r.to_dict()
    assert d["ok"] is True and {h["half"] for h in d["halves"]} == {"db", "docs"}
    with pytest.raises(AttributeError):
        r.manifest_key = "x"  # read-only
    # Events came from the job's worker threads, with the GIL held (the callback ran).
    assert any(k == "info" and h == "db" for k, h, _, _ in events)
    assert any(t != main for *_, t in events)

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
    assert lst.to_dict()["backups"][0]["key"] == lst.backups[0].key

    metrics = tmp_path / "metrics.prom"
    st = job.status(max_age_seconds=3600, metrics_file=metrics)
    assert st.stale is False and st.age_seconds is not None
    assert st.last_success.manifest_key == lst.runs[-1].manifest_key
    assert "dolibak_last_success_timestamp_seconds" in metrics.read_text()
    assert job.status(max_age_seconds=3600).to_dict()["stale"] is False

    p = job.prune(dry_run=True)
    assert p.dry_run and p.dropped == [] and len(p.kept) == 2 and p.drop_keys == []
    assert all(isinstance(x, dolibak.retention.Decision) for x in p.decisions)
    assert all(x.keep and x.reasons for x in p.decisions)
    assert p.to_dict()["kept"] == 2


def test_backup_to_s3(dolibarr, s3_server, s3_bucket):
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
    # Without credentials anywhere the store cannot be opened.
    with pytest.raises(dolibak.ConfigError):
        dolibak.Job({"store": f"s3://{s3_bucket}/erp", "s3_endpoint": s3_server["endpoint"]},
                    use_environment=False)


def test_cancel_from_another_thread(dolibarr, tmp_path):
    role, docs = dolibarr
    job = dolibak.Job(dict(db_settings(role), store="file://" + str(tmp_path / "s"),
                           create_store_dir=True, docs_dir=str(docs)), use_environment=False)
    job.cancel()
    r = None
    try:
        r = job.backup()
    except dolibak.Cancelled:
        pass
    if r is not None:  # the job reports cancelled halves as failed
        assert not r.ok
    assert not list((tmp_path / "s").glob("db/*"))


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
