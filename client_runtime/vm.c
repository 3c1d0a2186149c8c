/* farjit — the VM object: lifecycle, helper table, loading (raw and ELF), regions, runs,
 * nested calls and error messages.  Public contract in farjit/vm.h, internals in
 * vm_internal.h.  Freestanding: memory only through vm->pf.mem, no I/O.
 */
#include <string.h>

#include "client_runtime/elf.h"
#include "client_runtime/validate.h"
#include "client_runtime/vm_internal.h"

enum { DEFAULT_INSN_LIMIT = 1000000000, STACK_BYTES = FJ_MAX_CALL_DEPTH * FJ_STACK_SIZE };
#define UNLIMITED ((uint64_t)INT64_MAX)

/* ---- text builder ----------------------------------------------------------------------- */

void fj_sb_putc(fj_sb *sb, char c) {
  if (sb->len + 1 < sb->cap) {
    sb->buf[sb->len] = c;
    sb->buf[sb->len + 1] = '\0';
  }
  sb->len++;
}
void fj_sb_puts(fj_sb *sb, const char *s) {
  while (*s) fj_sb_putc(sb, *s++);
}
void fj_sb_putu(fj_sb *sb, uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) fj_sb_putc(sb, tmp[--n]);
}
void fj_sb_puti(fj_sb *sb, int64_t v) {
  if (v < 0) {
    fj_sb_putc(sb, '-');
    fj_sb_putu(sb, 0 - (uint64_t)v);
  } else {
    fj_sb_putu(sb, (uint64_t)v);
  }
}
void fj_sb_putx(fj_sb *sb, uint64_t v) {
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n) fj_sb_putc(sb, tmp[--n]);
}

/* ---- memory ----------------------------------------------------------------------------- */

