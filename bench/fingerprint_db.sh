#!/usr/bin/env bash
# Cost of the database fingerprint (each mode) against the cost of the dump itself, in one
# run on a generated Dolibarr-like database. Figures only, no assertions.
#   bench/fingerprint_db.sh BUILD_DIR [--scale N]     (220000 gives >= 1 GiB; default 20000)
set -euo pipefail
build=${1:?usage: fingerprint_db.sh BUILD_DIR [--scale N]}
scale=20000
[[ "${2:-}" == --scale ]] && scale=${3:?}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/dolibak-bench-fp.XXXXXX)
chmod 755 "$work"
trap 'python3 "$root/tools/testenv/pgfixture.py" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$(python3 "$root/tools/testenv/pgfixture.py" start --dir "$work/pg")"
bin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bin_dir"])' "$work/pg/fixture.json")
export PATH="$bin:$PATH"
echo "== generating the database (scale $scale)"
python3 "$root/tools/dolibarr_gen.py" db --scale "$scale" --seed 1 --drop-first
psql -XAtc "SELECT pg_size_pretty(pg_database_size(current_database()))"
psql -XAtc "VACUUM ANALYZE" >/dev/null 2>&1
t() { /usr/bin/time -f "   %e s wall, %U+%S s cpu, %M KiB peak RSS" "$@"; }
echo "== the dump: pg_dump -Fc > /dev/null"
t pg_dump -Fc > /dev/null
echo "== the dump without compression: pg_dump -Fc -Z0 > /dev/null"
t pg_dump -Fc -Z0 > /dev/null
echo "== dolibak fingerprints"
"$build/bench/fingerprint_db" 3
