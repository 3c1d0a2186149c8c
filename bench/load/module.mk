# bench/load (engineer D): farjit-load, a load generator for farjitd; `make bench` runs it
# against a local farjitd on loopback (bench/load/run.sh).
FJ_LOAD_SRCS := bench/load/farjit_load.c client_runtime/linux/remote.c
$(B)/bin/farjit-load: $(call objs,$(FJ_LOAD_SRCS)) $(B)/lib/libfj_proto.a $(B)/lib/libfj_proto_tls.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call objs,$(FJ_LOAD_SRCS)) $(FJ_PROTO_LDLIBS) $(FJ_TLS_LDLIBS) \
	  -luv -lpthread
BINS += $(B)/bin/farjit-load

.PHONY: bench-load
bench-load: $(B)/bin/farjit-load $(B)/bin/farjitd
	@bench/load/run.sh $(B)
BENCHES += bench-load
