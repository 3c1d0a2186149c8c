# tests/arm/module.mk — the client core as Cortex-M4 firmware, run in QEMU (owner: G).
#
# The freestanding core (every client_runtime/*.c, unchanged) and the bare-metal platform layer
# (client_runtime/cortexm/) are cross-compiled with arm-none-eabi-gcc into $(B)/arm/, linked with
# the firmware test (tests/arm/fw_test.c, fw_common.c), the examples compiled for the Cortex-M4
# and a case bundle the host builds with the project's assembler (tests/arm/mkbundle.c), into an
# ELF for QEMU's mps2-an386.  tests/arm/run_qemu.sh builds it (make fj-arm-firmware) and runs it;
# the firmware is not part of `all`, so a machine without the Arm toolchain still builds the rest.

FJ_ARM_CC   ?= arm-none-eabi-gcc
FJ_ARM_AR   ?= arm-none-eabi-ar
FJ_ARM_SIZE ?= arm-none-eabi-size
FJ_ARM_B    := $(B)/arm
FJ_ARM_CPU  := -mcpu=cortex-m4 -mthumb -mfloat-abi=soft
FJ_ARM_CFLAGS := -std=c11 -Wall -Wextra -Werror $(FJ_ARM_CPU) -Os -ffreestanding -g \
                 -ffunction-sections -fdata-sections -Iinclude -I.
FJ_ARM_LD   := client_runtime/cortexm/mps2_an386.ld
fj_arm_objs  = $(patsubst %.c,$(FJ_ARM_B)/obj/%.o,$(1))

