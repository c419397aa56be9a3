"""Sixty simulated days of a real installation: the `dolibak` CLI driven with `--now` against
the PostgreSQL fixture and the S3 fixture (moto, SigV4 checked), the small-scale version of
tests/cpp/test_history_sim.cpp.

Every day at 02:00 UTC: maybe a business change in the database (an invoice line updated or
added), maybe a new document; `backup --now <day>`; `prune --now <day + 1h>`. Some days carry a
fault: a run SIGKILLed while pg_dump streams (the next day's run takes over its lock: same
host, dead pid), a stale lock of another host planted by hand, two runs started together over
an expired lock. After every day the history's invariants of docs/store-layout.md are
checked against the store itself: every ok run's objects exist, no object in db/ or docs/
that no manifest (or stored fingerprint) names, no lock left behind, each half's outcome is
what the day's changes call for, and prune kept exactly the runs the tiered policy names.
At the end every kept run verifies, and three are restored (the oldest kept, a monthly; one
whose documents half was unchanged; `latest`) and compared with what the database and the
documents held when that run was made. A run stamped 400 days ahead makes `status` stale
with a reason, and `latest` skips it."""
import datetime as dt
import fnmatch
import hashlib
import json
import os
import random
import secrets
import subprocess

import pytest

import json_contract
import pgfixture
from test_cli import CLI, base_env, dolibarr, run  # noqa: F401
from test_killed_runs import kill_when, open_uploads
import pg_tools_dir

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")

dolibak = pytest.importorskip("dolibak")
import dolibak.store  # noqa: E402

