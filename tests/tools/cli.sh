#!/usr/bin/env bash
# Tests of the `farjit` command line: run (assembly, raw, ELF; --mem, --ctx, --entry, --stats,
# --insn-limit), asm/disasm round trips, and the usage errors.  Ends with "cli: N passed, M failed".
set -u
build="${FJ_BUILD:-build/rel}"
F="$build/bin/farjit"
if [ ! -x "$F" ]; then
  echo "cli: $F not built"; echo "cli: 0 passed, 1 failed"; exit 1
fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# expect DESC WANT_RC WANT_STDOUT STDERR_SUBSTRING -- CMD...   (WANT_STDOUT '*' = anything)
expect() {
  local desc="$1" want_rc="$2" want_out="$3" want_err="$4"; shift 5
  local out rc
  out=$("$@" 2> "$t/stderr"); rc=$?
  if [ "$rc" != "$want_rc" ]; then bad "$desc: exit $rc, want $want_rc (stderr: $(head -c 300 "$t/stderr"))"; return; fi
  if [ "$want_out" != "*" ] && [ "$out" != "$want_out" ]; then bad "$desc: stdout '$out', want '$want_out'"; return; fi
  if [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$t/stderr"; then
    bad "$desc: stderr lacks '$want_err': $(head -c 300 "$t/stderr")"; return
  fi
  ok
}

# ---- usage ----
expect "no command" 2 "" "usage: farjit COMMAND" -- "$F"
expect "help" 0 "*" "" -- "$F" help
"$F" help | grep -q "^  plugin " && ok || bad "help does not list plugin"
expect "help run" 0 "*" "" -- "$F" help run
"$F" help run | grep -q -- "--insn-limit N" && ok || bad "help run does not list --insn-limit"
expect "unknown command" 2 "" "farjit: unknown command 'frob'" -- "$F" frob
expect "help of unknown command" 2 "" "unknown command 'frob'" -- "$F" help frob
expect "unknown option" 2 "" "farjit run: unknown option '--frob'" -- "$F" run --frob x.s
expect "missing value" 2 "" "option '--insn-limit' needs a value" -- "$F" run x.s --insn-limit
expect "bad number" 2 "" "--insn-limit: 'lots' is not a number" -- "$F" run x.s --insn-limit lots
expect "flag with value" 2 "" "option '--stats' takes no value" -- "$F" run x.s --stats=1
expect "two files" 2 "" "unexpected argument 'y.s'" -- "$F" run x.s y.s
expect "ctx and mem" 2 "" "--ctx and --mem are exclusive" -- "$F" run x.s --ctx a --mem 00

# ---- run ----
cat > "$t/sum.s" <<'EOF'
# r0 = r2 (memory length) + first byte + 0x10
mov %r0, %r2
jeq %r2, 0, done
ldxb %r3, [%r1]
add %r0, %r3
done:
add %r0, 0x10
exit
twice:          # second entry point
mov %r0, 21
lsh %r0, 1
exit
EOF
expect "run asm" 0 "0x10" "" -- "$F" run "$t/sum.s"
expect "run --mem" 0 "0x17" "" -- "$F" run "$t/sum.s" --mem "04  00 00"
expect "run --mem=" 0 "0x17" "" -- "$F" run "$t/sum.s" --mem=040000
printf '\x05\x01\x02\x03\x04' > "$t/ctx.bin"
expect "run --ctx" 0 "0x1a" "" -- "$F" run --ctx "$t/ctx.bin" "$t/sum.s"
expect "run --entry label" 0 "0x2a" "" -- "$F" run "$t/sum.s" --entry twice
expect "run --entry pc" 0 "0x2a" "" -- "$F" run "$t/sum.s" --entry 6
expect "run --entry main" 0 "0x10" "" -- "$F" run "$t/sum.s" --entry main
expect "run --entry unknown" 1 "" "no entry point 'nope'" -- "$F" run "$t/sum.s" --entry nope
expect "run --stats" 0 "0x10" "insns_interp 4" -- "$F" run "$t/sum.s" --stats
expect "run bad --mem" 1 "" "--mem: bad hex" -- "$F" run "$t/sum.s" --mem "0g"
expect "run missing file" 1 "" "$t/none.s: No such file" -- "$F" run "$t/none.s"

printf 'mov %%r0, 1\nmovv %%r0, 2\nexit\n' > "$t/bad.s"
expect "asm error names line" 1 "" "bad.s: line 2: unknown mnemonic 'movv'" -- "$F" run "$t/bad.s"
expect "asm error via asm" 1 "" "line 2: unknown mnemonic 'movv'" -- "$F" asm "$t/bad.s" -o "$t/bad.bin"

printf 'loop:\nadd %%r0, 1\nja loop\n' > "$t/loop.s"
expect "insn limit" 1 "" "budget" -- "$F" run "$t/loop.s" --insn-limit 100
printf 'ldxw %%r0, [%%r1+8]\nexit\n' > "$t/oob.s"
expect "out of bounds" 1 "" "out of bounds" -- "$F" run "$t/oob.s" --mem "00 00"
printf 'mov %%r0, 1\n' > "$t/noexit.s"
expect "invalid program" 1 "" "noexit.s:" -- "$F" run "$t/noexit.s"

# ---- asm / disasm ----
expect "asm -o" 0 "" "" -- "$F" asm "$t/sum.s" -o "$t/sum.bin"
[ "$(stat -c %s "$t/sum.bin")" = 72 ] && ok || bad "sum.bin is not 9 instructions"
expect "run bin" 0 "0x15" "" -- "$F" run "$t/sum.bin" --mem 04
"$F" asm - < "$t/sum.s" > "$t/stdin.bin" && cmp -s "$t/sum.bin" "$t/stdin.bin" && ok || bad "asm from stdin to stdout differs"
"$F" disasm "$t/sum.bin" > "$t/dis.s" && ok || bad "disasm failed"
grep -q "^jeq %r2, 0, L4$" "$t/dis.s" && ok || bad "disasm lacks the jump label: $(cat "$t/dis.s")"
"$F" asm "$t/dis.s" -o "$t/again.bin" && cmp -s "$t/sum.bin" "$t/again.bin" && ok || bad "disasm | asm is not the identity"
"$F" disasm "$t/sum.s" | grep -q "^twice:$" && ok || bad "disasm of assembly keeps labels"
"$F" disasm --pc "$t/sum.bin" | grep -q "# 8$" && ok || bad "disasm --pc"
printf '\x95\x00\x00' > "$t/short.bin"
expect "raw size" 1 "" "not a multiple of 8" -- "$F" run "$t/short.bin"
expect "asm usage" 2 "" "usage: farjit asm IN" -- "$F" asm
expect "plugin help" 0 "*" "" -- "$F" plugin --help

# ---- ELF objects ----
if command -v clang > /dev/null; then
  cat > "$t/prog.c" <<'EOF'
static unsigned long long table[4] = {1, 2, 3, 4};
__attribute__((noinline)) unsigned long long sum(unsigned long long n) {
  unsigned long long s = 0;
  for (unsigned long long i = 0; i < n && i < 4; i++) s += table[i];
  return s;
}
__attribute__((section("prog"))) unsigned long long entry(void *ctx) {
  (void)ctx;
  return sum(4) * 4 + 2;
}
__attribute__((section("prog2"))) unsigned long long other(void *ctx) {
  (void)ctx;
  return sum(2);
}
EOF
  if clang -target bpf -O2 -c "$t/prog.c" -o "$t/prog.o" 2> "$t/clang.err"; then
    expect "run ELF" 0 "0x2a" "" -- "$F" run "$t/prog.o"
    expect "run ELF --entry" 0 "0x3" "" -- "$F" run "$t/prog.o" --entry other
    expect "run ELF --entry unknown" 1 "" "no entry point 'nope'" -- "$F" run "$t/prog.o" --entry nope
    "$F" disasm "$t/prog.o" > "$t/elf.s" 2> "$t/stderr" && ok || bad "disasm ELF: $(cat "$t/stderr")"
    grep -q "^entry:$" "$t/elf.s" && grep -q "call local sum" "$t/elf.s" && ok || bad "disasm ELF lacks function labels: $(cat "$t/elf.s")"
    grep -q "^# reloc: lddw at pc" "$t/elf.s" && ok || bad "disasm ELF lacks the data relocation"
    "$F" asm "$t/elf.s" -o /dev/null && ok || bad "disasm ELF output does not assemble"
  else
    bad "clang -target bpf failed: $(cat "$t/clang.err")"
  fi
else
  echo "cli: SKIP ELF checks: clang not installed"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
