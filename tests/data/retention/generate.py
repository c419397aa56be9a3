#!/usr/bin/env python3
"""Writes the backup histories of the retention golden tests (tests/data/retention/*.history.json).

Deterministic (fixed seeds, standard library only): run it again and the files do not change.
The expected plans beside them (*.expected.txt) are written by the C++ test
(tests/cpp/retention/test_retention_golden.cpp) when DOLIBAK_UPDATE_GOLDEN=1; see docs/testing.md.

    python3 tests/data/retention/generate.py
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = dt.timezone.utc
SUFFIX = {"db": ".dump", "docs": ".tar.zst"}


def ts(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def backup(t: dt.datetime, half: str = "db", ok: bool = True, verified: str = "unknown") -> dict:
    """A backup; "ok" (default true) and "verified" (default "unknown") only when not default."""
    b = {"key": f"p/{half}/{ts(t)}{SUFFIX[half]}", "time": ts(t), "half": half}
    if not ok:
        b["ok"] = False
    if verified != "unknown":
        b["verified"] = verified
    return b


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def write(name: str, description: str, now: dt.datetime, zone: str, policies: list[str],
          backups: list[dict], protected: tuple[str, ...] = ()) -> None:
    keys = [b["key"] for b in backups]
    assert len(keys) == len(set(keys)), name
    backups = sorted(backups, key=lambda b: (b["half"], b["time"]), reverse=True)
    lines = ["{",
             f'  "description": {json.dumps(description)},',
             f'  "now": "{ts(now)}",',
             f'  "time_zone": "{zone}",',
             f'  "policies": {json.dumps(policies)},',
             f'  "protected": {json.dumps(list(protected))},',
             '  "backups": [']
    lines += ["    " + json.dumps(b) + ("," if i + 1 < len(backups) else "")
              for i, b in enumerate(backups)]
    lines += ["  ]", "}"]
    with open(os.path.join(HERE, f"{name}.history.json"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


ALL = ["default", "tiered-7d-6m-3y", "tiered-14d-no-monthly", "count-typical", "count-hourly-no-oldest",
       "count-last-weekly"]


def hourly_1100() -> None:
    now = utc(2026, 11, 23, 2)
    write("hourly-1100",
          "1100 runs an hour apart, the newest at now (UTC): the daily tier keeps one per day",
          now, "UTC", ["default", "count-hourly-no-oldest"],
          [backup(now - dt.timedelta(hours=i)) for i in range(1100)])


def daily_11_years() -> None:
    """Nightly runs at 02:00 UTC from 2015-06-01 to now, with gaps, failures, manual runs."""
    rng = random.Random(20151)
    now = utc(2026, 11, 23, 2, 30)
    start = utc(2015, 6, 1, 2)
    gaps = [(utc(2017, 2, 10), utc(2017, 5, 3)),      # three months without backups
            (utc(2019, 12, 20), utc(2020, 1, 9)),     # over a year boundary
            (utc(2023, 7, 28), utc(2023, 8, 15)),
            (utc(2026, 10, 20), utc(2026, 10, 26))]   # inside the daily window's edge
    out = []
    t = start
    while t <= now:
        if not any(a <= t < b for a, b in gaps):
            ok = rng.random() >= 0.02
            r = rng.random()
            # The first run of each month was verified (10% of them failed); some others too.
            if t.day == 1 or r < 0.03:
                verified = "failed" if rng.random() < 0.1 else "good"
            else:
                verified = "unknown"
            out.append(backup(t + dt.timedelta(minutes=rng.randrange(0, 40)), ok=ok,
                              verified=verified))
            if rng.random() < 0.01:  # a manual run later that day
                out.append(backup(t + dt.timedelta(hours=rng.randrange(8, 20)),
                                  ok=rng.random() >= 0.2))
        t += dt.timedelta(days=1)
    out.append(backup(now + dt.timedelta(days=1, hours=3)))  # a clock set a day ahead
    write("daily-11-years",
          "nightly runs (02:00-02:40 UTC) from 2015-06-01, gaps (three months in 2017, over "
          "New Year 2020, at the daily window's edge), 2% failed runs, 1% extra manual runs, "
          "monthly verifications (10% failed), one run dated a day after now",
          now, "UTC", ["default", "count-typical"], out)


def paris_irregular() -> None:
    """Two halves in Europe/Paris over three years: irregular runs, DST bursts, gaps."""
    rng = random.Random(75001)
    now = utc(2026, 10, 31, 23, 30)  # 2026-11-01 00:30 in Paris, still October in UTC
    out = []
    t = utc(2023, 9, 1, 0, 30)
    while t <= now:
        r = rng.random()
        if r < 0.15:
            t += dt.timedelta(days=rng.randrange(2, 20))  # a gap
            continue
        for half in ("db", "docs"):
            if half == "docs" and rng.random() < 0.6:
                continue  # documents less often
            ok = rng.random() >= 0.05
            v = rng.random()
            verified = "good" if v < 0.2 else "failed" if v < 0.27 else "unknown"
            out.append(backup(t + dt.timedelta(minutes=rng.randrange(0, 180)), half, ok,
                              verified))
        t += dt.timedelta(days=1)
    # Hourly bursts over the DST changes (Paris: CEST -> CET on the last Sunday of October at
    # 01:00 UTC, CET -> CEST on the last Sunday of March at 01:00 UTC) and before a migration.
    for centre in (utc(2025, 10, 26, 1), utc(2026, 3, 29, 1), utc(2026, 10, 25, 1),
                   utc(2026, 10, 31, 12)):
        for h in range(-14, 14):
            when = centre + dt.timedelta(hours=h, minutes=5)
            if when <= now:
                out.append(backup(when, "db", rng.random() >= 0.1,
                                  rng.choice(["unknown", "unknown", "good", "failed"])))
    # A burst around the Paris midnight that is the UTC 23:00 of the previous day.
    for m in range(0, 120, 20):
        out.append(backup(utc(2026, 9, 30, 21, 10) + dt.timedelta(minutes=m), "docs"))
    out.append(backup(now + dt.timedelta(hours=5), "docs"))  # future-dated
    seen: set[str] = set()
    unique = []
    for b in out:  # a burst run can fall on a nightly run's second: keep the first
        if b["key"] not in seen:
            seen.add(b["key"])
            unique.append(b)
    out = unique
    # The docs run a manifest still names: the first of June 2024 or after.
    protected = [min((b for b in out if b["half"] == "docs" and b["time"] >= "20240601"),
                     key=lambda b: b["time"])["key"]]
    write("paris-irregular",
          "two halves in Europe/Paris over three years: irregular runs with gaps, hourly "
          "bursts over three DST changes, 5% failed runs, 7% failed verifications, a "
          "future-dated docs run, a protected docs key; now is 2026-11-01 00:30 in Paris",
          now, "Europe/Paris", ALL, out, tuple(protected))


def verification_cases() -> None:
    """Hand-made: how verification results move buckets, in both modes."""
    now = utc(2026, 11, 23, 2)
    b = []
    # Newest run failed verification: it stays as the newest success, and the newest run that
    # did not fail verification is kept too.
    b.append(backup(utc(2026, 11, 23, 1), verified="failed"))
    b.append(backup(utc(2026, 11, 23, 0), verified="failed"))
    b.append(backup(utc(2026, 11, 22, 23)))
    b.append(backup(utc(2026, 11, 22, 12), verified="good"))
    b.append(backup(utc(2026, 11, 21, 2), ok=False, verified="good"))  # failed run
    b.append(backup(utc(2026, 11, 20, 2), verified="failed"))  # a day with only a failed one
    b.append(backup(utc(2026, 11, 19, 2), verified="good"))
    # September: the newest failed verification, an older one verified good, one unknown.
    b.append(backup(utc(2026, 9, 30, 2), verified="failed"))
    b.append(backup(utc(2026, 9, 20, 2), verified="good"))
    b.append(backup(utc(2026, 9, 10, 2)))
    # August: every run failed verification.
    b.append(backup(utc(2026, 8, 31, 2), verified="failed"))
    b.append(backup(utc(2026, 8, 15, 2), verified="failed"))
    # July: the newest unknown stands before an older good one.
    b.append(backup(utc(2026, 7, 31, 2)))
    b.append(backup(utc(2026, 7, 1, 2), verified="good"))
    # Years 2024 and 2023 (yearly window): the newest failed verification.
    b.append(backup(utc(2024, 12, 31, 2), verified="failed"))
    b.append(backup(utc(2024, 6, 1, 2), verified="good"))
    b.append(backup(utc(2023, 12, 31, 2), verified="failed"))
    b.append(backup(utc(2023, 1, 1, 2), ok=False))
    write("verification",
          "hand-made: newest run failed verification, a day/month/year whose newest failed "
          "verification, a month where all failed, unknown before good",
          now, "UTC", ALL + ["count-last-3"], b)


if __name__ == "__main__":
    hourly_1100()
    daily_11_years()
    paris_irregular()
    verification_cases()
