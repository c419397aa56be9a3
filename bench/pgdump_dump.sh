#!/usr/bin/env bash
# Dump throughput, in one run: bare `pg_dump -Fc > /dev/null` (the limit), the original
# scripts' way (`pg_dump -Fc > file` then copy into the store), and dolibak's streamed,
# verified dump in both modes (bench/pgdump_dump.cpp). Figures only, no assertions.
#   bench/pgdump_dump.sh BUILD_DIR [--scale N]
# Starts a throwaway PostgreSQL (tools/testenv/pgfixture.py start), generates the database
# (tools/dolibarr_gen.py db --scale N; 220000 gives >= 1 GiB, the default 20000 ~145 MB).
set -euo pipefail
build=${1:?usage: pgdump_dump.sh BUILD_DIR [--scale N]}
scale=20000
[[ "${2:-}" == --scale ]] && scale=${3:?}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/dolibak-bench-pgdump.XXXXXX)
chmod 755 "$work"
trap 'python3 "$root/tools/testenv/pgfixture.py" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$(python3 "$root/tools/testenv/pgfixture.py" start --dir "$work/pg")"
bin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bin_dir"])' "$work/pg/fixture.json")
export PATH="$bin:$PATH"
echo "== generating the database (scale $scale)"
python3 "$root/tools/dolibarr_gen.py" db --scale "$scale" --seed 1 --drop-first
psql -XAtc "SELECT pg_size_pretty(pg_database_size(current_database()))"
mkdir -p "$work/store" "$work/out"
t() { /usr/bin/time -f "%e s wall, %U+%S s cpu, %M KiB peak RSS" "$@"; }
echo "== limit: pg_dump -Fc > /dev/null"
t pg_dump -Fc > /dev/null
echo "== original way: pg_dump -Fc > file, then copy into the store"
t sh -c 'pg_dump -Fc > "$1/x.dump" && cp "$1/x.dump" "$2/x.dump" && sync' _ "$work/out" "$work/store"
ls -l "$work/out/x.dump" | awk '{print "   size", $5}'
echo "== limit -Z0 | zstd -T2 -6 (the zstd mode's default level)"
t sh -c 'pg_dump -Fc -Z0 | zstd -q -T2 -6 > /dev/null'
echo "== dolibak (both modes, into the store)"
"$build/bench/pgdump_dump" "$work/store" 6 2
