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
