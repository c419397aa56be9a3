"""The retention planner from Python (dolibak.retention) and the CLI (`dolibak plan`).

Run with ``DOLIBAK_PYTHONPATH=<build>/python /usr/bin/python3 -m pytest tests/python/test_retention.py``;
the CLI is found at ``<build>/bin/dolibak`` (or ``$DOLIBAK_CLI``).
"""
from __future__ import annotations

import datetime
import json
import os
import random
import subprocess

import pytest

retention = pytest.importorskip("dolibak.retention")
import dolibak  # noqa: E402
import json_contract

UTC = datetime.timezone.utc
NEWEST = datetime.datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def history(n: int, half: str = "db") -> list[str]:
    folder, suffix = ("db", ".dump") if half == "db" else ("docs", ".tar.gz")
    return [
        f"prod/{folder}/{(NEWEST - datetime.timedelta(days=i)):%Y%m%dT%H%M%SZ}{suffix}"
        for i in range(n)
    ]


def cli() -> str:
    explicit = os.environ.get("DOLIBAK_CLI")
    if explicit:
        return explicit
    build = os.environ.get("DOLIBAK_PYTHONPATH")
    if build:
        path = os.path.join(os.path.dirname(os.path.abspath(build)), "bin", "dolibak")
        if os.path.exists(path):
            return path
    pytest.skip("the dolibak CLI was not found (set DOLIBAK_CLI)")


