#!/usr/bin/env bash
# `dolibak restore docs` as whole CLI runs beside `tar -x` of the same archive, in one run:
# a generated documents tree is backed up once per compression (gzip, the default, and zstd)
# into a directory store; then, ROUNDS times and alternating, the store's object is extracted
# by GNU tar (`tar -xzf` / `tar --zstd -xf`) and restored by `dolibak restore docs latest --to
# DIR` into a fresh directory (neither syncs the files; dolibak also checks every entry, swaps a
# staging directory in and checks the profile's required documents). Prints wall, CPU, peak
# RSS per run and the ratio of medians. Figures only, no assertions.
#   bench/docs_restore.sh BUILD_DIR [--scale N] [--rounds R]
# --scale: tools/dolibarr_gen.py docs scale (2000 ~ 350 MB, 5800 ~ 1 GiB).
set -euo pipefail
build=$(cd "${1:?usage: bench/docs_restore.sh BUILD_DIR [--scale N] [--rounds R]}" && pwd)
shift
scale=2000 rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --scale) scale=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
dolibak=$build/bin/dolibak
work=$(mktemp -d /tmp/dolibak-bench-docs.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== generating the documents (scale $scale)"
/usr/bin/python3 "$root/tools/dolibarr_gen.py" docs --out "$work/documents" --scale "$scale" \
  --seed 1 >/dev/null
du -sh "$work/documents" | awk '{print "   tree: " $1}'
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for c in gzip zstd; do
  mkdir -p "$work/store-$c"
  DOLIBAK_STORE="file://$work/store-$c" DOLIBAK_DOCS_DIR="$work/documents" \
    DOLIBAK_DOCS_MODE=tar DOLIBAK_DOCS_COMPRESSION=$c "$dolibak" backup --docs-only >/dev/null 2>&1
  ls -l "$work/store-$c"/docs/* | awk -v c="$c" '{print "   archive (" c "): " $5 " bytes"}'
done
rm -rf "$work/documents"
gz=$(ls "$work"/store-gzip/docs/*); zs=$(ls "$work"/store-zstd/docs/*)
cat "$gz" "$zs" >/dev/null  # page cache

results=$work/results.tsv
: >"$results"
measure() {  # LABEL COMMAND...
  local label=$1; shift
  rm -rf "$work/out"; sync
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c '"$@"' _ "$@" >/dev/null 2>"$work/stderr" || {
    echo "!! $label failed:" >&2; tail -5 "$work/stderr" >&2; exit 1; }
  read -r wall user sys rss <"$work/time"
  printf '%s\t%s\t%s\t%s\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$rss" >>"$results"
  printf '   %-40s %7.2f s wall %7.2f s cpu %7d KiB\n' "$label" "$wall" \
    "$(echo "$user + $sys" | bc)" "$rss"
}
tar_x() { mkdir -p "$2" && tar $1 "$3" -C "$2"; }  # OPTIONS (split) DIR ARCHIVE
restore() { DOLIBAK_STORE="file://$1" "$dolibak" restore docs latest --to "$2"; }
export -f tar_x restore
export dolibak
for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  if [ $((round % 2)) = 1 ]; then
    measure "tar -xzf" tar_x -xzf "$work/out" "$gz"
    measure "dolibak restore docs (gzip)" restore "$work/store-gzip" "$work/out"
    measure "tar --zstd -xf" tar_x "--zstd -xf" "$work/out" "$zs"
    measure "dolibak restore docs (zstd)" restore "$work/store-zstd" "$work/out"
  else
    measure "dolibak restore docs (zstd)" restore "$work/store-zstd" "$work/out"
    measure "tar --zstd -xf" tar_x "--zstd -xf" "$work/out" "$zs"
    measure "dolibak restore docs (gzip)" restore "$work/store-gzip" "$work/out"
    measure "tar -xzf" tar_x -xzf "$work/out" "$gz"
  fi
done
echo "== summary (min-max, median; ratio = median / tar's median)"
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    label, wall, cpu, rss = line.split("\t")
    by.setdefault(label, []).append((float(wall), float(cpu), int(rss)))
med = {k: statistics.median(w for w, _, _ in v) for k, v in by.items()}
peer = {"dolibak restore docs (gzip)": "tar -xzf", "dolibak restore docs (zstd)": "tar --zstd -xf"}
for k, v in by.items():
    w = [x[0] for x in v]; c = [x[1] for x in v]
    line = (f"{k:30} wall {min(w):6.2f}-{max(w):6.2f} ({med[k]:6.2f}) cpu {min(c):6.2f}-"
            f"{max(c):6.2f} rss {max(x[2] for x in v) // 1024} MiB")
    if k in peer:
        line += f"  ratio {med[k] / med[peer[k]]:.2f}"
    print(line)
PY
