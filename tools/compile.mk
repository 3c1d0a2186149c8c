# tools/cmd_compile.c (engineer D): `farjit compile` links the compiler when the tree has it
# (fj_codegen_link, server/module.mk; weak references otherwise: remote compiles still work).
FJ_CLI_CODEGEN := $(filter %/libfj_codegen.a,$(LIBS))
ifneq ($(FJ_CLI_CODEGEN),)
$(B)/bin/farjit: $(FJ_CLI_CODEGEN)
$(B)/bin/farjit: FJ_CLIENT_LDLIBS += $(call fj_codegen_link,$(FJ_CLI_CODEGEN))
endif
