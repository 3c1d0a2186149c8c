# tests/codegen/module.mk — tests of the trace compiler's front half (engineer C1): trace
# verification (+ fuzz), IR, folding, DCE, memory opts, LOOP, snapshots, and ir_diff (random
# programs: IR evaluation against a reference stepper).  They link the
# front-half objects directly so that they do not depend on the backends' state.

FJ_CG1_OBJS := $(call objs,codegen/ir.c codegen/fold.c codegen/snap.c codegen/trace_read.c \
  codegen/build.c codegen/opt_mem.c codegen/opt_loop.c codegen/opt_dce.c codegen/opt_narrow.c \
  tests/codegen/cg_util.c tools/asm.c)
FJ_CG1_TESTS := $(patsubst tests/codegen/test_%.c,%,$(wildcard $(patsubst %,tests/codegen/test_%.c,\
  trace_read ir fold dce mem loop snap ir_diff narrow)))

FJ_CG1_BINS := $(patsubst %,$(B)/tests/codegen/test_%,$(FJ_CG1_TESTS))

$(FJ_CG1_BINS): $(B)/tests/codegen/test_%: $(B)/obj/tests/codegen/test_%.o $(FJ_CG1_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

TEST_BINS += $(FJ_CG1_BINS)
