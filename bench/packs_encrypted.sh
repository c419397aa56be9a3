#!/usr/bin/env bash
# docs_mode packs, encrypted (one age recipient, the operational identity given) beside plain,
# in the same run, each into its own fresh directory store: the first backup, a changed day
# (a few new and edited files) and a restore of the latest run. Whole CLI runs; prints wall
# time, CPU and peak RSS of each and the encrypted/plain ratio. Figures only, no assertions.
#   bench/packs_encrypted.sh BUILD_DIR [--docs-scale M]
# The documents tree: tools/dolibarr_gen.py docs --scale M (default 2000, ~350 MB).
set -euo pipefail
build=${1:?usage: bench/packs_encrypted.sh BUILD_DIR [--docs-scale M]}
shift
docs_scale=2000
while [[ $# -gt 0 ]]; do
  case $1 in
    --docs-scale) docs_scale=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
cli=$build/bin/dolibak
work=$(mktemp -d "${TMPDIR:-/tmp}/dolibak-bench-packs-enc.XXXXXX")
trap 'rm -rf "$work"' EXIT
docs=$work/documents
python3 "$root/tools/dolibarr_gen.py" docs --out "$docs" --scale "$docs_scale" --seed 1 >/dev/null
du -sh "$docs" | awk '{print "documents " $1}'
age-keygen -o "$work/key.txt" 2>/dev/null
chmod 600 "$work/key.txt"
recipient=$(age-keygen -y "$work/key.txt")
mkdir -p "$work/plain" "$work/enc"
plain=(--store "file://$work/plain" --docs-only --docs-dir "$docs" --docs-mode packs)
enc=(--store "file://$work/enc" --docs-only --docs-dir "$docs" --docs-mode packs
     --age-recipients "$recipient" --age-identity-file "$work/key.txt")

run() {  # label args...
  local label=$1; shift
  /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$cli" "$@" > /dev/null 2> "$work/err" \
    || { cat "$work/err"; exit 1; }
  read -r wall user sys rss < <(tail -1 "$work/time")
  printf '%-22s %8s s wall %7s+%-7s s cpu %8s KiB RSS\n' "$label" "$wall" "$user" "$sys" "$rss"
  echo "$wall" > "$work/$label.wall"
}
ratio() { echo "$(cat "$work/$2.wall") / $(cat "$work/$1.wall")" | bc -l | xargs printf '  ratio %s: %.3f\n' "$2/$1"; }

run first-plain backup "${plain[@]}"
run first-encrypted backup "${enc[@]}"
ratio first-plain first-encrypted
# a changed day: 12 new files of 100 KiB and one edited file
for i in $(seq 1 12); do head -c 102400 /dev/urandom > "$docs/bench-new-$i.pdf"; done
edited=$(find "$docs" -type f -name '*.pdf' -print -quit)
echo edited >> "$edited"
sleep 1.1
run changed-plain backup "${plain[@]}"
run changed-encrypted backup "${enc[@]}"
ratio changed-plain changed-encrypted
run restore-plain restore docs latest --to "$work/r1" --store "file://$work/plain"
run restore-encrypted restore docs latest --to "$work/r2" --store "file://$work/enc" \
  --age-identity-file "$work/key.txt"
ratio restore-plain restore-encrypted
for s in plain enc; do
  printf '%-6s store %s bytes in %s packs\n' "$s" "$(du -sb "$work/$s" | cut -f1)" \
    "$(find "$work/$s/packs" -type f | wc -l)"
done
diff -r "$work/r1" "$work/r2" > /dev/null && echo "restored trees identical"
