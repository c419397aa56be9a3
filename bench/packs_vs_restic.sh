#!/bin/bash
# Documents incremental forever: whole CLI runs of `dolibak backup --docs-mode packs`, of the
# tar mode (zstd) and of restic in the same run, on the same generated tree into local
# directories: a first run, a day with 12 files added or changed, an unchanged day. Prints
# wall and CPU seconds, peak RSS and the store's size after each step (bytes added). Figures
# only. The packs index of each step is kept in $KEEP_INDEX_DIR when set (for
# bench/packs_index_size.py).
#   bench/packs_vs_restic.sh BUILD_DIR [SCALE]     (SCALE invoices, default 2000: ~350 MB;
#                                                   11500: ~2 GB, ~21k files)
set -euo pipefail
build=${1:?usage: bench/packs_vs_restic.sh BUILD_DIR [SCALE]}
src=$(cd "$(dirname "$0")/.." && pwd)
cli=$build/bin/dolibak
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/documents
python3 "$src/tools/dolibarr_gen.py" docs --out "$tree" --scale "${2:-2000}" --seed 1 >&2
echo "tree: $(find "$tree" -type f | wc -l) files, $(du -sb "$tree" | cut -f1) bytes" >&2
tar -cf - -C "$work" documents | cat > /dev/null  # warm the page cache

export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/restic-cache
restic init -q -r "$work/restic" >/dev/null
size() { du -sb "$1" | cut -f1; }
printf '%-16s %-22s %8s %8s %10s %14s %12s\n' step contender "wall s" "cpu s" "rss KiB" \
  "store bytes" "added"
declare -A before
measure() {  # step label store command...
  local step=$1 label=$2 store=$3; shift 3
  local b=${before[$label]:-0} wall user sys rss
  /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" > /dev/null 2>&1
  read -r wall user sys rss < "$work/time"
  local s; s=$(size "$store")
  printf '%-16s %-22s %8s %8s %10s %14s %12s\n' "$step" "$label" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss" "$s" "$((s - b))"
  before[$label]=$s
}
round() {  # step
  measure "$1" "dolibak packs" "$work/packs" "$cli" backup --docs-only --docs-dir "$tree" \
    --store "file://$work/packs" --create-store-dir --docs-mode packs
  if [ -n "${KEEP_INDEX_DIR:-}" ]; then
    mkdir -p "$KEEP_INDEX_DIR"
    last=$(find "$work/packs" -name '*.index.zst' | sort | tail -1)
    [ -z "$last" ] || cp "$last" "$KEEP_INDEX_DIR/${1// /-}.index.zst"
  fi
  measure "$1" "dolibak tar.zst" "$work/tar" "$cli" backup --docs-only --docs-dir "$tree" \
    --store "file://$work/tar" --create-store-dir --docs-mode tar --docs-compression zstd
  measure "$1" "restic 0.14 (auto)" "$work/restic" restic -q -r "$work/restic" backup \
    --exclude '*/temp/*' --exclude '*.pdf_preview*.png' "$tree"
}
round "first run"
# a day: 6 new invoices' PDFs and 6 files rewritten (new bytes, same names)
for i in 1 2 3 4 5 6; do
  mkdir -p "$tree/facture/FA-BENCH-$i"
  head -c 150000 /dev/urandom > "$tree/facture/FA-BENCH-$i/FA-BENCH-$i.pdf"
done
mapfile -t pdfs < <(find "$tree" -type f -name '*.pdf' | sort)
for f in "${pdfs[@]:0:6}"; do
  head -c 100000 /dev/urandom > "$f"
done
sleep 1
round "12 files changed"
round "unchanged"
