# client_runtime/linux/remote.c (engineer D) is built into libfj_client_linux.a by
# client_runtime/module.mk's wildcard; programs that call fj_remote_* also need these.
# (Recursive `=`: proto/module.mk, which defines the parts, is read after this file.)
FJ_REMOTE_LDLIBS = $(FJ_PROTO_LDLIBS) $(FJ_TLS_LDLIBS) -luv -lpthread
FJ_CLIENT_LDLIBS += $(FJ_REMOTE_LDLIBS)
# Whatever links libfj_client_linux.a names the proto libraries too: build them first.
$(B)/lib/libfj_client_linux.a: | $(B)/lib/libfj_proto.a $(B)/lib/libfj_proto_tls.a
