#!/usr/bin/env bash
# Whole CLI backups, encrypted (one age recipient) beside plain, in the same run: the database
# half in dump_mode zstd and the documents archive, each forced (--force) into its own fresh
# directory store. Prints wall time, CPU and peak RSS of each and the encrypted/plain ratio.
# Figures only, no assertions.
#   bench/backup_encrypted.sh BUILD_DIR DOCS_DIR        (the database from PGHOST, PGPORT,
#                                                        PGUSER, PGDATABASE, PGPASSWORD)
set -euo pipefail
build=${1:?usage: bench/backup_encrypted.sh BUILD_DIR DOCS_DIR}
docs=${2:?usage: bench/backup_encrypted.sh BUILD_DIR DOCS_DIR}
cli=$build/bin/dolibak
work=$(mktemp -d "${TMPDIR:-/tmp}/dolibak-bench-enc.XXXXXX")
trap 'rm -rf "$work"' EXIT
age-keygen -o "$work/key.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/key.txt")

run() {  # label store extra-args...
  local label=$1 store=$2; shift 2
  mkdir -p "$store"
  local t
  t=$( { /usr/bin/time -f '%e %U %S %M' "$cli" backup --force --store "file://$store" "$@" \
           > /dev/null 2> "$work/err"; } 2>&1 | tail -1) || { cat "$work/err"; exit 1; }
  read -r wall user sys rss <<< "$t"
  local bytes; bytes=$(du -sb --exclude=manifests "$store" | cut -f1)
  printf '%-28s %8s s wall %7s+%-7s s cpu %8s KiB RSS %14s bytes\n' \
    "$label" "$wall" "$user" "$sys" "$rss" "$bytes"
  echo "$wall" > "$work/$label.wall"
}
ratio() { echo "$(cat "$work/$2.wall") / $(cat "$work/$1.wall")" | bc -l | xargs printf '  ratio %s: %.3f\n' "$2/$1"; }

run db-plain "$work/s1" --db-only --dump-mode zstd
run db-encrypted "$work/s2" --db-only --dump-mode zstd --age-recipients "$recipient"
ratio db-plain db-encrypted
run docs-plain "$work/s3" --docs-only --docs-dir "$docs"
run docs-encrypted "$work/s4" --docs-only --docs-dir "$docs" --age-recipients "$recipient"
ratio docs-plain docs-encrypted
