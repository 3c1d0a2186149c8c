# bench/module.mk — `make bench`: the interpreter against native code on the example programs
# (owner: B1).  Benchmarks never run under `make test`; see bench/README.md.

# Included before client_runtime/ and examples/ module.mk files: test for the VM's sources rather
# than LIBS, and depend on the eBPF objects through the examples-bpf target.
ifneq ($(wildcard client_runtime/vm.c),)
$(B)/obj/bench/bench_interp.o: CFLAGS += -DFJ_EXAMPLES_DIR='"$(abspath $(B)/examples)"'
$(B)/bin/bench_interp: $(call objs,bench/bench_interp.c) $(B)/lib/libfj_examples.a \
                       $(B)/lib/libfj_client.a $(B)/lib/libfj_client_linux.a | examples-bpf
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS)

.PHONY: bench-interp
bench-interp: $(B)/bin/bench_interp
	$(B)/bin/bench_interp $(BENCH_ARGS)

BENCHES += bench-interp
endif
