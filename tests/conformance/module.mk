# tests/conformance: the public bpf_conformance suite against the interpreter, directly
# (test_conformance) and through `farjit plugin` the way the suite's own runner drives it
# (plugin.sh).  Both need the client runtime libraries.

$(B)/tests/test_conformance: $(call objs,tests/conformance/conformance.c tests/conformance/data_file.c) \
    $(B)/lib/libfj_tools.a $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FJ_CLIENT_LDLIBS) -lm

ifneq ($(and $(filter %/libfj_client.a,$(LIBS)),$(filter %/libfj_client_linux.a,$(LIBS))),)
TEST_BINS    += $(B)/tests/test_conformance
TEST_SCRIPTS += tests/conformance/plugin.sh
endif
