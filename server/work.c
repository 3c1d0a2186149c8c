/* farjitd — compile jobs: admission checks, cache lookup, the worker pool, cancel, budgets.
 *
 * Every CompileRequest gets exactly one CompileResult: from the checks below, from the cache,
 * from a worker, or early (FJ_ECANCELED on Cancel, FJ_ETIMEDOUT when compile_budget_ms runs
 * out).  A compile cannot be interrupted inside a worker: an abandoned job keeps its worker
 * until the compiler returns, keeps counting against its client's max_inflight (so a client
 * cannot pile up abandoned work), and its result still fills the cache.
 *
 * The compiler is libfj_codegen, referenced weakly: a farjitd linked without it (while codegen/
 * is being written) answers every compile with FJ_ENOTSUP instead of failing to build.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "farjit/target.h"
#include "farjit/trace.h"
#include "server/log.h"
#include "server/server.h"

#pragma weak fj_codegen_compile
#pragma weak fj_codegen_result_free
#pragma weak fj_codegen_supports

int fj_srv_have_compiler(void) {
  return fj_codegen_compile != NULL && fj_codegen_result_free != NULL &&
         fj_codegen_supports != NULL;
}

uint32_t fj_srv_targets(void) {
  uint32_t bits = 0;
  if (!fj_srv_have_compiler()) return 0;
#define FJ_TARGET_BIT(name, id, triple) \
  if (fj_codegen_supports(FJ_TARGET_##name)) bits |= 1u << id;
  FJ_TARGETS(FJ_TARGET_BIT)
#undef FJ_TARGET_BIT
  return bits;
}

static void targets_text(char *out, size_t n) {
  uint32_t bits = fj_srv_targets();
  size_t k = 0;
  out[0] = 0;
#define FJ_TARGET_TXT(name, id, triple)                                                  \
  if ((bits & (1u << id)) && k < n)                                                     \
    k += (size_t)snprintf(out + k, n - k, "%s%s", k ? ", " : "", triple);
  FJ_TARGETS(FJ_TARGET_TXT)
#undef FJ_TARGET_TXT
  if (!bits) snprintf(out, n, "nothing");
}

void fj_result_send(fj_conn *c, uint64_t id, int status, const char *msg, const uint8_t *blob,
                    size_t size, const fj_codegen_stats *st, bool cache_hit, int abort_reason,
                    uint32_t compile_us) {
  Farjit__CompileResult r = FARJIT__COMPILE_RESULT__INIT;
  Farjit__CompileStats cs = FARJIT__COMPILE_STATS__INIT;
  r.id = id;
  r.status = status;
  r.message = (char *)(msg ? msg : "");
  r.cache_hit = cache_hit;
  r.abort_reason = abort_reason;
  if (status == 0) {
    r.blob.data = (uint8_t *)blob;
    r.blob.len = size;
  }
  if (st) {
    cs.nrecs = st->nrecs;
    cs.ir_before = st->ir_before;
    cs.ir_after = st->ir_after;
    cs.nexits = st->nexits;
    cs.nspills = st->nspills;
    cs.code_size = st->code_size;
  }
  cs.compile_us = compile_us;
  r.stats = &cs;
  fj_envelope env = FARJIT__ENVELOPE__INIT;
  env.msg_case = FARJIT__ENVELOPE__MSG_COMPILE_RESULT;
  env.compile_result = &r;
  if (status) {
    c->errors++;
    fj_metrics_error(&c->srv->m, status);
    fj_log(FJ_LOG_INFO, "compile_error", "conn=%llu client=%s id=%llu code=%s msg=\"%s\"",
           (unsigned long long)c->id, c->client, (unsigned long long)id, fj_err_name(status),
           r.message);
  }
  size_t len = 0;
  uint8_t *frame = fj_msg_pack(&env, &len);
  fj_conn_send(c, frame, len);
}

static void reject(fj_conn *c, uint64_t id, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject(fj_conn *c, uint64_t id, int status, const char *fmt, ...) {
  char msg[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fj_result_send(c, id, status, msg, NULL, 0, NULL, false, 0, 0);
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void work_cb(uv_work_t *w) {
  fj_job *j = w->data;
  uint64_t t0 = uv_hrtime();
  if (j->cache_dir && fj_cache_disk_load(j->cache_dir, j->key, &j->res.blob, &j->res.blob_size,
                                         &j->res.stats) == 0) {
    j->from_disk = true;
  } else {
    fj_codegen_compile(j->trace, j->len, (enum fj_target)j->target, &j->opts, &j->res);
    if (j->res.status == 0 && j->cache_dir)
      fj_cache_disk_store(j->cache_dir, j->key, j->res.blob, j->res.blob_size, &j->res.stats);
  }
  j->seconds = (double)(uv_hrtime() - t0) / 1e9;
}

static void job_unlink(fj_job *j) {
  fj_conn *c = j->conn;
  if (!c) return;
  for (fj_job **pp = &c->jobs; *pp; pp = &(*pp)->next) {
    if (*pp == j) {
      *pp = j->next;
      break;
    }
  }
  c->inflight--;
  j->conn = NULL;
}

static void pending_remove(fj_srv *s, fj_job *j) {
  for (fj_job **pp = &s->pending[j->key[0]]; *pp; pp = &(*pp)->tab_next) {
    if (*pp == j) {
      *pp = j->tab_next;
      return;
    }
  }
}

static fj_job *pending_find(fj_srv *s, const uint8_t key[32]) {
  for (fj_job *j = s->pending[key[0]]; j; j = j->tab_next)
    if (memcmp(j->key, key, 32) == 0) return j;
  return NULL;
}

/* uv_cancel, unless someone still waits for this compile's result. */
static void try_cancel(fj_job *j) {
  if (j->leader) return;  /* followers have no work of their own */
  if (j->conn && !j->answered) return;
  for (fj_job *f = j->followers; f; f = f->fnext)
    if (f->conn && !f->answered) return;
  uv_cancel((uv_req_t *)&j->work);
}

