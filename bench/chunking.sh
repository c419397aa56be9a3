#!/bin/bash
# Whole files against content-defined chunks (issue 13: "measure both on the generated tree and
# on a tree with large files that change a little, and choose"). Two trees, each in a version
# before and after a day of changes:
#   - the generated Dolibarr tree (tools/dolibarr_gen.py, SCALE invoices) and a day like
#     bench/packs_year.py's: new invoice PDFs, a few regenerated with new bytes, one deleted;
#   - LARGE files of 64 MiB of random bytes: two grow by 1 MiB at the end, two get 100 KiB
#     inserted in the middle, two get 4 KiB overwritten in place, the rest stay.
# For each: bench/chunking.cpp's count of what the second version adds under each way of
# cutting files (before compression), then what whole runs really add to a store: `dolibak
# backup --docs-mode packs` and restic 0.14 (Rabin chunks, 512 KiB to 8 MiB), before then
# after, into local directories. Figures only.
#   bench/chunking.sh BUILD_DIR [SCALE=1000] [LARGE=8]
set -euo pipefail
build=$(cd "${1:?usage: bench/chunking.sh BUILD_DIR [SCALE] [LARGE]}" && pwd)
scale=${2:-1000}
large=${3:-8}
src=$(cd "$(dirname "$0")/.." && pwd)
cli=$build/bin/dolibak
chunking=$build/bench/chunking
work=$(mktemp -d /tmp/dolibak-bench-chunking.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# A file of N bytes of random data.
rnd() { head -c "$2" /dev/urandom > "$1"; }

# ---- the generated tree and a day of changes
gen_before=$work/generated-before
python3 "$src/tools/dolibarr_gen.py" docs --out "$gen_before" --scale "$scale" --seed 3 >/dev/null
gen_after=$work/generated-after
cp -a "$gen_before" "$gen_after"
for i in 1 2 3 4 5 6 7 8 9; do
  mkdir -p "$gen_after/facture/FA-DAY-$i"
  rnd "$gen_after/facture/FA-DAY-$i/FA-DAY-$i.pdf" $((40000 + i * 23000))
done
mapfile -t pdfs < <(find "$gen_after" -type f -name '*.pdf' ! -path '*/FA-DAY-*' | sort)
for f in "${pdfs[@]:5:3}"; do rnd "$f" 120000; done  # regenerated: new bytes, same name
rm -f "${pdfs[20]}"

# ---- large files that change a little
big_before=$work/large-before
mkdir -p "$big_before"
for i in $(seq 1 "$large"); do rnd "$big_before/file-$i.bin" $((64 << 20)); done
big_after=$work/large-after
cp -a "$big_before" "$big_after"
python3 - "$big_after" "$large" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
def path(i): return os.path.join(root, f"file-{i}.bin")
for i in (1, 2):                       # grow by 1 MiB at the end
    with open(path(i), "ab") as f: f.write(os.urandom(1 << 20))
for i in (3, 4):                       # 100 KiB inserted in the middle
    data = open(path(i), "rb").read()
    mid = len(data) // 2 + 12345
    open(path(i), "wb").write(data[:mid] + os.urandom(100 * 1024) + data[mid:])
for i in (5, 6):                       # 4 KiB overwritten in place
    with open(path(i), "r+b") as f:
        f.seek(37 * (1 << 20) + 777); f.write(os.urandom(4096))
EOF

export RESTIC_PASSWORD=bench
for tree in generated large; do
  b=$work/$tree-before a=$work/$tree-after
  echo
  echo "== $tree: before $(find "$b" -type f | wc -l) files, $(du -sb "$b" | cut -f1) bytes;" \
       "after $(find "$a" -type f | wc -l) files, $(du -sb "$a" | cut -f1) bytes"
  changed=$(python3 - "$b" "$a" <<'EOF'
import hashlib, os, sys
def files(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = p
    return out
b, a = files(sys.argv[1]), files(sys.argv[2])
same = lambda x, y: os.path.getsize(x) == os.path.getsize(y) and open(x, "rb").read() == open(y, "rb").read()
print(sum(os.path.getsize(p) for k, p in a.items() if k not in b or not same(b[k], p)))
EOF
)
  echo "   bytes in new or changed files: $changed"
  "$chunking" "$b" "$a" | sed 's/^/   /'
  # What whole runs add: the same directory backed up as it is before, then after.
  live=$work/live-$tree
  for contender in packs restic; do
    rm -rf "$live" "$work/store-$contender" "$work/restic-cache"
    cp -a "$b" "$live"
    if [ $contender = packs ]; then
      run() { "$cli" backup --docs-only --docs-dir "$live" --store "file://$work/store-packs" \
                --create-store-dir --docs-mode packs --docs-allow-missing-required --force \
                >/dev/null 2>&1; }
    else
      restic init -q -r "$work/store-restic" >/dev/null
      run() { RESTIC_CACHE_DIR=$work/restic-cache restic -q -r "$work/store-restic" backup \
                --exclude '*/temp/*' --exclude '*.pdf_preview*.png' "$live" >/dev/null; }
    fi
    run
    first=$(du -sb "$work/store-$contender" | cut -f1)
    rm -rf "$live" && cp -a "$a" "$live"  # new inodes: both re-read every file, by content
    run
    second=$(du -sb "$work/store-$contender" | cut -f1)
    printf '   %-36s first run %14d bytes, second run adds %12d (%.2fx the changed files)\n' \
      "whole runs: $contender" "$first" "$((second - first))" \
      "$(echo "($second - $first) / $changed" | bc -l)"
  done
done
