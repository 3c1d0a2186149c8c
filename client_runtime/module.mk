# client_runtime: the freestanding VM core (libfj_client.a, every client_runtime/*.c) and the
# Linux platform layer (libfj_client_linux.a, client_runtime/linux/*.c).
CLIENT_RUNTIME_SRCS := $(wildcard client_runtime/*.c)
CLIENT_LINUX_SRCS   := $(wildcard client_runtime/linux/*.c)

LIBS += $(B)/lib/libfj_client.a $(B)/lib/libfj_client_linux.a
$(B)/lib/libfj_client.a: $(call objs,$(CLIENT_RUNTIME_SRCS))
$(B)/lib/libfj_client_linux.a: $(call objs,$(CLIENT_LINUX_SRCS))

# Per-directory flags (none needed: the core builds with the shared -std=c11 -O2 -Wall -Werror).
CFLAGS_client_runtime +=
