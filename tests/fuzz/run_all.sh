#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, starting from the committed seed
# corpus. Findings (crash-*, leak-*, timeout-*) land in the build folder and
# fail the run.
set -euo pipefail
bin_dir=${1:?usage: run_all.sh BIN_DIR SECONDS}
seconds=${2:-20}
src_dir=$(cd "$(dirname "$0")" && pwd)
status=0
for target in request_parser_fuzz response_parser_fuzz frame_parser_fuzz utf8_fuzz message_body_fuzz \
              tls_record_fuzz; do
  work="$bin_dir/$target.work"
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  cp "$src_dir/corpus/${target%_fuzz}"/* "$work/corpus/" 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s"
  if ! "$bin_dir/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" > "$work/log.txt" 2>&1; then
    echo "fuzz: $target FOUND A PROBLEM:"; tail -40 "$work/log.txt"; status=1
  else
    grep -E 'stat::number_of_executed_units|cov:' "$work/log.txt" | tail -2 | sed 's/^/  /'
  fi
done
exit $status
