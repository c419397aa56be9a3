#!/usr/bin/env bash
# The S3 client's cost in whole CLI runs: the same documents backup (SIZE_MIB of random
# files, tar+zstd level 1, so compression costs little) run by `dolibak backup --docs-only`
# into a directory store and into the moto S3 fixture, and `dolibak verify` reading each back;
# the S3 client's CPU per GiB is the difference between the two runs' CPU (getrusage of the
# dolibak process through /usr/bin/time: moto's CPU is not in it), divided by the object's
# size. Beside them, `aws s3 cp` up and down of the same object (the peer; aws-cli v1 on PATH,
# same part size and concurrency). ROUNDS rounds, alternating. Figures only, no assertions.
# S3_BENCH_ALWAYS=1 adds a backup to S3 with s3_content_md5 always (the default is auto);
# S3_BENCH_AWS=up times only aws-cli's upload (its download is slow against moto), none neither.
#   bench/s3_backup.sh BUILD_DIR [SIZE_MIB=1024] [ROUNDS=3]
set -euo pipefail
build=$(cd "${1:?usage: bench/s3_backup.sh BUILD_DIR [SIZE_MIB] [ROUNDS]}" && pwd)
size_mib=${2:-1024}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
dolibak=$build/bin/dolibak
work=$(mktemp -d /tmp/dolibak-bench-s3.XXXXXX)
fx=$work/fixture
cleanup() { "$root/tools/testenv/s3fixture.py" stop "$fx" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
eval "$("$root/tools/testenv/s3fixture.py" start --dir "$fx")"
export AWS_DEFAULT_REGION=$AWS_REGION
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
printf '[default]\ns3 =\n  multipart_threshold = 16MB\n  multipart_chunksize = 16MB\n  max_concurrent_requests = 4\n  addressing_style = path\n' >"$work/aws-config"
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/none
aws_bin=$(command -v aws || true)

echo "== $size_mib MiB of random documents; moto at $AWS_ENDPOINT_URL"
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
docs=$work/documents
mkdir -p "$docs/big"
touch "$docs/install.lock"
for i in $(seq 1 $((size_mib / 64))); do
  head -c $((64 * 1024 * 1024)) /dev/urandom >"$docs/big/part-$i.bin"
done
export DOLIBAK_DOCS_DIR=$docs DOLIBAK_DOCS_MODE=tar DOLIBAK_DOCS_COMPRESSION=zstd DOLIBAK_DOCS_LEVEL=1
export DOLIBAK_S3_PART_SIZE=16M DOLIBAK_S3_PARALLEL_PARTS=4 dolibak
cat "$docs"/big/* >/dev/null

results=$work/results.tsv
: >"$results"
measure() {  # LABEL COMMAND...
  local label=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c '"$@"' _ "$@" >/dev/null 2>"$work/stderr" || {
    echo "!! $label failed:" >&2; tail -5 "$work/stderr" >&2; exit 1; }
  read -r wall user sys rss <"$work/time"
  printf '%s\t%s\t%s\t%s\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$rss" >>"$results"
  printf '   %-36s %7.2f s wall %7.2f s cpu %7d KiB\n' "$label" "$wall" \
    "$(echo "$user + $sys" | bc)" "$rss"
}
backup_to() { DOLIBAK_STORE=$1 "$dolibak" backup --docs-only --force; }
backup_always() { DOLIBAK_S3_CONTENT_MD5=always backup_to "$@"; }
verify_from() { DOLIBAK_STORE=$1 "$dolibak" verify latest; }
export -f backup_to backup_always verify_from
aws_mode=${S3_BENCH_AWS:-both}
file_store="file://$work/store"
s3_store="s3://$S3_BUCKET/bench"
mkdir -p "$work/store"
for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  if [ $((round % 2)) = 1 ]; then
    measure "backup to a directory" backup_to "$file_store"
    measure "backup to S3" backup_to "$s3_store"
    measure "verify from a directory" verify_from "$file_store"
    measure "verify from S3" verify_from "$s3_store"
  else
    measure "backup to S3" backup_to "$s3_store"
    measure "backup to a directory" backup_to "$file_store"
    measure "verify from S3" verify_from "$s3_store"
    measure "verify from a directory" verify_from "$file_store"
  fi
  if [ "${S3_BENCH_ALWAYS:-0}" = 1 ]; then
    measure "backup to S3, md5 always" backup_always "$s3_store"
  fi
  if [ -n "$aws_bin" ] && [ "$aws_mode" != none ]; then
    obj=$(ls -t "$work"/store/docs/* | head -1)
    measure "aws s3 cp (upload)" "$aws_bin" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "$obj" \
      "s3://$S3_BUCKET/aws/object"
    if [ "$aws_mode" = both ]; then
      rm -f "$work/back"
      measure "aws s3 cp (download)" "$aws_bin" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp \
        "s3://$S3_BUCKET/aws/object" "$work/back"
      cmp "$obj" "$work/back"
    fi
  fi
done
obj=$(ls -t "$work"/store/docs/* | head -1)
bytes=$(stat -c %s "$obj")
echo "== object: $bytes bytes"
echo "== summary (min-max, median; S3 client CPU per GiB = (S3 run - directory run) / GiB)"
/usr/bin/python3 - "$results" "$bytes" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    label, wall, cpu, rss = line.split("\t")
    by.setdefault(label, []).append((float(wall), float(cpu), int(rss)))
gib = int(sys.argv[2]) / 2**30
for k, v in by.items():
    w = [x[0] for x in v]; c = [x[1] for x in v]
    print(f"{k:26} wall {min(w):6.2f}-{max(w):6.2f} cpu {min(c):6.2f}-{max(c):6.2f} "
          f"({statistics.median(c) / gib:.2f} s/GiB) rss {max(x[2] for x in v) // 1024} MiB")
for op, s3, local in (("up", "backup to S3", "backup to a directory"),
                      ("up, md5 always", "backup to S3, md5 always", "backup to a directory"),
                      ("down", "verify from S3", "verify from a directory")):
    if s3 not in by:
        continue
    d = [a[1] - b[1] for a, b in zip(by[s3], by[local])]
    print(f"S3 client CPU {op:4}: {min(d) / gib:.2f}-{max(d) / gib:.2f} s/GiB "
          f"(median {statistics.median(d) / gib:.2f}); peak RSS {max(x[2] for x in by[s3]) // 1024} MiB "
          f"against {max(x[2] for x in by[local]) // 1024} MiB to a directory")
PY