static void *vm_alloc(const fj_vm *vm, size_t size) {
  return vm->pf.mem.alloc(vm->pf.mem.ud, size ? size : 1, 16);
}
static void vm_free(const fj_vm *vm, void *p, size_t size) {
  if (p) vm->pf.mem.free(vm->pf.mem.ud, p, size ? size : 1);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void set_msg(fj_vm *vm, const char *a, const char *b) {
  fj_sb sb = fj_sb_init(vm->errmsg, sizeof vm->errmsg);
  fj_sb_puts(&sb, a);
  if (b) fj_sb_puts(&sb, b);
}

static fj_sb begin_fail(fj_vm *vm, uint32_t pc, int code) {
  vm->err = code;
  vm->err_pc = pc;
  vm->stop = true;
  fj_sb sb = fj_sb_init(vm->errmsg, sizeof vm->errmsg);
  fj_sb_puts(&sb, "pc ");
  fj_sb_putu(&sb, pc);
  if (vm->x && pc < vm->ninsns) {
    fj_sb_puts(&sb, " (");
    fj_sb_puts(&sb, fj_op_table[vm->x[pc].op].mnem);
    const fj_insn *c = &vm->code[pc];
    if (vm->x[pc].op == FJ_OP_CALL) {
      const char *name = fj_vm_helper_name(vm, (uint32_t)c->imm);
      fj_sb_putc(&sb, ' ');
      if (name) fj_sb_puts(&sb, name);
      else fj_sb_putu(&sb, (uint32_t)c->imm);
    }
    fj_sb_putc(&sb, ')');
  }
  fj_sb_puts(&sb, ": ");
  fj_sb_puts(&sb, fj_strerror(code));
  return sb;
}

int fj_vm_fail_at(fj_vm *vm, uint32_t pc, int code, const char *detail) {
  if (vm->err) return vm->err;  /* the first failure wins */
  fj_sb sb = begin_fail(vm, pc, code);
  if (detail && *detail) {
    fj_sb_puts(&sb, ": ");
    fj_sb_puts(&sb, detail);
  }
  return code;
}

int fj_vm_fail(fj_vm *vm, int code, const char *detail) {
  uint32_t pc = vm->cur ? vm->cur->pc : 0;
  if (!vm->cur) {
    if (!vm->err) {
      vm->err = code;
      set_msg(vm, fj_strerror(code), NULL);
    }
    return vm->err;
  }
  return fj_vm_fail_at(vm, pc, code, detail);
}

int fj_vm_fail_mem(fj_vm *vm, uint32_t pc, uint64_t addr, uint64_t len, bool write) {
  if (vm->err) return vm->err;
  fj_sb sb = begin_fail(vm, pc, FJ_EOOB);
  fj_sb_puts(&sb, ": ");
  fj_sb_putu(&sb, len);
  fj_sb_puts(&sb, write ? "-byte write at 0x" : "-byte read at 0x");
  fj_sb_putx(&sb, addr);
  /* Say why: a region that holds the range but lacks permission, one it overruns, or none. */
  for (uint32_t i = 0; i < vm->nregions; i++) {
    const fj_region *g = &vm->regions[i];
    if (g->size == 0 || addr - g->base >= g->size) continue;
    if (g->size - (addr - g->base) >= len) {
      fj_sb_puts(&sb, ": region ");
      fj_sb_putu(&sb, i);
      fj_sb_puts(&sb, write ? " is read-only" : " is not readable");
    } else {
      fj_sb_puts(&sb, ": crosses the end of region ");
      fj_sb_putu(&sb, i);
      fj_sb_puts(&sb, " (0x");
      fj_sb_putx(&sb, g->base);
      fj_sb_puts(&sb, ", ");
      fj_sb_putu(&sb, g->size);
      fj_sb_puts(&sb, " bytes)");
    }
    return FJ_EOOB;
  }
  fj_sb_puts(&sb, " not in any region");
  return FJ_EOOB;
}

const char *fj_vm_errmsg(const fj_vm *vm) { return vm->errmsg; }
int64_t fj_vm_error_pc(const fj_vm *vm) { return vm->err_pc; }

void *fj_vm_check_range(fj_vm *vm, uint64_t addr, uint64_t len, bool write) {
  uint32_t need = write ? FJ_REGION_WRITE : FJ_REGION_READ;
  for (uint32_t i = 0; i < vm->nregions; i++) {
    const fj_region *g = &vm->regions[i];
    if (!(g->flags & need) || g->size == 0) continue;
    if (addr - g->base <= g->size && g->size - (addr - g->base) >= len) return (void *)(uintptr_t)addr;
  }
  return NULL;
}

/* ---- lifecycle and helpers ------------------------------------------------------------- */

fj_vm *fj_vm_create(const fj_platform *pf) {
  if (!pf || !pf->mem.alloc || !pf->mem.free) return NULL;
  fj_vm *vm = pf->mem.alloc(pf->mem.ud, sizeof *vm, 16);
  if (!vm) return NULL;
  memset(vm, 0, sizeof *vm);
  vm->pf = *pf;
  vm->stack = vm_alloc(vm, STACK_BYTES);
  if (!vm->stack) {
    pf->mem.free(pf->mem.ud, vm, sizeof *vm);
    return NULL;
  }
  memset(vm->stack, 0, STACK_BYTES);
  vm->regions[FJ_REGION_STACK] = (fj_region){(uint64_t)(uintptr_t)vm->stack, STACK_BYTES,
                                             FJ_REGION_READ | FJ_REGION_WRITE, 0};
  vm->nregions = vm->nregions_fixed = 2;
  vm->insn_limit = DEFAULT_INSN_LIMIT;
  vm->err_pc = -1;
  vm->rng = 0x9e3779b97f4a7c15ull;
  return vm;
}

static void program_free(fj_vm *vm) {
  vm_free(vm, vm->code, (size_t)vm->ninsns * sizeof *vm->code);
  vm_free(vm, vm->x, (size_t)vm->ninsns * sizeof *vm->x);
  vm_free(vm, vm->hot, (size_t)vm->ninsns * sizeof *vm->hot);
  vm_free(vm, vm->funcs, (size_t)vm->nfuncs * sizeof *vm->funcs);
  for (uint32_t i = 0; i < vm->ndata; i++) vm_free(vm, vm->data[i], vm->data_size[i]);
  vm->code = NULL;
  vm->x = NULL;
  vm->hot = NULL;
  vm->funcs = NULL;
  vm->ninsns = vm->nfuncs = vm->ndata = 0;
  vm->default_entry = 0;
}

/* Regions 2.. hold the program's data sections, then regions the host added outside runs.
 * Replace old_ndata data regions by ndata new ones, keeping the host's after them. */
static int regions_relayout(fj_vm *vm, uint32_t old_ndata, uint32_t ndata, void *const *data,
                            const fj_elf_data *desc) {
  uint32_t nhost = vm->nregions_fixed - 2 - old_ndata;
  if (2 + ndata + nhost > FJ_MAX_REGIONS) return FJ_ENOSPC;
  memmove(&vm->regions[2 + ndata], &vm->regions[2 + old_ndata], nhost * sizeof vm->regions[0]);
  for (uint32_t i = 0; i < ndata; i++)
    vm->regions[2 + i] = (fj_region){(uint64_t)(uintptr_t)data[i], desc[i].size, desc[i].flags, 0};
  vm->nregions = vm->nregions_fixed = 2 + ndata + nhost;
  return 0;
}

void fj_vm_destroy(fj_vm *vm) {
  if (!vm) return;
  program_free(vm);
  vm_free(vm, vm->helpers, (size_t)vm->helpers_cap * sizeof *vm->helpers);
  vm_free(vm, vm->stack, STACK_BYTES);
  fj_allocator mem = vm->pf.mem;
  mem.free(mem.ud, vm, sizeof *vm);
}

int fj_vm_helper_index(const fj_vm *vm, uint32_t id) {
  for (uint32_t i = 0; i < vm->nhelpers; i++)
    if (vm->helpers[i].id == id) return (int)i;
  return -1;
}

int fj_vm_register_helper(fj_vm *vm, uint32_t id, const char *name, fj_helper_fn fn) {
  if (!vm || !fn) return FJ_EINVAL;
  int i = fj_vm_helper_index(vm, id);
  if (i < 0) {
    if (vm->nhelpers == vm->helpers_cap) {
      uint32_t cap = vm->helpers_cap ? vm->helpers_cap * 2 : 16;
      fj_vm_helper *h = vm_alloc(vm, (size_t)cap * sizeof *h);
      if (!h) return FJ_ENOMEM;
      if (vm->nhelpers) memcpy(h, vm->helpers, (size_t)vm->nhelpers * sizeof *h);
      vm_free(vm, vm->helpers, (size_t)vm->helpers_cap * sizeof *vm->helpers);
      vm->helpers = h;
      vm->helpers_cap = cap;
    }
    i = (int)vm->nhelpers++;
  }
  fj_vm_helper *h = &vm->helpers[i];
  h->id = id;
  h->fn = fn;
  fj_sb sb = fj_sb_init(h->name, sizeof h->name);
  fj_sb_puts(&sb, name ? name : "");
  return 0;
}

const char *fj_vm_helper_name(const fj_vm *vm, uint32_t id) {
  int i = fj_vm_helper_index(vm, id);
  return i < 0 ? NULL : vm->helpers[i].name;
}

/* ---- loading ---------------------------------------------------------------------------- */

static bool helper_known(const void *ud, uint32_t id) { return fj_vm_helper_index(ud, id) >= 0; }

static void mark_func(fj_xinsn *x, uint32_t pc) { x[pc].flags |= FJ_XF_FUNC | FJ_XF_HOT; }

/* Pre-decode validated code into x (zeroed by the caller). */
static void decode(const fj_vm *vm, const fj_insn *c, uint32_t n, fj_xinsn *x) {
  mark_func(x, 0);
  for (uint32_t pc = 0; pc < n; pc++) {
    enum fj_op op = fj_op_decode(c[pc]);
    fj_xinsn *xi = &x[pc];
    xi->op = (uint8_t)op;
    xi->dst = (uint8_t)fj_insn_dst(c[pc]);
    xi->src = (uint8_t)fj_insn_src(c[pc]);
    xi->off = c[pc].off;
    xi->k = (uint64_t)(int64_t)c[pc].imm;
    switch (fj_op_table[op].fmt) {
    case FJ_FMT_JA:
    case FJ_FMT_JCOND_IMM:
    case FJ_FMT_JCOND_REG:
    case FJ_FMT_JA32: {
      int64_t t = (int64_t)pc + 1 + (op == FJ_OP_JA32 ? c[pc].imm : c[pc].off);
      xi->off = (int32_t)t;
      if (t <= (int64_t)pc) x[t].flags |= FJ_XF_LOOP | FJ_XF_HOT;
      break;
    }
    case FJ_FMT_CALL_LOCAL:
      xi->off = (int32_t)((int64_t)pc + 1 + c[pc].imm);
      mark_func(x, (uint32_t)xi->off);
      break;
    case FJ_FMT_CALL:
      xi->off = fj_vm_helper_index(vm, (uint32_t)c[pc].imm);
      break;
    case FJ_FMT_END:
      xi->off = c[pc].imm;
      break;
    case FJ_FMT_LDDW:
      xi->k = (uint64_t)(uint32_t)c[pc].imm | (uint64_t)(uint32_t)c[pc + 1].imm << 32;
      x[++pc].flags |= FJ_XF_LDDW2;
      break;
    case FJ_FMT_LDDW_FUNC:
      xi->k = (uint64_t)((int64_t)pc + 1 + c[pc].imm);
      mark_func(x, (uint32_t)xi->k);
      x[++pc].flags |= FJ_XF_LDDW2;
      break;
    default:
      break;
    }
  }
}

static int hot_alloc(fj_vm *vm, fj_xinsn *x, uint32_t n, uint16_t **out) {
  *out = NULL;
  if (!vm->have_hooks) return 0;
  uint16_t *h = vm_alloc(vm, (size_t)n * sizeof *h);
  if (!h) return FJ_ENOMEM;
  for (uint32_t i = 0; i < n; i++) h[i] = (x[i].flags & FJ_XF_HOT) ? vm->hooks.threshold : 0;
  *out = h;
  return 0;
}

/* Validate, decode and install code (ownership of code passes to the VM on success). The
 * data sections and funcs, if any, are installed by the caller afterwards. */
static int install(fj_vm *vm, fj_insn *code, uint32_t n, const fj_elf_func *funcs, uint32_t nfuncs,
                   uint32_t ndata, void *const *data, const fj_elf_data *desc) {
  int64_t pc;
  if (2 + ndata + (vm->nregions_fixed - 2 - vm->ndata) > FJ_MAX_REGIONS) {
    set_msg(vm, "too many memory regions (data sections plus host regions)", NULL);
    return FJ_ENOSPC;
  }
  int rc = fj_validate(code, n, helper_known, vm, vm->errmsg, sizeof vm->errmsg, &pc);
  if (rc) {
    vm->err_pc = pc;
    return rc;
  }
  fj_xinsn *x = vm_alloc(vm, (size_t)n * sizeof *x);
  fj_vm_func *fs = nfuncs ? vm_alloc(vm, (size_t)nfuncs * sizeof *fs) : NULL;
  if (!x || (nfuncs && !fs)) {
    vm_free(vm, x, (size_t)n * sizeof *x);
    vm_free(vm, fs, (size_t)nfuncs * sizeof *fs);
    set_msg(vm, "out of memory decoding the program", NULL);
    return FJ_ENOMEM;
  }
  memset(x, 0, (size_t)n * sizeof *x);
  decode(vm, code, n, x);
  uint32_t entry = 0;
  bool have_entry = false;
  for (uint32_t i = 0; i < nfuncs; i++) {
    fj_sb sb = fj_sb_init(fs[i].name, sizeof fs[i].name);
    fj_sb_puts(&sb, funcs[i].name);
    fs[i].pc = funcs[i].pc;
    mark_func(x, funcs[i].pc);
    if (funcs[i].is_entry && !have_entry) {
      entry = funcs[i].pc;
      have_entry = true;
    }
  }
  uint16_t *hot;
  if (hot_alloc(vm, x, n, &hot)) {
    vm_free(vm, x, (size_t)n * sizeof *x);
    vm_free(vm, fs, (size_t)nfuncs * sizeof *fs);
    set_msg(vm, "out of memory for hot counters", NULL);
    return FJ_ENOMEM;
  }
  (void)regions_relayout(vm, vm->ndata, ndata, data, desc);  /* cannot fail: checked above */
  program_free(vm);
  for (uint32_t i = 0; i < ndata; i++) {
    vm->data[i] = data[i];
    vm->data_size[i] = desc[i].size;
  }
  vm->ndata = ndata;
  vm->code = code;
  vm->x = x;
  vm->ninsns = n;
  vm->funcs = fs;
  vm->nfuncs = nfuncs;
  vm->hot = hot;
  vm->default_entry = entry;
  vm->load_gen++;
  fj_interp_thread(vm);
  vm->errmsg[0] = '\0';
  vm->err_pc = -1;
  return 0;
}

static int load_check(fj_vm *vm) {
  vm->err_pc = -1;
  if (vm->cur) {
    set_msg(vm, "cannot load a program while the VM is running", NULL);
    return FJ_EBUSY;
  }
  return 0;
}

int fj_vm_load(fj_vm *vm, const void *code, size_t len) {
  if (!vm) return FJ_EINVAL;
  int rc = load_check(vm);
  if (rc) return rc;
  if (!code && len) {
    set_msg(vm, "no code", NULL);
    return FJ_EINVAL;
  }
  if (len % sizeof(fj_insn)) {
    fj_sb sb = fj_sb_init(vm->errmsg, sizeof vm->errmsg);
    fj_sb_puts(&sb, "program length ");
    fj_sb_putu(&sb, len);
    fj_sb_puts(&sb, " is not a multiple of 8");
    return FJ_EBADPROG;
  }
  if (len / sizeof(fj_insn) > INT32_MAX) {
    set_msg(vm, "program too large", NULL);
    return FJ_EBADPROG;
  }
  uint32_t n = (uint32_t)(len / sizeof(fj_insn));
  fj_insn *copy = vm_alloc(vm, len);
  if (!copy) {
    set_msg(vm, "out of memory copying the program", NULL);
    return FJ_ENOMEM;
  }
  if (len) memcpy(copy, code, len);
  rc = install(vm, copy, n, NULL, 0, 0, NULL, NULL);
  if (rc) vm_free(vm, copy, len);
  return rc;
}

int fj_vm_load_elf(fj_vm *vm, const void *elf, size_t len) {
  if (!vm) return FJ_EINVAL;
  int rc = load_check(vm);
  if (rc) return rc;
  fj_elf_prog *p = vm_alloc(vm, sizeof *p);
  if (!p) {
    set_msg(vm, "out of memory parsing ELF", NULL);
    return FJ_ENOMEM;
  }
  memset(p, 0, sizeof *p);
  rc = fj_elf_parse(elf, len, &vm->pf.mem, p, vm->errmsg, sizeof vm->errmsg);
  if (rc) {
    vm_free(vm, p, sizeof *p);
    return rc;
  }
  void *data[FJ_VM_MAX_DATA] = {0};
  uint32_t ndata = p->ndata;
  fj_insn *code = NULL;
  size_t code_bytes = (size_t)p->ninsns * sizeof(fj_insn);
  if (ndata > FJ_VM_MAX_DATA || 2 + ndata > FJ_MAX_REGIONS) {
    set_msg(vm, "ELF has too many data sections", NULL);
    rc = FJ_EBADELF;
    goto out;
  }
  for (uint32_t i = 0; i < ndata; i++) {
    data[i] = vm_alloc(vm, p->data[i].size);
    if (!data[i]) {
      set_msg(vm, "out of memory for ELF data sections", NULL);
      rc = FJ_ENOMEM;
      goto out;
    }
    if (p->data[i].bytes) memcpy(data[i], p->data[i].bytes, p->data[i].size);
    else memset(data[i], 0, p->data[i].size ? p->data[i].size : 1);
  }
  code = vm_alloc(vm, code_bytes);
  if (!code) {
    set_msg(vm, "out of memory copying ELF code", NULL);
    rc = FJ_ENOMEM;
    goto out;
  }
  if (code_bytes) memcpy(code, p->insns, code_bytes);
  for (uint32_t i = 0; i < p->nrelocs; i++) {
    const fj_elf_reloc *rl = &p->relocs[i];
    if (rl->pc + 1 >= p->ninsns || rl->section >= ndata || code[rl->pc].code != 0x18 ||
        fj_insn_src(code[rl->pc]) != 0) {
      fj_sb sb = fj_sb_init(vm->errmsg, sizeof vm->errmsg);
      fj_sb_puts(&sb, "ELF relocation ");
      fj_sb_putu(&sb, i);
      fj_sb_puts(&sb, " at pc ");
      fj_sb_putu(&sb, rl->pc);
      fj_sb_puts(&sb, ": not an lddw of a known data section");
      rc = FJ_EBADELF;
      goto out;
    }
    uint64_t addr = (uint64_t)(uintptr_t)data[rl->section] + (uint64_t)rl->addend;
    code[rl->pc].imm = (int32_t)(uint32_t)addr;
    code[rl->pc + 1].imm = (int32_t)(uint32_t)(addr >> 32);
  }
  rc = install(vm, code, p->ninsns, p->funcs, p->nfuncs < FJ_ELF_MAX_FUNCS ? p->nfuncs : FJ_ELF_MAX_FUNCS,
               ndata, data, p->data);
  if (rc) goto out;
  /* Remember which lddw holds which section's address: the recorder writes region + offset
   * instead, so traces carry no client address.  Data section i is region 2 + i. */
  for (uint32_t i = 0; i < p->nrelocs; i++) {
    vm->x[p->relocs[i].pc].flags |= FJ_XF_LDDW_REGION;
    vm->x[p->relocs[i].pc + 1].off = (int32_t)(2 + p->relocs[i].section);
  }
  code = NULL;  /* owned by the VM now, and so are the data sections */
  for (uint32_t i = 0; i < ndata; i++) data[i] = NULL;
out:
  for (uint32_t i = 0; i < ndata && i < FJ_VM_MAX_DATA; i++) vm_free(vm, data[i], p->data[i].size);
  vm_free(vm, code, code_bytes);
  fj_elf_prog_free(p, &vm->pf.mem);
  vm_free(vm, p, sizeof *p);
  return rc;
}

int fj_vm_find_entry(const fj_vm *vm, const char *name) {
  if (!vm || !vm->x || !name) return FJ_ENOENT;
  if (!vm->funcs) return strcmp(name, "main") == 0 ? 0 : FJ_ENOENT;
  for (uint32_t i = 0; i < vm->nfuncs; i++)
    if (strcmp(vm->funcs[i].name, name) == 0) return (int)vm->funcs[i].pc;
  return FJ_ENOENT;
}

int fj_vm_default_entry(const fj_vm *vm) {
  if (!vm || !vm->x) return FJ_ENOENT;
  return (int)vm->default_entry;
}

const fj_insn *fj_vm_code(const fj_vm *vm, uint32_t *ninsns) {
  if (ninsns) *ninsns = vm ? vm->ninsns : 0;
  return vm ? vm->code : NULL;
}

/* ---- running ---------------------------------------------------------------------------- */

void fj_vm_set_insn_limit(fj_vm *vm, uint64_t max_insns) { vm->insn_limit = max_insns; }

int fj_vm_region_add(fj_vm *vm, void *base, size_t size, uint32_t flags) {
  if (!vm || (!base && size) || (flags & ~(uint32_t)(FJ_REGION_READ | FJ_REGION_WRITE))) return FJ_EINVAL;
  if ((uint64_t)(uintptr_t)base + size < (uint64_t)(uintptr_t)base) return FJ_ERANGE;
  if (vm->nregions >= FJ_MAX_REGIONS) return FJ_ENOSPC;
  uint32_t i = vm->nregions++;
  vm->regions[i] = (fj_region){(uint64_t)(uintptr_t)base, size, flags, 0};
  if (!vm->cur) vm->nregions_fixed = vm->nregions;
  return (int)i;
}

static void run_reset(fj_vm *vm) {
  vm->err = 0;
  vm->err_pc = -1;
  vm->errmsg[0] = '\0';
  vm->stop = vm->unwinding = vm->unwind_have_r0 = false;
  vm->unwind_r0 = 0;
}

int fj_vm_run(fj_vm *vm, uint32_t entry_pc, void *mem, size_t mem_len, uint64_t *r0) {
  if (!vm) return FJ_EINVAL;
  if (vm->cur) {
    set_msg(vm, "fj_vm_run: the VM is already running (helpers use fj_vm_call)", NULL);
    return FJ_EBUSY;
  }
  run_reset(vm);
  if (!vm->x) {
    set_msg(vm, "fj_vm_run: no program loaded", NULL);
    return FJ_EINVAL;
  }
  if (entry_pc >= vm->ninsns || (vm->x[entry_pc].flags & FJ_XF_LDDW2)) {
    set_msg(vm, "fj_vm_run: entry pc is not an instruction of the program", NULL);
    return FJ_ENOENT;
  }
  if (!mem) mem_len = 0;
  vm->regions[FJ_REGION_MEM] = (fj_region){(uint64_t)(uintptr_t)mem, mem_len,
                                           FJ_REGION_READ | FJ_REGION_WRITE, 0};
  vm->nregions = vm->nregions_fixed;
  vm->left = vm->insn_limit ? vm->insn_limit : UNLIMITED;
  vm->stats.runs++;

  fj_exec ex;
  memset(&ex, 0, sizeof ex);
  ex.r[1] = (uint64_t)(uintptr_t)mem;
  ex.r[2] = mem_len;
  ex.r[10] = fj_vm_frame_top(vm, 0);
  ex.pc = entry_pc;
  vm->cur = &ex;
  int rc = fj_interp_enter(vm, &ex);
  vm->cur = NULL;
  vm->nregions = vm->nregions_fixed;
  vm->regions[FJ_REGION_MEM] = (fj_region){0, 0, 0, 0};

  uint64_t result = ex.r[0];
  if (rc == FJ_EUNWIND && !vm->err) {
    rc = 0;
    result = vm->unwind_r0;
  }
  if (rc < 0) {
    vm->stats.errors++;
    return rc;
  }
  if (r0) *r0 = result;
  return 0;
}

int fj_vm_call(fj_vm *vm, uint32_t func_pc, const uint64_t args[5], uint64_t *r0) {
  fj_exec *outer = vm ? vm->cur : NULL;
  if (!outer) return FJ_EINVAL;
  if (vm->stop) return vm->err ? vm->err : FJ_EUNWIND;
  if (func_pc >= vm->ninsns || !(vm->x[func_pc].flags & FJ_XF_FUNC))
    return fj_vm_fail(vm, FJ_EINVAL, "callback target is not a function of the program");
  if (outer->depth + 1 >= FJ_MAX_CALL_DEPTH) return fj_vm_fail(vm, FJ_EDEPTH, "callback would exceed the call depth limit");
  return fj_vm_call_again(vm, func_pc, args, r0);
}

void fj_vm_unwind(fj_vm *vm) {
  if (!vm || !vm->cur) return;
  vm->stop = true;
  vm->unwinding = true;
}

void fj_vm_get_stats(const fj_vm *vm, fj_vm_stats *out) { *out = vm->stats; }
void fj_vm_reset_stats(fj_vm *vm) { memset(&vm->stats, 0, sizeof vm->stats); }

int fj_vm_set_jit_hooks(fj_vm *vm, const fj_jit_hooks *hooks) {
  if (vm->cur) return FJ_EBUSY;
  vm_free(vm, vm->hot, (size_t)vm->ninsns * sizeof *vm->hot);
  vm->hot = NULL;
  vm->on_call = NULL;
  vm->have_hooks = hooks != NULL && hooks->on_hot != NULL;
  if (!vm->have_hooks) {
    memset(&vm->hooks, 0, sizeof vm->hooks);
    return 0;
  }
  vm->hooks = *hooks;
  if (!vm->hooks.threshold) vm->hooks.threshold = FJ_HOT_DEFAULT_THRESHOLD;
  if (!vm->x) return 0;
  int rc = hot_alloc(vm, vm->x, vm->ninsns, &vm->hot);
  if (rc) vm->have_hooks = false;
  return rc;
}
