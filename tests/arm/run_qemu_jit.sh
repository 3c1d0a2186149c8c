#!/usr/bin/env bash
# The JIT end to end on the Cortex-M4 in QEMU (mps2-an386): builds $FJ_BUILD/arm/fw_jit.elf (the
# full client runtime + Thumb-2 layer; tests/arm/module.mk) with a replay table of blobs the real
# compiler made on the host (tests/arm/mkjit.c), and runs every conformance case, tests/arm/cases
# and example through the JIT (tests/arm/fw_jit.c).
#
# One pass: the table mkjit records on the host holds every trace the device submits, since traces
# hold no client address (trace format v2/v3, include/farjit/trace.h) and mkjit runs the VM in
# memory below 2^32 as the device does (entry_narrow).  A trace the device records and the table
# lacks fails its record ("recorders disagree"); fw_jit prints it as "arm-jit-trace: HEX", which
# mkjit takes as DEVICE_TRACES to compile the device's own trace when chasing such a bug.
# "arm-jit: N passed, M failed".  FJ_ARM_VERBOSE=1 prints every record.
set -u
cd "$(dirname "$0")/../.."
FJ_BUILD="${FJ_BUILD:-build/rel}"
QEMU=qemu-system-arm
for t in "$QEMU" arm-none-eabi-gcc; do
  if ! command -v "$t" >/dev/null; then
    echo "run_qemu_jit: not installed: $t; tools/deps.sh installs it"
    echo "arm-jit: 0 passed, 1 failed"
    exit 1
  fi
done
build_root=$(dirname "$FJ_BUILD")
san=()
[ "$(basename "$FJ_BUILD")" = san ] && san=(SAN=1)
out="$FJ_BUILD/arm/fw_jit.out"
append=()
[ "${FJ_ARM_VERBOSE:-0}" = 1 ] && append=(-append -v)
mkdir -p "$FJ_BUILD/arm"
if ! make --no-print-directory -s BUILD="$build_root" "${san[@]}" fj-arm-jit; then
  echo "run_qemu_jit: building the firmware failed"
  echo "arm-jit: 0 passed, 1 failed"
  exit 1
fi
timeout 100 "$QEMU" -M mps2-an386 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "$FJ_BUILD/arm/fw_jit.elf" "${append[@]}" >"$out" 2>&1
rc=$?
[ $rc -eq 124 ] && echo "run_qemu_jit: QEMU timed out after 100 s"
new=$(grep -c '^arm-jit-trace: ' "$out")
[ "$new" -ne 0 ] && echo "run_qemu_jit: $new trace(s) recorded on the device were not in the host's table (in $out)"
grep -v '^arm-jit-trace: ' "$out"
echo "run_qemu_jit: firmware $FJ_BUILD/arm/fw_jit.elf:"
arm-none-eabi-size "$FJ_BUILD/arm/fw_jit.elf" | sed 's/^/  /'
exit $rc
