# bench/thumb/module.mk — `make bench-thumb`: Thumb instructions per eBPF instruction of compiled
# traces on a Cortex-M4 (Unicorn), for the example programs (owner: E).  Never part of `make test`.
# Read before examples/ and tests/codegen/thumb.mk: paths are spelled out here (the rules that
# build them live there).

fj_bth_lp        := (
FJ_BTH_EXAMPLES  := $(shell sed -n 's/^ *_$(fj_bth_lp)\([a-z0-9_]*\), .*/\1/p' examples/catalog.h)
FJ_BTH_OBJS      := $(call objs,bench/thumb/bench_thumb.c tests/codegen/diffrun_thumb.c \
                      tests/codegen/gen.c tests/codegen/uc_thumb.c client_runtime/thumb/div64.c)
FJ_BTH_LIBS      := $(B)/lib/libfj_examples.a $(B)/lib/libfj_codegen.a $(B)/lib/libfj_tools.a \
                    $(B)/lib/libfj_client_linux.a $(B)/lib/libfj_client.a

$(B)/obj/bench/thumb/bench_thumb.o: CFLAGS += -DFJ_EXAMPLES_DIR='"$(abspath $(B)/examples)"'
$(B)/bin/bench_thumb: $(FJ_BTH_OBJS) $(FJ_BTH_LIBS) | $(FJ_BTH_EXAMPLES:%=$(B)/examples/%.o) \
                      $(B)/tests/thumb_rt/rt.bin $(B)/tests/thumb_rt/rt.sym
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDFLAGS) $(FJ_CLIENT_LDLIBS) -lmbedcrypto -lcapstone -lunicorn

.PHONY: bench-thumb
bench-thumb: $(B)/bin/bench_thumb
	$(B)/bin/bench_thumb

BENCHES += bench-thumb
