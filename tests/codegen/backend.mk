# tests/codegen/backend.mk — tests of the trace compiler's back half (engineer C2): x86-64
# encoders, register allocation, blob writing, the compile driver and differential tests.

FJ_CGT := $(B)/tests/codegen

$(FJ_CGT)/test_x86_encode: $(call objs,tests/codegen/test_x86_encode.c codegen/fixup.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lcapstone

TEST_BINS += $(FJ_CGT)/test_x86_encode

# Differential tests: interpreter (libfj_client) vs compiled traces (libfj_codegen).
FJ_CGT_DIFF_OBJS := $(call objs,tests/codegen/diffrun.c tests/codegen/diffrun_x86.c \
                      tests/codegen/jitload.c tests/codegen/gen.c)
FJ_CGT_LIBS := $(B)/lib/libfj_codegen.a $(B)/lib/libfj_tools.a $(B)/lib/libfj_client_linux.a \
               $(B)/lib/libfj_client.a

$(FJ_CGT)/test_diff_x86: $(call objs,tests/codegen/test_diff_x86.c tests/codegen/diffrun_random.c) \
    $(FJ_CGT_DIFF_OBJS) $(FJ_CGT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lmbedcrypto -lcapstone

TEST_BINS += $(FJ_CGT)/test_diff_x86

# The conformance suite through the compiler (reads ../shared/conformance at run time).
$(FJ_CGT)/test_conf_trace: $(call objs,tests/codegen/test_conf_trace.c tests/codegen/diffrun_conf.c \
    tests/conformance/data_file.c) \
    $(FJ_CGT_DIFF_OBJS) $(FJ_CGT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lmbedcrypto -lcapstone

TEST_BINS += $(FJ_CGT)/test_conf_trace

$(FJ_CGT)/test_ra: $(call objs,tests/codegen/test_ra.c) $(B)/lib/libfj_codegen.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lmbedcrypto

TEST_BINS += $(FJ_CGT)/test_ra

$(FJ_CGT)/test_blob: $(call objs,tests/codegen/test_blob.c) $(B)/lib/libfj_codegen.a $(B)/lib/libfj_client.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lmbedcrypto

TEST_BINS += $(FJ_CGT)/test_blob

$(FJ_CGT)/test_compile: $(call objs,tests/codegen/test_compile.c tests/codegen/cg_util.c \
    tests/codegen/jitload.c tests/codegen/gen.c) $(B)/lib/libfj_codegen.a $(B)/lib/libfj_tools.a $(B)/lib/libfj_client.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lmbedcrypto -lpthread

TEST_BINS += $(FJ_CGT)/test_compile

# `farjit compile` + `farjit dump` end to end (the script skips when the CLI is not built).
TEST_SCRIPTS += tests/codegen/dump.sh
