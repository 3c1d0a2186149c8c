# tests/e2e/module.mk — end-to-end tests through a real farjitd (owner: F2).
#
# test_e2e: conformance cases, example programs and random programs, interpreter vs the Linux
# client runtime talking to farjitd on a private Unix socket.  test_e2e_faults: the failure
# paths through the same real path (dead, missing and garbage-speaking servers, bad blobs, a
# code cache too small).  All print "NAME: N passed, M failed" lines.  Under SAN=1 the random
# program counts are scaled to 25% (FJ_E2E_SCALE overrides either way).

ifneq ($(and $(filter %/libfj_client.a,$(LIBS)),$(filter %/libfj_examples.a,$(LIBS)),$(filter %/farjitd,$(BINS))),)
FJ_E2E_LIBS := $(B)/lib/libfj_examples.a $(B)/lib/libfj_tools.a $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a
ifeq ($(SAN),1)
$(B)/obj/tests/e2e/%.o: CFLAGS += -DFJ_E2E_DEFAULT_SCALE=25
endif

FJ_E2E_OBJS := $(call objs,tests/e2e/test_e2e.c tests/conformance/data_file.c tests/codegen/gen.c)
$(B)/tests/test_e2e: $(FJ_E2E_OBJS) $(FJ_E2E_LIBS) | $(B)/bin/farjitd $(EXAMPLE_BPF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FJ_E2E_OBJS) $(FJ_E2E_LIBS) $(FJ_CLIENT_LDLIBS) -lm
TEST_BINS += $(B)/tests/test_e2e

FJ_E2E_FAULT_OBJS := $(call objs,tests/e2e/test_e2e_faults.c)
$(B)/tests/test_e2e_faults: $(FJ_E2E_FAULT_OBJS) $(FJ_E2E_LIBS) | $(B)/bin/farjitd
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FJ_E2E_FAULT_OBJS) $(FJ_E2E_LIBS) $(FJ_CLIENT_LDLIBS) -lpthread -lm
TEST_BINS += $(B)/tests/test_e2e_faults

# test_e2e_latency: the embedded farjitd path, asynchronous: traces queued while it starts,
# per-stage timing (fj_jit_linux_get_latency), a server process that dies before listening.
FJ_E2E_LAT_OBJS := $(call objs,tests/e2e/test_e2e_latency.c)
$(B)/tests/test_e2e_latency: $(FJ_E2E_LAT_OBJS) $(FJ_E2E_LIBS) | $(B)/bin/farjitd
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FJ_E2E_LAT_OBJS) $(FJ_E2E_LIBS) $(FJ_CLIENT_LDLIBS) -lm
TEST_BINS += $(B)/tests/test_e2e_latency
endif

# The CLI through a real farjitd: plugin over the conformance cases, run over TLS and PSK.
TEST_SCRIPTS += tests/e2e/cli.sh
