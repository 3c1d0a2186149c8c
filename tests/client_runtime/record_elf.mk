# tests/client_runtime/record_elf.mk — test_record_elf (owner: K): traces of an ELF program with
# data sections carry region + offset for relocated lddw (FJ_REC_LDDW_REGION), never an address.

BPF_CC ?= clang
FJ_RECORD_FIXTURE := $(B)/tests/record_fixtures/lddw_data.o

$(FJ_RECORD_FIXTURE): tests/client_runtime/record_src/lddw_data.c
	@mkdir -p $(dir $@)
	$(BPF_CC) -target bpf -O2 -Wall -Werror -Iinclude -c $< -o $@

$(B)/obj/tests/client_runtime/test_record_elf.o: \
  CFLAGS += -DFJ_RECORD_FIXTURE='"$(abspath $(FJ_RECORD_FIXTURE))"'

ifneq ($(filter %/libfj_client.a,$(LIBS)),)
$(B)/tests/test_record_elf: $(call objs,tests/client_runtime/test_record_elf.c) \
                            $(B)/lib/libfj_client.a | $(FJ_RECORD_FIXTURE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,tests/client_runtime/test_record_elf.c) \
	  $(B)/lib/libfj_client.a -lcmocka

TEST_BINS += $(B)/tests/test_record_elf
endif
