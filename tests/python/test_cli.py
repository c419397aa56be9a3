"""The dolibak CLI end to end: the built binary against the real PostgreSQL fixture, a
file:// store in tmp_path and the S3 fixture; settings precedence, exit codes, log formats,
signals, and secrets never printed."""
import json
import os
import signal
import subprocess
import time

import pytest

import dolibarr_gen as gen
import pg_tools_dir
import pgfixture
import json_contract

BUILD = os.path.dirname(os.environ.get("DOLIBAK_PYTHONPATH", "")) if os.environ.get(
    "DOLIBAK_PYTHONPATH") else None
CLI = os.path.join(BUILD, "bin", "dolibak") if BUILD else None

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")

SECRET_PW = "Zq9-RECOGNISABLE-DB-PASSWORD-41"
SECRET_AWS = "Xk7-RECOGNISABLE-AWS-SECRET-KEY-93"


def base_env(extra=None):
    """The environment without libpq/AWS/DOLIBAK variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "AWS_", "DOLIBAK_"))}
    env["HOME"] = os.environ.get("HOME", "/tmp")
    env["AWS_CONFIG_FILE"] = "/nonexistent"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def run(args, env=None, check_rc=None, timeout=300):
    p = subprocess.run([CLI] + list(args), env=base_env(env), capture_output=True, text=True,
                       timeout=timeout)
    if check_rc is not None:
        assert p.returncode == check_rc, (p.returncode, p.stdout, p.stderr)
    return p


def store_url(path):
    return "file://" + str(path)


@pytest.fixture
def store(tmp_path):
    d = tmp_path / "store"
    d.mkdir()
    return d


@pytest.fixture
def dolibarr(fresh_db, tmp_path):
    """A small Dolibarr-like database and documents tree; returns (env, docs_dir)."""
    env = pgfixture.libpq_env(fresh_db)
    gen.create_db(env, 20, 7)
    docs = tmp_path / "documents"
    gen.create_docs(str(docs), 20, 7)
    return env, docs


# ---- plumbing -------------------------------------------------------------------------------

def test_list_empty_store_text_and_json(store):
    p = run(["list", "--store", store_url(store)], check_rc=0)
    assert "(no backups)" in p.stdout
    p = run(["list", "--store", store_url(store), "--json"], check_rc=0)
    assert json_contract.loads(p.stdout, "list") == {
        "schema": "dolibak.list/1", "backups": [], "runs": [], "other": []}


def test_usage_and_config_errors_exit_2(tmp_path, store):
    assert run(["list", "--no-such-flag"]).returncode == 2
    assert run([]).returncode == 2
    # No store at all.
    p = run(["list"], check_rc=2)
    assert "store" in p.stderr
    # A missing directory is an error unless asked to create it.
    p = run(["list", "--store", store_url(tmp_path / "missing")], check_rc=2)
    assert "does not exist" in p.stderr
    run(["list", "--store", store_url(tmp_path / "missing"), "--create-store-dir"], check_rc=0)
    # An unknown key in the config file names the key and the file.
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"store": store_url(store), "sotre": "x"}))
    p = run(["list", "--config", str(cfg)], check_rc=2)
    assert "sotre" in p.stderr and str(cfg) in p.stderr
    # A bad value names the key, its source, the value and what is allowed.
    p = run(["list", "--store", store_url(store)], env={"DOLIBAK_DB_PORT": "70000"}, check_rc=2)
    assert "db_port" in p.stderr and "DOLIBAK_DB_PORT" in p.stderr and "70000" in p.stderr
    assert "1 to 65535" in p.stderr
    p = run(["list", "--store", store_url(store), "--lock-ttl", "soon"], check_rc=2)
    assert "lock_ttl" in p.stderr and "--lock-ttl" in p.stderr
    # No flag exists for a secret.
    assert run(["list", "--store", store_url(store), "--db-password", "x"]).returncode == 2
    # status --max-age is checked too.
    assert run(["status", "--store", store_url(store), "--max-age", "x"]).returncode == 2


def test_precedence_flag_env_file(tmp_path, store):
    other = tmp_path / "other"
    other.mkdir()
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"store": store_url(tmp_path / "nowhere")}))
    # file only: the missing directory
    assert run(["list", "--config", str(cfg)]).returncode == 2
    # env beats the file
    run(["list", "--config", str(cfg)], env={"DOLIBAK_STORE": store_url(store)}, check_rc=0)
    # DOLIBAK_CONFIG names the file
    assert run(["list"], env={"DOLIBAK_CONFIG": str(cfg)}).returncode == 2
    # flag beats env
    run(["list", "--store", store_url(other)],
        env={"DOLIBAK_STORE": store_url(tmp_path / "nowhere")}, check_rc=0)


def test_log_format_json_lines(tmp_path):
    p = run(["list", "--store", store_url(tmp_path / "missing"), "--log-format", "json"],
            check_rc=2)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert lines
    for l in lines:
        o = json_contract.validate(json.loads(l), "log")
        assert o["level"] in ("info", "warning", "error")
        assert o["time"].endswith("Z")
        assert "message" in o
    # Text lines are timestamped: 2026-11-23T02:00:01Z ERROR ...
    p = run(["list", "--store", store_url(tmp_path / "missing")], check_rc=2)
    first = p.stderr.splitlines()[0]
    assert first[19] == "Z" and first[10] == "T" and " ERROR " in first


def test_status_empty_store_is_stale(store, tmp_path):
    metrics = tmp_path / "m.prom"
    p = run(["status", "--store", store_url(store), "--metrics", str(metrics)], check_rc=1)
    assert "STALE" in p.stdout
    p = run(["status", "--store", store_url(store), "--json"], check_rc=1)
    assert json_contract.loads(p.stdout, "status")["stale"] is True
    assert metrics.exists()


# ---- end to end -----------------------------------------------------------------------------

def test_backup_list_status_prune(dolibarr, store, tmp_path):
    env, docs = dolibarr
    common = ["--store", store_url(store), "--docs-dir", str(docs)]
    p = run(["backup", "--json"] + common, env=env, check_rc=0)
    r = json_contract.loads(p.stdout, "backup")
    assert r["ok"]
    halves = {h["half"]: h for h in r["halves"]}
    assert halves["db"]["outcome"] == "uploaded" and halves["db"]["key"].startswith("db/")
    assert halves["docs"]["outcome"] == "uploaded" and halves["docs"]["key"].startswith("docs/")
    assert (store / halves["db"]["key"]).stat().st_size == halves["db"]["bytes"]
    # Not a terminal: timestamped log lines on stderr, no progress line.
    assert "\r" not in p.stderr
    assert any(" INFO " in l for l in p.stderr.splitlines())

    # Second run: both unchanged; text output.
    time.sleep(1.1)  # a new <ts> (one-second resolution)
    p = run(["backup"] + common, env=env, check_rc=0)
    assert p.stdout.count("unchanged") >= 2, p.stdout

    # A dry run stores nothing.
    before = sorted(str(x) for x in store.rglob("*"))
    p = run(["backup", "--dry-run", "--json", "--force"] + common, env=env, check_rc=0)
    assert {h["outcome"] for h in json_contract.loads(p.stdout, "backup")["halves"]} == {"would-upload"}
    assert sorted(str(x) for x in store.rglob("*")) == before

    # --db-only and --docs-only
    p = run(["backup", "--db-only", "--dry-run", "--json"] + common, env=env, check_rc=0)
    assert [h["half"] for h in json_contract.loads(p.stdout, "backup")["halves"] if h["outcome"] != "skipped"] == ["db"]
    assert run(["backup", "--db-only", "--docs-only"] + common, env=env).returncode == 2

    # list: every object has a manifest; runs listed.
    p = run(["list", "--json"] + common, env=env, check_rc=0)
    lst = json_contract.loads(p.stdout, "list")
    assert {b["half"] for b in lst["backups"]} == {"db", "docs"}
    assert all(b["has_manifest"] for b in lst["backups"])
    assert len(lst["runs"]) == 2
    p = run(["list"] + common, env=env, check_rc=0)
    assert "1 run " in p.stdout  # the docs object was found unchanged by one run
    assert "old scripts" not in p.stdout

    # verify reads the newest run back and records it; list then shows it per object.
    p = run(["verify", "--json"] + common, env=env, check_rc=0)
    v = json_contract.loads(p.stdout, "verify")
    assert v["ok"] and v["record_key"].startswith("verified/")
    assert (store / v["record_key"]).exists()
    p = run(["list", "--json"] + common, env=env, check_rc=0)
    marks = {b["key"]: b["verified"] for b in json_contract.loads(p.stdout, "list")["backups"]}
    assert set(marks) == {o["key"] for o in v["objects"]}  # both objects of the newest run
    assert all(m and m["ok"] for m in marks.values())
    p = run(["list"] + common, env=env, check_rc=0)
    assert "VERIFIED" in p.stdout and " ok 20" in p.stdout

    # An object of the old scripts (no manifest) is marked.
    (store / "db" / "20200101T020000Z.dump").write_bytes(b"PGDMP old")
    p = run(["list"] + common, env=env, check_rc=0)
    assert "no (old scripts)" in p.stdout

    # status: fresh; its metrics file parses as Prometheus text (the reference parser).
    metrics = tmp_path / "dolibak.prom"
    p = run(["status", "--max-age", "1h", "--json", "--metrics", str(metrics)] + common,
            env=env, check_rc=0)
    assert json_contract.loads(p.stdout, "status")["stale"] is False
    from prometheus_client.parser import text_string_to_metric_families
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    assert {f.type for f in families.values()} == {"gauge"}
    value = {(s.name, s.labels.get("half")): s.value
             for f in families.values() for s in f.samples}
    assert value[("dolibak_stale", None)] == 0
    assert value[("dolibak_last_run_success", None)] == 1
    assert value[("dolibak_half_uploaded", "db")] == 0  # the newest run found both unchanged
    assert value[("dolibak_half_bytes", "db")] == halves["db"]["bytes"]
    assert abs(value[("dolibak_last_success_timestamp_seconds", None)] - time.time()) < 600
    # Labelled with the store's canonical URL (a directory store's ends in '/').
    assert {s.labels["store"] for f in families.values() for s in f.samples} == \
        {store_url(store) + "/"}
    # status: stale once the last success is older than --max-age (exit 1, metric 1).
    time.sleep(1.5)
    p = run(["status", "--max-age", "1s", "--metrics", str(metrics)] + common, env=env,
            check_rc=1)
    assert "STALE" in p.stdout
    stale = [s for f in text_string_to_metric_families(metrics.read_text())
             for s in f.samples if s.name == "dolibak_stale"]
    assert [s.value for s in stale] == [1]

    # prune --dry-run prints the plan with reasons and deletes nothing.
    p = run(["prune", "--dry-run", "--json"] + common, env=env, check_rc=0)
    plan = json_contract.loads(p.stdout, "prune")
    assert plan["dry_run"] is True
    assert any(d["keep"] and d["reasons"] for d in plan["decisions"])
    p = run(["prune", "--dry-run"] + common, env=env, check_rc=0)
    assert "keep" in p.stdout and "dry run" in p.stdout


def test_backup_to_s3(dolibarr, s3_server, s3_bucket):
    env, docs = dolibarr
    env = dict(env, AWS_ACCESS_KEY_ID=s3_server["access_key"],
               AWS_SECRET_ACCESS_KEY=s3_server["secret_key"])
    common = ["--store", f"s3://{s3_bucket}/erp", "--s3-endpoint", s3_server["endpoint"],
              "--s3-region", s3_server["region"], "--s3-addressing", "path",
              "--docs-dir", str(docs)]
    p = run(["backup", "--json"] + common, env=env, check_rc=0)
    assert {h["outcome"] for h in json_contract.loads(p.stdout, "backup")["halves"]} == {"uploaded"}
    p = run(["list", "--json"] + common, env=env, check_rc=0)
    assert {b["half"] for b in json_contract.loads(p.stdout, "list")["backups"]} == {"db", "docs"}
    assert s3_server["secret_key"] not in p.stdout + p.stderr


def test_secrets_never_printed(dolibarr, store, tmp_path, s3_server, s3_bucket):
    env, docs = dolibarr
    # A wrong database password given by environment: the backup fails.
    bad = dict(env, DOLIBAK_DB_PASSWORD=SECRET_PW, AWS_SECRET_ACCESS_KEY=SECRET_AWS,
               AWS_ACCESS_KEY_ID="AKIDRECOGNISABLE")
    bad.pop("PGPASSWORD")
    outputs = []
    for log_format in ("text", "json"):
        p = run(["backup", "--store", store_url(store), "--docs-dir", str(docs),
                 "--log-format", log_format], env=bad)
        assert p.returncode == 3, (p.stdout, p.stderr)
        outputs.append(p.stdout + p.stderr)
        p = run(["backup", "--store", store_url(store), "--json", "--db-only"], env=bad)
        assert p.returncode == 3
        outputs.append(p.stdout + p.stderr)
    # The S3 store with a wrong secret key.
    s3 = ["--store", f"s3://{s3_bucket}/x", "--s3-endpoint", s3_server["endpoint"],
          "--s3-region", s3_server["region"], "--s3-addressing", "path"]
    for cmd in (["list"], ["status"], ["prune", "--dry-run"], ["backup", "--docs-only",
                                                                   "--docs-dir", str(docs)],
                ["verify"], ["check"]):
        p = run(cmd + s3, env=bad)
        assert p.returncode in (1, 2, 3), (cmd, p.stdout, p.stderr)
        outputs.append(p.stdout + p.stderr)
    # A config file holding the secret, malformed right at it, group-readable.
    cfg = tmp_path / "c.json"
    cfg.write_text('{"store": "%s", "db_password": %s}' % (store_url(store), SECRET_PW))
    p = run(["list", "--config", str(cfg)], check_rc=2)
    outputs.append(p.stdout + p.stderr)
    cfg.write_text(json.dumps({"store": store_url(store), "db_password": SECRET_PW,
                               "db_name": "nosuchdb", "db_host": env["PGHOST"],
                               "db_port": int(env["PGPORT"]), "db_user": env["PGUSER"]}))
    os.chmod(cfg, 0o644)
    p = run(["backup", "--config", str(cfg), "--db-only"])
    assert p.returncode == 3
    assert "chmod 600" in p.stderr
    outputs.append(p.stdout + p.stderr)
    # A restore target with a password in the conninfo is refused without echoing it.
    p = run(["restore", "db", "--store", store_url(store), "--to",
             f"dbname=x password={SECRET_PW}"], check_rc=2)
    outputs.append(p.stdout + p.stderr)
    for out in outputs:
        assert SECRET_PW not in out
        assert SECRET_AWS not in out


def test_secrets_never_printed_on_success(dolibarr, empty_db, tmp_path, s3_server, s3_bucket):
    """Every command that succeeds, with the secrets in the environment only: neither the
    database password nor the AWS secret key appears in any output, text or JSON logs."""
    env, docs = dolibarr
    db_password = env["PGPASSWORD"]
    env = dict(env, AWS_ACCESS_KEY_ID=s3_server["access_key"],
               AWS_SECRET_ACCESS_KEY=s3_server["secret_key"])
    # The password also given the dolibak way (it wins over PGPASSWORD).
    env["DOLIBAK_DB_PASSWORD"] = env.pop("PGPASSWORD")
    s3 = ["--store", f"s3://{s3_bucket}/erp", "--s3-endpoint", s3_server["endpoint"],
          "--s3-region", s3_server["region"], "--s3-addressing", "path", "--docs-dir", str(docs)]
    target = (f"host={env['PGHOST']} port={env['PGPORT']} user={empty_db['user']} "
              f"dbname={empty_db['dbname']}")
    outputs = []
    for log_format in ("text", "json"):
        common = s3 + ["--log-format", log_format]
        for cmd, rc in ((["backup", "--force"], 0), (["backup", "--json"], 0), (["list"], 0),
                        (["list", "--json"], 0), (["verify", "latest"], 0),
                        (["status", "--json"], 0), (["check"], 0), (["prune", "--dry-run"], 0)):
            if cmd[0] == "backup":
                time.sleep(1.1)  # a new <ts>
            p = run(cmd + common, env=env)
            assert p.returncode == rc, (cmd, p.stdout, p.stderr)
            outputs.append(p.stdout + p.stderr)
    # Restores, the target's password from DOLIBAK_TARGET_PASSWORD.
    p = run(["restore", "db", "latest", "--to", target] + s3,
            env=dict(env, DOLIBAK_TARGET_PASSWORD=empty_db["password"]), check_rc=0)
    outputs.append(p.stdout + p.stderr)
    p = run(["restore", "docs", "latest", "--to", str(tmp_path / "restored")] + s3, env=env,
            check_rc=0)
    outputs.append(p.stdout + p.stderr)
    assert len(outputs) == 18
    for out in outputs:
        assert db_password not in out
        assert s3_server["secret_key"] not in out
        assert empty_db["password"] not in out


def slow_pg_tools(tmp_path, pg_server):
    """A --pg-tools-dir whose pg_dump trickles its output (1 KiB every 0.2 s), so that a run
    can be interrupted in the middle of its dump."""
    return pg_tools_dir.trickling(tmp_path / "fakebin", pg_server)


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_cleanly(dolibarr, store, tmp_path, pg_server, sig, code):
    env, docs = dolibarr
    tools = slow_pg_tools(tmp_path, pg_server)
    proc = subprocess.Popen([CLI, "backup", "--db-only", "--store", store_url(store),
                             "--pg-tools-dir", str(tools)], env=base_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until the run holds the lock (it is then dumping).
        deadline = time.monotonic() + 60
        while not (store / ".lock").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, (out, err)
    assert "interrupted by " + signal.Signals(sig).name in err
    assert not (store / ".lock").exists()
    # Nothing but the store's marker (.dolibak: written once, before anything else, so that a
    # killed run's leftovers are told from an old script's backups).
    leftovers = [p for p in store.rglob("*") if p.is_file() and p.name != ".dolibak"]
    assert leftovers == [], leftovers
    assert (store / ".dolibak").is_file()


HANGING_PG_DUMP = """#!/bin/sh
# A pg_dump that answers --version, then hangs without output.
case "$1" in --version) exec %(bin)s/pg_dump --version;; esac
exec sleep 300
"""


def test_signal_with_a_silent_child_exits_after_the_grace(dolibarr, store, tmp_path, pg_server):
    env, _ = dolibarr
    tools = pg_tools_dir.make(tmp_path / "fakebin", pg_server, HANGING_PG_DUMP)
    proc = subprocess.Popen([CLI, "backup", "--db-only", "--store", store_url(store),
                             "--pg-tools-dir", str(tools), "--cancel-grace", "2s"],
                            env=base_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while not (store / ".lock").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, (out, err)
    # Nothing was published under a final name.
    assert not list((store / "db").glob("*")) if (store / "db").exists() else True


def test_backup_list_verify_show_each_exclusion_with_its_counts(tmp_path):
    docs = tmp_path / "documents"
    for rel, data in {"install.lock": b"", "facture/FA1/FA1.pdf": b"%PDF" * 100,
                      "facture/FA1/FA1.pdf_preview.png": b"p" * 50,
                      "facture/temp/stats.png": b"s" * 70, "dolibarr.log": b"l" * 30,
                      "ticket/TS1/server.log": b"an attachment"}.items():
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_bytes(data)
    common = ["--store", store_url(tmp_path / "store"), "--create-store-dir"]
    b = run(["backup", "--docs-only", "--docs-dir", str(docs)] + common, check_rc=0)
    line = "left out by the excludes: */temp/* 1 file 70 B, *.pdf_preview*.png 1 file 50 B"
    assert line in b.stdout
    assert "/dolibarr.log 1 file 30 B, /dolibarr_*.log 0 files 0 B" in b.stdout
    lst = run(["list"] + common, check_rc=0)
    assert "docs " + line in lst.stdout
    v = run(["verify"] + common, check_rc=0)
    assert line in v.stdout
    runs = json_contract.loads(
        run(["list", "--json", "--manifests"] + common, check_rc=0).stdout, "list")["runs"]
    assert runs[0]["manifest"]["halves"]["docs"]["archive_summary"]["exclusions"][0] == {
        "pattern": "*/temp/*", "files": 1, "bytes": 70}


# ---- notifications ---------------------------------------------------------------------------

WEBHOOK_TOKEN = "T0KEN-RECOGNISABLE-WEBHOOK-77"


def test_backup_posts_the_webhook_and_a_dead_one_is_a_warning(tmp_path):
    import http.server
    import socket
    import threading

    bodies = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    docs = tmp_path / "documents"
    docs.mkdir()
    (docs / "install.lock").write_bytes(b"")
    common = ["--store", store_url(tmp_path / "store"), "--create-store-dir", "--docs-only",
              "--docs-dir", str(docs)]
    try:
        url = "http://127.0.0.1:%d/services/%s" % (server.server_address[1], WEBHOOK_TOKEN)
        p = run(["backup", "--json"] + common, env={"DOLIBAK_WEBHOOK_URL": url}, check_rc=0)
    finally:
        server.shutdown()
        server.server_close()
    assert len(bodies) == 1
    path, body = bodies[0]
    assert path == "/services/" + WEBHOOK_TOKEN
    note = json_contract.loads(body, "notification")
    assert note["text"].startswith("dolibak backup of file://")
    assert note["ok"] is True and note["event"] == "backup"
    assert note["report"] == json_contract.loads(p.stdout, "backup")
    assert WEBHOOK_TOKEN.encode() not in body

    # nothing listens: the backup still succeeds, the failure is a warning without the URL
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    url = "http://127.0.0.1:%d/services/%s" % (dead, WEBHOOK_TOKEN)
    p = run(["backup", "--force"] + common,
            env={"DOLIBAK_WEBHOOK_URL": url, "DOLIBAK_NOTIFY_TIMEOUT": "2s"}, check_rc=0)
    assert "notification: the webhook failed" in p.stderr + p.stdout
    assert WEBHOOK_TOKEN not in p.stderr + p.stdout
