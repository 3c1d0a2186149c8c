# examples/module.mk — example eBPF programs, their native twins, the example test and `make run`
# (owner: B1; F2 after B1).
#
# Each examples/<name>.c is built twice: `clang -target bpf -O2 -c` into $(B)/examples/<name>.o
# (loaded by the VM / the farjit CLI) and natively into libfj_examples.a with fj_main renamed
# fj_native_<name>.  The list of examples is FJ_EXAMPLES in examples/catalog.h.

BPF_CC ?= clang
EXAMPLE_NAMES := crc32 hashtab sort mix matmul loopcb
EXAMPLE_DIR := $(B)/examples
EXAMPLE_BPF := $(EXAMPLE_NAMES:%=$(EXAMPLE_DIR)/%.o)

.PHONY: examples-bpf
examples-bpf: $(EXAMPLE_BPF)

$(EXAMPLE_DIR)/%.o: examples/%.c examples/example.h include/farjit/bpf_prog.h include/farjit/helpers.h
	@mkdir -p $(dir $@)
	$(BPF_CC) -target bpf -O2 -Wall -Wextra -Werror -Iinclude -c $< -o $@

$(foreach n,$(EXAMPLE_NAMES),$(eval $(B)/obj/examples/$(n).o: CFLAGS += -Dfj_main=fj_native_$(n)))

$(B)/lib/libfj_examples.a: $(call objs,$(EXAMPLE_NAMES:%=examples/%.c) examples/catalog.c)
LIBS += $(B)/lib/libfj_examples.a

$(B)/bin/fj_examples_native: $(call objs,examples/native_main.c) $(B)/lib/libfj_examples.a \
                             | $(EXAMPLE_BPF)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS)
BINS += $(B)/bin/fj_examples_native

# Needs the VM (libfj_client.a from client_runtime/, included before this file).
ifneq ($(filter %/libfj_client.a,$(LIBS)),)
$(B)/obj/examples/test_examples.o: CFLAGS += -DFJ_EXAMPLES_DIR='"$(abspath $(EXAMPLE_DIR))"'
$(B)/tests/test_examples: $(call objs,examples/test_examples.c) $(B)/lib/libfj_examples.a \
                          $(B)/lib/libfj_client.a $(B)/lib/libfj_client_linux.a | $(EXAMPLE_BPF)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS)
TEST_BINS += $(B)/tests/test_examples
endif

# The same comparison through the farjit CLI (tools/, built as part of `all`).
TEST_SCRIPTS += examples/run_examples.sh

# `make run`: crc32 on an 8 MiB input, interpreted only and with the remote JIT (the client
# starts a private farjitd), with the answer, the JIT stats and the speedup
# (examples/run_demo.sh; FJ_RUN_EXAMPLE=matmul FJ_RUN_MIB=1 for the other hot loop).
FJ_RUN_EXAMPLE ?= crc32
FJ_RUN_MIB ?= 8
run: deps $(B)/bin/farjit $(B)/bin/farjitd $(B)/bin/fj_examples_native $(EXAMPLE_BPF)
	@examples/run_demo.sh $(B) $(FJ_RUN_EXAMPLE) $(FJ_RUN_MIB)