FJ_ARM_CORE_SRCS := $(wildcard client_runtime/*.c)
FJ_ARM_PLAT_SRCS := $(wildcard client_runtime/cortexm/*.c)
FJ_ARM_EX_SRCS   := $(EXAMPLE_NAMES:%=examples/%.c) examples/catalog.c
FJ_ARM_CASES     := $(sort $(wildcard tests/arm/cases/*.data))

$(FJ_ARM_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FJ_ARM_CC) $(FJ_ARM_CFLAGS) $(FJ_ARM_DEFS) -MMD -MP -c $< -o $@

# The examples' native twins, renamed as examples/module.mk does for the host.
$(foreach n,$(EXAMPLE_NAMES),$(eval $(FJ_ARM_B)/obj/examples/$(n).o: FJ_ARM_DEFS = -Dfj_main=fj_native_$(n)))

# The core alone, as a library: its size is what a device pays for the VM.
$(FJ_ARM_B)/lib/libfj_client.a: $(call fj_arm_objs,$(FJ_ARM_CORE_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && $(FJ_ARM_AR) rcs $@ $^

# Host tool: the case bundle.
$(FJ_ARM_B)/mkbundle: $(call objs,tests/arm/mkbundle.c tests/conformance/data_file.c) \
                      $(B)/lib/libfj_tools.a $(B)/lib/libfj_examples.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

# Regenerated on every build (fj-arm-force): mkbundle leaves an unchanged bundle's timestamp alone.
$(FJ_ARM_B)/bundle.bin: $(FJ_ARM_B)/mkbundle $(EXAMPLE_BPF) fj-arm-force
	$(FJ_ARM_B)/mkbundle $@ $(EXAMPLE_DIR) $(FJ_ARM_CASES)

$(FJ_ARM_B)/obj/tests/arm/bundle.o: tests/arm/bundle.S $(FJ_ARM_B)/bundle.bin
	@mkdir -p $(dir $@)
	$(FJ_ARM_CC) $(FJ_ARM_CPU) -DFJ_BUNDLE_FILE='"$(abspath $(FJ_ARM_B)/bundle.bin)"' -c $< -o $@

FJ_ARM_FW_OBJS := $(call fj_arm_objs,tests/arm/fw_test.c tests/arm/fw_common.c $(FJ_ARM_PLAT_SRCS) \
                                $(FJ_ARM_EX_SRCS)) \
                  $(FJ_ARM_B)/obj/tests/arm/bundle.o

# newlib-nano supplies memcpy/memset/memcmp/strlen/strcmp, libgcc the 64-bit division; the
# startup code is ours (-nostartfiles).
$(FJ_ARM_B)/fw_test.elf: $(FJ_ARM_FW_OBJS) $(FJ_ARM_B)/lib/libfj_client.a $(FJ_ARM_LD)
	$(FJ_ARM_CC) $(FJ_ARM_CPU) -nostartfiles --specs=nano.specs -Wl,--gc-sections \
	  -Wl,-T,$(FJ_ARM_LD) -Wl,-Map,$(FJ_ARM_B)/fw_test.map -o $@ \
	  $(FJ_ARM_FW_OBJS) $(FJ_ARM_B)/lib/libfj_client.a -lc -lgcc

# The same firmware with the interpreter's switch dispatch (compilers without computed goto,
# as some embedded toolchains are): interp.c again with -DFJ_NO_COMPUTED_GOTO, linked ahead of
# the library so its interp.o is not pulled in.
$(FJ_ARM_B)/obj/client_runtime/interp_switch.o: client_runtime/interp.c
	@mkdir -p $(dir $@)
	$(FJ_ARM_CC) $(FJ_ARM_CFLAGS) -DFJ_NO_COMPUTED_GOTO -MMD -MP -c $< -o $@

$(FJ_ARM_B)/fw_test_switch.elf: $(FJ_ARM_FW_OBJS) $(FJ_ARM_B)/obj/client_runtime/interp_switch.o \
                                $(FJ_ARM_B)/lib/libfj_client.a $(FJ_ARM_LD)
	$(FJ_ARM_CC) $(FJ_ARM_CPU) -nostartfiles --specs=nano.specs -Wl,--gc-sections \
	  -Wl,-T,$(FJ_ARM_LD) -o $@ $(FJ_ARM_FW_OBJS) $(FJ_ARM_B)/obj/client_runtime/interp_switch.o \
	  $(FJ_ARM_B)/lib/libfj_client.a -lc -lgcc

.PHONY: fj-arm-firmware fj-arm-force
fj-arm-force: ;
fj-arm-firmware: $(FJ_ARM_B)/fw_test.elf $(FJ_ARM_B)/fw_test_switch.elf

TEST_SCRIPTS += tests/arm/run_qemu.sh

# The platform's allocator on the host (it is plain C): cmocka unit test.
$(B)/tests/test_arm_arena: $(call objs,tests/arm/test_arena.c client_runtime/cortexm/arena.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
TEST_BINS += $(B)/tests/test_arm_arena

-include $(shell find $(FJ_ARM_B)/obj -name '*.d' 2>/dev/null)

# ---- the JIT on the device (owner: I): tests/arm/fw_jit.c --------------------------------------
# The full client runtime with the Thumb-2 target layer (-DFJ_ARCH_THUMB: arch_none.c steps
# aside), in its own object tree; a replay table of host-compiled blobs for the same bundle
# (tests/arm/mkjit.c, client_runtime/cortexm/replay.h) linked into flash.
FJ_ARM_JB        := $(FJ_ARM_B)/jit
FJ_ARM_JIT_DEFS  := -DFJ_ARCH_THUMB -DFJ_CM_ARENA_SIZE=98304u
FJ_ARM_JIT_SRCS  := $(FJ_ARM_CORE_SRCS) $(wildcard client_runtime/thumb/*.c) $(FJ_ARM_PLAT_SRCS) \
                    $(FJ_ARM_EX_SRCS) tests/arm/fw_jit.c tests/arm/fw_common.c

$(FJ_ARM_JB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FJ_ARM_CC) $(FJ_ARM_CFLAGS) $(FJ_ARM_JIT_DEFS) $(FJ_ARM_DEFS) -MMD -MP -c $< -o $@
$(foreach n,$(EXAMPLE_NAMES),$(eval $(FJ_ARM_JB)/obj/examples/$(n).o: FJ_ARM_DEFS = -Dfj_main=fj_native_$(n)))

$(FJ_ARM_B)/mkjit: $(call objs,tests/arm/mkjit.c) $(B)/lib/libfj_codegen.a $(B)/lib/libfj_examples.a \
                   $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lm

# Recorded on the host only: host and device record the same traces (tests/arm/mkjit.c).
$(FJ_ARM_B)/jit_table.bin: $(FJ_ARM_B)/mkjit $(FJ_ARM_B)/bundle.bin
	$(FJ_ARM_B)/mkjit $@ $(FJ_ARM_B)/bundle.bin

$(FJ_ARM_JB)/obj/tests/arm/jit_table.o: tests/arm/jit_table.S $(FJ_ARM_B)/jit_table.bin
	@mkdir -p $(dir $@)
	$(FJ_ARM_CC) $(FJ_ARM_CPU) -DFJ_JIT_TABLE_FILE='"$(abspath $(FJ_ARM_B)/jit_table.bin)"' -c $< -o $@

FJ_ARM_JIT_OBJS := $(patsubst %.c,$(FJ_ARM_JB)/obj/%.o,$(FJ_ARM_JIT_SRCS)) \
                   $(FJ_ARM_B)/obj/tests/arm/bundle.o $(FJ_ARM_JB)/obj/tests/arm/jit_table.o

$(FJ_ARM_B)/fw_jit.elf: $(FJ_ARM_JIT_OBJS) $(FJ_ARM_LD)
	$(FJ_ARM_CC) $(FJ_ARM_CPU) -nostartfiles --specs=nano.specs -Wl,--gc-sections \
	  -Wl,-T,$(FJ_ARM_LD) -Wl,-Map,$(FJ_ARM_B)/fw_jit.map -o $@ $(FJ_ARM_JIT_OBJS) -lc -lgcc

.PHONY: fj-arm-jit
fj-arm-jit: $(FJ_ARM_B)/fw_jit.elf
TEST_SCRIPTS += tests/arm/run_qemu_jit.sh
-include $(shell find $(FJ_ARM_JB)/obj -name '*.d' 2>/dev/null)
