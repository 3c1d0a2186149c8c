#!/usr/bin/env bash
# `farjit compile` end to end: in-process and through a real farjitd (TCP, Unix socket, TLS,
# PSK), and its error messages.  Starts its own farjitd on free loopback ports and stops it.
set -u
B="${FJ_BUILD:-build/rel}"
farjit="$B/bin/farjit" farjitd="$B/bin/farjitd"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
if [ ! -x "$farjit" ] || [ ! -x "$farjitd" ]; then
  echo "compile_cli: $farjit or $farjitd not built"
  echo "0 passed, 1 failed"
  exit 1
fi
work=$(mktemp -d /tmp/fj_cli.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$work"; }
trap cleanup EXIT

# A valid trace (farjit/trace.h): 48-byte header, then 20-byte records mov r0, 7; exit.
z4='\x00\x00\x00\x00'
printf "FJTR\x03\x00\x02\x00${z4}\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00${z4}${z4}"\
"\x02\x00\x00\x00\x02\x00\x00\x00${z4}${z4}"\
"\xb7\x00\x00\x00\x07\x00\x00\x00${z4}${z4}${z4}"\
"\x95\x00\x00\x00${z4}\x01\x00\x00\x00${z4}${z4}" > "$work/t.trace"
[ "$(stat -c %s "$work/t.trace")" -eq 88 ] || bad "trace file size"
head -c 30 "$work/t.trace" > "$work/short.trace"

( cd "$work" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=ca -keyout ca.key -out ca.pem &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout s.key -out s.csr &&
  openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out s.pem ) \
  >/dev/null 2>&1 || bad "openssl certificates"
echo "dev-1 00112233445566778899aabbccddeeff" > "$work/psk.txt"

"$farjitd" --listen tcp://127.0.0.1:0 --listen "unix:$work/d.sock" --listen tls://127.0.0.1:0 \
  --tls_cert "$work/s.pem" --tls_key "$work/s.key" --tls_psk_file "$work/psk.txt" \
  2> "$work/d.log" &
pid=$!
for _ in $(seq 100); do grep -q event=start "$work/d.log" && break; sleep 0.05; done
tcp=$(grep -o 'addr=tcp://127.0.0.1:[0-9]*' "$work/d.log" | sed 's|addr=tcp://||')
tlsport=$(grep -o 'addr=tls://127.0.0.1:[0-9]*' "$work/d.log" | sed 's|.*:||')
[ -n "$tcp" ] && [ -n "$tlsport" ] || bad "farjitd did not start: $(cat "$work/d.log")"
if grep -q 'compiler=yes' "$work/d.log"; then want=0; else want=1; fi

check() {  # name, expected exit (0/1), grep pattern for stderr, command...
  local name=$1 code=$2 pat=$3
  shift 3
  "$@" > "$work/out" 2>&1
  local rc=$?
  if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$work/out"; then ok "$name"
  else bad "$name (exit $rc): $(cat "$work/out")"; fi
}
if [ "$want" -eq 0 ]; then p="-byte blob for x86_64"; else p="built without the compiler"; fi
check "tcp" "$want" "$p" "$farjit" compile "$work/t.trace" --target x86_64 -o "$work/a.blob" --server "$tcp"
check "unix, cache hit" "$want" "${p/-byte blob for x86_64/(server cache hit)}" \
  "$farjit" compile "$work/t.trace" --target x86_64 -o "$work/b.blob" --server "unix:$work/d.sock"
check "tls" "$want" "$p" "$farjit" compile "$work/t.trace" --target x86_64 -o "$work/c.blob" \
  --server "localhost:$tlsport" --tls-ca "$work/ca.pem"
check "psk" "$want" "$p" "$farjit" compile "$work/t.trace" --target x86_64 -o "$work/d.blob" \
  --server "127.0.0.1:$tlsport" --psk-identity dev-1 --psk-hex 00112233445566778899aabbccddeeff
if [ "$want" -eq 0 ]; then
  if cmp -s "$work/a.blob" "$work/c.blob" && [ "$(head -c 4 "$work/a.blob")" = FJBL ]; then
    ok "blobs identical over TCP and TLS"; else bad "blobs differ"; fi
fi
check "wrong psk" 1 "FJ_ETLS\|FJ_ECONN" "$farjit" compile "$work/t.trace" --target x86_64 \
  -o "$work/e.blob" --server "127.0.0.1:$tlsport" --psk-identity dev-1 --psk-hex 01
check "short trace" 1 "shorter than its 48-byte header (FJ_EBADTRACE)" \
  "$farjit" compile "$work/short.trace" --target x86_64 -o "$work/f.blob" --server "$tcp"
check "no server" 1 "connection refused (FJ_ECONN)" \
  "$farjit" compile "$work/t.trace" --target x86_64 -o "$work/g.blob" --server 127.0.0.1:1
check "bad target" 2 "unknown target 'mips'" \
  "$farjit" compile "$work/t.trace" --target mips -o "$work/h.blob"
check "usage" 2 "usage: farjit compile" "$farjit" compile "$work/t.trace"
check "tls without server" 2 "TLS options need --server" \
  "$farjit" compile "$work/t.trace" --target x86_64 -o x --tls-ca "$work/ca.pem"
# In process: the compiler's answer if this farjit links it, a clear refusal otherwise.
"$farjit" compile "$work/t.trace" --target x86_64 -o "$work/l.blob" > "$work/out" 2>&1
rc=$?
if { [ $rc -eq 0 ] && [ "$(head -c 4 "$work/l.blob")" = FJBL ]; } ||
   { [ $rc -eq 1 ] && grep -q "without the compiler; use --server" "$work/out"; }; then
  ok "in-process"; else bad "in-process (exit $rc): $(cat "$work/out")"; fi

kill "$pid"; wait "$pid"; rc=$?; pid=""
if [ $rc -eq 0 ] && grep -q "event=exit status=0" "$work/d.log"; then ok "farjitd clean exit"
else bad "farjitd exit $rc"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
