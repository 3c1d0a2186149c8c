# tests/tools: assembler, disassembler and `farjit` CLI tests.

FJ_TOOLS_TEST_LIBS := $(B)/lib/libfj_tools.a

$(B)/tests/test_asm: $(call objs,tests/tools/test_asm.c tests/conformance/data_file.c) $(FJ_TOOLS_TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(B)/tests/test_disasm: $(call objs,tests/tools/test_disasm.c) $(FJ_TOOLS_TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

TEST_BINS += $(B)/tests/test_asm $(B)/tests/test_disasm

# The CLI tests need bin/farjit, which exists once the client runtime does (tools/module.mk).
ifneq ($(and $(filter %/libfj_client.a,$(LIBS)),$(filter %/libfj_client_linux.a,$(LIBS))),)
TEST_SCRIPTS += tests/tools/cli.sh
endif
