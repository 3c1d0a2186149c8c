# codegen/: the trace compiler library (host side: trace verification, IR, optimizations,
# backends, blob writing).  Every .c in codegen/ and one level below is part of it, so backend
# authors add files without touching this one.

FJ_CODEGEN_SRCS := $(sort $(wildcard codegen/*.c codegen/*/*.c))
$(B)/lib/libfj_codegen.a: $(call objs,$(FJ_CODEGEN_SRCS))
LIBS += $(B)/lib/libfj_codegen.a
