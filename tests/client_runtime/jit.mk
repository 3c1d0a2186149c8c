# tests/client_runtime/jit.mk — the JIT client runtime's tests (owner: F).
#
# test_record: recorder, trace bytes checked field by field.  test_blob_check: every rejection
# rule.  test_link / test_codecache / test_exit / test_jit: hand-assembled x86-64 blobs linked
# into real executable memory and run (x86-64 hosts only).

FJ_JIT_TEST_LIBS := $(B)/lib/libfj_tools.a $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a

define fj_jit_test
$(B)/tests/test_$(1): $(call objs,tests/client_runtime/test_$(1).c) $(FJ_JIT_TEST_LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $(call objs,tests/client_runtime/test_$(1).c) $(FJ_JIT_TEST_LIBS) $$(FJ_CLIENT_LDLIBS) -lcmocka -lm
TEST_BINS += $(B)/tests/test_$(1)
endef

ifneq ($(filter %/libfj_client.a,$(LIBS)),)
FJ_JIT_TESTS := $(patsubst tests/client_runtime/test_%.c,%,$(wildcard $(addprefix tests/client_runtime/test_,$(addsuffix .c,record blob_check link codecache exit jit))))
$(foreach t,$(FJ_JIT_TESTS),$(eval $(call fj_jit_test,$(t))))
endif

# test_jit_codegen: the runtime with the real compiler in process (no network).
# With examples/ in the tree it also runs the example programs ($(B)/examples/*.o).
FJ_JIT_EXAMPLES_LIB := $(filter %/libfj_examples.a,$(LIBS))
ifneq ($(and $(filter %/libfj_client.a,$(LIBS)),$(filter %/libfj_codegen.a,$(LIBS))),)
$(B)/obj/tests/client_runtime/test_jit_codegen.o: CFLAGS += $(if $(FJ_JIT_EXAMPLES_LIB),-DFJ_HAVE_EXAMPLES)
FJ_JIT_CG_OBJS := $(call objs,tests/client_runtime/test_jit_codegen.c tests/conformance/data_file.c)
$(B)/tests/test_jit_codegen: $(FJ_JIT_CG_OBJS) $(B)/lib/libfj_codegen.a $(FJ_JIT_EXAMPLES_LIB) $(FJ_JIT_TEST_LIBS) | $(if $(FJ_JIT_EXAMPLES_LIB),$(EXAMPLE_BPF))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FJ_JIT_CG_OBJS) $(B)/lib/libfj_codegen.a $(FJ_JIT_EXAMPLES_LIB) $(FJ_JIT_TEST_LIBS) $(FJ_CLIENT_LDLIBS) -lcmocka -lm
TEST_BINS += $(B)/tests/test_jit_codegen
endif

# test_jit_remote: the Linux runtime against real farjitd processes ($(B)/bin/farjitd).
ifneq ($(filter %/libfj_client.a,$(LIBS)),)
$(B)/tests/test_jit_remote: $(call objs,tests/client_runtime/test_jit_remote.c) $(FJ_JIT_TEST_LIBS) | $(filter %/farjitd,$(BINS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,tests/client_runtime/test_jit_remote.c) $(FJ_JIT_TEST_LIBS) $(FJ_CLIENT_LDLIBS) -lcmocka -lm
TEST_BINS += $(B)/tests/test_jit_remote
endif
