"""Count mode against restic itself: the same snapshot times in a real restic repository
(Debian's restic 0.14, whose `forget` has no keep-oldest rule: our keep_oldest_if_unfilled=False)
and through dolibak's planner must keep the same snapshots for the same reasons, policy after
policy. restic buckets in local time: it runs with TZ=UTC, like our default."""
from __future__ import annotations

import concurrent.futures
import datetime
import json
import os
import random
import shutil
import subprocess

import pytest

retention = pytest.importorskip("dolibak.retention")

RESTIC = shutil.which("restic")
pytestmark = pytest.mark.skipif(RESTIC is None, reason="restic is not installed "
                                                        "(tools/setup-debian installs it)")

UTC = datetime.timezone.utc
# restic's reason for each rule, and ours.
REASONS = {"last snapshot": "last", "hourly snapshot": "hourly", "daily snapshot": "day",
           "weekly snapshot": "week", "monthly snapshot": "month", "yearly snapshot": "year"}
POLICIES = [
    {"keep_last": 3},
    {"keep_hourly": 5},
    {"keep_daily": 7},
    {"keep_weekly": 6},
    {"keep_monthly": 8},
    {"keep_yearly": 2},
    {"keep_last": 2, "keep_daily": 5, "keep_weekly": 4, "keep_monthly": 6, "keep_yearly": 3},
    {"keep_hourly": 3, "keep_daily": 30, "keep_monthly": 24},
    {"keep_weekly": 200},  # more slots than buckets
]


def snapshot_times() -> list[datetime.datetime]:
    """About two years of irregular backups: bursts an hour apart, daily runs, gaps of weeks
    and months, a week 53 (2026-12-28 .. 2027-01-03) and a new year inside the span."""
    rng = random.Random(20261201)
    t = datetime.datetime(2025, 1, 3, 2, 0, tzinfo=UTC)
    out = []
    steps_h = [1, 1, 2, 5, 24, 24, 24, 48, 72, 24 * 7, 24 * 20, 24 * 45]
    while len(out) < 80:
        out.append(t)
        t += datetime.timedelta(hours=rng.choice(steps_h), minutes=rng.randrange(60))
    return out


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """A restic repository holding one snapshot at each of snapshot_times()."""
    base = tmp_path_factory.mktemp("restic")
    data = base / "data"
    data.mkdir()
    (data / "facture.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update({"RESTIC_REPOSITORY": str(base / "repo"), "RESTIC_PASSWORD": "not-a-secret",
                "TZ": "UTC", "RESTIC_CACHE_DIR": str(base / "cache")})
    subprocess.run([RESTIC, "init", "-q"], env=env, check=True, capture_output=True)
    times = snapshot_times()

    def backup(t: datetime.datetime) -> None:
        subprocess.run([RESTIC, "backup", "-q", "--host", "erp", "--time",
                        t.strftime("%Y-%m-%d %H:%M:%S"), str(data)],
                       env=env, check=True, capture_output=True)

    # restic backups take a shared lock, so they may run side by side; each one mostly waits
    # (opening the key, fsync), and 80 of them one after the other took over a minute.
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(backup, times))
    snapshots = subprocess.run([RESTIC, "snapshots", "--json", "--host", "erp"], env=env,
                               check=True, capture_output=True, text=True)
    assert len(json.loads(snapshots.stdout)) == len(times)
    return env, times


def restic_plan(env, policy) -> dict[datetime.datetime, set[str]]:
    """restic forget --dry-run: kept snapshot time -> the rules that kept it."""
    args = [RESTIC, "forget", "--dry-run", "--json", "--host", "erp"]
    for rule, n in policy.items():
        args += ["--" + rule.replace("_", "-"), str(n)]
    p = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    groups = json.loads(p.stdout)
    assert len(groups) == 1
    kept = {}
    for r in groups[0]["reasons"]:
        t = datetime.datetime.fromisoformat(r["snapshot"]["time"].replace("Z", "+00:00"))
        kept[t.astimezone(UTC)] = {REASONS[m] for m in r["matches"]}
    assert len(kept) == len(groups[0]["keep"])
    return kept


def our_plan(times, policy) -> dict[datetime.datetime, set[str]]:
    keys = [f"erp/db/{t:%Y%m%dT%H%M%SZ}.dump" for t in times]
    plan = retention.plan(keys, max(times),
                          retention.Policy(mode="count", keep_oldest_if_unfilled=False,
                                           **policy))
    return {d.time: set(d.reasons) - {"newest-success"} for d in plan.kept}


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: ",".join(f"{k}={v}" for k, v in
                                                                     p.items()))
def test_count_mode_keeps_what_restic_keeps(repository, policy):
    env, times = repository
    # restic stores the time to the second, as our keys do.
    times = [t.replace(microsecond=0) for t in times]
    theirs = restic_plan(env, policy)
    ours = our_plan(times, policy)
    assert 0 < len(theirs) < len(times) or policy == {"keep_weekly": 200}
    assert ours == theirs
