# tests/client_runtime/elf.mk — the ELF parser's tests (owner: B1).
#
# test_elf: parser-only tests on BPF objects compiled here from elf_src/*.c with clang.
# test_elf_vm: the same objects loaded and run through fj_vm_load_elf/fj_vm_run (libfj_client.a,
# fj_platform_linux() from libfj_client_linux.a);
# registered only once client_runtime/ defines libfj_client.a.

BPF_CC ?= clang
ELF_FIX_DIR := $(B)/tests/elf_fixtures
ELF_FIXTURES := $(patsubst tests/client_runtime/elf_src/%.c,$(ELF_FIX_DIR)/%.o,\
                  $(wildcard tests/client_runtime/elf_src/*.c))

$(ELF_FIX_DIR)/%.o: tests/client_runtime/elf_src/%.c
	@mkdir -p $(dir $@)
	$(BPF_CC) -target bpf -O2 -Wall -Werror -Iinclude -c $< -o $@

# calls.c again with -g: .BTF, .BTF.ext and DWARF sections whose relocations must be ignored.
$(ELF_FIX_DIR)/calls_g.o: tests/client_runtime/elf_src/calls.c
	@mkdir -p $(dir $@)
	$(BPF_CC) -target bpf -O2 -g -Wall -Werror -Iinclude -c $< -o $@
ELF_FIXTURES += $(ELF_FIX_DIR)/calls_g.o

$(B)/obj/tests/client_runtime/test_elf.o $(B)/obj/tests/client_runtime/test_elf_vm.o: \
  CFLAGS += -DFJ_ELF_FIXTURE_DIR='"$(abspath $(ELF_FIX_DIR))"'

$(B)/tests/test_elf: $(call objs,tests/client_runtime/test_elf.c client_runtime/elf.c) | $(ELF_FIXTURES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) -lcmocka

TEST_BINS += $(B)/tests/test_elf

ifneq ($(filter %/libfj_client.a,$(LIBS)),)
$(B)/tests/test_elf_vm: $(call objs,tests/client_runtime/test_elf_vm.c) $(B)/lib/libfj_client.a \
                        $(B)/lib/libfj_client_linux.a | $(ELF_FIXTURES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) -lcmocka

TEST_BINS += $(B)/tests/test_elf_vm
endif
