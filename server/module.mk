# server/: farjitd.  The compiler (libfj_codegen.a, codegen/) is linked when the tree has it and
# it defines fj_codegen_compile (checked when linking, since codegen/ is still being written);
# without it farjitd still builds and answers compiles with FJ_ENOTSUP (work.c: weak symbols).

FJ_SERVER_SRCS := server/main.c server/config.c server/log.c server/listen.c server/conn.c \
                  server/work.c server/cache.c server/metrics.c server/http.c server/clients.c
fj_comma := ,
FJ_SERVER_CODEGEN ?= $(filter %/libfj_codegen.a,$(LIBS))
# $(call fj_codegen_link,LIB): link flags pulling the compiler out of LIB, or nothing.  Expanded
# in recipes only, i.e. after LIB has been built.
fj_codegen_link = $(if $(1),$(if $(shell nm -g --defined-only $(1) 2>/dev/null | \
  grep -w 'T fj_codegen_compile'),-Wl$(fj_comma)-u$(fj_comma)fj_codegen_compile \
  -Wl$(fj_comma)-u$(fj_comma)fj_codegen_supports -Wl$(fj_comma)-u$(fj_comma)fj_codegen_result_free \
  $(1) $(FJ_CODEGEN_LDLIBS)))
FJ_SERVER_LDLIBS = $(FJ_PROTO_LDLIBS) $(FJ_TLS_LDLIBS) -luv -lpthread -lm

$(B)/bin/farjitd: $(call objs,$(FJ_SERVER_SRCS)) $(B)/lib/libfj_proto.a $(B)/lib/libfj_proto_tls.a \
                  $(FJ_SERVER_CODEGEN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,$(FJ_SERVER_SRCS)) \
	  $(call fj_codegen_link,$(FJ_SERVER_CODEGEN)) $(FJ_SERVER_LDLIBS)
BINS += $(B)/bin/farjitd
