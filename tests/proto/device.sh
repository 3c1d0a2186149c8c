#!/usr/bin/env bash
# The device side of the protocol builds as Cortex-M4 firmware: proto/frame.c (framing, only
# freestanding headers) and, when nanopb is installed, the nanopb code generated from
# proto/farjit.proto + farjit.options with nanopb's encoder/decoder.  Prints the code sizes.
set -u
cd "$(dirname "$0")/../.."
CC=arm-none-eabi-gcc
pass=0 fail=0
if ! command -v "$CC" >/dev/null; then
  echo "device: $CC not installed (tools/deps.sh installs gcc-arm-none-eabi)"
  echo "device: 0 passed, 1 failed"
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-std=c11 -Wall -Wextra -Werror -Os -mcpu=cortex-m4 -mthumb -ffreestanding -Iinclude -I.)
if $CC "${flags[@]}" -c proto/frame.c -o "$out/frame.o"; then pass=$((pass + 1))
else echo "device: FAILED to compile proto/frame.c"; fail=$((fail + 1)); fi
bad=$(grep -hE '^\s*#\s*include\s*<' proto/frame.c proto/frame.h proto/abi.h |
      grep -vE '<(stddef|stdint|stdbool|limits|string)\.h>' || true)
if [ -n "$bad" ]; then echo "device: non-freestanding include in proto/frame.*: $bad"; fail=$((fail + 1))
else pass=$((pass + 1)); fi
gen=$(command -v nanopb_generator.py || command -v nanopb_generator || true)
if [ -n "$gen" ] && [ -f /usr/include/pb.h ]; then
  mkdir -p "$out/inc" && cp /usr/include/pb.h "$out/inc/"  # not the host's other headers
  if "$gen" -q -D "$out" -f proto/farjit.options proto/farjit.proto &&
     $CC "${flags[@]}" -I"$out" -I"$out/inc" -c "$out/proto/farjit.pb.c" -o "$out/farjit.pb.o"; then
    pass=$((pass + 1))
  else
    echo "device: nanopb code for farjit.proto does not build for Cortex-M4"; fail=$((fail + 1))
  fi
else
  echo "device: nanopb not installed, generated code not checked"
fi
arm-none-eabi-size -t "$out"/*.o | sed "s|$out/||"
echo "device: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
