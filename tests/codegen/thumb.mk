# tests/codegen/thumb.mk — the Thumb-2 backend's tests (owner: E).
#
# test_thumb_encode: golden bytes of every encoder in codegen/thumb/emit_thumb.h, checked with
# capstone 4 (Cortex-M mode).
# test_thumb_rt: the client-side 64-bit division routines (client_runtime/thumb/), built for the
# host and, with arm-none-eabi-gcc, for Cortex-M4 and run in Unicorn.

$(B)/tests/test_thumb_encode: $(call objs,tests/codegen/test_thumb_encode.c)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) -lcmocka -lcapstone

TEST_BINS += $(B)/tests/test_thumb_encode

# The client runtime for Cortex-M4, linked at the harness's runtime address (FJ_UCT_RT + 0x8000).
THUMB_RT_SRCS := client_runtime/thumb/div64.c client_runtime/thumb/arch_thumb.c
THUMB_CC ?= arm-none-eabi-gcc
THUMB_RT_DIR := $(B)/tests/thumb_rt
$(THUMB_RT_DIR)/rt.elf: $(THUMB_RT_SRCS) client_runtime/thumb/div64.h client_runtime/thumb/arch_thumb.h
	@mkdir -p $(dir $@)
	$(THUMB_CC) -mcpu=cortex-m4 -mthumb -O2 -std=c11 -Wall -Wextra -Werror -ffreestanding -nostdlib -DFJ_ARCH_THUMB \
	  -Iinclude -I. -Wl,-Ttext=0x30008000 -Wl,-e,0 $(THUMB_RT_SRCS) -o $@
$(THUMB_RT_DIR)/rt.bin: $(THUMB_RT_DIR)/rt.elf
	arm-none-eabi-objcopy -O binary -j .text $< $@
$(THUMB_RT_DIR)/rt.sym: $(THUMB_RT_DIR)/rt.elf
	arm-none-eabi-nm $< > $@

$(B)/obj/tests/codegen/uc_thumb.o: CFLAGS += -DFJ_UCT_RT_BIN='"$(abspath $(THUMB_RT_DIR))/rt.bin"' \
                                            -DFJ_UCT_RT_SYM='"$(abspath $(THUMB_RT_DIR))/rt.sym"'
UC_THUMB_OBJS := $(call objs,tests/codegen/uc_thumb.c client_runtime/thumb/div64.c)

$(B)/tests/test_thumb_rt: $(call objs,tests/codegen/test_thumb_rt.c codegen/blob_write.c) \
                          $(UC_THUMB_OBJS) $(B)/lib/libfj_client.a | $(THUMB_RT_DIR)/rt.bin $(THUMB_RT_DIR)/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) -lcmocka -lunicorn

TEST_BINS += $(B)/tests/test_thumb_rt

# A second copy of the compile driver that compiles thumbv7em without the IR's 32-bit knowledge,
# its entry points renamed (*_wide), for test_thumb_size.
THUMB_COMPILE_WIDE_OBJ := $(B)/obj/tests/codegen/thumb_compile_wide.o
THUMB_WIDE_RENAMES := $(foreach f,fj_backend_get fj_cg_exits_build fj_cg_free fj_codegen_compile \
                        fj_codegen_result_free fj_codegen_supports,-D$(f)=$(f)_wide) \
                      -Dfj_backend_thumbv7em=fj_backend_thumbv7em_wide
$(THUMB_COMPILE_WIDE_OBJ): codegen/compile.c | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(THUMB_WIDE_RENAMES) -MMD -MP -c $< -o $@

# Differential tests: interpreter (libfj_client) vs Thumb-2 traces run in Unicorn.
THUMB_DIFF_OBJS := $(call objs,tests/codegen/diffrun.c tests/codegen/diffrun_thumb.c tests/codegen/gen.c) \
                   $(UC_THUMB_OBJS)
THUMB_DIFF_LIBS := $(B)/lib/libfj_codegen.a $(B)/lib/libfj_tools.a $(B)/lib/libfj_client_linux.a \
                   $(B)/lib/libfj_client.a

$(B)/tests/test_thumb_diff: $(call objs,tests/codegen/test_thumb_diff.c tests/codegen/diffrun_random.c) \
                            $(THUMB_DIFF_OBJS) \
                            $(THUMB_DIFF_LIBS) | $(THUMB_RT_DIR)/rt.bin $(THUMB_RT_DIR)/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lcapstone -lunicorn

$(B)/tests/test_thumb_conf: $(call objs,tests/codegen/test_thumb_conf.c tests/codegen/diffrun_conf.c \
                            tests/conformance/data_file.c) \
                            $(THUMB_DIFF_OBJS) $(THUMB_DIFF_LIBS) | $(THUMB_RT_DIR)/rt.bin $(THUMB_RT_DIR)/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lcapstone -lunicorn

TEST_BINS += $(B)/tests/test_thumb_diff $(B)/tests/test_thumb_conf

# What the IR's 32-bit knowledge saves in code size (and that the code without it is right too).
$(B)/tests/test_thumb_size: $(call objs,tests/codegen/test_thumb_size.c tests/conformance/data_file.c) \
                            $(THUMB_COMPILE_WIDE_OBJ) $(THUMB_DIFF_OBJS) $(THUMB_DIFF_LIBS) \
                            | $(THUMB_RT_DIR)/rt.bin $(THUMB_RT_DIR)/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lcapstone -lunicorn

TEST_BINS += $(B)/tests/test_thumb_size

# The example programs (examples/module.mk builds them with clang -target bpf).
$(B)/obj/tests/codegen/test_thumb_examples.o: CFLAGS += -DFJ_EXAMPLES_DIR='"$(abspath $(EXAMPLE_DIR))"'
$(B)/tests/test_thumb_examples: $(call objs,tests/codegen/test_thumb_examples.c) $(THUMB_DIFF_OBJS) \
                                $(B)/lib/libfj_examples.a $(THUMB_DIFF_LIBS) \
                                | $(EXAMPLE_BPF) $(THUMB_RT_DIR)/rt.bin $(THUMB_RT_DIR)/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lcapstone -lunicorn

TEST_BINS += $(B)/tests/test_thumb_examples

# Blob shape and clear errors through the compile driver.
$(B)/tests/test_thumb_compile: $(call objs,tests/codegen/test_thumb_compile.c) $(UC_THUMB_OBJS) $(THUMB_DIFF_LIBS) | $(THUMB_RT_DIR)/rt.bin $(THUMB_RT_DIR)/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lcapstone -lunicorn -lcmocka

TEST_BINS += $(B)/tests/test_thumb_compile

# Edge values (carries, shift counts, division by 0/-1, every jump condition), deterministic.
$(B)/tests/test_thumb_edges: $(call objs,tests/codegen/test_thumb_edges.c) $(THUMB_DIFF_OBJS) \
                             $(THUMB_DIFF_LIBS) | $(THUMB_RT_DIR)/rt.bin $(THUMB_RT_DIR)/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lcapstone -lunicorn

TEST_BINS += $(B)/tests/test_thumb_edges

# bench/thumb/module.mk (not ours) names diffrun_thumb.c's objects but not the target-independent
# harness diffrun.c it builds on.  Add it here; make puts it after that rule's libraries, so they
# are named again after it (LDFLAGS follows the objects in its link line).
$(B)/bin/bench_thumb: $(call objs,tests/codegen/diffrun.c)
$(B)/bin/bench_thumb: LDFLAGS += $(THUMB_DIFF_LIBS)
