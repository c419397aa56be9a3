#!/usr/bin/env bash
# Upload + download of one file through the moto S3 fixture, by dolibak's client and by
# `aws s3 cp` (aws CLI v1), on the same server in the same run. Prints wall time and the
# client's CPU seconds per GiB (the server's cost dominates wall time: compare wall only
# between clients of one run). Not part of the test suite.
#   bench/s3-vs-awscli.sh [SIZE_MIB=1024] [BUILD_DIR=build/release]
# aws CLI v1 is the one on PATH; v2 is added when /usr/bin/aws is one.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
build=${2:-build/release}
bin=$build/bench/s3_transfer
[ -x "$bin" ] || { echo "build $bin first (cmake --build --preset release)" >&2; exit 2; }
aws_bin=$(command -v aws || true)
[ -n "$aws_bin" ] || { echo "no aws CLI on PATH" >&2; exit 2; }

work=$(mktemp -d /tmp/dolibak-bench-XXXXXX)
fx=$work/fixture
cleanup() { tools/testenv/s3fixture.py stop "$fx" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
eval "$(tools/testenv/s3fixture.py start --dir "$fx")"
export AWS_DEFAULT_REGION=$AWS_REGION
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
printf '[default]\ns3 =\n  multipart_threshold = 16MB\n  multipart_chunksize = 16MB\n  max_concurrent_requests = 4\n  addressing_style = path\n' > "$work/aws-config"
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/none

head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/data.bin"
echo "== $size_mib MiB through moto at $AWS_ENDPOINT_URL"

"$bin" "$S3_BUCKET" bench/dolibak.bin "$work/data.bin" --part-size 16 --parallel 4 \
  --download-to "$work/back-dolibak.bin"
cmp "$work/data.bin" "$work/back-dolibak.bin"

gib=$(awk -v m="$size_mib" 'BEGIN { print m / 1024 }')
timed() {  # client, op, command...: prints a JSON line like s3_transfer's
  local client=$1 label=$2; shift 2
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null
  read -r wall user sys rss < "$work/time"
  awk -v c="$client" -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v g="$gib" \
    -v m="$size_mib" -v r="$rss" \
    'BEGIN { printf "{\"client\": \"%s\", \"op\": \"%s\", \"wall_s\": %.3f, \"cpu_s\": %.3f, \"cpu_s_per_gib\": %.3f, \"mib_per_s\": %.1f, \"peak_rss_mib\": %d}\n", c, l, w, u + s, (u + s) / g, m / w, r / 1024 }'
}
clients=("aws-cli-v1 $aws_bin")
if [ -x /usr/bin/aws ] && /usr/bin/aws --version 2>&1 | grep -q '^aws-cli/2'; then
  clients+=("aws-cli-v2 /usr/bin/aws")
fi
for entry in "${clients[@]}"; do
  read -r name path <<<"$entry"
  timed "$name" upload "$path" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "$work/data.bin" "s3://$S3_BUCKET/bench/$name.bin"
  timed "$name" download "$path" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "s3://$S3_BUCKET/bench/$name.bin" "$work/back-$name.bin"
  cmp "$work/data.bin" "$work/back-$name.bin"
  rm -f "$work/back-$name.bin"
done
echo "== every copy came back byte-identical"
