#!/usr/bin/env bash
# Whole `dolibak plan` runs over a long history (default 100,000 backups), text and --json,
# beside peers reading the same input in the same run: `sort` (reads and orders the same
# lines: the floor of any planner) and, for the JSON, `jq -c .` and Python's json module
# reading dolibak's JSON (parsing the bytes the planner writes). Contenders alternated,
# ROUNDS rounds of REPEATS runs each; prints per contender the median and best wall time,
# median CPU (user + system), peak RSS and output bytes, and each one's ratio (median wall) to
# `sort`. PLAN_BENCH_BASE=<another dolibak binary> (an older build, copied with its
# libdolibak) adds its text and --json runs to the same rounds, and checks that both builds
# print the same bytes. Figures only, no asserts.
#   bench/plan_cli.sh BUILD_DIR [BACKUPS] [ROUNDS] [REPEATS]
set -euo pipefail
build=$(cd "${1:?usage: bench/plan_cli.sh BUILD_DIR [BACKUPS] [ROUNDS] [REPEATS]}" && pwd)
n=${2:-100000}
rounds=${3:-3}
repeats=${4:-5}
work=$(mktemp -d /tmp/dolibak-bench-plan.XXXXXX)
trap 'rm -rf "$work"' EXIT
dolibak=$build/bin/dolibak

# Two halves, a run every 5 minutes (the newest n/2 of each, about 6 months), shuffled; 5%
# failed, a third verified (a tenth of those failed).
/usr/bin/python3 - "$n" "$work/backups.txt" <<'PY'
import datetime, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
now = datetime.datetime(2026, 11, 23, 2, 0, tzinfo=datetime.timezone.utc)
lines = []
for i in range(n):
    t = now - datetime.timedelta(seconds=300 * (i // 2) + rng.randrange(60))
    ts = t.strftime("%Y%m%dT%H%M%SZ")
    key = f"prod/db/{ts}.dump" if i % 2 else f"prod/docs/{ts}.tar.zst"
    r = rng.randrange(100)
    state = "failed" if r < 5 else "ok"
    v = rng.randrange(100)
    ver = " verified-failed" if v < 3 else " verified-ok" if v < 33 else ""
    lines.append(f"{key} {state}{ver}")
lines = sorted(set(lines), key=lambda l: l.split()[0])
uniq, seen = [], set()
for l in lines:
    k = l.split()[0]
    if k not in seen:
        seen.add(k); uniq.append(l)
rng.shuffle(uniq)
open(path, "w").write("\n".join(uniq) + "\n")
PY
"$dolibak" plan --now 20261123T020000Z --json <"$work/backups.txt" >"$work/plan.json"
echo "input: $(wc -l <"$work/backups.txt") backups, $(stat -c %s "$work/backups.txt") bytes"
if [ -n "${PLAN_BENCH_BASE:-}" ]; then
  for extra in "" "--json" "--mode count --keep-daily 30 --keep-weekly 5"; do
    # shellcheck disable=SC2086
    "$dolibak" plan --now 20261123T020000Z $extra <"$work/backups.txt" >"$work/new.out"
    # shellcheck disable=SC2086
    "$PLAN_BENCH_BASE" plan --now 20261123T020000Z $extra <"$work/backups.txt" >"$work/base.out"
    if cmp -s "$work/new.out" "$work/base.out"; then same=yes; else same=NO; fi
    echo "same output as the base build (${extra:-text}): $same"
  done
  rm -f "$work/new.out" "$work/base.out"
fi

/usr/bin/python3 - "$work" "$dolibak" "$rounds" "$repeats" <<'PY'
import os, shutil, statistics, subprocess, sys, time
work, dolibak, rounds, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
inp = os.path.join(work, "backups.txt")
pj = os.path.join(work, "plan.json")
now = ["--now", "20261123T020000Z"]
contenders = [
    ("peer: sort (same input, LC_ALL=C)", ["env", "LC_ALL=C", "sort", "-k1,1"], inp),
    ("dolibak plan (text)", [dolibak, "plan", *now], inp),
    ("dolibak plan --json", [dolibak, "plan", *now, "--json"], inp),
    ("dolibak plan --mode count (text)", [dolibak, "plan", *now, "--mode", "count",
        "--keep-last", "10", "--keep-hourly", "48", "--keep-daily", "30", "--keep-weekly", "52",
        "--keep-monthly", "120", "--keep-yearly", "unlimited"], inp),
    ("peer: python3 json.load (dolibak's JSON)", ["/usr/bin/python3", "-c",
        "import json,sys; json.load(sys.stdin)"], pj),
]
if shutil.which("jq"):
    contenders.append(("peer: jq -c . (dolibak's JSON)", ["jq", "-c", "."], pj))
base_bin = os.environ.get("PLAN_BENCH_BASE")
if base_bin:
    contenders += [
        ("base: dolibak plan (text)", [base_bin, "plan", *now], inp),
        ("base: dolibak plan --json", [base_bin, "plan", *now, "--json"], inp),
    ]
walls = {c[0]: [] for c in contenders}
cpus = {c[0]: [] for c in contenders}
rss = {c[0]: 0 for c in contenders}
size = {}
for r in range(rounds):
    order = contenders if r % 2 == 0 else list(reversed(contenders))
    for label, argv, src in order:
        for _ in range(repeats):
            out = os.path.join(work, "out")
            with open(src, "rb") as fin, open(out, "wb") as fout:
                t0 = time.perf_counter()
                p = subprocess.Popen(argv, stdin=fin, stdout=fout)
                _, status, ru = os.wait4(p.pid, 0)
                dt = time.perf_counter() - t0
            if status != 0:
                sys.exit(f"{label} failed: {status}")
            walls[label].append(dt)
            cpus[label].append(ru.ru_utime + ru.ru_stime)
            rss[label] = max(rss[label], ru.ru_maxrss)
            size[label] = os.path.getsize(out)
base = statistics.median(walls[contenders[0][0]])
print(f"{'contender':<44} {'median ms':>9} {'best ms':>8} {'cpu ms':>7} {'rss MiB':>8} {'out bytes':>11} {'/ sort':>7}")
for label, _, _ in contenders:
    m = statistics.median(walls[label])
    print(f"{label:<44} {m*1000:9.1f} {min(walls[label])*1000:8.1f} "
          f"{statistics.median(cpus[label])*1000:7.1f} {rss[label]/1024:8.1f} "
          f"{size[label]:11d} {m/base:6.2f}x")
print(f"({rounds} rounds x {repeats} runs, contenders alternated; load average "
      f"{os.getloadavg()[0]:.2f})")
PY
