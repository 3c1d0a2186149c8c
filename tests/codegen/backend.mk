# tests/codegen/backend.mk — tests of the trace compiler's back half (engineer C2): x86-64
# encoders, register allocation, blob writing, the compile driver and differential tests.

FJ_CGT := $(B)/tests/codegen

$(FJ_CGT)/test_x86_encode: $(call objs,tests/codegen/test_x86_encode.c codegen/fixup.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lcapstone

TEST_BINS += $(FJ_CGT)/test_x86_encode
