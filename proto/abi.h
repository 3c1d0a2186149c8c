/* farjit — protocol version and the ABI hash exchanged in Hello.  Freestanding, header-only.
 *
 * FJ_PROTO_VERSION changes when the wire messages change incompatibly; a peer speaks the range
 * [FJ_PROTO_MIN_VERSION, FJ_PROTO_VERSION] and the two sides pick the highest common version.
 * fj_abi_hash() summarises everything generated code and the client runtime must agree on that
 * is not in the blob itself: trace/blob format versions, the exit-state layout, runtime entry
 * points and relocation kinds.  A mismatch means blobs from this server would not link or would
 * misbehave on that client, so the handshake refuses it (FJ_EVERSION).
 */
#ifndef FARJIT_PROTO_ABI_H
#define FARJIT_PROTO_ABI_H

#include <stdint.h>

#include "farjit/blob.h"
#include "farjit/crc32.h"
#include "farjit/helpers.h"
#include "farjit/jit.h"
#include "farjit/trace.h"

#define FJ_PROTO_VERSION 1
#define FJ_PROTO_MIN_VERSION 1

#define FJ_ABI_STR_(x) #x
#define FJ_ABI_STR(x) FJ_ABI_STR_(x)
#define FJ_ABI_RT(name, id, text) #name ":" #id ";"
#define FJ_ABI_RELOC(name, id, bytes, text) #name ":" #id ":" #bytes ";"
#define FJ_ABI_SYM(name, id, text) #name ":" #id ";"
#define FJ_ABI_HELPER(name, id, str, ret, args) #name ":" #id ";"

static inline uint32_t fj_abi_hash(void) {
  static const char abi[] =
      "trace:" FJ_ABI_STR(FJ_TRACE_VERSION) ";blob:" FJ_ABI_STR(FJ_BLOB_VERSION)
      ";state:" FJ_ABI_STR(FJ_JIT_OFF_FRAMES) ";region:" FJ_ABI_STR(FJ_REGION_SIZEOF) ";"
      FJ_RT_ENTRIES(FJ_ABI_RT) FJ_RELOC_KINDS(FJ_ABI_RELOC) FJ_SYM_KINDS(FJ_ABI_SYM)
      FJ_STD_HELPERS(FJ_ABI_HELPER);
  /* Values that are enums (not stringifiable) go in as little-endian words. */
  const uint32_t nums[3] = {FJ_NREGS, FJ_MAX_CALL_DEPTH, (uint32_t)sizeof(fj_jit_state)};
  uint8_t b[sizeof nums];
  for (unsigned i = 0; i < sizeof b; i++) b[i] = (uint8_t)(nums[i / 4] >> (8 * (i % 4)));
  return fj_crc32(fj_crc32(0, abi, sizeof abi - 1), b, sizeof b);
}

#endif /* FARJIT_PROTO_ABI_H */
