# tools/: the assembler/disassembler library and the `farjit` command-line tool.
#
# The CLI links the client runtime (client_runtime/*.mk define libfj_client.a and
# libfj_client_linux.a); until those libraries exist the CLI is left out of BINS so that
# `make all` keeps working for everyone else.

FJ_TOOLS_SRCS := tools/asm.c tools/disasm.c
$(B)/lib/libfj_tools.a: $(call objs,$(FJ_TOOLS_SRCS))
LIBS += $(B)/lib/libfj_tools.a

# One file per subcommand (tools/commands.h lists them).
FJ_CLI_SRCS := tools/farjit.c tools/cli.c $(sort $(wildcard tools/cmd_*.c))
FJ_CLI_LIBS := $(B)/lib/libfj_tools.a $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a
FJ_HAVE_CLIENT := $(and $(filter %/libfj_client.a,$(LIBS)),$(filter %/libfj_client_linux.a,$(LIBS)))

$(B)/bin/farjit: $(call objs,$(FJ_CLI_SRCS)) $(FJ_CLI_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,$(FJ_CLI_SRCS)) $(FJ_CLI_LIBS) $(FJ_CLIENT_LDLIBS) -lm

ifneq ($(FJ_HAVE_CLIENT),)
BINS += $(B)/bin/farjit
endif
