# tests/proto/test_nanopb (engineer D): nanopb code generated at build time from
# proto/farjit.proto + proto/farjit.options interoperates with protobuf-c.  Built when the
# nanopb generator and library are installed (tools/deps.sh: nanopb, libnanopb-dev).
FJ_NANOPB_GEN := $(firstword $(wildcard /usr/bin/nanopb_generator.py /usr/bin/nanopb_generator))
ifneq ($(and $(FJ_NANOPB_GEN),$(wildcard /usr/include/pb.h)),)
$(B)/gen/nanopb/proto/farjit.pb.c $(B)/gen/nanopb/proto/farjit.pb.h &: proto/farjit.proto \
                                                                     proto/farjit.options
	@mkdir -p $(B)/gen/nanopb
	$(FJ_NANOPB_GEN) -q -D $(B)/gen/nanopb -f proto/farjit.options proto/farjit.proto

$(B)/obj/gen/nanopb/farjit.pb.o: $(B)/gen/nanopb/proto/farjit.pb.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(B)/gen/nanopb -c $< -o $@

$(B)/obj/tests/proto/test_nanopb.o: $(B)/gen/nanopb/proto/farjit.pb.h

$(B)/tests/test_nanopb: $(call objs,tests/proto/test_nanopb.c) $(B)/obj/gen/nanopb/farjit.pb.o \
                        $(B)/lib/libfj_proto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FJ_PROTO_LDLIBS) -lprotobuf-nanopb -lcmocka
TEST_BINS += $(B)/tests/test_nanopb
endif
