# bench/cortexm/module.mk — `make bench-cortexm`: Thumb instructions of the interpreter on a
# Cortex-M4 (Unicorn's CPU model) against the same example C compiled natively (owner: G).
# Never part of `make test`; see bench/cortexm/README.md.
#
# Four bench images (bench/cortexm/image.c + the client core + arena allocator + examples):
# everything at -O2, at -Os (the firmware's level), and at -O2 with the interpreter's switch
# dispatch, and "jit": -O2 with the client JIT runtime and the Thumb-2 layer (-DFJ_ARCH_THUMB
# -DFJ_BENCH_JIT), linked with the firmware's linker script; bench_cortexm (host, libunicorn) loads them
# and counts instructions.
# This file is read before examples/module.mk: the example list comes from examples/catalog.h.

FJ_BCM_B        := $(B)/bench-cortexm
fj_bcm_lp       := (
FJ_BCM_EXAMPLES := $(shell sed -n 's/^ *_$(fj_bcm_lp)\([a-z0-9_]*\), .*/\1/p' examples/catalog.h)
FJ_BCM_SRCS     := $(wildcard client_runtime/*.c) client_runtime/cortexm/arena.c \
                   bench/cortexm/image.c examples/catalog.c $(FJ_BCM_EXAMPLES:%=examples/%.c)
FJ_BCM_ARM_CC   ?= arm-none-eabi-gcc
FJ_BCM_CFLAGS   := -std=c11 -Wall -Wextra -Werror -mcpu=cortex-m4 -mthumb -mfloat-abi=soft \
                   -ffreestanding -ffunction-sections -fdata-sections -g -Iinclude -I.
FJ_BCM_CALLS    := fj_bench_reset_input fj_bench_interp fj_bench_native fj_bench_status \
                   fj_bench_ebpf_insns

# $(1): image name, $(2): compiler flags for it, $(3): extra sources, $(4): extra -u symbols.
define fj_bcm_level
$(FJ_BCM_B)/$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$(FJ_BCM_ARM_CC) $(FJ_BCM_CFLAGS) $(2) $$(FJ_BCM_DEFS) -MMD -MP -c $$< -o $$@

$(foreach n,$(FJ_BCM_EXAMPLES),
$(FJ_BCM_B)/$(1)/obj/examples/$(n).o: FJ_BCM_DEFS = -Dfj_main=fj_native_$(n))

$(FJ_BCM_B)/image-$(1).elf: $(patsubst %.c,$(FJ_BCM_B)/$(1)/obj/%.o,$(FJ_BCM_SRCS) $(3)) \
                            client_runtime/cortexm/mps2_an386.ld
	$(FJ_BCM_ARM_CC) -mcpu=cortex-m4 -mthumb -mfloat-abi=soft -nostartfiles --specs=nano.specs \
	  -Wl,--gc-sections -Wl,-e,fj_bench_setup $(FJ_BCM_CALLS:%=-Wl,-u,%) $(4:%=-Wl,-u,%) \
	  -Wl,-T,client_runtime/cortexm/mps2_an386.ld -o $$@ \
	  $(patsubst %.c,$(FJ_BCM_B)/$(1)/obj/%.o,$(FJ_BCM_SRCS) $(3)) -lc -lgcc
endef
$(eval $(call fj_bcm_level,O2,-O2))
$(eval $(call fj_bcm_level,Os,-Os))
$(eval $(call fj_bcm_level,O2sw,-O2 -DFJ_NO_COMPUTED_GOTO))
$(eval $(call fj_bcm_level,jit,-O2 -DFJ_ARCH_THUMB -DFJ_BENCH_JIT,$(wildcard client_runtime/thumb/*.c),fj_bench_jit_attach fj_bench_jit fj_bench_jit_stat fj_bench_jit_report fj_bench_compile))

$(B)/obj/bench/cortexm/bench_cortexm.o: CFLAGS += \
  -DFJ_EXAMPLES_DIR='"$(abspath $(B)/examples)"' \
  -DFJ_BENCH_IMAGE_O2='"$(abspath $(FJ_BCM_B)/image-O2.elf)"' \
  -DFJ_BENCH_IMAGE_OS='"$(abspath $(FJ_BCM_B)/image-Os.elf)"' \
  -DFJ_BENCH_IMAGE_O2SW='"$(abspath $(FJ_BCM_B)/image-O2sw.elf)"' \
  -DFJ_BENCH_IMAGE_JIT='"$(abspath $(FJ_BCM_B)/image-jit.elf)"'
$(B)/bin/bench_cortexm: $(call objs,bench/cortexm/bench_cortexm.c) $(B)/lib/libfj_examples.a \
                        $(B)/lib/libfj_codegen.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) -lunicorn -lmbedcrypto -lm

.PHONY: bench-cortexm
bench-cortexm: $(B)/bin/bench_cortexm $(FJ_BCM_B)/image-O2.elf $(FJ_BCM_B)/image-Os.elf \
               $(FJ_BCM_B)/image-O2sw.elf $(FJ_BCM_B)/image-jit.elf \
               $(FJ_BCM_EXAMPLES:%=$(B)/examples/%.o)
	$(B)/bin/bench_cortexm $(BENCH_ARGS)

BENCHES += bench-cortexm

-include $(shell find $(FJ_BCM_B) -name '*.d' 2>/dev/null)
