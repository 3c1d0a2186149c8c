#!/usr/bin/env bash
# Drives `farjit plugin` over every shared conformance case exactly as the public
# bpf_conformance runner does: argv[1] = the memory as hex with two spaces after every byte
# (empty when the case has none), argv[2] = the options string (empty), the program on stdin as
# one line of hex bytes each followed by two spaces; r0 is read from stdout as hex.  Compares
# all 64 bits of r0 with `-- result` (the public runner compares 32).  Programs come from
# `farjit asm` (or the `-- raw` words).  Ends with "plugin: N passed, M failed".
set -u
build="${FJ_BUILD:-build/rel}"
farjit="$build/bin/farjit"
shared="${FJ_SHARED:-../shared}"
if [ -d "$shared/conformance/tests" ]; then dir="$shared/conformance/tests"
elif [ -d "$shared/tests" ]; then dir="$shared/tests"
else
  echo "plugin: SKIP: no conformance data (looked in $shared/conformance; set \$FJ_SHARED)"
  exit 0
fi
if [ ! -x "$farjit" ]; then
  echo "plugin: $farjit not built"
  echo "plugin: 0 passed, 1 failed"
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

section() { # FILE NAME: the lines of section NAME
  awk -v want="$2" '/^-- /{ sec = substr($0, 4); next } sec == want' "$1"
}

two_spaces() { # bytes as hex words on stdin -> "xx  xx  ...  "
  tr -s ' \t\n' '\n\n\n' | awk 'NF { printf "%s  ", tolower($1) }'
}

raw_bytes() { # 64-bit words (0x...) on stdin -> little-endian byte hex, one per line
  while read -r w; do
    [ -z "$w" ] && continue
    case "$w" in \#*) continue ;; esac
    v=$(printf '%016x' "$w")
    for i in 14 12 10 8 6 4 2 0; do echo "${v:$i:2}"; done
  done
}

pass=0 fail=0
for f in "$dir"/*.data; do
  name=$(basename "$f")
  if [ -n "$(section "$f" raw)" ]; then
    prog=$(section "$f" raw | raw_bytes | two_spaces)
  else
    section "$f" asm > "$tmp/p.s"
    if ! "$farjit" asm "$tmp/p.s" -o "$tmp/p.bin" 2> "$tmp/err"; then
      echo "FAIL $name: assembler: $(cat "$tmp/err")"; fail=$((fail + 1)); continue
    fi
    prog=$(od -An -v -tx1 "$tmp/p.bin" | two_spaces)
  fi
  mem=$(section "$f" mem | two_spaces)
  expected=$(section "$f" result | awk 'NF && !/^#/ { print $1; exit }')
  want_error=$(section "$f" error | awk 'NF { print; exit }')

  out=$(printf '%s\n' "$prog" | "$farjit" plugin "$mem" "" 2> "$tmp/err")
  rc=$?
  if [ -n "$want_error" ]; then
    if [ $rc -ne 0 ]; then pass=$((pass + 1))
    else echo "FAIL $name: expected error '$want_error', got '$out'"; fail=$((fail + 1)); fi
    continue
  fi
  if [ $rc -ne 0 ]; then
    echo "FAIL $name: plugin exited $rc: $out $(cat "$tmp/err")"; fail=$((fail + 1)); continue
  fi
  if [[ ! "$out" =~ ^0x[0-9a-f]+$ ]]; then
    echo "FAIL $name: output '$out' is not one hex number"; fail=$((fail + 1)); continue
  fi
  if [ "$(printf '%x' "$out")" = "$(printf '%x' "$expected")" ]; then
    pass=$((pass + 1))
  else
    echo "FAIL $name: r0 = $out, expected $expected"; fail=$((fail + 1))
  fi
done

# The same program with the other argument conventions the README allows: no arguments at all
# when there is no memory, single spaces, no spaces.
check() { # DESCRIPTION EXPECTED_OUTPUT ARGS... (program on stdin)
  local desc="$1" want="$2"; shift 2
  local got; got=$("$farjit" plugin "$@" 2>/dev/null)
  if [ "$got" = "$want" ]; then pass=$((pass + 1)); else echo "FAIL plugin $desc: got '$got', want '$want'"; fail=$((fail + 1)); fi
}
# mov %r0, %r2; exit -> the memory length
len_prog="bf 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00"
# (here-strings, not pipes: check must run in this shell to count)
check "no arguments" 0x0 <<< "$len_prog"
check "no spaces" 0x3 "010203" <<< "${len_prog// /}"
check "single spaces" 0x2 "01 02" <<< "$len_prog"
check "newlines and tabs" 0x1 "ff" <<< $'bf 20 00 00 00 00 00 00\n95 00 00\t00 00 00 00 00'
check "options after the memory" 0x1 "ff" "--insn-limit 10" <<< "$len_prog"
# Helper 5 is uBPF's unwind: mov %r1, R; call 5; mov %r0, 2; exit stops with r0 = 0 when R = 0.
unwind_prog() { echo "b7 01 00 00 $1 00 00 00 85 00 00 00 05 00 00 00 b7 00 00 00 02 00 00 00 95 00 00 00 00 00 00 00"; }
check "unwind helper stops on 0" 0x0 <<< "$(unwind_prog 00)"
check "unwind helper continues otherwise" 0x2 <<< "$(unwind_prog 07)"
# Failures: message on stdout, non-zero status.
if out=$(echo "95 00 00" | "$farjit" plugin 2>/dev/null); then
  echo "FAIL plugin: truncated program accepted"; fail=$((fail + 1))
elif [ -z "$out" ]; then
  echo "FAIL plugin: no message for a truncated program"; fail=$((fail + 1))
else pass=$((pass + 1)); fi
# ldxdw %r0, [%r1+0] with no memory: out of bounds.
if out=$(echo "79 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00" | "$farjit" plugin "" "" 2>/dev/null); then
  echo "FAIL plugin: out-of-bounds load succeeded: $out"; fail=$((fail + 1))
elif [[ "$out" != *"out of bounds"* ]]; then
  echo "FAIL plugin: unexpected message '$out'"; fail=$((fail + 1))
else pass=$((pass + 1)); fi

echo "plugin: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
