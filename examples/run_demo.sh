#!/usr/bin/env bash
# `make run`: one example program with a hot loop, on a larger input, run twice by the farjit
# CLI: interpreted only (--no-jit) and with the remote JIT (a private farjitd started by the
# client runtime, --jit-wait so the first hot loop already runs machine code).  Prints the
# answer, the JIT statistics and the speedup; fails if the two answers differ.
#
#   examples/run_demo.sh BUILD_DIR [EXAMPLE [MIB]]      (default crc32, 8 MiB)
set -u
B="${1:-build/rel}"
ex="${2:-crc32}"
mib="${3:-8}"
farjit="$B/bin/farjit"
native="$B/bin/fj_examples_native"
obj="$B/examples/$ex.o"
for f in "$farjit" "$B/bin/farjitd" "$native" "$obj"; do
  [ -e "$f" ] || { echo "run: $f is missing (make $f)"; exit 1; }
done
work=$(mktemp -d /tmp/fj_run.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The example's deterministic input, repeated to MIB MiB so the loop dominates.
"$native" --raw "$ex" > "$work/one.in"
one=$(stat -c %s "$work/one.in")
reps=$(( (mib * 1048576 + one - 1) / one ))
for _ in $(seq "$reps"); do cat "$work/one.in"; done > "$work/in"

now() { date +%s%N; }
args=("$obj" --ctx "$work/in" --entry fj_main)

echo "== $ex on $(( $(stat -c %s "$work/in") / 1024 )) KiB: farjit run ${args[*]}"
t0=$(now)
interp=$("$farjit" run "${args[@]}" --no-jit) || { echo "run: interpreter run failed"; exit 1; }
t1=$(now)
jit=$("$farjit" run "${args[@]}" --jit-wait 5000 --stats 2> "$work/stats") ||
  { echo "run: JIT run failed:"; cat "$work/stats"; exit 1; }
t2=$(now)
ms_i=$(( (t1 - t0) / 1000000 ))
ms_j=$(( (t2 - t1) / 1000000 ))

echo "interpreter only:                 $interp  ${ms_i} ms"
echo "remote JIT (embedded farjitd):    $jit  ${ms_j} ms (includes starting farjitd and compiling)"
echo "-- JIT statistics (--stats)"
grep -E '^(insns_interp|insns_native) |^jit: (traces_sent|traces_installed|bridges_installed|trace_entries|exits_taken|compile_failed|traces_rejected|wait_timeouts|code_bytes|server connects) ' "$work/stats"
grep -E '^jit: trace [0-9]+ ' "$work/stats" | head -5
awk -v i="$ms_i" -v j="$ms_j" 'BEGIN { printf "speedup: %.2fx (interpreter %d ms / JIT %d ms)\n", (j > 0 ? i / j : 0), i, j }'
if [ "$interp" != "$jit" ]; then
  echo "run: FAIL: the JIT's answer $jit differs from the interpreter's $interp"
  exit 1
fi
native_insns=$(awk '/^insns_native/ { print $2 }' "$work/stats")
[ "${native_insns:-0}" -gt 0 ] || echo "note: no machine code ran (was farjitd built with the compiler?)"
echo "same answer: yes"
