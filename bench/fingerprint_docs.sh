#!/usr/bin/env bash
# Documents fingerprint on a large tree, page cache warm: dolibak's metadata fingerprint vs the
# cheapest peer that reads the same metadata (`find -printf` of size, mtime and path, hashed).
# Figures only, no assertions.
#   bench/fingerprint_docs.sh BUILD_DIR [FILES]     (default 100000 files in 1,000 folders)
set -euo pipefail
build=${1:?usage: bench/fingerprint_docs.sh BUILD_DIR [FILES]}
files=${2:-100000}
work=$(mktemp -d /tmp/dolibak-bench-fpdocs.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/documents
echo "== making $files files"
python3 - "$tree" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "facture", f"FA{i // 100:04d}")
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"FA{i:06d}.pdf"), "wb") as f:
        f.write(b"%%PDF-1.4 %d\n" % i)
PY
t() { /usr/bin/time -f "   %e s wall, %U+%S s cpu, %M KiB peak RSS" "$@"; }
find "$tree" -printf '%s %T@ %p\n' > /dev/null  # warm the page cache and the dentry cache
for round in 1 2 3; do
  echo "== round $round"
  echo " dolibak docs fingerprint (metadata)"
  t "$build/bench/bench_tarball" fingerprint "$tree"
  echo " peer: find -printf size mtime path | sha256sum"
  t sh -c 'find "$1" -printf "%s %T@ %p\n" | sort | sha256sum > /dev/null' _ "$tree"
done
