#!/usr/bin/env bash
# Run every test program given on the command line and sum their results.
# A program reports either cmocka's summary ("[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)")
# or a plain line "N passed, M failed".  A program that exits non-zero without reporting a
# failure (crash, sanitizer report, timeout) counts as one failure.  Ends with the plain line
# "N passed, M failed" over all programs; exits non-zero if anything failed.
set -u
export FJ_BUILD="${FJ_BUILD:-build/rel}"
timeout_s="${FJ_TEST_TIMEOUT:-900}"
total_pass=0 total_fail=0 failed_progs=()

for prog in "$@"; do
  echo "=== $prog"
  out=$(mktemp)
  if [[ "$prog" == *.sh ]]; then cmd=(bash "$prog"); else cmd=("$prog"); fi
  timeout "$timeout_s" "${cmd[@]}" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  p=0 f=0
  while IFS= read -r line; do
    if [[ "$line" =~ ^\[\ \ PASSED\ \ \]\ ([0-9]+)\ test ]]; then p=$((p + BASH_REMATCH[1])); fi
    if [[ "$line" =~ ^\[\ \ FAILED\ \ \]\ ([0-9]+)\ test ]]; then f=$((f + BASH_REMATCH[1])); fi
    if [[ "$line" =~ ^([A-Za-z_-]+:\ )?([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
      p=$((p + BASH_REMATCH[2])); f=$((f + BASH_REMATCH[3]))
    fi
  done < "$out"
  rm -f "$out"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "!!! $prog exited with status $rc"
    f=1
  fi
  [ "$f" -gt 0 ] && failed_progs+=("$prog")
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
done

echo
[ ${#failed_progs[@]} -gt 0 ] && echo "failing programs: ${failed_progs[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
