#!/usr/bin/env bash
# The farjit CLI through a real farjitd (started here on a Unix socket and a TLS port with a
# fresh CA, certificate and PSK; stopped at the end):
#   - every shared conformance case through `farjit plugin --server ... --jit-threshold 0
#     --jit-wait 5000` gives the expected result or error (the loops run machine code);
#   - every example program through `farjit run --jit-wait` over TLS (--tls-ca) and TLS-PSK
#     (--psk-identity/--psk-hex) gives the --no-jit answer, with traces installed;
#   - bad TLS settings (wrong PSK, TLS options without --server) fail as they should, and the
#     program still runs (a wrong key only means no JIT);
#   - the embedded server (no --server) and a dead server leave no process behind.
# Ends with "e2e-cli: N passed, M failed".
set -u
B="${FJ_BUILD:-build/rel}"
farjit="$B/bin/farjit" farjitd="$B/bin/farjitd"
shared="${FJ_SHARED:-../shared}"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
finish() { echo "e2e-cli: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }
if [ ! -x "$farjit" ] || [ ! -x "$farjitd" ]; then
  bad "$farjit or $farjitd not built"; finish
fi
if [ "$(uname -m)" != x86_64 ]; then echo "e2e-cli: skip (machine code runs on x86-64 only)"; finish; fi
work=$(mktemp -d /tmp/fj_e2e_cli.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$work"; }
trap cleanup EXIT

( cd "$work" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=ca -keyout ca.key -out ca.pem &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout s.key -out s.csr &&
  openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out s.pem ) \
  >/dev/null 2>&1 || bad "openssl certificates"
psk=00112233445566778899aabbccddeeff
echo "dev-1 $psk" > "$work/psk.txt"

"$farjitd" --listen "unix:$work/d.sock" --listen tls://127.0.0.1:0 --threads 1 \
  --tls_cert "$work/s.pem" --tls_key "$work/s.key" --tls_psk_file "$work/psk.txt" \
  2> "$work/d.log" &
pid=$!
for _ in $(seq 200); do grep -q event=start "$work/d.log" && break; sleep 0.05; done
tlsport=$(grep -o 'addr=tls://127.0.0.1:[0-9]*' "$work/d.log" | sed 's|.*:||')
[ -n "$tlsport" ] || { bad "farjitd did not start: $(cat "$work/d.log")"; finish; }
unix="unix:$work/d.sock"

# ---- conformance through `farjit plugin` ------------------------------------------------------
hexbytes() { tr -s ' \t\n' '\n\n\n' | awk 'NF { printf "%s ", tolower($1) }'; }
raw_bytes() {
  while read -r w; do
    [ -z "$w" ] && continue
    case "$w" in \#*) continue ;; esac
    v=$(printf '%016x' "$w")
    for i in 14 12 10 8 6 4 2 0; do echo "${v:$i:2}"; done
  done
}
if [ -d "$shared/conformance/tests" ]; then dir="$shared/conformance/tests"
elif [ -d "$shared/tests" ]; then dir="$shared/tests"
else dir=""; echo "e2e-cli: no conformance data (set FJ_SHARED); skipping that part"; fi
cases=0 native_cases=0
for f in ${dir:+"$dir"/*.data}; do
  name=$(basename "$f")
  # one pass over the file: every section into its own file
  rm -f "$work"/sec.*
  awk -v d="$work" '/^-- /{ sec = substr($0, 4); gsub(/ /, "_", sec); next } sec != "" { print > (d "/sec." sec) }' "$f"
  if [ -s "$work/sec.raw" ]; then prog=$(raw_bytes < "$work/sec.raw" | hexbytes)
  else
    "$farjit" asm "$work/sec.asm" -o "$work/p.bin" 2>/dev/null || continue  # plugin.sh covers these
    prog=$(od -An -v -tx1 "$work/p.bin" | hexbytes)
  fi
  mem=$( [ -f "$work/sec.mem" ] && hexbytes < "$work/sec.mem")
  expected=$( [ -f "$work/sec.result" ] && awk 'NF && !/^#/ { print $1; exit }' "$work/sec.result")
  out=$(printf '%s\n' "$prog" | "$farjit" plugin "$mem" --server "$unix" --jit-threshold 0 \
        --jit-wait 5000 --stats 2> "$work/stats")
  rc=$?
  cases=$((cases + 1))
  if [ -s "$work/sec.error" ]; then
    if [ $rc -ne 0 ]; then ok; else bad "plugin $name: expected an error, got '$out'"; fi
  elif [ $rc -eq 0 ] && [[ "$out" =~ ^0x[0-9a-f]+$ ]] && [ "$(printf '%x' "$out")" = "$(printf '%x' "$expected")" ]; then ok
  else bad "plugin $name: '$out' (exit $rc), expected $expected"; fi
  n=$(awk '/^insns_native/ { print $2 }' "$work/stats")
  [ -n "${FJ_E2E_VERBOSE:-}" ] && echo "$name native ${n:-?} out $out"
  [ "${n:-0}" -gt 0 ] && native_cases=$((native_cases + 1))
done
if [ -n "$dir" ]; then
  # one run each: straight-line cases are recorded while they run, so only loops get to run
  # machine code in the same run
  echo "e2e-cli: $cases conformance cases through farjit plugin, $native_cases ran machine code"
  if [ "$native_cases" -ge 1 ]; then ok; else bad "no case ran machine code"; fi
fi

# ---- examples through `farjit run` over TLS and PSK -------------------------------------------
native_bin="$B/bin/fj_examples_native"
for ex in crc32 hashtab sort mix matmul loopcb; do
  obj="$B/examples/$ex.o"
  [ -f "$obj" ] && [ -x "$native_bin" ] || { bad "$obj or $native_bin not built"; continue; }
  "$native_bin" --raw "$ex" > "$work/$ex.in"
  want=$("$farjit" run "$obj" --ctx "$work/$ex.in" --entry fj_main --no-jit)
  for mode in tls psk; do
    if [ $mode = tls ]; then sec=(--server "localhost:$tlsport" --tls-ca "$work/ca.pem")
    else sec=(--server "127.0.0.1:$tlsport" --psk-identity dev-1 --psk-hex "$psk"); fi
    got=$("$farjit" run "$obj" --ctx "$work/$ex.in" --entry fj_main --jit-wait 5000 --stats \
          "${sec[@]}" 2> "$work/stats")
    inst=$(awk '/^jit: traces_installed/ { print $3 }' "$work/stats")
    if [ "$got" = "$want" ] && [ "${inst:-0}" -gt 0 ]; then ok
    else bad "run $ex over $mode: '$got' (want '$want'), $inst traces installed"; fi
  done
done

# ---- wrong settings ---------------------------------------------------------------------------
obj="$B/examples/crc32.o"
want=$("$farjit" run "$obj" --ctx "$work/crc32.in" --entry fj_main --no-jit)
got=$("$farjit" run "$obj" --ctx "$work/crc32.in" --entry fj_main --jit-wait 300 --stats \
      --server "127.0.0.1:$tlsport" --psk-identity dev-1 --psk-hex 01 2> "$work/stats")
conn=$(awk '/^jit: server connects/ { print $4 }' "$work/stats" | tr -d ,)
if [ "$got" = "$want" ] && [ "${conn:-1}" = 0 ]; then ok; else bad "wrong PSK: '$got', connects '$conn'"; fi
"$farjit" run "$obj" --tls-ca "$work/ca.pem" > /dev/null 2> "$work/err"
if [ $? -eq 2 ] && grep -q "TLS options need --server" "$work/err"; then ok; else bad "TLS without --server: $(cat "$work/err")"; fi
"$farjit" run "$obj" --server "$unix" --psk-identity x > /dev/null 2> "$work/err"
if [ $? -eq 2 ] && grep -q "psk-identity with --psk-hex" "$work/err"; then ok; else bad "PSK without key: $(cat "$work/err")"; fi
"$farjit" run "$obj" --jit-wait x > /dev/null 2> "$work/err"
if [ $? -eq 2 ] && grep -q "jit-wait" "$work/err"; then ok; else bad "--jit-wait x: $(cat "$work/err")"; fi

# ---- --save-traces: every trace sent is a file `farjit compile` and `farjit dump` take --------
got=$("$farjit" run "$obj" --ctx "$work/crc32.in" --entry fj_main --jit-wait 5000 --stats \
      --server "$unix" --save-traces "$work/traces" 2> "$work/stats")
sent=$(awk '/^jit: traces_sent/ { print $3 }' "$work/stats")
nfiles=$(ls "$work/traces" 2>/dev/null | grep -c '\.trace$')
if [ "$got" = "$want" ] && [ "${sent:-0}" -gt 0 ] && [ "$nfiles" = "$sent" ]; then ok
else bad "--save-traces: '$got', $sent sent, $nfiles files: $(ls "$work/traces" 2>&1)"; fi
tf=$(ls "$work/traces" 2>/dev/null | grep '\.trace$' | head -1)
tpc=$(echo "$tf" | sed -n 's/^[a-z]*-\([0-9]*\)-[0-9]*\.trace$/\1/p')
if [ -n "$tpc" ] && "$farjit" compile "$work/traces/$tf" --target x86_64 -o "$work/t.blob" 2> "$work/err" &&
   "$farjit" dump "$work/t.blob" > "$work/dump" 2>&1 && grep -q "start pc $tpc," "$work/dump"; then ok
else bad "saved trace '$tf' (pc '$tpc') through compile and dump: $(cat "$work/err" "$work/dump" 2>&1 | head -5)"; fi

# ---- embedded server and a dead one: same answer, no process left ----------------------------
got=$("$farjit" run "$obj" --ctx "$work/crc32.in" --entry fj_main --jit-wait 5000 --stats \
      --trace-log 2> "$work/stats")
inst=$(awk '/^jit: traces_installed/ { print $3 }' "$work/stats")
if [ "$got" = "$want" ] && [ "${inst:-0}" -gt 0 ]; then ok; else bad "embedded farjitd: '$got', $inst installed"; fi
sock=$(grep -o 'on unix:/tmp/farjit-[^ ]*' "$work/stats" | head -1 | sed 's|on unix:||')
if [ -n "$sock" ] && ! pgrep -f -- "$sock" > /dev/null && [ ! -e "$(dirname "$sock")" ]; then ok
else bad "embedded farjitd ($sock) still running or its directory left"; fi
start=$(date +%s%N)
got=$("$farjit" run "$obj" --ctx "$work/crc32.in" --entry fj_main --jit-wait 2000 --stats \
      --server "unix:$work/nobody.sock" 2> "$work/stats")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
to=$(awk '/^jit: send_failed/ { print $3 }' "$work/stats")
if [ "$got" = "$want" ] && [ "${to:-0}" -gt 0 ] && [ "$ms" -lt 4000 ]; then ok
else bad "dead server: '$got', send_failed $to, ${ms} ms (one bounded wait)"; fi

kill "$pid"; wait "$pid"; rc=$?; pid=""
if [ $rc -eq 0 ]; then ok; else bad "farjitd exit $rc"; fi
finish
