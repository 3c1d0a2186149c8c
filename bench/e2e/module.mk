# bench/e2e/module.mk — `make bench-e2e` (owner: F2): whole-program runs of the loop-heavy
# examples, interpreter vs remote JIT through the embedded farjitd vs the host compiler's -O2,
# with JIT warm-up, where the first trace's latency goes (per stage) and the client's memory
# overhead.  bench/e2e/README.md.
# Read before client_runtime/, examples/ and server/ module.mk: test for sources, not LIBS.

ifneq ($(and $(wildcard client_runtime/jit.c),$(wildcard examples/catalog.c),$(wildcard server/module.mk)),)
FJ_BE2E_OBJS := $(call objs,bench/e2e/bench_e2e.c)
$(B)/bin/bench_e2e: $(FJ_BE2E_OBJS) $(B)/lib/libfj_examples.a $(B)/lib/libfj_client_linux.a \
                    $(B)/lib/libfj_client.a | examples-bpf $(B)/bin/farjitd
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FJ_BE2E_OBJS) $(B)/lib/libfj_examples.a $(B)/lib/libfj_client_linux.a \
	  $(B)/lib/libfj_client.a $(FJ_CLIENT_LDLIBS) -lm

.PHONY: bench-e2e
bench-e2e: $(B)/bin/bench_e2e
	FJ_BUILD=$(B) $(B)/bin/bench_e2e $(BENCH_E2E_ARGS)

BENCHES += bench-e2e
endif
