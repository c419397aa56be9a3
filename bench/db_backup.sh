#!/usr/bin/env bash
# The database half as whole CLI runs beside its peers, in one run of this script:
#   backup:  `pg_dump -Fc > file` (the peer) against `dolibak backup --db-only --force` into a
#            fresh directory store, in the default mode (dump_mode pg_dump) and in zstd mode;
#   restore: (with --restore) `pg_restore` of the peer's file (single transaction, then -j 2)
#            against `dolibak restore db` of the stores' runs (default mode, --jobs 2, and the
#            zstd-mode object beside `zstd -dc | pg_restore`).
# Contenders alternate within each round (the order rotates every round); prints wall, CPU
# (user+sys of the command and its children: pg_dump/pg_restore included, the server not),
# peak RSS and output size per run, then per contender the range and the ratio of medians
# against its peer. Figures only, no assertions.
#   bench/db_backup.sh BUILD_DIR [--scale N] [--rounds R] [--restore]
# DB_BENCH_JOBS_ONLY=1: only what the --jobs restores need (the peer's file and the default
# store; then only `pg_restore -j 2` and `dolibak restore db --jobs 2`); DB_BENCH_BASE=<another
# dolibak> adds its `restore db --jobs 2` to the same rounds (an older build, for before/after).
# Starts a throwaway PostgreSQL (tools/testenv/pgfixture.py; fsync off), generates the
# database (tools/dolibarr_gen.py db --scale N: 110000 ~ 0.5 GB, 220000 ~ 1.1 GB).
set -euo pipefail
build=$(cd "${1:?usage: bench/db_backup.sh BUILD_DIR [--scale N] [--rounds R] [--restore]}" && pwd)
shift
scale=20000 rounds=3 restore=0
while [ $# -gt 0 ]; do
  case $1 in
    --scale) scale=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --restore) restore=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
dolibak=$build/bin/dolibak
work=$(mktemp -d /tmp/dolibak-bench-db.XXXXXX)
chmod 755 "$work"
cleanup() {
  /usr/bin/python3 "$root/tools/testenv/pgfixture.py" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 "$root/tools/testenv/pgfixture.py" start --dir "$work/pg" --json >"$work/pg.json"
eval "$(/usr/bin/python3 - "$work/pg.json" <<'PY'
import json, shlex, sys
i = json.load(open(sys.argv[1])); r = i["prod"]; s = i["sandbox"]
for k, v in {"PGHOST": i["host"], "PGPORT": i["port"], "PGUSER": r["user"],
             "PGPASSWORD": r["password"], "PGDATABASE": r["dbname"],
             "DOLIBAK_PG_TOOLS_DIR": i["bin_dir"], "SANDBOX_USER": s["user"],
             "SANDBOX_PASSWORD": s["password"], "SANDBOX_DB": s["dbname"]}.items():
    print(f"export {k}={shlex.quote(str(v))}")
PY
)"
export PATH="$DOLIBAK_PG_TOOLS_DIR:$PATH"
echo "== generating the database (scale $scale)"
/usr/bin/python3 "$root/tools/dolibarr_gen.py" db --scale "$scale" --seed 1 --drop-first >/dev/null
# A production database has been vacuumed: without it, the first scans of the fresh rows set
# their hint bits (every page written again), which slowed the first rounds of every contender.
psql -XAtqc "VACUUM (FREEZE, ANALYZE)" 2>/dev/null
psql -XAtc "SELECT 'database size: ' || pg_size_pretty(pg_database_size(current_database()))"
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

results=$work/results.tsv
: >"$results"
# measure KIND LABEL OUTPUT COMMAND...: one timed run, appended to $results.
measure() {
  local kind=$1 label=$2 out=$3; shift 3
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c '"$@"' _ "$@" >"$work/stdout" 2>"$work/stderr" || {
    echo "!! $label failed:" >&2; tail -5 "$work/stderr" >&2; exit 1; }
  read -r wall user sys rss <"$work/time"
  local size=-
  [ -n "$out" ] && size=$(find "$out" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$label" "$wall" "$(echo "$user + $sys" | bc)" \
    "$rss" "$size" >>"$results"
  printf '   %-44s %7.2f s wall %7.2f s cpu %7d KiB %12s bytes\n' "$label" "$wall" \
    "$(echo "$user + $sys" | bc)" "$rss" "$size"
}

pgdump_peer() { sh -c 'pg_dump -Fc > "$1"' _ "$1"; }
backup_run() {  # MODE STORE
  rm -rf "$2"; mkdir -p "$2"
  DOLIBAK_STORE="file://$2" DOLIBAK_DUMP_MODE=$1 "$dolibak" backup --db-only --force
}
one_backup() {  # CONTENDER ROUND
  case $1 in
    peer) rm -f "$work/peer.dump"
          measure backup "pg_dump -Fc > file" "$work/peer.dump" pgdump_peer "$work/peer.dump" ;;
    default) measure backup "dolibak backup --db-only (pg_dump mode)" "$work/store-default/db" \
               backup_run pg_dump "$work/store-default" ;;
    zstd) measure backup "dolibak backup --db-only (zstd mode)" "$work/store-zstd/db" \
            backup_run zstd "$work/store-zstd" ;;
  esac
}
export -f pgdump_peer backup_run
export dolibak

