/* farjit — Cortex-M platform layer: the replay transport (contract in replay.h). */
#include "client_runtime/cortexm/replay.h"

#include <string.h>

#include "farjit/error.h"
#include "farjit/trace.h"

static const fj_replay_ent *next_ent(const fj_replay_ent *e) {
  const uint8_t *p = (const uint8_t *)(e + 1) + fj_replay_pad8(e->trace_len) + fj_replay_pad8(e->blob_len);
  return (const fj_replay_ent *)p;
}

int fj_replay_init(fj_replay *r, const void *table, size_t size) {
  memset(r, 0, sizeof *r);
  r->miss_ud = NULL;
  const fj_replay_hdr *h = table;
  if (size < sizeof *h || ((uintptr_t)table & 7u) || h->magic != FJ_REPLAY_MAGIC ||
      h->version != FJ_REPLAY_VERSION || h->total_size > size)
    return FJ_EINVAL;
  const uint8_t *end = (const uint8_t *)table + h->total_size;
  const fj_replay_ent *e = (const fj_replay_ent *)(h + 1);
  for (uint32_t k = 0; k < h->nents; k++) {
    if ((size_t)(end - (const uint8_t *)e) < sizeof *e) return FJ_EINVAL;
    size_t need = (size_t)fj_replay_pad8(e->trace_len) + fj_replay_pad8(e->blob_len);
    if (e->trace_len > size || e->blob_len > size || need > (size_t)(end - (const uint8_t *)(e + 1)))
      return FJ_EINVAL;
    e = next_ent(e);
  }
  r->table = table;
  r->size = h->total_size;
  return 0;
}

/* Where trace parts from the nearest table entry of its length and start pc (replay.h). */
static void note_miss(fj_replay *r, const fj_jit_request *rq, fj_replay_miss *m) {
  *m = (fj_replay_miss){rq->start_pc, rq->kind, (uint32_t)rq->trace_len,
                        fj_replay_hash(rq->trace, rq->trace_len), UINT32_MAX, 0, 0};
  const fj_replay_hdr *h = (const fj_replay_hdr *)r->table;
  const fj_replay_ent *e = (const fj_replay_ent *)(h + 1);
  for (uint32_t k = 0; k < h->nents; k++, e = next_ent(e)) {
    const uint8_t *t = (const uint8_t *)(e + 1);
    uint32_t pc;
    if (e->trace_len != rq->trace_len || e->trace_len < sizeof(fj_trace_header)) continue;
    memcpy(&pc, t + offsetof(fj_trace_header, start_pc), 4);
    if (pc != rq->start_pc) continue;
    uint32_t i = 0;
    while (i < e->trace_len && t[i] == rq->trace[i]) i++;
    if (m->near_off == UINT32_MAX || i > m->near_off)
      m->near_off = i, m->dev_byte = rq->trace[i], m->host_byte = t[i];
  }
}

static int rp_submit(void *ud, const fj_jit_request *rq) {
  fj_replay *r = ud;
  if (r->nq == FJ_REPLAY_QUEUE) return FJ_EBUSY;
  const fj_replay_hdr *h = (const fj_replay_hdr *)r->table;
  int status = FJ_ECOMPILE;
  const uint8_t *blob = NULL;
  uint32_t blob_len = 0;
  bool found = false;
  const fj_replay_ent *e = h ? (const fj_replay_ent *)(h + 1) : NULL;
  for (uint32_t k = 0; h && k < h->nents && !found; k++, e = next_ent(e)) {
    if (e->trace_len != rq->trace_len || memcmp(e + 1, rq->trace, rq->trace_len) != 0) continue;
    found = true;
    if (e->blob_len) {
      status = 0;
      blob = (const uint8_t *)(e + 1) + fj_replay_pad8(e->trace_len);
      blob_len = e->blob_len;
    }
  }
  if (found && blob) r->hits++;
  else if (found) r->rejected++;
  else {
    if (r->misses < FJ_REPLAY_MISSES) note_miss(r, rq, &r->miss[r->misses]);
    if (r->on_miss) r->on_miss(r->miss_ud, rq);
    r->misses++;
  }
  r->q[r->nq].id = rq->id;
  r->q[r->nq].status = status;
  r->q[r->nq].blob = blob;
  r->q[r->nq].blob_len = blob_len;
  r->nq++;
  return 0;
}

static int rp_poll(void *ud, fj_jit_result *res) {
  fj_replay *r = ud;
  if (!r->nq) return 0;
  memset(res, 0, sizeof *res);
  res->id = r->q[0].id;
  res->status = r->q[0].status;
  res->blob = r->q[0].blob;
  res->blob_len = r->q[0].blob_len;
  if (res->status) {
    static const char nf[] = "replay: trace not compiled on the host";
    memcpy(res->message, nf, sizeof nf);
  }
  r->nq--;
  memmove(&r->q[0], &r->q[1], r->nq * sizeof r->q[0]);
  return 1;
}

static void rp_release(void *ud, fj_jit_result *res) { (void)ud, (void)res; }

static void rp_cancel(void *ud, uint32_t id) {
  fj_replay *r = ud;
  for (uint32_t k = 0; k < r->nq; k++)
    if (r->q[k].id == id) {
      r->nq--;
      memmove(&r->q[k], &r->q[k + 1], (r->nq - k) * sizeof r->q[0]);
      return;
    }
}

static int rp_wait(void *ud, uint32_t id, uint32_t timeout_ms) {
  fj_replay *r = ud;
  (void)timeout_ms;
  if (id == 0) return 1;
  for (uint32_t k = 0; k < r->nq; k++)
    if (r->q[k].id == id) return 1;
  return 0;
}

fj_jit_transport fj_replay_transport(fj_replay *r) {
  fj_jit_transport t;
  memset(&t, 0, sizeof t);
  t.submit = rp_submit;
  t.poll = rp_poll;
  t.release = rp_release;
  t.cancel = rp_cancel;
  t.wait = rp_wait;
  t.ud = r;
  return t;
}
