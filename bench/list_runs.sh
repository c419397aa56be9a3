#!/usr/bin/env bash
# `dolibak list` over a long history: a directory store holding RUNS runs (default 1,000, ten
# years of dailies before retention, say), each with the manifest of a real run of the
# generated Dolibarr database (308 tables) and a third of them verified. Times whole CLI
# runs (text and --json) beside the peer that reads the same manifests and nothing else
# (`cat manifests/*.json`), and counts the objects `list` opens. Figures only.
#   bench/list_runs.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:?usage: bench/list_runs.sh BUILD_DIR [RUNS]}" && pwd)
runs=${2:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/dolibak-bench-list.XXXXXX)
chmod 755 "$work"
cleanup() {
  /usr/bin/python3 "$root/tools/testenv/pgfixture.py" stop --dir "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
dolibak=$build/bin/dolibak

echo "== one real run (generated Dolibarr database, scale 20) as the template"
/usr/bin/python3 "$root/tools/testenv/pgfixture.py" start --dir "$work/pg" --json >"$work/pg.json"
eval "$(/usr/bin/python3 - "$work/pg.json" <<'PY'
import json, shlex, sys
i = json.load(open(sys.argv[1])); r = i["prod"]
for k, v in {"PGHOST": i["host"], "PGPORT": i["port"], "PGUSER": r["user"],
             "PGPASSWORD": r["password"], "PGDATABASE": r["dbname"],
             "DOLIBAK_PG_TOOLS_DIR": i["bin_dir"]}.items():
    print(f"export {k}={shlex.quote(str(v))}")
PY
)"
/usr/bin/python3 "$root/tools/dolibarr_gen.py" both --docs "$work/documents" --scale 20 --seed 1 >/dev/null
mkdir -p "$work/template" "$work/store"
DOLIBAK_STORE="file://$work/template" DOLIBAK_DOCS_DIR="$work/documents" "$dolibak" backup >/dev/null 2>&1
"$dolibak" verify --store "file://$work/template" >/dev/null 2>&1

echo "== a history of $runs runs from it"
/usr/bin/python3 - "$work/template" "$work/store" "$runs" <<'PY'
import datetime, glob, json, os, shutil, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
manifest_path = sorted(glob.glob(os.path.join(src, "manifests", "*.json")))[-1]
template = json.load(open(manifest_path))
ts0 = os.path.basename(manifest_path)[:-len(".json")]
start = datetime.datetime(2016, 1, 1, 2, 0, tzinfo=datetime.timezone.utc)
for folder in ("db", "docs", "manifests", "verified"):
    os.makedirs(os.path.join(dst, folder), exist_ok=True)
for i in range(n):
    t = start + datetime.timedelta(days=i)
    ts = t.strftime("%Y%m%dT%H%M%SZ")
    m = json.loads(json.dumps(template))
    m["time"] = m["started_at"] = m["finished_at"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    for half in m["halves"].values():
        if half.get("key"):
            old = half["key"]
            half["key"] = old.replace(ts0, ts)
            os.link(os.path.join(src, old), os.path.join(dst, half["key"]))
    with open(os.path.join(dst, "manifests", ts + ".json"), "w") as f:
        f.write(json.dumps(m, separators=(",", ":"), sort_keys=True) + "\n")
    if i % 3 == 0:
        rec = glob.glob(os.path.join(src, "verified", "*.ok.json"))[0]
        shutil.copy(rec, os.path.join(dst, "verified", ts + ".ok.json"))
size = os.path.getsize(manifest_path)
print(f"   manifest of one run: {size} bytes; {n} runs, {n // 3 + 1} verification records")
PY

t() { /usr/bin/time -f "   %e s wall, %U+%S s cpu, %M KiB peak RSS" "$@"; }
cat "$work"/store/manifests/*.json >/dev/null  # warm the page cache
for round in 1 2 3; do
  echo "== round $round"
  echo " dolibak list"
  t "$dolibak" list --store "file://$work/store" >/dev/null
  echo " dolibak list --json (run summaries)"
  t "$dolibak" list --store "file://$work/store" --json >"$work/list.json"
  echo " dolibak list --json --manifests"
  t "$dolibak" list --store "file://$work/store" --json --manifests >"$work/list-manifests.json"
  echo " peer: cat every manifest"
  t sh -c 'cat "$1"/manifests/*.json > /dev/null' _ "$work/store"
done
echo "== objects list opens (strace: openat of store files)"
if command -v strace >/dev/null; then
  strace -f -e trace=openat -o "$work/strace.txt" "$dolibak" list --store "file://$work/store" >/dev/null
  echo "   manifests: $(grep -c '/manifests/.*json' "$work/strace.txt"), verification records: $(grep -c '/verified/' "$work/strace.txt"), backup objects: $(grep -cE '/(db|docs)/' "$work/strace.txt")"
else
  echo "   (strace not installed)"
fi
echo "   list --json: $(wc -c <"$work/list.json") bytes; with --manifests: $(wc -c <"$work/list-manifests.json") bytes"
