#!/usr/bin/env bash
# The committed fuzz seed corpus (tests/proto/fuzz_corpus/) must be what $FJ_BUILD/tests/fuzz_seeds
# writes today: a protocol or trace-format change that leaves stale seeds (a Hello the server
# now refuses, a trace the verifier rejects) would quietly make the fuzzer start from nothing.
set -u
bin="${FJ_BUILD:-build/rel}/tests/fuzz_seeds"
seeds="$(dirname "$0")/fuzz_corpus"
work=$(mktemp -d /tmp/fj_seeds.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" "$work" || { echo "seeds: $bin failed"; echo "0 passed, 1 failed"; exit 1; }
if diff -r "$seeds" "$work" >/dev/null; then
  echo "seeds: $(ls "$work" | wc -l) seeds up to date"
  echo "1 passed, 0 failed"
else
  echo "seeds: tests/proto/fuzz_corpus is stale; regenerate: $bin tests/proto/fuzz_corpus"
  diff -rq "$seeds" "$work"
  echo "0 passed, 1 failed"
  exit 1
fi
