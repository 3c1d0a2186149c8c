#!/usr/bin/env bash
# `make bench` part: start farjitd on a free loopback port, drive it with farjit-load, stop it.
# Loopback only, bounded in requests and time.  Never part of pass/fail.
set -u
B="${1:-build/rel}"
log=$(mktemp /tmp/fj_bench.XXXXXX)
"$B/bin/farjitd" --listen tcp://127.0.0.1:0 --threads 2 --max_inflight 16 --log_level warn \
  --listen "unix:$log.sock" 2> "$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log" "$log.sock"' EXIT
for _ in $(seq 100); do [ -S "$log.sock" ] && break; sleep 0.05; done
"$B/bin/farjit-load" --server "unix:$log.sock" --clients 50 --requests 200 --distinct 1000 \
  --max-seconds 60
"$B/bin/farjit-load" --server "unix:$log.sock" --clients 200 --requests 50 --distinct 10 \
  --max-seconds 60
