#!/usr/bin/env bash
# `make bench-load`: farjitd under load on loopback, never part of pass/fail.
#
# For each worker-thread count and each number of concurrent clients (1, 8, 64) a fresh farjitd
# is started; farjit-load first sends only distinct 100-record traces (every request a cache
# miss, so a real compile), then repeats traces it already sent (every request a cache hit).
# Each client keeps one request in flight (a round trip per request; pipelining deeper only
# adds queueing to the latency).  Prints throughput and latency p50/p99 for both, and the
# server's peak RSS (VmHWM) over the pair.
# Loopback only; each run bounded in requests and seconds.
set -u
B="${1:-build/rel}"
TOTAL="${FJ_LOAD_TOTAL:-4000}"

run_pair() {  # threads clients
  local threads=$1 clients=$2 reqs=$(( TOTAL / $2 )) tmp
  [ "$reqs" -lt 20 ] && reqs=20
  tmp=$(mktemp -d /tmp/fj_bench.XXXXXX)
  "$B/bin/farjitd" --listen "unix:$tmp/d.sock" --threads "$threads" --max_inflight 64 \
    --log_level warn 2> "$tmp/log" &
  local pid=$!
  for _ in $(seq 100); do [ -S "$tmp/d.sock" ] && break; sleep 0.05; done
  local miss hit
  miss=$("$B/bin/farjit-load" --server "unix:$tmp/d.sock" --clients "$clients" --requests "$reqs" \
           --window 1 --trace-len 100 --distinct $(( clients * reqs )) --max-seconds 60)
  hit=$("$B/bin/farjit-load" --server "unix:$tmp/d.sock" --clients "$clients" --requests "$reqs" \
          --window 1 --trace-len 100 --distinct $(( clients * reqs )) --max-seconds 60)
  local hwm
  hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status" 2>/dev/null)
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  rm -rf "$tmp"
  for kind in miss hit; do
    local out=${!kind}
    local tput lat hits
    tput=$(sed -n 's/.*throughput \([0-9]*\) results\/s.*/\1/p' <<< "$out")
    lat=$(sed -n 's/.*latency ms p50 \([0-9.]*\) p99 \([0-9.]*\).*/\1 \2/p' <<< "$out")
    hits=$(sed -n 's/.*cache hits \([0-9]*\).*/\1/p' <<< "$out")
    printf "%7s %7s %5s %10s %9s %9s %10s %12s\n" "$threads" "$clients" "$kind" "$tput" \
      ${lat:-- -} "${hits:--}/$(( clients * reqs ))" "${hwm:--}"
  done
}

echo "farjitd load on loopback (100-record traces, one request in flight per client, $TOTAL per row)"
printf "%7s %7s %5s %10s %9s %9s %10s %12s\n" threads clients kind results/s p50_ms p99_ms \
  cache_hits peak_rss
for threads in 1 2; do
  for clients in 1 8 64; do run_pair "$threads" "$clients"; done
done