contenders=(peer default zstd)
[ "${DB_BENCH_JOBS_ONLY:-0}" = 1 ] && contenders=(peer default)
for round in $(seq 1 "$rounds"); do
  echo "== backup round $round"
  n=${#contenders[@]}
  for i in $(seq 0 $((n - 1))); do one_backup "${contenders[$(((i + round - 1) % n))]}" "$round"; done
done

if [ "$restore" = 1 ]; then
  conninfo="host=$PGHOST port=$PGPORT user=$SANDBOX_USER dbname=$SANDBOX_DB"
  reset_sandbox() {
    PGUSER=$SANDBOX_USER PGPASSWORD=$SANDBOX_PASSWORD PGDATABASE=$SANDBOX_DB \
      psql -XqAtc "DROP OWNED BY $SANDBOX_USER CASCADE" >/dev/null
  }
  zst=$(ls "$work"/store-zstd/db/*.zst 2>/dev/null || true)
  peer_restore() {  # pg_restore options..., reading $PEER_FILE
    PGUSER=$SANDBOX_USER PGPASSWORD=$SANDBOX_PASSWORD PGDATABASE=$SANDBOX_DB \
      pg_restore --no-password --exit-on-error --no-owner "$@" --dbname="$SANDBOX_DB" "$PEER_FILE"
  }
  peer_restore_zst() {
    zstd -dcq "$ZST_FILE" | PGUSER=$SANDBOX_USER PGPASSWORD=$SANDBOX_PASSWORD \
      pg_restore --no-password --exit-on-error --no-owner --single-transaction \
      --dbname="$SANDBOX_DB"
  }
  dolibak_restore() {  # STORE options...
    local store=$1; shift
    DOLIBAK_STORE="file://$store" DOLIBAK_TARGET_PASSWORD=$SANDBOX_PASSWORD \
      "$dolibak" restore db latest --to "$CONNINFO" --yes "$@"
  }
  export -f peer_restore peer_restore_zst dolibak_restore
  export PEER_FILE=$work/peer.dump ZST_FILE=$zst CONNINFO=$conninfo SANDBOX_USER SANDBOX_PASSWORD \
    SANDBOX_DB
  one_restore() {
    reset_sandbox
    case $1 in
      peer) measure restore "pg_restore --single-transaction" "" peer_restore --single-transaction ;;
      default) measure restore "dolibak restore db (pg_dump mode)" "" \
                 dolibak_restore "$work/store-default" ;;
      peer2) measure restore "pg_restore -j 2" "" peer_restore --jobs=2 ;;
      default2) measure restore "dolibak restore db --jobs 2" "" \
                  dolibak_restore "$work/store-default" --jobs 2 ;;
      base2) dolibak=$DB_BENCH_BASE measure restore "base: dolibak restore db --jobs 2" "" \
               dolibak_restore "$work/store-default" --jobs 2 ;;
      peerz) measure restore "zstd -dc | pg_restore --single-transaction" "" peer_restore_zst ;;
      zstd) measure restore "dolibak restore db (zstd mode)" "" dolibak_restore "$work/store-zstd" ;;
    esac
  }
  restores=(peer default peer2 default2 peerz zstd)
  if [ "${DB_BENCH_JOBS_ONLY:-0}" = 1 ]; then
    jobs_set=(peer2 default2)
    [ -n "${DB_BENCH_BASE:-}" ] && jobs_set+=(base2)
    for round in $(seq 1 "$rounds"); do
      echo "== restore round $round"
      n=${#jobs_set[@]}
      for i in $(seq 0 $((n - 1))); do one_restore "${jobs_set[$(((i + round - 1) % n))]}"; done
    done
    rounds=0
  fi
  for round in $(seq 1 "$rounds"); do
    echo "== restore round $round"
    # Rotate the pairs, keeping each peer beside its dolibak run.
    for p in $(seq 0 2); do
      pair=$(((p + round - 1) % 3))
      if [ $((round % 2)) = 1 ]; then
        one_restore "${restores[$((2 * pair))]}"; one_restore "${restores[$((2 * pair + 1))]}"
      else
        one_restore "${restores[$((2 * pair + 1))]}"; one_restore "${restores[$((2 * pair))]}"
      fi
    done
  done
fi

echo "== summary (min-max, median; ratio = median / the peer's median)"
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
by = {}
for kind, label, wall, cpu, rss, size in rows:
    by.setdefault((kind, label), []).append((float(wall), float(cpu), int(rss), size))
peers = {"dolibak backup --db-only (pg_dump mode)": "pg_dump -Fc > file",
         "dolibak backup --db-only (zstd mode)": "pg_dump -Fc > file",
         "dolibak restore db (pg_dump mode)": "pg_restore --single-transaction",
         "dolibak restore db --jobs 2": "pg_restore -j 2",
         "base: dolibak restore db --jobs 2": "pg_restore -j 2",
         "dolibak restore db (zstd mode)": "zstd -dc | pg_restore --single-transaction"}
med = {label: statistics.median(w for w, *_ in v) for (_, label), v in by.items()}
for (kind, label), v in by.items():
    w = [x[0] for x in v]; c = [x[1] for x in v]
    line = (f"{kind:8} {label:44} wall {min(w):6.2f}-{max(w):6.2f} ({med[label]:6.2f}) "
            f"cpu {min(c):6.2f}-{max(c):6.2f} rss {max(x[2] for x in v) // 1024:4d} MiB "
            f"size {v[-1][3]}")
    if label in peers and peers[label] in med:
        r = med[label] / med[peers[label]]
        line += f"  ratio {r:.2f}" + (f" ({1 / r:.2f}x faster)" if r < 1 else "")
    print(line)
PY
