#!/usr/bin/env bash
# Every example through the command-line tool: `farjit run <name>.o --ctx <input>` must print
# the same r0 as the example compiled natively (fj_examples_native <name>).  $FJ_BUILD is the
# build directory (build/rel by default).  Ends with "examples-cli: N passed, M failed".
set -u
B="${FJ_BUILD:-build/rel}"
cli="$B/bin/farjit" native="$B/bin/fj_examples_native"
pass=0 fail=0
for tool in "$cli" "$native"; do
  if [ ! -x "$tool" ]; then
    echo "examples-cli: $tool not built"
    echo "examples-cli: 0 passed, 1 failed"
    exit 1
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for obj in "$B"/examples/*.o; do
  name=$(basename "$obj" .o)
  if ! "$native" --raw "$name" > "$tmp/$name.in"; then
    echo "FAIL $name: fj_examples_native has no input for it"
    fail=$((fail + 1))
    continue
  fi
  want=$("$native" "$name")
  got=$("$cli" run "$obj" --ctx "$tmp/$name.in" 2>"$tmp/err")
  if [ "$got" = "$want" ]; then
    echo "ok   $name $got"
    pass=$((pass + 1))
  else
    echo "FAIL $name: farjit run printed '$got' ($(head -c 300 "$tmp/err")), native $want"
    fail=$((fail + 1))
  fi
done
[ $((pass + fail)) -gt 0 ] || { echo "examples-cli: no example objects in $B/examples"; fail=1; }
echo "examples-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