/* Deliver the leader's outcome to one request (leader or follower) and free the follower. */
static void deliver(fj_job *lead, fj_job *j, int status) {
  fj_conn *c = j->conn;
  job_unlink(j);
  if (c && !j->answered) {
    if (status == 0) {
      c->compiles++;
      fj_result_send(c, j->id, lead->res.status, lead->res.message, lead->res.blob,
                     lead->res.blob_size, &lead->res.stats, false, lead->res.abort_reason,
                     lead->from_disk ? 0 : (uint32_t)(lead->seconds * 1e6));
    } else {
      fj_result_send(c, j->id, FJ_ECANCELED, "shared compile canceled", NULL, 0, NULL, false, 0, 0);
    }
  }
  if (c) fj_conn_resume(c);
}

static void after_cb(uv_work_t *w, int status) {
  fj_job *j = w->data;
  fj_srv *s = j->srv;
  pending_remove(s, j);
  s->m.inflight--;
  if (status == 0) {
    if (j->res.status == 0) {
      fj_cache_put(s->cache, j->key, j->res.blob, j->res.blob_size, &j->res.stats);
      if (j->from_disk) s->m.disk_hits++;
    }
    if (!j->from_disk) {
      if (j->res.status == 0) s->m.compiles_ok++; else s->m.compiles_failed++;
      fj_metrics_latency(&s->m, j->seconds);
    }
  }
  while (j->followers) {
    fj_job *f = j->followers;
    j->followers = f->fnext;
    deliver(j, f, status);
    s->jobs_live--;
    free(f);
  }
  deliver(j, j, status == UV_ECANCELED ? UV_ECANCELED : 0);
  s->jobs_live--;
  if (j->from_disk) free(j->res.blob);
  else if (status == 0) fj_codegen_result_free(&j->res);
  free(j->trace);
  free(j->cache_dir);
  free(j);
}

