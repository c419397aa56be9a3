#!/bin/bash
# Peak memory of the packs mode with many small files: whole CLI runs of
# `dolibak backup --docs-only --docs-mode packs` beside restic on the same generated tree of
# FILES tiny files (200 to 4000 bytes, 1000 per folder): a first run, then a day with 12 files
# changed (the previous index is read and merged with the walk). Prints wall seconds, peak
# RSS and the RSS per file above a 1000-file tree's (the process's baseline). Figures only.
#   bench/packs_memory.sh BUILD_DIR [FILES]      (default 200000; the issue's scale is 1000000)
# BASELINE_CLI=/path/to/other/dolibak adds a second dolibak build (e.g. main's) to compare;
# NO_RESTIC=1 leaves restic out (at 1M files it takes minutes per run).
set -euo pipefail
build=${1:?usage: bench/packs_memory.sh BUILD_DIR [FILES]}
files=${2:-200000}
cli=$build/bin/dolibak
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gen() {  # dir count
  /usr/bin/python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
os.makedirs(root, exist_ok=True)
open(os.path.join(root, "install.lock"), "w").write("locked\n")  # the dolibarr profile wants it
words = [b"facture", b"client", b"total", b"TVA", b"montant", b"date", b"ref", b"ligne"]
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    size = rng.randint(200, 4000)
    body = b" ".join(rng.choice(words) for _ in range(size // 8))
    with open(os.path.join(d, "f%07d.txt" % i), "wb") as f:
        f.write(b"%d\n" % i + os.urandom(32) + body[:size])
PY
}

export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/restic-cache
printf '%-10s %-8s %-20s %8s %10s\n' files step contender "wall s" "rss KiB"
declare -A rss
measure() {  # files step label command...
  local n=$1 step=$2 label=$3; shift 3
  /usr/bin/time -o "$work/time" -f '%e %M' "$@" > /dev/null 2>&1
  local wall r
  read -r wall r < "$work/time"
  printf '%-10s %-8s %-20s %8s %10s\n' "$n" "$step" "$label" "$wall" "$r"
  rss["$n $step $label"]=$r
}
contenders() {  # tree files step
  local tree=$1 n=$2 step=$3
  measure "$n" "$step" "dolibak packs" "$cli" backup --docs-only --docs-dir "$tree" \
    --store "file://$work/packs-$n" --create-store-dir --docs-mode packs
  if [ -n "${BASELINE_CLI:-}" ]; then
    measure "$n" "$step" "baseline packs" "$BASELINE_CLI" backup --docs-only --docs-dir "$tree" \
      --store "file://$work/base-$n" --create-store-dir --docs-mode packs
  fi
  [ -n "${NO_RESTIC:-}" ] ||
    measure "$n" "$step" "restic 0.14" restic -q -r "$work/restic-$n" backup "$tree"
}
for n in 1000 "$files"; do
  tree=$work/tree-$n
  mkdir -p "$tree"
  gen "$tree" "$n"
  echo "tree: $n files, $(du -sb "$tree" | cut -f1) bytes" >&2
  find "$tree" -type f -print0 | xargs -0 cat > /dev/null  # warm the page cache
  restic init -q -r "$work/restic-$n" >/dev/null
  contenders "$tree" "$n" first
  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    head -c 3000 /dev/urandom > "$tree/d0000/f$(printf %07d "$i").txt"
  done
  sleep 1
  contenders "$tree" "$n" changed
  rm -rf "$tree"
done
echo
echo "RSS per file above the 1000-file tree's:"
for step in first changed; do
  labels=("dolibak packs")
  [ -z "${BASELINE_CLI:-}" ] || labels+=("baseline packs")
  [ -n "${NO_RESTIC:-}" ] || labels+=("restic 0.14")
  for label in "${labels[@]}"; do
    small=${rss["1000 $step $label"]} big=${rss["$files $step $label"]}
    awk -v s="$small" -v b="$big" -v n="$files" -v l="$label" -v st="$step" \
      'BEGIN { printf "  %-8s %-16s %7.1f bytes/file (%d KiB at %d files, %d KiB at 1000)\n", st, l, (b - s) * 1024 / (n - 1000), b, n, s }'
  done
done