def run_plan(args: list[str], stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli(), "plan", *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_fixed_case_from_python():
    plan = retention.plan(history(1100), NEWEST)
    assert len(plan) == 1100
    assert len(plan.kept) == 46
    assert plan.counts["daily"] == 31
    assert plan.counts["monthly"] == 12
    assert plan.counts["yearly"] == 3
    assert plan.counts["newest-success"] == 1
    newest = plan.decisions[0]
    assert newest.key == "prod/db/20261123T020000Z.dump"
    assert newest.keep and newest.reasons == ["newest-success", "daily"]
    assert newest.time == NEWEST
    assert plan.drop_keys[0] == "prod/db/20231120T020000Z.dump"
    assert len(plan.dropped) == 1054
    dropped = {d.key: d for d in plan.dropped}
    assert "not the newest of month 2026-10" in dropped["prod/db/20261022T020000Z.dump"].detail


def test_backup_objects_times_and_policies():
    backups = [
        retention.Backup("a", NEWEST, half="docs"),
        retention.Backup("b", "20261122T020000Z", half="docs"),
        retention.Backup("c", int((NEWEST - datetime.timedelta(days=2)).timestamp()), half="docs",
                         ok=False),
    ]
    assert backups[1].time == NEWEST - datetime.timedelta(days=1)
    plan = retention.plan(backups, "2026-11-23T02:00:00Z",
                          retention.Policy(mode="count", keep_last=1,
                                           keep_oldest_if_unfilled=False))
    by_key = {d.key: d for d in plan.decisions}
    assert by_key["a"].keep and by_key["a"].reasons == ["newest-success", "last"]
    assert not by_key["b"].keep
    assert not by_key["c"].keep and "failed" in by_key["c"].detail
    doc = json_contract.loads(plan.to_json(), "plan")
    assert doc["kept"] == 1 and doc["mode"] == "count"
    assert doc["decisions"][0]["half"] == "docs"


def test_protected_and_time_zone():
    keys = history(400)
    old = keys[-1]
    plan = retention.plan(keys, NEWEST, protected=[old])
    assert {d.key: d for d in plan.decisions}[old].reasons == ["protected"]
    # October 31st 23:30 UTC is November 1st in Paris.
    two = ["p/db/20261031T233000Z.dump", "p/db/20261031T120000Z.dump"]
    utc = retention.Policy(mode="count", keep_monthly=5, keep_oldest_if_unfilled=False)
    paris = retention.Policy(mode="count", keep_monthly=5, keep_oldest_if_unfilled=False,
                             time_zone="Europe/Paris")
    now = "20261201T000000Z"
    assert len(retention.plan(two, now, utc).kept) == 1
    assert len(retention.plan(two, now, paris).kept) == 2
    assert paris.time_zone == "Europe/Paris"


def test_errors():
    with pytest.raises(dolibak.ConfigError, match="listed twice"):
        retention.plan(["20261123T020000Z", "20261123T020000Z"], NEWEST)
    with pytest.raises(dolibak.ConfigError, match="no such day"):
        retention.parse_timestamp("20261131T000000Z")
    with pytest.raises(dolibak.ConfigError, match="naive datetime"):
        retention.plan(history(2), datetime.datetime(2026, 11, 23))
    with pytest.raises(dolibak.ConfigError, match="unknown time zone"):
        retention.Policy(time_zone="Nowhere/Land")
    with pytest.raises(dolibak.ConfigError):
        retention.Policy(mode="weird")
    with pytest.raises(TypeError):
        retention.plan([42], NEWEST)
    assert issubclass(dolibak.ConfigError, dolibak.Error)


def test_store_keys_and_time_stamps():
    k = retention.parse_store_key("a/b/docs/20261123T020000Z.tar.zst")
    assert k == {"prefix": "a/b", "half": "docs", "time": NEWEST, "ts": "20261123T020000Z",
                 "suffix": ".tar.zst", "is_backup": True}
    assert retention.parse_store_key("a/.fp-db") is None
    assert retention.parse_store_key("a/manifests/20261123T020000Z.json")["is_backup"] is False
    assert retention.format_timestamp(NEWEST) == "20261123T020000Z"
    assert retention.parse_timestamp("20261123T020000Z") == NEWEST


def test_properties_random_histories():
    rng = random.Random(6)
    for _ in range(150):
        n = rng.randint(1, 60)
        span = rng.randint(1, 3000)
        times = {NEWEST - datetime.timedelta(seconds=rng.randint(0, span * 86400))
                 for _ in range(n)}
        keys = [f"p/db/{t:%Y%m%dT%H%M%SZ}.dump" for t in times]
        if rng.random() < 0.5:
            policy = retention.Policy(daily_days=rng.randint(0, 40),
                                      monthly_months=rng.randint(0, 24),
                                      yearly_years=rng.randint(0, 10))
        else:
            policy = retention.Policy(mode="count", keep_last=rng.randint(0, 3),
                                      keep_daily=rng.randint(0, 7),
                                      keep_weekly=rng.randint(0, 5),
                                      keep_monthly=rng.randint(-1, 12),
                                      keep_yearly=rng.randint(0, 3))
        plan = retention.plan(keys, NEWEST, policy)
        kept = [d.key for d in plan.kept]
        assert max(keys) in kept  # the newest (keys sort by time)
        again = retention.plan(kept, NEWEST, policy)
        assert len(again.dropped) == 0


# --- the CLI -----------------------------------------------------------------------------

def test_cli_plan_text_and_json():
    stdin = "\n".join(history(1100)) + "\n# a comment\n\nprod/manifests/20261123T020000Z.json\n"
    text = run_plan(["--now", "20261123T020000Z"], stdin)
    assert text.returncode == 0, text.stderr
    assert "46 kept, 1054 dropped" in text.stdout
    assert "daily 31" in text.stdout and "monthly 12" in text.stdout
    assert "yearly 3" in text.stdout
    assert "1 manifest key ignored" in text.stdout
    assert "keep  prod/db/20261123T020000Z.dump  newest-success,daily" in text.stdout

    out = run_plan(["--now", "20261123T020000Z", "--json"], stdin)
    assert out.returncode == 0, out.stderr
    doc = json_contract.loads(out.stdout, "plan")
    assert doc["kept"] == 46 and doc["dropped"] == 1054
    assert doc["counts"] == {"daily": 31, "monthly": 12, "yearly": 3, "newest-success": 1}
    python_plan = retention.plan(history(1100), NEWEST)
    assert [d["key"] for d in doc["decisions"] if not d["keep"]] == \
        [d.key for d in python_plan.dropped]


def test_cli_plan_policies_and_flags():
    stdin = "\n".join(history(100)) + "\n"
    out = run_plan(["--now", "20261123T020000Z", "--json", "--keep-daily-days", "7",
                    "--keep-monthly-months", "1", "--keep-yearly-years", "0"], stdin)
    doc = json_contract.loads(out.stdout, "plan")
    # 8 within 7 days, then the newest of October and of November outside them.
    assert doc["counts"]["daily"] == 8 and doc["counts"]["monthly"] == 2
    out = run_plan(["--now", "20261123T020000Z", "--json", "--keep-last", "2", "--keep-weekly",
                    "3", "--no-keep-oldest"], stdin)
    doc = json_contract.loads(out.stdout, "plan")
    assert doc["mode"] == "count"
    assert doc["counts"]["last"] == 2 and doc["counts"]["week"] == 3
    # 2026-11-23 is a Monday (ISO week 48): Nov 23 (last, W48), Nov 22 (last, W47), Nov 15 (W46).
    assert doc["kept"] == 3
    out = run_plan(["--now", "20261123T020000Z", "--json", "--keep-monthly", "unlimited"],
                   stdin)
    assert json_contract.loads(out.stdout, "plan")["counts"]["month"] == 4  # Nov, Oct, Sep, Aug
    out = run_plan(["--now", "20261123T020000Z", "--json", "--protect",
                    "prod/db/20260816T020000Z.dump"], stdin)
    doc = json_contract.loads(out.stdout, "plan")
    assert doc["counts"]["protected"] == 1
    ts_only = run_plan(["--now", "20261123T020000Z", "--half", "docs", "--json"],
                       "20261123T020000Z\n20261122T020000Z failed\n")
    doc = json_contract.loads(ts_only.stdout, "plan")
    assert [d["half"] for d in doc["decisions"]] == ["docs", "docs"]
    assert doc["decisions"][1]["ok"] is False and doc["decisions"][1]["keep"] is False


def test_cli_plan_errors():
    bad = run_plan(["--now", "20261123T020000Z"], "prod/db/20261123T020000Z.dump\nnonsense\n")
    assert bad.returncode == 2
    assert "line 2" in bad.stderr and "nonsense" in bad.stderr
    bad = run_plan(["--now", "2026-11-23"], "")
    assert bad.returncode == 2 and "YYYYMMDDTHHMMSSZ" in bad.stderr
    bad = run_plan(["--keep-last", "2", "--keep-daily-days", "3"], "")
    assert bad.returncode == 2 and "different modes" in bad.stderr
    bad = run_plan(["--keep-daily", "many"], "")
    assert bad.returncode == 2 and "--keep-daily" in bad.stderr
    bad = run_plan(["--time-zone", "Nowhere/Land"], "")
    assert bad.returncode == 2 and "unknown time zone" in bad.stderr
    bad = run_plan(["--now", "20261123T020000Z"], "20261131T000000Z\n")
    assert bad.returncode == 2 and "no such day" in bad.stderr


def test_verification_results():
    # September 2026 (monthly window): the newest run failed verification, an older one is good.
    backups = [
        retention.Backup("prod/db/20261123T020000Z.dump", NEWEST, verified="good"),
        retention.Backup("prod/db/20260930T020000Z.dump", "20260930T020000Z", verified="failed"),
        retention.Backup("prod/db/20260920T020000Z.dump", "20260920T020000Z", verified="good"),
    ]
    assert backups[1].verified == "failed" and backups[0].ok
    assert "verified='failed'" in repr(backups[1])
    plan = retention.plan(backups, NEWEST)
    by_key = {d.key: d for d in plan.decisions}
    assert by_key["prod/db/20260920T020000Z.dump"].reasons == ["monthly"]
    dropped = by_key["prod/db/20260930T020000Z.dump"]
    assert not dropped.keep and dropped.verified == "failed"
    assert dropped.detail == \
        "verification failed; month 2026-09 kept by prod/db/20260920T020000Z.dump"
    doc = json_contract.loads(plan.to_json(), "plan")
    assert [d["verified"] for d in doc["decisions"]] == ["good", "failed", "good"]
    b = backups[2]
    b.verified = "unknown"
    assert b.verified == "unknown"
    with pytest.raises(dolibak.ConfigError, match="verification state"):
        retention.Backup("k", NEWEST, verified="maybe")
    lines = retention.backups_from_lines(
        "prod/db/20261123T020000Z.dump verified-ok\n20261122T020000Z failed verified-failed\n")
    assert [(x.ok, x.verified) for x in lines] == [(True, "good"), (False, "failed")]


def test_cli_plan_verification_words():
    stdin = ("prod/db/20261123T020000Z.dump verified-ok\n"
             "prod/db/20260930T020000Z.dump verified-failed\n"
             "prod/db/20260920T020000Z.dump ok verified-ok\n")
    out = run_plan(["--now", "20261123T020000Z", "--json"], stdin)
    assert out.returncode == 0, out.stderr
    doc = json_contract.loads(out.stdout, "plan")
    assert [(d["verified"], d["keep"]) for d in doc["decisions"]] == \
        [("good", True), ("failed", False), ("good", True)]
    bad = run_plan(["--now", "20261123T020000Z"], "20261123T020000Z verified-maybe\n")
    assert bad.returncode == 2 and "line 1" in bad.stderr


def test_policy_built_by_the_library():
    # A count keyword alone makes a count policy (it was silently a tiered one before).
    assert retention.Policy(keep_daily=7).mode == "count"
    assert retention.Policy().mode == "tiered"
    assert "for 24 months" in str(retention.Policy(monthly_months=24))
    with pytest.raises(dolibak.ConfigError, match="daily_days and keep_last belong to different modes"):
        retention.Policy(daily_days=5, keep_last=1)
    with pytest.raises(dolibak.ConfigError, match="keep_weekly must be a count"):
        retention.Policy(keep_weekly=-3)
