#!/usr/bin/env bash
# A quiet day: whole `dolibak backup --db-only` runs on an unchanged database, beside peers
# in the same run, printing the ratios. Figures only, no assertions.
#   bench/quiet_day.sh BUILD_DIR [--scale N] [--rounds R]
#     (100000 gives ~0.5 GB, 1000000 ~5 GB; default 20000, ~145 MB)
#   bench/quiet_day.sh BUILD_DIR --existing [--rounds R]
#     against the database the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
#     PGDATABASE) names, generated beforehand; PATH must hold its pg tools.
# Runs, each best and median of R (default 5):
#   peers: `psql -c 'select 1'` (a connection and a query), `pg_dump --schema-only`;
#   dolibak with the pre-check (the default): the run that decides "unchanged";
#   dolibak without it (the previous state dropped from .fp-db before each run: every table
#   is read, as before the pre-check);
#   the same unchanged runs after a write to a volatile table (llx_const) and another
#   database's write: the horizon moved, the statistics counters decide.
set -euo pipefail
build=${1:?usage: quiet_day.sh BUILD_DIR [--scale N | --existing] [--rounds R]}
shift
scale=20000
rounds=5
existing=0
while (($#)); do
  case "$1" in
    --scale) scale=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --existing) existing=1 ;;
    *) echo "quiet_day: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
root=$(cd "$(dirname "$0")/.." && pwd)
dolibak=$build/bin/dolibak
work=$(mktemp -d /tmp/dolibak-bench-quiet.XXXXXX)
chmod 755 "$work"
if ((existing)); then
  trap 'rm -rf "$work"' EXIT
else
  trap 'python3 "$root/tools/testenv/pgfixture.py" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
  eval "$(python3 "$root/tools/testenv/pgfixture.py" start --dir "$work/pg")"
  bin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bin_dir"])' "$work/pg/fixture.json")
  export PATH="$bin:$PATH"
  echo "== generating the database (scale $scale)"
  python3 "$root/tools/dolibarr_gen.py" db --scale "$scale" --seed 1 --drop-first
  psql -XAtc "VACUUM ANALYZE" >/dev/null 2>&1
fi
psql -XAtc "SELECT 'database: ' || pg_size_pretty(pg_database_size(current_database())) || ', ' || (SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'llx\_%') || ' llx_ tables'"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$work/store"
export DOLIBAK_STORE="file://$work/store"
export DOLIBAK_PG_TOOLS_DIR
DOLIBAK_PG_TOOLS_DIR=$(dirname "$(command -v pg_dump)")
unset DOLIBAK_DOCS_DIR
echo "== first run (uploads the dump)"
"$dolibak" backup --db-only >/dev/null
cp "$work/store/.fp-db" "$work/fp-db.with-state"
# .fp-db as an earlier dolibak wrote it: no pre-check state.
python3 - "$work/store/.fp-db" "$work/fp-db.without-state" <<'PY'
import json, sys
fp = json.load(open(sys.argv[1]))
fp.pop("precheck", None)
open(sys.argv[2], "w").write(json.dumps(fp, indent=2) + "\n")
PY

# time_runs LABEL SETUP CMD...: R runs of CMD (SETUP before each, untimed); prints best and
# median wall seconds and the median CPU seconds; sets $median.
time_runs() {
  local label=$1 setup=$2
  shift 2
  local walls=() cpus=()
  for ((i = 0; i < rounds; i++)); do
    eval "$setup"
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>&1
    local out
    out=$(tail -1 "$work/time")
    walls+=("$(echo "$out" | cut -d' ' -f1)")
    cpus+=("$(echo "$out" | awk '{printf "%.2f", $2 + $3}')")
  done
  local sorted_w sorted_c
  sorted_w=$(printf '%s\n' "${walls[@]}" | sort -n)
  sorted_c=$(printf '%s\n' "${cpus[@]}" | sort -n)
  median=$(echo "$sorted_w" | sed -n "$(((rounds + 1) / 2))p")
  printf '%-62s best %6.3f s  median %6.3f s  cpu %5.2f s\n' "$label" \
    "$(echo "$sorted_w" | head -1)" "$median" "$(echo "$sorted_c" | sed -n "$(((rounds + 1) / 2))p")"
}
# Two runs never share a second (<ts>): a run that starts within the second of the previous
# one waits for the next (libdolibak/job/backup.cpp). Daily runs never do; so each dolibak run
# here starts a second after the previous one ended, untimed.
restore_state='cp "$work/fp-db.with-state" "$work/store/.fp-db"; sleep 1'
drop_state='cp "$work/fp-db.without-state" "$work/store/.fp-db"; sleep 1'

echo "== unchanged database, $rounds rounds each"
time_runs "peer: psql -c 'select 1'" ":" psql -XAtc "select 1"
select1=$median
time_runs "peer: pg_dump --schema-only > /dev/null" ":" pg_dump --schema-only
schema_only=$median
time_runs "dolibak backup --db-only, pre-check (default)" "$restore_state" "$dolibak" backup --db-only
precheck=$median
time_runs "dolibak backup --db-only, no stored pre-check state (full)" "$drop_state" "$dolibak" backup --db-only
full=$median
"$dolibak" backup --db-only 2>&1 | grep -o 'fingerprint: [^"]*' | head -1 || true

echo "== the same after writes the fingerprint leaves out (a volatile table, another database)"
psql -XAtc "UPDATE llx_const SET value = value WHERE rowid = (SELECT min(rowid) FROM llx_const)" >/dev/null
psql -XAtc "CREATE TABLE IF NOT EXISTS bench_other (a int)" -d postgres >/dev/null 2>&1 || true
sleep 16  # the writers' sessions have ended; nothing else is connected
time_runs "dolibak backup --db-only, pre-check, horizon moved" "$restore_state" "$dolibak" backup --db-only
counters=$median
"$dolibak" backup --db-only 2>&1 | grep -o 'fingerprint: [^"]*' | head -1 || true

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
echo "== ratios (medians)"
echo "pre-check / psql select 1:          $(ratio "$precheck" "$select1")"
echo "pre-check / pg_dump --schema-only:  $(ratio "$precheck" "$schema_only")"
echo "pre-check / full fingerprint run:   $(ratio "$precheck" "$full")"
echo "counters path / full fingerprint:   $(ratio "$counters" "$full")"
