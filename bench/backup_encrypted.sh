#!/usr/bin/env bash
# Whole CLI backups, encrypted (one age recipient) beside plain, in the same run: the database
# half in dump_mode zstd and the documents archive (default compression), each forced
# (--force) into its own fresh directory store. Prints wall time, CPU and peak RSS of each and
# the encrypted/plain ratio of the medians over R rounds (plain and encrypted alternate; the
# store is emptied and the page cache synced before each run). Figures only, no assertions.
#   bench/backup_encrypted.sh BUILD_DIR [--scale N] [--docs-scale M] [--rounds R]
#                             [--docs-only] [--docs-dir DIR]
# Starts a throwaway PostgreSQL (tools/testenv/pgfixture.py), generates the database
# (tools/dolibarr_gen.py db --scale N, default 20000, ~145 MB; 220000 gives >= 1 GiB) and a
# documents tree (dolibarr_gen.py docs --scale M, default 2000). --docs-only leaves the
# database out (no PostgreSQL); --docs-dir backs up an existing tree instead of generating one.
set -euo pipefail
build=${1:?usage: bench/backup_encrypted.sh BUILD_DIR [--scale N] [--docs-scale M] [--rounds R] [--docs-only] [--docs-dir DIR]}
shift
scale=20000
docs_scale=2000
rounds=3
docs_only=0
docs=
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scale=$2; shift 2;;
    --docs-scale) docs_scale=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    --docs-only) docs_only=1; shift;;
    --docs-dir) docs=$(cd "$2" && pwd); shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
cli=$build/bin/dolibak
work=$(mktemp -d "${TMPDIR:-/tmp}/dolibak-bench-enc.XXXXXX")
chmod 755 "$work"
trap 'python3 "$root/tools/testenv/pgfixture.py" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
bin=
if [[ $docs_only == 0 ]]; then
  eval "$(python3 "$root/tools/testenv/pgfixture.py" start --dir "$work/pg")"
  bin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bin_dir"])' "$work/pg/fixture.json")
  export PATH="$bin:$PATH"
  echo "== generating the database (scale $scale)"
  python3 "$root/tools/dolibarr_gen.py" db --scale "$scale" --seed 1 --drop-first >/dev/null
  psql -XAtc "SELECT 'database ' || pg_size_pretty(pg_database_size(current_database()))"
fi
if [[ -z $docs ]]; then
  echo "== generating the documents (scale $docs_scale)"
  docs=$work/documents
  python3 "$root/tools/dolibarr_gen.py" docs --out "$docs" --scale "$docs_scale" --seed 1 >/dev/null
fi
du -sh "$docs" | awk '{print "documents " $1}'
age-keygen -o "$work/key.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/key.txt")

run() {  # label store extra-args...
  local label=$1 store=$2; shift 2
  rm -rf "$store"; mkdir -p "$store"; sync
  /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$cli" backup --force \
    --store "file://$store" ${bin:+--pg-tools-dir "$bin"} "$@" > /dev/null 2> "$work/err" \
    || { cat "$work/err"; exit 1; }
  read -r wall user sys rss < <(tail -1 "$work/time")
  local bytes; bytes=$(du -sb --exclude=manifests "$store" | cut -f1)
  printf '%-16s %8s s wall %7s+%-7s s cpu %8s KiB RSS %14s bytes\n' \
    "$label" "$wall" "$user" "$sys" "$rss" "$bytes"
  echo "$wall" >> "$work/$label.wall"
}
median() { sort -n "$work/$1.wall" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() {
  local a b; a=$(median "$1"); b=$(median "$2")
  echo "$b / $a" | bc -l | xargs printf "  medians %s s / %s s, ratio %s: %.3f\n" "$b" "$a" "$2/$1"
}

for ((i = 1; i <= rounds && docs_only == 0; i++)); do
  run db-plain "$work/s1" --db-only --dump-mode zstd
  run db-encrypted "$work/s2" --db-only --dump-mode zstd --age-recipients "$recipient"
done
[[ $docs_only == 1 ]] || ratio db-plain db-encrypted
for ((i = 1; i <= rounds; i++)); do
  run docs-plain "$work/s3" --docs-only --docs-mode tar --docs-dir "$docs"
  run docs-encrypted "$work/s4" --docs-only --docs-mode tar --docs-dir "$docs" --age-recipients "$recipient"
done
ratio docs-plain docs-encrypted
