#!/usr/bin/env bash
# The client core must build as Cortex-M4 firmware: compile every client_runtime/*.c with
# arm-none-eabi-gcc -ffreestanding (no libc headers beyond the freestanding set are usable in
# practice: the core only includes stddef/stdint/stdbool/limits/string), print code sizes, and
# report one pass per file.  Fails if a file does not compile or the toolchain is missing.
set -u
cd "$(dirname "$0")/../.."
CC=arm-none-eabi-gcc
if ! command -v "$CC" >/dev/null; then
  echo "freestanding: $CC not installed (tools/deps.sh installs gcc-arm-none-eabi)"
  echo "freestanding: 0 passed, 1 failed"
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pass=0 fail=0 objs=()
for src in client_runtime/*.c; do
  obj="$out/$(basename "${src%.c}").o"
  if $CC -std=c11 -Wall -Wextra -Werror -Os -mcpu=cortex-m4 -mthumb -ffreestanding \
       -Iinclude -I. -c "$src" -o "$obj"; then
    pass=$((pass + 1)); objs+=("$obj")
  else
    echo "freestanding: FAILED to compile $src"
    fail=$((fail + 1))
  fi
done
# Only the freestanding set of libc headers may appear in the core.
for src in client_runtime/*.c client_runtime/*.h; do
  bad=$(grep -E '^\s*#\s*include\s*<' "$src" |
        grep -vE '<(stddef|stdint|stdbool|limits|string)\.h>' || true)
  if [ -n "$bad" ]; then
    echo "freestanding: $src includes a non-freestanding header: $bad"
    fail=$((fail + 1))
  fi
done
if [ ${#objs[@]} -gt 0 ]; then
  arm-none-eabi-size -t "${objs[@]}" | sed "s|$out/||"
fi
echo "freestanding: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
