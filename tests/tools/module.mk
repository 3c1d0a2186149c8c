# tests/tools: assembler, disassembler and `farjit` CLI tests.

FJ_TOOLS_TEST_LIBS := $(B)/lib/libfj_tools.a

$(B)/tests/test_asm: $(call objs,tests/tools/test_asm.c tests/conformance/data_file.c) $(FJ_TOOLS_TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(B)/tests/test_disasm: $(call objs,tests/tools/test_disasm.c) $(FJ_TOOLS_TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

TEST_BINS += $(B)/tests/test_asm $(B)/tests/test_disasm
