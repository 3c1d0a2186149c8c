# bench/jit/module.mk — `make bench-jit`: the trace compiler's benchmark (owner: H).
# Compile time per trace, IR and code size, and whole-program runs: interpreter vs compiled
# traces (in-process compiler, real recorder and linker) vs gcc -O2.  bench/jit/README.md.
#
# Each bench/jit/kernels/<name>.c is built twice from the same source, as examples/ does:
# clang -target bpf -O2 into $(B)/bench/jit/kernels/<name>.o for the VM, and with the host
# compiler (-O2, fj_main renamed fj_kernel_<name>) into the benchmark.
# This file is read before client_runtime/, codegen/, examples/ and proto/ module.mk: test for
# sources rather than LIBS, reach the example objects through the examples-bpf target and the
# link libraries through recursive variables expanded in the recipe.

ifneq ($(and $(wildcard client_runtime/jit.c),$(wildcard codegen/compile.c),$(wildcard examples/catalog.c)),)
FJ_BJ_KERNELS := alu divconst memsum branchy
FJ_BJ_KDIR := $(B)/bench/jit/kernels
FJ_BJ_KBPF := $(FJ_BJ_KERNELS:%=$(FJ_BJ_KDIR)/%.o)
FJ_BJ_OBJS := $(call objs,bench/jit/bench_jit.c $(FJ_BJ_KERNELS:%=bench/jit/kernels/%.c)) \
              $(B)/obj/bench/jit/kernels/divconst_keepdiv.o

BPF_CC ?= clang
$(FJ_BJ_KDIR)/%.o: bench/jit/kernels/%.c examples/example.h include/farjit/bpf_prog.h include/farjit/helpers.h
	@mkdir -p $(dir $@)
	$(BPF_CC) -target bpf -O2 -Wall -Wextra -Werror -Iinclude -I. -c $< -o $@

$(foreach n,$(FJ_BJ_KERNELS),$(eval $(B)/obj/bench/jit/kernels/$(n).o: CFLAGS += -Dfj_main=fj_kernel_$(n)))
# divconst natively once more with its divisors hidden from gcc: the `div` a template JIT keeps.
$(B)/obj/bench/jit/kernels/divconst_keepdiv.o: bench/jit/kernels/divconst.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFJ_KEEP_DIVIDE -Dfj_main=fj_kernel_divconst_keepdiv -MMD -MP -c $< -o $@

$(B)/obj/bench/jit/bench_jit.o: CFLAGS += -DFJ_EXAMPLES_DIR='"$(abspath $(B)/examples)"' \
                                          -DFJ_KERNELS_DIR='"$(abspath $(FJ_BJ_KDIR))"'

$(B)/bin/bench_jit: $(FJ_BJ_OBJS) $(B)/lib/libfj_examples.a $(B)/lib/libfj_codegen.a \
                    $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a | examples-bpf $(FJ_BJ_KBPF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FJ_BJ_OBJS) $(B)/lib/libfj_examples.a $(B)/lib/libfj_codegen.a \
	  $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a $(FJ_CLIENT_LDLIBS) -lm

.PHONY: bench-jit
bench-jit: $(B)/bin/bench_jit
	$(B)/bin/bench_jit $(BENCH_JIT_ARGS)

BENCHES += bench-jit
endif