void fj_job_submit(fj_conn *c, const Farjit__CompileRequest *req) {
  fj_srv *s = c->srv;
  const fj_srv_config *cfg = &s->cfg;
  uint64_t id = req->id;
  const uint8_t *t = req->trace.data;
  size_t len = req->trace.len;
  s->m.requests++;
  c->requests++;
  for (fj_job *j = c->jobs; j; j = j->next)
    if (j->id == id && !j->answered)
      return reject(c, id, FJ_EINVAL, "request id %llu is already outstanding",
                    (unsigned long long)id);
  if (fj_target_name((int)req->target)[0] == 'u')
    return reject(c, id, FJ_ETARGET, "unsupported target: unknown target id %u", req->target);
  if (len > cfg->max_trace)
    return reject(c, id, FJ_EBADTRACE, "trace of %zu bytes exceeds the server's max_trace %u",
                  len, cfg->max_trace);
  /* Cheap envelope checks; the compiler's verifier checks everything else. */
  if (len < sizeof(fj_trace_header))
    return reject(c, id, FJ_EBADTRACE, "trace of %zu bytes is shorter than its %zu-byte header",
                  len, sizeof(fj_trace_header));
  if (rd32(t) != FJ_TRACE_MAGIC)
    return reject(c, id, FJ_EBADTRACE, "bad trace magic 0x%08x", rd32(t));
  uint32_t nrecs = rd32(t + 12);
  if (nrecs == 0 || nrecs > FJ_TRACE_MAX_RECS || fj_trace_size(nrecs) != len)
    return reject(c, id, FJ_EBADTRACE, "trace size %zu does not match its %u records", len, nrecs);
  if (!fj_srv_have_compiler())
    return reject(c, id, FJ_ENOTSUP, "this farjitd was built without the compiler (libfj_codegen)");
  if (!fj_codegen_supports((enum fj_target)req->target)) {
    char have[64];
    targets_text(have, sizeof have);
    return reject(c, id, FJ_ETARGET, "unsupported target %s: this server compiles %s",
                  fj_target_name((int)req->target), have);
  }
  fj_codegen_opts opts = {0, 0};
  if (req->options) {
    if (req->options->flags & ~(uint32_t)(FJ_CG_NO_OPT | FJ_CG_DUMP))
      return reject(c, id, FJ_EINVAL, "unknown compile option flags 0x%x", req->options->flags);
    opts.flags = req->options->flags;
    opts.max_recs = req->options->max_recs;
  }
  uint8_t key[32];
  fj_cache_key(key, t, len, (int)req->target, &opts);
  const fj_cache_entry *e = fj_cache_get(s->cache, key);
  if (e) {
    s->m.cache_hits++;
    c->cache_hits++;
    fj_result_send(c, id, 0, "", e->blob, e->size, &e->stats, true, 0, 0);
    return;
  }
  s->m.cache_misses++;
  fj_job *lead = pending_find(s, key);
  if (lead) {
    fj_job *f = calloc(1, sizeof *f);
    if (!f) return reject(c, id, FJ_ENOMEM, "server out of memory");
    f->srv = s;
    f->conn = c;
    f->id = id;
    f->leader = lead;
    memcpy(f->key, key, 32);
    f->t_arrival = uv_now(s->loop);
    f->fnext = lead->followers;
    lead->followers = f;
    f->next = c->jobs;
    c->jobs = f;
    c->inflight++;
    s->jobs_live++;
    s->m.shared++;
    return;
  }
  fj_job *j = calloc(1, sizeof *j);
  uint8_t *copy = malloc(len);
  char *dir = cfg->cache_dir[0] ? strdup(cfg->cache_dir) : NULL;
  if (!j || !copy || (cfg->cache_dir[0] && !dir)) {
    free(j);
    free(copy);
    free(dir);
    return reject(c, id, FJ_ENOMEM, "server out of memory");
  }
  memcpy(copy, t, len);
  j->srv = s;
  j->conn = c;
  j->id = id;
  j->trace = copy;
  j->len = len;
  j->target = (int)req->target;
  j->opts = opts;
  memcpy(j->key, key, 32);
  j->cache_dir = dir;
  j->t_arrival = uv_now(s->loop);
  j->work.data = j;
  if (uv_queue_work(s->loop, &j->work, work_cb, after_cb) != 0) {
    free(j->trace);
    free(j->cache_dir);
    free(j);
    return reject(c, id, FJ_EBUSY, "cannot queue work");
  }
  j->next = c->jobs;
  c->jobs = j;
  c->inflight++;
  s->m.inflight++;
  s->jobs_live++;
  j->tab_next = s->pending[key[0]];
  s->pending[key[0]] = j;
  if (req->parent_trace || req->parent_exit)
    fj_log(FJ_LOG_DEBUG, "bridge", "conn=%llu id=%llu parent=%u exit=%u",
           (unsigned long long)c->id, (unsigned long long)id, req->parent_trace, req->parent_exit);
}

/* Answer early; the worker's result (if it runs) is then only cached. */
static void abandon(fj_conn *c, fj_job *j, int status, const char *msg) {
  j->answered = true;
  fj_result_send(c, j->id, status, msg, NULL, 0, NULL, false, 0, 0);
  try_cancel(j->leader ? j->leader : j);  /* succeeds only if no worker has it yet */
}

void fj_job_cancel(fj_conn *c, uint64_t id) {
  for (fj_job *j = c->jobs; j; j = j->next) {
    if (j->id == id && !j->answered) {
      c->srv->m.cancels++;
      abandon(c, j, FJ_ECANCELED, "canceled by the client");
      return;
    }
  }
  /* Unknown or finished: its result is already on the way; nothing to do. */
}

void fj_job_tick(fj_conn *c, uint64_t now) {
  uint32_t budget = c->srv->cfg.compile_budget_ms;
  for (fj_job *j = c->jobs; j; j = j->next) {
    if (!j->answered && budget && now - j->t_arrival > budget) {
      char m[96];
      snprintf(m, sizeof m, "compile budget of %u ms exceeded", budget);
      c->srv->m.timeouts++;
      abandon(c, j, FJ_ETIMEDOUT, m);
    }
  }
}

void fj_job_detach_all(fj_conn *c) {
  fj_job *j = c->jobs;
  while (j) {
    fj_job *next = j->next;
    j->conn = NULL;
    j->next = NULL;
    try_cancel(j->leader ? j->leader : j);
    j = next;
  }
  c->jobs = NULL;
  c->inflight = 0;
}
