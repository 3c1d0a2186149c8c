/* farjit — Cortex-M platform layer: a "replay server", the fj_jit transport of a device without
 * a network.
 *
 * The compiler never runs on the device.  The host runs the same programs with the same inputs
 * and the same fj_jit_config, records the traces with the same recorder (traces are
 * target-independent: pcs, instructions, region indices), compiles each with the real compiler
 * for FJ_TARGET_THUMBV7EM and writes a table {trace bytes -> blob} (tests/arm/mkjit.c) that is
 * linked into flash.  submit() answers a trace by looking it up byte for byte: found = the blob
 * (status 0, straight from flash), found without a blob = the compiler rejected it on the host
 * (FJ_ECOMPILE), not found = the device recorded a trace the host did not (FJ_ECOMPILE, counted
 * as a miss with its start pc, kind, length and FNV-1a hash so the mismatch can be named).
 * Either failure only means interpreting on.  Results are available at once (wait() = 1).
 *
 * Traces hold no addresses (format v3: a data-section lddw is recorded as region + offset), but
 * they do record which entry registers were below 2^32 (entry_narrow), and pointers are below
 * 2^32 on the device.  The host therefore gives its VM memory mapped below 2^32 as well
 * (tests/arm/mkjit.c), records byte-identical traces in one pass, and the test script fails on
 * any miss, naming it (tests/arm/run_qemu_jit.sh).
 *
 * Table layout (little-endian, 8-aligned, bundle-style):
 *   fj_replay_hdr                       magic "FJRP", version, entries, total bytes
 *   fj_replay_ent + trace + blob        per entry, trace and blob each padded to 8 bytes
 * Freestanding; also built on the host (the writer uses the layout and the hash).
 */
#ifndef FJ_CORTEXM_REPLAY_H
#define FJ_CORTEXM_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "farjit/client.h"

enum { FJ_REPLAY_MAGIC = 0x50524a46u /* "FJRP" */, FJ_REPLAY_VERSION = 1 };
enum { FJ_REPLAY_QUEUE = 8, FJ_REPLAY_MISSES = 4 };

typedef struct fj_replay_hdr {
  uint32_t magic, version, nents, total_size;
} fj_replay_hdr;

typedef struct fj_replay_ent {
  uint32_t trace_len;
  uint32_t blob_len;  /* 0: the host's compiler rejected the trace */
} fj_replay_ent;

_Static_assert(sizeof(fj_replay_hdr) == 16 && sizeof(fj_replay_ent) == 8, "table layout");

static inline uint32_t fj_replay_pad8(uint32_t n) { return (n + 7u) & ~7u; }

/* FNV-1a over a trace: names a trace in reports (not used for lookup). */
static inline uint32_t fj_replay_hash(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

/* A trace not in the table, and where it parts from the nearest one that is (the entry of the
 * same length and start pc sharing the longest prefix): near_off = first differing byte
 * (UINT32_MAX: no entry of that length and pc), with the device's and the table's byte there. */
typedef struct fj_replay_miss {
  uint32_t start_pc, kind, trace_len, hash;
  uint32_t near_off;
  uint8_t dev_byte, host_byte;
} fj_replay_miss;

typedef struct fj_replay {
  const uint8_t *table;
  size_t size;
  struct {
    uint32_t id;
    int status;
    const uint8_t *blob;
    uint32_t blob_len;
  } q[FJ_REPLAY_QUEUE];
  uint32_t nq;
  uint32_t hits, rejected, misses;          /* since fj_replay_init */
  fj_replay_miss miss[FJ_REPLAY_MISSES];    /* the first misses */
  /* Called with every missed request (NULL: none), e.g. to send the trace back to the host,
   * which compiles it into the next table: set after fj_replay_init. */
  void (*on_miss)(void *ud, const fj_jit_request *rq);
  void *miss_ud;
} fj_replay;

/* The fj_jit_config a table is recorded with and must be replayed with: the same thresholds
 * give the same traces.  Sized for the device (256 records, 32 traces, 32 KiB of code).  hot:
 * the hot threshold (the firmware test uses 2 so that short conformance loops get traced,
 * bench-cortexm 8, which traces fewer cold paths). */
static inline fj_jit_config fj_replay_config(uint16_t hot) {
  fj_jit_config c;
  memset(&c, 0, sizeof c);
  c.hot_threshold = hot;
  c.exit_threshold = 16;
  c.max_recs = 256;
  c.code_size = 32u * 1024u;
  c.max_traces = 32;
  c.max_inflight = 4;
  c.wait_ms = 1;  /* results are there at once: install and enter right after recording */
  return c;
}

/* Use the table at [table, table + size); FJ_EINVAL if its header or any entry is malformed. */
int fj_replay_init(fj_replay *r, const void *table, size_t size);
/* The transport answering from r (ud = r). */
fj_jit_transport fj_replay_transport(fj_replay *r);

#endif /* FJ_CORTEXM_REPLAY_H */
