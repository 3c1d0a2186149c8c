# tests/proto fuzzing (engineer D): fuzz_server.c drives farjitd's frame decoder and message
# handler in process.
#  - test_fuzz_replay (gcc, every build): the seed corpus + deterministic mutations.
#  - fuzz_server (clang -fsanitize=fuzzer, when libFuzzer is installed): run for a bounded time
#    by tests/proto/fuzz.sh (FJ_FUZZ_SECONDS, default 60).
# Seeds: tests/proto/fuzz_corpus/, written by $(B)/tests/fuzz_seeds (run by hand; seeds.sh
# fails when the committed ones are stale).
FJ_FUZZ_SERVER_SRCS := server/config.c server/log.c server/listen.c server/conn.c server/work.c \
                       server/cache.c server/metrics.c server/http.c server/clients.c
FJ_FUZZ_LDLIBS = $(FJ_PROTO_LDLIBS) $(FJ_TLS_LDLIBS) -luv -lpthread -lm

$(B)/tests/test_fuzz_replay: $(call objs,tests/proto/fuzz_main.c tests/proto/fuzz_server.c \
                             $(FJ_FUZZ_SERVER_SRCS)) $(B)/lib/libfj_proto.a $(B)/lib/libfj_proto_tls.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,tests/proto/fuzz_main.c tests/proto/fuzz_server.c \
	  $(FJ_FUZZ_SERVER_SRCS)) $(FJ_FUZZ_LDLIBS)
TEST_BINS += $(B)/tests/test_fuzz_replay

$(B)/tests/fuzz_seeds: $(call objs,tests/proto/fuzz_seeds.c) $(B)/lib/libfj_proto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,tests/proto/fuzz_seeds.c) $(FJ_PROTO_LDLIBS)

FJ_LIBFUZZER := $(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a)
ifneq ($(FJ_LIBFUZZER),)
FJ_FUZZ_CC ?= clang
$(B)/fuzz/fuzz_server: tests/proto/fuzz_server.c $(FJ_FUZZ_SERVER_SRCS) proto/frame.c proto/msg.c \
                       proto/tls.c $(FJ_PROTO_GEN_C) | $(GEN)
	@mkdir -p $(dir $@)
	$(FJ_FUZZ_CC) -std=c11 -g -O1 -D_GNU_SOURCE -Iinclude -I. -I$(B)/gen \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ $^ \
	  -lprotobuf-c -lmbedtls -lmbedx509 -lmbedcrypto -luv -lpthread -lm
BINS += $(B)/fuzz/fuzz_server
endif
TEST_SCRIPTS += tests/proto/fuzz.sh
all: $(B)/tests/fuzz_seeds
TEST_SCRIPTS += tests/proto/seeds.sh
