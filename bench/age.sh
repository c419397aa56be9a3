#!/bin/bash
# age encryption throughput: dolibak's streamed AgeEncryptSink / AgeDecryptSource
# (bench/bench_age) vs the age CLI (Debian's age 1.1.1), same random file, same key, one
# core each (taskset), from the page cache to a file in the same temporary directory.
# Prints wall, user and sys seconds and MiB/s over CPU time (steadier on a shared machine);
# then the age CLI to /dev/null and dolibak in memory (no file I/O): the crypto's own cost.
# Figures, no asserts.
#   bench/age.sh BUILD_DIR [SIZE_MIB]   (default 512)
set -euo pipefail
build=${1:?usage: bench/age.sh BUILD_DIR [SIZE_MIB]}
size=${2:-512}
work=$(mktemp -d "${TMPDIR:-/tmp}/dolibak-age-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
bench=$build/bench/bench_age
age-keygen -o "$work/key.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/key.txt")
head -c $((size * 1024 * 1024)) /dev/urandom > "$work/plain"
cat "$work/plain" > /dev/null

printf '%-26s %8s %8s %8s %10s\n' "contender" "wall s" "user s" "sys s" "MiB/s cpu"
measure() {  # label command...
  local label=$1; shift
  local t; t=$( { /usr/bin/time -f '%e %U %S' taskset -c 0 "$@" > /dev/null; } 2>&1 | tail -1)
  read -r wall user sys <<< "$t"
  local cpu; cpu=$(echo "$user + $sys" | bc)
  printf '%-26s %8s %8s %8s %10.0f\n' "$label" "$wall" "$user" "$sys" "$(echo "$size / $cpu" | bc -l)"
}
measure "age -r (encrypt)" age -r "$recipient" -o "$work/by-age.age" "$work/plain"
measure "dolibak encrypt" "$bench" encrypt "$recipient" "$work/plain" "$work/by-dolibak.age"
measure "age -d (decrypt)" age -d -i "$work/key.txt" -o "$work/out-age" "$work/by-dolibak.age"
measure "dolibak decrypt" "$bench" decrypt "$work/key.txt" "$work/by-age.age" "$work/out-dolibak"
measure "age -r > /dev/null" bash -c "age -r '$recipient' < '$work/plain' > /dev/null"
measure "age -d > /dev/null" bash -c "age -d -i '$work/key.txt' < '$work/by-age.age' > /dev/null"
taskset -c 0 "$bench" memory "$size"
cmp "$work/plain" "$work/out-age" && cmp "$work/plain" "$work/out-dolibak" && echo "outputs identical"
