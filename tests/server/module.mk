# tests/server (engineer D): cache unit test; farjitd end to end (real processes on loopback).
$(B)/tests/test_cache: $(call objs,tests/server/test_cache.c server/cache.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lmbedcrypto -lcmocka
TEST_BINS += $(B)/tests/test_cache

# The end-to-end test starts $(B)/bin/farjitd (found next to itself: ../bin/farjitd).
# remote.c is linked as an object, not through libfj_client_linux.a, so that this test does not
# depend on the rest of the client platform layer.
FJ_SRV_TEST_SRCS := tests/server/test_server.c tests/server/harness.c client_runtime/linux/remote.c
$(B)/tests/test_server: $(call objs,$(FJ_SRV_TEST_SRCS)) $(B)/lib/libfj_proto.a \
                        $(B)/lib/libfj_proto_tls.a $(B)/bin/farjitd
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,$(FJ_SRV_TEST_SRCS)) \
	  $(FJ_PROTO_LDLIBS) $(FJ_TLS_LDLIBS) -luv -lpthread -lcmocka
TEST_BINS += $(B)/tests/test_server
TEST_SCRIPTS += tests/server/compile_cli.sh

$(B)/tests/test_config: $(call objs,tests/server/test_config.c server/config.c server/log.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
TEST_BINS += $(B)/tests/test_config
