#!/usr/bin/env bash
# The freestanding client core as Cortex-M4 firmware in QEMU (mps2-an386): builds
# $FJ_BUILD/arm/fw_test.elf and fw_test_switch.elf (the interpreter's switch dispatch;
# tests/arm/module.mk), prints the sizes of the core and of the firmware, and runs both under
# semihosting with a time limit (about 1 s each).  The firmware prints per-case
# failures, "arm-conformance: N passed, M failed" and "arm-examples: ..." and exits non-zero
# when anything failed.  FJ_ARM_VERBOSE=1 prints every case with its peak arena use.
# Fails with a clear message if QEMU or the Arm toolchain is missing.
set -u
cd "$(dirname "$0")/../.."
FJ_BUILD="${FJ_BUILD:-build/rel}"
QEMU=qemu-system-arm
missing=()
command -v "$QEMU" >/dev/null || missing+=("$QEMU (Debian package qemu-system-arm)")
command -v arm-none-eabi-gcc >/dev/null || missing+=("arm-none-eabi-gcc (gcc-arm-none-eabi, libnewlib-arm-none-eabi)")
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do echo "run_qemu: not installed: $m; tools/deps.sh installs it"; done
  echo "arm-conformance: 0 passed, 1 failed"
  exit 1
fi

# $FJ_BUILD is $(BUILD)/rel or $(BUILD)/san (top-level Makefile).
build_root=$(dirname "$FJ_BUILD")
san=()
[ "$(basename "$FJ_BUILD")" = san ] && san=(SAN=1)
if ! make --no-print-directory -s BUILD="$build_root" "${san[@]}" fj-arm-firmware; then
  echo "run_qemu: building the firmware failed"
  echo "arm-conformance: 0 passed, 1 failed"
  exit 1
fi
elf="$FJ_BUILD/arm/fw_test.elf"
if [ ! -d ../shared/conformance/tests ] && [ -z "${FJ_SHARED:-}" ]; then
  echo "run_qemu: no conformance data (../shared/conformance, \$FJ_SHARED): running tests/arm/cases and the examples only"
fi

echo "run_qemu: client core for Cortex-M4 (-Os), $FJ_BUILD/arm/lib/libfj_client.a:"
arm-none-eabi-size -t "$FJ_BUILD/arm/lib/libfj_client.a" | tail -n 1 | sed 's/^/  /'
echo "run_qemu: firmware (core + platform + test + examples + case bundle):"
arm-none-eabi-size "$elf" | sed 's/^/  /'

append=()
[ "${FJ_ARM_VERBOSE:-0}" = 1 ] && append=(-append -v)
status=0
# The interpreter with computed-goto dispatch (what GCC builds), then with its switch fallback.
for fw in fw_test fw_test_switch; do
  echo "run_qemu: == $FJ_BUILD/arm/$fw.elf"
  timeout 100 "$QEMU" -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$FJ_BUILD/arm/$fw.elf" "${append[@]}" 2>&1
  rc=$?
  if [ $rc -eq 124 ]; then
    echo "run_qemu: $fw: QEMU timed out after 100 s"
    echo "arm-conformance: 0 passed, 1 failed"
  fi
  [ $rc -ne 0 ] && status=$rc
done
exit $status