DAYS = 60
START = dt.datetime(2026, 1, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
KEEP_DAILY_DAYS = 14
KILL_DAYS = (7, 23, 38)
STALE_LOCK_DAY = 15
RACE_DAY = 30
STATUS_DAY = 33
FUTURE_DAY = 45
# The Dolibarr profile's document_excludes (docs/manifest.md): not in the archive.
# A pattern starting with "/" is anchored at the root (tarball::ExcludeMatcher).
DOC_EXCLUDES = ("*/temp/*", "*.pdf_preview*.png", "/dolibarr.log", "/dolibarr_*.log")

DB_STATE_SQL = ("SELECT count(*) || ':' || coalesce(sum(qty), 0) || ':' || "
                "md5(coalesce(string_agg(rowid || '=' || qty || '=' || fk_facture, ',' "
                "ORDER BY rowid), '')) FROM llx_facturedet")

# pg_dump that waits 2 s before dumping: the run holding the lock holds it that long, so two
# runs started together really overlap.
LATE_PG_DUMP = """#!/bin/sh
case "$1" in --version) exec %(bin)s/pg_dump --version;; esac
sleep 2
exec %(bin)s/pg_dump "$@"
"""


def ts(t):
    return t.strftime("%Y%m%dT%H%M%SZ")


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    return dt.datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def months_before(t, n):
    y, m = divmod(t.year * 12 + (t.month - 1) - n, 12)
    m += 1
    last = [31, 29 if (y % 4 == 0 and (y % 100 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31,
            31, 30, 31, 30, 31][m - 1]
    return t.replace(year=y, month=m, day=min(t.day, last))


def expected_kept(runs, now):
    """The runs the tiered policy keeps (daily KEEP_DAILY_DAYS, monthly 12, yearly 10; UTC),
    every run ok and one a day at most: docs/retention.md."""
    future = {t for t in runs if t > now + dt.timedelta(minutes=15)}
    normal = sorted(set(runs) - future)
    kept = set(future)
    daily_edge = now - dt.timedelta(days=KEEP_DAILY_DAYS)
    monthly_edge = months_before(now, 12)
    newest_of_month = {}
    for t in normal:
        if t >= daily_edge:
            kept.add(t)  # newest (the only one) of its day
        elif t >= monthly_edge:
            newest_of_month[(t.year, t.month)] = t
    kept |= set(newest_of_month.values())
    if normal:
        kept.add(normal[-1])
    return kept


def docs_state(root):
    """{relative path: sha256} of the files an archive holds (the profile's excludes out)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if any(fnmatch.fnmatchcase(c, g) for c in (rel, "/" + rel) for g in DOC_EXCLUDES):
                continue
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            else:
                with open(p, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def test_sixty_days_through_postgres_and_s3(dolibarr, fresh_db, pg_server, s3_server,
                                             s3_bucket, tmp_path):
    env, docs = dolibarr
    env = dict(env, AWS_ACCESS_KEY_ID=s3_server["access_key"],
               AWS_SECRET_ACCESS_KEY=s3_server["secret_key"])
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    common = ["--store", f"s3://{s3_bucket}/erp", "--s3-endpoint", s3_server["endpoint"],
              "--s3-region", s3_server["region"], "--s3-addressing", "path",
              "--docs-dir", str(docs), "--temp-dir", str(tmp),
              "--keep-daily-days", str(KEEP_DAILY_DAYS)]
    store = dolibak.store.open(f"s3://{s3_bucket}/erp", endpoint=s3_server["endpoint"],
                               region=s3_server["region"], access_key=s3_server["access_key"],
                               secret_key=s3_server["secret_key"], addressing="path",
                               use_environment=False)
    bin_dir = pg_server["bin_dir"]
    marker = tmp_path / "dumping"
    # pg_dump trickling its output (1 KiB every 0.2 s); the marker appears once it is dumping.
    slow_tools = pg_tools_dir.trickling(tmp_path / "slowbin", pg_server, marker=marker)
    late_tools = pg_tools_dir.make(tmp_path / "latebin", pg_server, LATE_PG_DUMP)
    rng = random.Random(20260101)

    def sql(text, role=fresh_db):
        return pgfixture.psql(role, text, bin_dir=bin_dir, args=["-At"]).strip()

    def db_state(role=fresh_db):
        return sql(DB_STATE_SQL, role)

    def change_db(day):
        if rng.random() < 0.5:
            k = rng.randrange(40)
            out = sql("UPDATE llx_facturedet SET qty = qty + 1 WHERE rowid = (SELECT rowid FROM "
                      f"llx_facturedet ORDER BY rowid OFFSET {k} LIMIT 1) RETURNING rowid")
        else:
            out = sql("INSERT INTO llx_facturedet (fk_facture, label, qty, subprice, tva_tx) "
                      f"VALUES (1, 'simulated day {day}', {rng.randrange(1, 9)}, 12.5, 20) "
                      "RETURNING rowid")
        assert out and out.splitlines()[0].isdigit(), out  # a row changed

    def change_docs(day):
        d = docs / "facture" / f"FA2601-SIM{day:03d}"
        d.mkdir(parents=True)
        (d / f"FA2601-SIM{day:03d}.pdf").write_bytes(
            b"%PDF-1.4\n" + rng.randbytes(rng.randrange(2000, 20000)) + b"\n%%EOF\n")

    def cli(args, rc=0, now=None):
        return run(list(args) + (["--now", ts(now)] if now else []) + common, env=env,
                   check_rc=rc)

    def listing(now):
        return json_contract.loads(cli(["list", "--json", "--manifests"], now=now).stdout, "list")

    def rel(key):
        # Keys are relative to the store's prefix (as dolibak.store names them).
        return key[len("erp/"):] if key.startswith("erp/") else key

    published = {}    # run ts -> {"db": state, "docs": {path: sha256}}
    killed = []       # ts of the runs SIGKILLed while dumping
    dirty = {"db": True, "docs": True}  # changed since the half was last uploaded
    last_prune = None
    current = set()   # the runs listed by the last check
    drifted = []      # (--now, stamp) of the runs stamped later than their --now

    def check_store(now, lock_expected):
        """The history's invariants, from `list --json` and the store's own listing."""
        lst = listing(now)
        keys = {o["key"] for o in store.list()}
        # Nothing outside the layout: "other" is the bookkeeping objects only, and the packs
        # of the documents' runs (a new store's default mode).
        assert {o["key"] for o in lst["other"] if not o["key"].startswith("packs/")} <= \
            {".dolibak", ".fp-db", ".fp-docs", ".lock"}, lst["other"]
        assert ".dolibak" in keys
        runs = {}
        for r in lst["runs"]:
            assert r["loaded"], r
            m = r["manifest"]
            runs[m["ts"]] = m
            assert r["succeeded"] and m["result"] == "success", m
            for half in ("db", "docs"):
                h = m["halves"][half]
                assert h["status"] in ("uploaded", "unchanged"), (m["ts"], half, h)
                assert rel(h["key"]) in keys, (m["ts"], half, h["key"], "missing")
                if h["status"] == "uploaded":
                    assert parse_ts(rel(h["key"]).split("/")[1].split(".")[0]) == \
                        parse_ts(m["ts"])
        # Only runs that published, none of the killed ones, no run lost by the lock races.
        assert set(runs) <= set(published), set(runs) - set(published)
        assert not set(runs) & set(killed)
        named = {rel(m["halves"][h]["key"]) for m in runs.values() for h in ("db", "docs")}
        for half in ("db", "docs"):
            fp = json.loads(store.get_bytes(f".fp-{half}"))
            named.add(rel(fp["object"]))
            assert rel(fp["object"]) in keys
        data = {k for k in keys if k.startswith(("db/", "docs/"))}
        assert data - named == set(), "objects no manifest names"
        assert {rel(b["key"]) for b in lst["backups"]} == data
        assert all(b["has_manifest"] for b in lst["backups"]), lst["backups"]
        assert not [k for k in keys if k.startswith("globals/")]
        assert {k for k in keys if k.startswith("manifests/")} == \
            {f"manifests/{t}.json" for t in runs}
        assert (".lock" in keys) == lock_expected, (now, keys)
        if not lock_expected:
            assert open_uploads(s3_server, s3_bucket, "erp/") == []
        return runs

    def stamped(t, when):
        """The run's time stamp (RFC 3339 `when`), checked against --now `t`: the clock runs
        on from `t`, so a slow start may stamp a second or so later. Returns its <ts>."""
        got = dt.datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        assert t <= got <= t + dt.timedelta(seconds=5), (t, when)
        if got != t:
            drifted.append((ts(t), ts(got)))
        return ts(got)

    def record_published(t, report):
        run_ts = stamped(t, report["time"])
        assert report["ok"] and report["manifest_key"] == f"manifests/{run_ts}.json", report
        outcomes = {h["half"]: h["outcome"] for h in report["halves"]}
        for half in ("db", "docs"):
            assert outcomes[half] == ("uploaded" if dirty[half] else "unchanged"), \
                (run_ts, half, outcomes, dirty)
            dirty[half] = False
        published[run_ts] = {"db": db_state(), "docs": docs_state(docs)}
        return run_ts

    def backup(t):
        p = cli(["backup", "--json"], now=t)
        return record_published(t, json_contract.loads(p.stdout, "backup")), p

    def prune(t):
        p = cli(["prune", "--json"], now=t)
        return json_contract.loads(p.stdout, "prune")

    for day in range(DAYS):
        t = START + dt.timedelta(days=day)
        after = t + dt.timedelta(hours=1)
        if rng.random() < 0.6 or day in KILL_DAYS + (RACE_DAY, FUTURE_DAY, DAYS - 1):
            change_db(day)
            dirty["db"] = True
        if rng.random() < 0.15 or day in (FUTURE_DAY, DAYS - 1):
            change_docs(day)
            dirty["docs"] = True
        runs_before = set(current)  # as the last check found them

        if day in KILL_DAYS:
            fps = {h: store.get_bytes(f".fp-{h}") for h in ("db", "docs")}
            if marker.exists():
                marker.unlink()
            proc = subprocess.Popen([CLI, "backup", "--now", ts(t), "--pg-tools-dir",
                                     str(slow_tools)] + common, env=base_env(env),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            kill_when(proc, marker.exists, "pg_dump streaming")
            lock = json.loads(store.get_bytes(".lock"))
            since = dt.datetime.strptime(lock["since"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.timezone.utc)
            assert t <= since <= t + dt.timedelta(seconds=5), lock
            killed.append(ts(since))
            killed_pid = proc.pid
            # Nothing published, the stored fingerprints as they were, the lease left behind.
            assert {h: store.get_bytes(f".fp-{h}") for h in ("db", "docs")} == fps
            assert lock["pid"] == proc.pid and lock["host"] == os.uname().nodename, lock
            runs = check_store(after, lock_expected=True)
            assert set(runs) == runs_before
            current = set(runs)
            continue  # no prune: the next day's backup meets the dead run's lock

        if day - 1 in KILL_DAYS:
            today, p = backup(t)
            assert (f"taking over the lock held by the run of pid {killed_pid} on "
                    f"{os.uname().nodename} since ") in p.stderr, p.stderr
            assert "(that process is gone)" in p.stderr, p.stderr
        elif day == STALE_LOCK_DAY:
            assert store.head(".lock") is None
            store.put_bytes(".lock", json.dumps({
                "host": "dolibak-cron-elsewhere", "pid": 4242, "token": secrets.token_hex(16),
                "since": rfc3339(t - dt.timedelta(hours=13)),
                "expires": rfc3339(t - dt.timedelta(hours=1))}).encode(), no_overwrite=True)
            today, p = backup(t)
            assert ("taking over the lock held by the run of pid 4242 on "
                    "dolibak-cron-elsewhere since " + rfc3339(t - dt.timedelta(hours=13)) +
                    " (expired)") in p.stderr, p.stderr
        elif day == RACE_DAY:
            assert store.head(".lock") is None
            store.put_bytes(".lock", json.dumps({
                "host": "dolibak-cron-elsewhere", "pid": 4343, "token": secrets.token_hex(16),
                "since": rfc3339(t - dt.timedelta(hours=20)),
                "expires": rfc3339(t - dt.timedelta(hours=8))}).encode(), no_overwrite=True)
            procs = [subprocess.Popen([CLI, "backup", "--json", "--now", ts(t),
                                       "--pg-tools-dir", str(late_tools)] + common,
                                      env=base_env(env), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2)]
            outs = [pr.communicate(timeout=300) for pr in procs]
            rcs = [pr.returncode for pr in procs]
            assert sorted(rcs) == [0, 3], (rcs, outs)
            win, lose = (outs[0], outs[1]) if rcs[0] == 0 else (outs[1], outs[0])
            # The loser met the winner's lease, or lost the conditional takeover of the
            # expired one.
            assert ("the store is locked by the run of pid" in lose[1]
                    or "the store's lock was taken over by another run at the same time"
                    in lose[1]), lose
            today = record_published(t, json_contract.loads(win[0], "backup"))
        else:
            today, _ = backup(t)

        if day == FUTURE_DAY:
            # A run stamped 400 days ahead (a wrong clock), then back to normal days.
            far = t + dt.timedelta(days=400)
            change_db(day)
            dirty["db"] = True
            change_docs(1000 + day)
            dirty["docs"] = True
            far_ts, _ = backup(far)
            p = cli(["status", "--json"], rc=1, now=after)
            st = json_contract.loads(p.stdout, "status")
            assert st["stale"] and "future" in st["reason"] and far_ts in st["reason"], st
            assert st["future_runs"] == [rfc3339(parse_ts(far_ts))], st

        last_prune = prune(after)
        runs = check_store(after, lock_expected=False)
        # Exactly one run (two on the future day) published today, and prune kept what the
        # policy names out of those and the ones kept before.
        pruned_over = runs_before | {today} | ({far_ts} if day == FUTURE_DAY else set())
        assert {parse_ts(x) for x in runs} == \
            expected_kept({parse_ts(x) for x in pruned_over}, after), day
        dropped = {d["time"] for d in last_prune["decisions"] if not d["keep"]}
        assert dropped == {rfc3339(parse_ts(x)) for x in pruned_over - set(runs)}, day
        current = set(runs)

        if day == STATUS_DAY:
            p = cli(["status", "--json"], rc=0, now=after)
            assert json_contract.loads(p.stdout, "status")["stale"] is False
            p = cli(["status", "--json"], rc=1, now=t + dt.timedelta(days=365))
            st = json_contract.loads(p.stdout, "status")
            assert st["stale"] and "future" not in st["reason"] and st["future_runs"] == [], st

    assert len(killed) == len(KILL_DAYS)
    end = START + dt.timedelta(days=DAYS - 1, hours=3)
    runs = check_store(end, lock_expected=False)
    # status on a normal day stays stale while the future-dated run is there.
    p = cli(["status", "--json"], rc=1, now=end)
    assert "future" in json_contract.loads(p.stdout, "status")["reason"]

    # Every kept run verifies: each object read back whole against its manifest.
    for run_ts, m in sorted(runs.items()):
        p = cli(["verify", run_ts, "--json"], now=end)
        v = json_contract.loads(p.stdout, "verify")
        assert v["ok"], v
        assert {rel(o["key"]) for o in v["objects"]} == \
            {rel(m["halves"][h]["key"]) for h in ("db", "docs")}

    # Which runs to restore: the oldest kept (the policy kept it as a monthly), one whose
    # documents half named an older archive, and `latest` (the newest run not in the future).
    reasons = {}
    for d in last_prune["decisions"]:
        if d["keep"]:
            reasons.setdefault(d["time"], set()).update(d["reasons"])
    oldest = min(runs)
    assert "monthly" in reasons[rfc3339(parse_ts(oldest))], reasons
    normal = sorted(r for r in runs if parse_ts(r) <= end)
    newest = normal[-1]
    assert max(runs) == far_ts
    assert parse_ts(far_ts) > end and far_ts not in normal
    unchanged_docs = [r for r in normal[1:-1] if runs[r]["halves"]["docs"]["status"] ==
                      "unchanged" and not rel(runs[r]["halves"]["docs"]["key"]).startswith(
                          f"docs/{r}.")]
    assert unchanged_docs, "no kept run found the documents unchanged"
    middle = unchanged_docs[len(unchanged_docs) // 2]
    assert runs[newest]["halves"]["docs"]["key"] != runs[far_ts]["halves"]["docs"]["key"]
    assert published[newest] != published[far_ts]

    su = pg_server["superuser"]
    for label, which in (("oldest", oldest), ("unchanged-docs", middle), ("latest", "latest")):
        expect = published[newest if which == "latest" else which]
        name = "h_" + secrets.token_hex(6)
        pgfixture.psql(su, f"CREATE DATABASE {name} OWNER {pg_server['prod']['user']};",
                       bin_dir=bin_dir)
        try:
            target = (f"host={fresh_db['host']} port={fresh_db['port']} "
                      f"user={fresh_db['user']} dbname={name}")
            run(["restore", "db", which, "--to", target, "--now", ts(end)] + common,
                env=dict(env, DOLIBAK_TARGET_PASSWORD=fresh_db["password"]), check_rc=0)
            assert db_state(dict(fresh_db, dbname=name)) == expect["db"], label
        finally:
            pgfixture.psql(su, f"DROP DATABASE IF EXISTS {name} WITH (FORCE);",
                           bin_dir=bin_dir, check=False)
        out = tmp_path / f"restored-{label}"
        p = cli(["restore", "docs", which, "--to", str(out), "--json"], now=end)
        key = rel(json_contract.loads(p.stdout, "restore-docs")["key"])
        want = runs[newest if which == "latest" else which]["halves"]["docs"]["key"]
        assert key == rel(want), (label, key, want)
        assert docs_state(out) == expect["docs"], label
        assert (out / "install.lock").exists()

    # `--now T` stamps a run T when it starts within a second (the CLI's clock reads T for a
    # whole second from its start).
    assert not drifted, "backup --now T stamped runs later than T: %s" % drifted
