# tests/client_runtime: the VM core's unit tests (owner: engineer A).  test_interp is built twice:
# with computed-goto dispatch (the library's interp.o) and with the switch fallback
# (interp.c recompiled with -DFJ_NO_COMPUTED_GOTO, linked ahead of the library).

FJ_VM_TESTS := test_interp test_validate test_vm test_helpers test_mem
FJ_VM_TEST_LIBS := $(B)/lib/libfj_client.a $(B)/lib/libfj_client_linux.a

define fj_vm_test_rule
$(B)/tests/$(1): $(call objs,tests/client_runtime/$(1).c) $(FJ_VM_TEST_LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ -lcmocka
endef
$(foreach t,$(FJ_VM_TESTS),$(eval $(call fj_vm_test_rule,$(t))))

$(B)/obj/client_runtime/interp_switch.o: client_runtime/interp.c | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_client_runtime) -DFJ_NO_COMPUTED_GOTO -MMD -MP -c $< -o $@

$(B)/tests/test_interp_switch: $(call objs,tests/client_runtime/test_interp.c) \
                               $(B)/obj/client_runtime/interp_switch.o $(FJ_VM_TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

TEST_BINS += $(addprefix $(B)/tests/,$(FJ_VM_TESTS)) $(B)/tests/test_interp_switch
TEST_SCRIPTS += tests/client_runtime/freestanding.sh
