# tests/proto: framing and message unit tests (engineer D); the fuzz target is fuzz.mk.
$(B)/tests/test_frame: $(call objs,tests/proto/test_frame.c) $(B)/lib/libfj_proto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,tests/proto/test_frame.c) $(FJ_PROTO_LDLIBS) -lcmocka
TEST_BINS += $(B)/tests/test_frame

# The device side of the protocol (framing, nanopb messages) builds for Cortex-M4.
TEST_SCRIPTS += tests/proto/device.sh
