#!/usr/bin/env bash
# libFuzzer run of farjitd's frame decoder + message handler (tests/proto/fuzz_server.c) for a
# bounded time: FJ_FUZZ_SECONDS (default 60; 15 in the san build).  The seed corpus is copied, never modified.
# Without libFuzzer (no $FJ_BUILD/fuzz/fuzz_server) it says so: the deterministic mutation
# runner test_fuzz_replay covers the same target in every build.
set -u
bin="${FJ_BUILD:-build/rel}/fuzz/fuzz_server"
seeds="$(dirname "$0")/fuzz_corpus"
# The san build runs the same (always sanitized) fuzzer again: keep that run short.
case "${FJ_BUILD:-}" in */san) default_secs=15 ;; *) default_secs=60 ;; esac
secs="${FJ_FUZZ_SECONDS:-$default_secs}"
if [ ! -x "$bin" ]; then
  echo "fuzz: libFuzzer not available (install libclang-rt-14-dev); test_fuzz_replay ran the deterministic mutations instead"
  echo "0 passed, 0 failed"
  exit 0
fi
work=$(mktemp -d /tmp/fj_fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
     -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" >"$work/log" 2>&1; then
  tail -n 3 "$work/log"
  echo "fuzz: ${secs}s without a crash, corpus $(ls "$work/corpus" | wc -l) inputs"
  echo "1 passed, 0 failed"
else
  tail -n 60 "$work/log"
  for a in "$work"/crash-* "$work"/timeout-* "$work"/leak-* "$work"/oom-*; do
    [ -e "$a" ] && { echo "artifact $a:"; od -A x -t x1z "$a" | head -20; cp "$a" /tmp/; }
  done
  echo "0 passed, 1 failed"
  exit 1
fi
