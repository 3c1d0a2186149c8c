#!/usr/bin/env bash
# `farjit compile` + `farjit dump` on a loop trace: the dump shows a valid blob, its exits,
# the IR dumps and an annotated disassembly; a corrupted blob is reported invalid (exit 1).
set -u
B="${FJ_BUILD:-build/rel}"
FARJIT="$B/bin/farjit"
if [ ! -x "$FARJIT" ] || [ ! -x "$B/tests/codegen/test_compile" ]; then
  echo "dump.sh: SKIP: farjit or test_compile not built"; echo "0 passed, 0 failed"; exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

FJ_CG_SAMPLE="$dir" "$B/tests/codegen/test_compile"
check "sample trace written" '[ -s "$dir/loop.trace" ]'
"$FARJIT" compile "$dir/loop.trace" --target x86_64 --dump -o "$dir/loop.blob"
check "compile --dump" '[ -s "$dir/loop.blob" ]'
"$FARJIT" dump "$dir/loop.blob" > "$dir/out.txt"; rc=$?
check "dump exits 0" '[ $rc -eq 0 ]'
check "dump says valid" 'grep -q "bytes, valid" "$dir/out.txt"'
check "dump lists exits" 'grep -Eq "^  +[0-9]+  (guard|budget) " "$dir/out.txt"'
check "dump shows IR" 'grep -q "IR after optimization" "$dir/out.txt" && grep -q "LOOP" "$dir/out.txt"'
check "dump shows the register allocation" 'grep -q "regalloc" "$dir/out.txt"'
check "dump annotates the entry" 'grep -q "^entry:" "$dir/out.txt"'
check "dump annotates patch sites" 'grep -q "patch site" "$dir/out.txt"'
check "dump disassembles" 'grep -q "push *rbp" "$dir/out.txt"'
printf '\xf4' | dd of="$dir/loop.blob" bs=1 seek=112 conv=notrunc 2>/dev/null  # first code byte
"$FARJIT" dump "$dir/loop.blob" > "$dir/bad.txt"; rc=$?
check "corrupt blob rejected" '[ $rc -eq 1 ] && grep -q "CRC" "$dir/bad.txt"'
# Thumb-2 blobs disassemble in Cortex-M mode (when this build has the Thumb backend).
if "$FARJIT" compile "$dir/loop.trace" --target thumbv7em -o "$dir/loop_t.blob" 2>/dev/null; then
  "$FARJIT" dump "$dir/loop_t.blob" > "$dir/t.txt"; rc=$?
  check "thumb dump valid" '[ $rc -eq 0 ] && grep -q "target thumbv7em" "$dir/t.txt"'
  check "thumb disassembly" 'grep -q "push.w" "$dir/t.txt"'
fi
"$FARJIT" dump --help > /dev/null; rc=$?
check "dump --help" '[ $rc -eq 0 ]'
echo "dump: $pass passed, $fail failed"
[ $fail -eq 0 ]
