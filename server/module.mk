# server/: farjitd.  The compiler (libfj_codegen.a, codegen/) is linked when the tree has it;
# without it farjitd still builds and answers compiles with FJ_ENOTSUP (work.c: weak symbols).

FJ_SERVER_SRCS := server/main.c server/config.c server/log.c server/listen.c server/conn.c \
                  server/work.c server/cache.c server/metrics.c server/http.c
fj_comma := ,
FJ_SERVER_CODEGEN ?= $(filter %/libfj_codegen.a,$(LIBS))
FJ_SERVER_LDLIBS := $(FJ_PROTO_LDLIBS) $(FJ_TLS_LDLIBS) -luv -lpthread -lm

$(B)/bin/farjitd: $(call objs,$(FJ_SERVER_SRCS)) $(B)/lib/libfj_proto.a $(B)/lib/libfj_proto_tls.a \
                  $(FJ_SERVER_CODEGEN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,$(FJ_SERVER_SRCS)) \
	  $(if $(FJ_SERVER_CODEGEN),-Wl$(fj_comma)-u$(fj_comma)fj_codegen_compile -Wl$(fj_comma)-u$(fj_comma)fj_codegen_supports \
	  -Wl$(fj_comma)-u$(fj_comma)fj_codegen_result_free $(FJ_SERVER_CODEGEN) $(FJ_CODEGEN_LDLIBS)) \
	  $(FJ_SERVER_LDLIBS)
BINS += $(B)/bin/farjitd
