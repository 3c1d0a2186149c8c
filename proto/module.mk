# proto/: the wire protocol.  farjit.proto is compiled with protoc-c at build time into
# $(B)/gen/proto/farjit.pb-c.[ch]; libfj_proto.a = framing (freestanding) + messages (protobuf-c).

FJ_PROTO_GEN_C := $(B)/gen/proto/farjit.pb-c.c
FJ_PROTO_GEN_H := $(B)/gen/proto/farjit.pb-c.h
GEN += $(FJ_PROTO_GEN_H)

$(FJ_PROTO_GEN_C) $(FJ_PROTO_GEN_H) &: proto/farjit.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen proto/farjit.proto

$(B)/obj/gen/proto/farjit.pb-c.o: $(FJ_PROTO_GEN_C) $(FJ_PROTO_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

FJ_PROTO_SRCS := proto/frame.c proto/msg.c
$(B)/lib/libfj_proto.a: $(call objs,$(FJ_PROTO_SRCS)) $(B)/obj/gen/proto/farjit.pb-c.o
LIBS += $(B)/lib/libfj_proto.a

# Link line for users of libfj_proto.a.
FJ_PROTO_LDLIBS := $(B)/lib/libfj_proto.a -lprotobuf-c

# TLS over byte streams (mbedTLS), shared by farjitd and the Linux client library.
$(B)/lib/libfj_proto_tls.a: $(call objs,proto/tls.c)
LIBS += $(B)/lib/libfj_proto_tls.a
FJ_TLS_LDLIBS := $(B)/lib/libfj_proto_tls.a -lmbedtls -lmbedx509 -lmbedcrypto
