# client_runtime/jit.mk — the JIT runtime's per-target layer (owner: F).  The core files
# (record, blob_check, link, codecache, exit, jit...) are in libfj_client.a through
# client_runtime/module.mk's wildcard; the x86-64 layer is added here on x86-64 hosts.
FJ_ARCH_SRCS := $(if $(filter x86_64,$(shell uname -m)),$(wildcard client_runtime/x86_64/*.c))
$(B)/lib/libfj_client.a: $(call objs,$(FJ_ARCH_SRCS))
