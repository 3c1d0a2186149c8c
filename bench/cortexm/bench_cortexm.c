/* farjit bench — Thumb instructions on a Cortex-M4 model: the interpreter vs native code.
 *
 * Loads bench images (image.c linked for the Cortex-M4, see module.mk) into Unicorn with the
 * Cortex-M4 CPU model (UC_ARCH_ARM + UC_MODE_THUMB + uc_ctl_set_cpu_model) and counts executed
 * Thumb instructions of one measured call per column and example: the interpreter running the
 * example's eBPF object (core built -O2, -Os, and -O2 with switch dispatch), the client JIT
 * runtime with the Thumb-2 layer running it (first run from cold: interpreting, recording,
 * linking and traces; second run in the same VM: the traces installed) and the same C compiled
 * natively with arm-none-eabi-gcc -O2.  The JIT image's compiler is this process: its call to
 * fj_bench_compile is intercepted, the trace read from guest memory, compiled for
 * FJ_TARGET_THUMBV7EM by libfj_codegen, the blob written back (not counted).  Every column's r0 is checked against the host build of the example.
 *
 *   bench_cortexm [--len BYTES] [--profile] [--jit-stats] [NAME...]
 *
 * --profile also prints, per example, the functions of the -O2 interpreter image that executed
 * the most instructions (where an interpreter on this core spends its time), and for the warm JIT
 * run the share executed in machine code and the runtime functions that took the rest.
 * --jit-stats prints the runtime's own report (counters, traces, exits taken) after each warm run.
 *
 * Counts are deterministic (no timing); nothing here decides pass/fail.  Columns are rows of
 * `columns[]`: a compiled-trace column (Thumb backend) is one more row with its own measure().
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicorn/unicorn.h>

#include "examples/catalog.h"
#include "farjit/codegen.h"
#include "farjit/target.h"
#include "tools/file.h"

#ifndef FJ_EXAMPLES_DIR
#error "FJ_EXAMPLES_DIR must name the directory of the eBPF example objects"
#endif
#if !defined(FJ_BENCH_IMAGE_O2) || !defined(FJ_BENCH_IMAGE_OS) || !defined(FJ_BENCH_IMAGE_O2SW) || \
    !defined(FJ_BENCH_IMAGE_JIT)
#error "FJ_BENCH_IMAGE_O2 / _OS / _O2SW / _JIT must name the Cortex-M4 bench images"
#endif

/* Guest memory: the linker script's flash and RAM (client_runtime/cortexm/mps2_an386.ld), and a
 * host page for the example's ELF bytes and the return address that ends a call. */
enum {
  FLASH_BASE = 0x00000000, FLASH_SIZE = 1024 * 1024,
  RAM_BASE = 0x20000000, RAM_SIZE = 256 * 1024,
  HOST_BASE = 0x30000000, HOST_SIZE = 256 * 1024,
  STOP_ADDR = HOST_BASE + HOST_SIZE - 0x100,  /* calls return here: emulation stops */
  ELF_ADDR = HOST_BASE,
  ELF_MAX = STOP_ADDR - HOST_BASE,
};
#define MAX_INSNS 4000000000ull  /* per call: a hung image stops here */

/* ---- ELF32 image: loadable segments and the symbol table -------------------------------- */

typedef struct image {
  const char *path;
  const char *label;
  uint8_t *file;
  size_t len;
  uc_engine *uc;
  uint64_t count;     /* instructions since the counter was last reset */
  uint32_t stack_top;
  uint32_t *hist;     /* --profile: instructions per flash halfword, or NULL */
  uint32_t compiles, compile_errors;  /* JIT image: traces compiled by the host */
  uint64_t ram_count; /* instructions executed in RAM (the JIT's code cache) */
  /* --profile, JIT image: calls into watched functions per calling flash halfword (lr). */
  uint32_t watch[3];
  uint32_t *callers[3];
} image;

static const char *const watch_names[3] = {"memcpy", "memset", "interp"};

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Value of symbol name (Thumb functions have bit 0 set), or 0. */
static uint32_t image_sym(const image *im, const char *name) {
  const uint8_t *f = im->file;
  uint32_t shoff = rd32(f + 32);
  uint16_t shentsize = rd16(f + 46), shnum = rd16(f + 48);
  for (uint32_t i = 0; i < shnum; i++) {
    const uint8_t *sh = f + shoff + (size_t)i * shentsize;
    if (rd32(sh + 4) != 2 /* SHT_SYMTAB */) continue;
    const uint8_t *strsh = f + shoff + (size_t)rd32(sh + 24) * shentsize;
    const char *strtab = (const char *)f + rd32(strsh + 16);
    uint32_t off = rd32(sh + 16), size = rd32(sh + 20), ent = rd32(sh + 36);
    for (uint32_t k = 0; ent && k < size / ent; k++) {
      const uint8_t *s = f + off + (size_t)k * ent;
      if (strcmp(strtab + rd32(s), name) == 0) return rd32(s + 4);
    }
  }
  return 0;
}

static void on_code(uc_engine *uc, uint64_t addr, uint32_t size, void *ud) {
  (void)size;
  image *im = ud;
  im->count++;
  if (im->hist && addr < FLASH_SIZE) im->hist[addr >> 1]++;
  if (addr >= RAM_BASE && addr < RAM_BASE + RAM_SIZE) im->ram_count++;
  for (int w = 0; w < 3; w++)
    if (im->callers[w] && addr == im->watch[w]) {
      uint32_t lr = 0;
      uc_reg_read(uc, UC_ARM_REG_LR, &lr);
      lr &= ~1u;
      if (lr < FLASH_SIZE) im->callers[w][lr >> 1]++;
    }
}

/* The JIT image's fj_bench_compile(trace, len, out, cap): compile on the host, return to lr. */
/* --save-traces DIR: every trace the device sends is also written as DIR/<example>-<n>.trace
 * (for `farjit compile --target thumbv7em --dump` / `farjit dump`). */
static const char *save_dir;
static const char *cur_example;

static void save_trace(const uint8_t *t, uint32_t n) {
  static unsigned seq;
  char path[512];
  snprintf(path, sizeof path, "%s/%s-%u.trace", save_dir, cur_example ? cur_example : "trace", seq++);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(t, 1, n, f) != n) fprintf(stderr, "bench_cortexm: cannot write %s\n", path);
  if (f) fclose(f);
}

static void on_compile(uc_engine *uc, uint64_t addr, uint32_t size, void *ud) {
  (void)addr, (void)size;
  image *im = ud;
  uint32_t a[4], lr = 0, n = 0;
  static const int regs[4] = {UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2, UC_ARM_REG_R3};
  for (int i = 0; i < 4; i++) uc_reg_read(uc, regs[i], &a[i]);
  uc_reg_read(uc, UC_ARM_REG_LR, &lr);
  uint8_t *trace = malloc(a[1] ? a[1] : 1);
  if (trace && uc_mem_read(uc, a[0], trace, a[1]) == UC_ERR_OK) {
    if (save_dir) save_trace(trace, a[1]);
    fj_codegen_opts o = {0, 0};
    fj_codegen_result res;
    fj_codegen_compile(trace, a[1], FJ_TARGET_THUMBV7EM, &o, &res);
    if (res.status == 0 && res.blob_size <= a[3] && uc_mem_write(uc, a[2], res.blob, res.blob_size) == UC_ERR_OK)
      n = (uint32_t)res.blob_size, im->compiles++;
    else im->compile_errors++;
    fj_codegen_result_free(&res);
  }
  free(trace);
  im->count--;  /* the host did the work: the stub's first instruction is not the device's */
  uc_reg_write(uc, UC_ARM_REG_R0, &n);
  uc_reg_write(uc, UC_ARM_REG_PC, &lr);
}

static bool image_open(image *im) {
  im->file = fj_file_read(im->path, &im->len);
  if (!im->file || im->len < 52 || memcmp(im->file, "\177ELF\1\1", 6) != 0 || rd16(im->file + 18) != 40) {
    fprintf(stderr, "bench_cortexm: %s is not a 32-bit little-endian Arm ELF\n", im->path);
    return false;
  }
  uc_err e = uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &im->uc);
  if (e == UC_ERR_OK) e = uc_ctl_set_cpu_model(im->uc, UC_CPU_ARM_CORTEX_M4);
  if (e == UC_ERR_OK) e = uc_mem_map(im->uc, FLASH_BASE, FLASH_SIZE, UC_PROT_READ | UC_PROT_EXEC);
  /* SRAM executes (as on the MPS2 board): the JIT image's code cache is there. */
  if (e == UC_ERR_OK) e = uc_mem_map(im->uc, RAM_BASE, RAM_SIZE, UC_PROT_ALL);
  if (e == UC_ERR_OK) e = uc_mem_map(im->uc, HOST_BASE, HOST_SIZE, UC_PROT_ALL);
  uc_hook h;
  if (e == UC_ERR_OK) e = uc_hook_add(im->uc, &h, UC_HOOK_CODE, (void *)on_code, im, 1, 0);
  const uint8_t *f = im->file;
  uint32_t phoff = rd32(f + 28);
  uint16_t phentsize = rd16(f + 42), phnum = rd16(f + 44);
  for (uint32_t i = 0; e == UC_ERR_OK && i < phnum; i++) {
    const uint8_t *ph = f + phoff + (size_t)i * phentsize;
    if (rd32(ph) != 1 /* PT_LOAD */ || rd32(ph + 16) == 0) continue;
    /* At the run address (.data too: no startup code copies it); .bss stays zero. */
    e = uc_mem_write(im->uc, rd32(ph + 8), f + rd32(ph + 4), rd32(ph + 16));
  }
  if (e != UC_ERR_OK) {
    fprintf(stderr, "bench_cortexm: %s: unicorn: %s\n", im->path, uc_strerror(e));
    return false;
  }
  uint32_t compile_fn = image_sym(im, "fj_bench_compile") & ~1u;
  if (compile_fn) {
    uc_hook hc;
    e = uc_hook_add(im->uc, &hc, UC_HOOK_CODE, (void *)on_compile, im, compile_fn, compile_fn);
    if (e != UC_ERR_OK) {
      fprintf(stderr, "bench_cortexm: %s: unicorn: %s\n", im->path, uc_strerror(e));
      return false;
    }
  }
  im->stack_top = image_sym(im, "__stack_top");
  if (!im->stack_top) {
    fprintf(stderr, "bench_cortexm: %s has no __stack_top\n", im->path);
    return false;
  }
  return true;
}

/* Call fn(a0..a3) in the image; returns r0 | r1 << 32 and the instructions it took. */
static bool image_call(image *im, const char *fn, const uint32_t a[4], uint64_t *ret, uint64_t *insns) {
  uint32_t addr = image_sym(im, fn);
  if (!addr) {
    fprintf(stderr, "bench_cortexm: %s: no function %s\n", im->path, fn);
    return false;
  }
  static const int argregs[4] = {UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2, UC_ARM_REG_R3};
  for (int i = 0; i < 4; i++) uc_reg_write(im->uc, argregs[i], &a[i]);
  uint32_t sp = im->stack_top, lr = STOP_ADDR | 1;
  uc_reg_write(im->uc, UC_ARM_REG_SP, &sp);
  uc_reg_write(im->uc, UC_ARM_REG_LR, &lr);
  im->count = 0;
  uc_err e = uc_emu_start(im->uc, addr | 1, STOP_ADDR, 0, MAX_INSNS);
  uint32_t pc = 0, r0 = 0, r1 = 0;
  uc_reg_read(im->uc, UC_ARM_REG_PC, &pc);
  uc_reg_read(im->uc, UC_ARM_REG_R0, &r0);
  uc_reg_read(im->uc, UC_ARM_REG_R1, &r1);
  if (e != UC_ERR_OK || (pc & ~1u) != STOP_ADDR) {
    fprintf(stderr, "bench_cortexm: %s: %s stopped at pc 0x%08" PRIx32 " after %" PRIu64 " insns: %s\n",
            im->path, fn, pc, im->count, e != UC_ERR_OK ? uc_strerror(e) : "instruction limit");
    return false;
  }
  *ret = (uint64_t)r1 << 32 | r0;
  if (insns) *insns = im->count;
  return true;
}

/* Instructions per function symbol from im->hist, most first. */
typedef struct prof_row {
  const char *name;
  uint64_t n;
} prof_row;

static int prof_cmp(const void *a, const void *b) {
  uint64_t x = ((const prof_row *)a)->n, y = ((const prof_row *)b)->n;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Counts of hist summed per function symbol, most first; shares of total. */
static void image_profile_hist(const image *im, const uint32_t *hist, uint64_t total, int top) {
  const uint8_t *f = im->file;
  uint32_t shoff = rd32(f + 32);
  uint16_t shentsize = rd16(f + 46), shnum = rd16(f + 48);
  prof_row *rows = NULL;
  size_t nrows = 0;
  for (uint32_t i = 0; i < shnum; i++) {
    const uint8_t *sh = f + shoff + (size_t)i * shentsize;
    if (rd32(sh + 4) != 2 /* SHT_SYMTAB */) continue;
    const uint8_t *strsh = f + shoff + (size_t)rd32(sh + 24) * shentsize;
    const char *strtab = (const char *)f + rd32(strsh + 16);
    uint32_t off = rd32(sh + 16), size = rd32(sh + 20), ent = rd32(sh + 36);
    for (uint32_t k = 0; ent && k < size / ent; k++) {
      const uint8_t *sym = f + off + (size_t)k * ent;
      uint32_t lo = rd32(sym + 4) & ~1u, len = rd32(sym + 8);
      if ((sym[12] & 15) != 2 /* STT_FUNC */ || len == 0 || lo + len > FLASH_SIZE) continue;
      uint64_t n = 0;
      for (uint32_t a = lo; a < lo + len; a += 2) n += hist[a >> 1];
      if (!n) continue;
      rows = realloc(rows, (nrows + 1) * sizeof *rows);
      if (!rows) return;
      rows[nrows++] = (prof_row){strtab + rd32(sym), n};
    }
  }
  qsort(rows, nrows, sizeof *rows, prof_cmp);
  for (size_t i = 0; i < nrows && (int)i < top; i++)
    printf("    %5.1f%%  %10" PRIu64 "  %s\n", 100.0 * (double)rows[i].n / (double)(total ? total : 1),
           rows[i].n, rows[i].name);
  free(rows);
}

static void image_profile(const image *im, uint64_t total, int top) {
  image_profile_hist(im, im->hist, total, top);
}

/* ---- columns ------------------------------------------------------------------------------ */

typedef struct run_in {
  const fj_example *ex;
  uint32_t idx;
  const uint8_t *elf;
  size_t elf_len;
  uint32_t len;
} run_in;

typedef struct column column;
struct column {
  const char *name;
  image *img;
  /* One measured run of in: Thumb instructions, r0; false on failure (message printed). */
  bool (*measure)(const column *c, const run_in *in, uint64_t *insns, uint64_t *r0);
  const char *fn;  /* image function measured */
};

/* Load the example into the image's VM and refresh its input, uncounted. */
static bool prepare(image *im, const run_in *in) {
  uint64_t rc = 0;
  uc_mem_write(im->uc, ELF_ADDR, in->elf, in->elf_len);
  uint32_t a[4] = {in->idx, ELF_ADDR, (uint32_t)in->elf_len, in->len};
  if (!image_call(im, "fj_bench_setup", a, &rc, NULL)) return false;
  if ((int32_t)rc != 0) {
    fprintf(stderr, "bench_cortexm: %s: loading %s failed: %d\n", im->path, in->ex->name, (int32_t)rc);
    return false;
  }
  uint32_t z[4] = {0};
  return image_call(im, "fj_bench_reset_input", z, &rc, NULL);
}

static bool measure_call(const column *c, const run_in *in, uint64_t *insns, uint64_t *r0) {
  uint32_t z[4] = {0};
  uint64_t st = 0;
  if (!prepare(c->img, in)) return false;
  if (c->img->hist) memset(c->img->hist, 0, FLASH_SIZE / 2 * sizeof *c->img->hist);
  if (!image_call(c->img, c->fn, z, r0, insns)) return false;
  if (!image_call(c->img, "fj_bench_status", z, &st, NULL)) return false;
  if ((int32_t)st != 0) {
    fprintf(stderr, "bench_cortexm: %s: %s failed in the VM: %d\n", c->name, in->ex->name, (int32_t)st);
    return false;
  }
  return true;
}

/* What the last JIT run left: traces and bytes of machine code installed, eBPF instructions
 * run natively / interpreted in that run. */
static bool jit_stats;  /* --jit-stats: print the runtime's report after each warm run */
static uint64_t jit_in_code;  /* Thumb instructions executed in the traces themselves */
static uint32_t jit_traces, jit_code_bytes, jit_native, jit_interp, jit_recorded, jit_aborted,
    jit_hot, jit_entries;

static bool jit_call(image *im, const char *fn, uint64_t *ret, uint64_t *insns) {
  uint32_t z[4] = {0};
  uint64_t st = 0;
  if (!image_call(im, fn, z, ret, insns) || !image_call(im, "fj_bench_status", z, &st, NULL)) return false;
  if ((int32_t)st != 0) {
    fprintf(stderr, "bench_cortexm: %s: %s failed in the VM: %d\n", im->path, fn, (int32_t)st);
    return false;
  }
  return true;
}

/* The client JIT runtime on the example: "jit cold" counts the first run of a fresh runtime
 * (interpreting until hot, recording, validating and linking, running traces); "jit warm" runs
 * once uncounted, then counts a second run in the same VM with the traces installed. */
static bool measure_jit(const column *c, const run_in *in, uint64_t *insns, uint64_t *r0) {
  uint32_t z[4] = {0};
  uint64_t v = 0;
  image *im = c->img;
  if (!prepare(im, in) || !image_call(im, "fj_bench_jit_attach", z, &v, NULL)) return false;
  if ((int32_t)v != 0) {
    fprintf(stderr, "bench_cortexm: %s: fj_jit_create failed: %d\n", c->name, (int32_t)v);
    return false;
  }
  bool warm = strcmp(c->fn, "warm") == 0;
  if (warm && (!jit_call(im, "fj_bench_jit", r0, NULL) || !image_call(im, "fj_bench_reset_input", z, &v, NULL)))
    return false;
  if (im->hist) memset(im->hist, 0, FLASH_SIZE / 2 * sizeof *im->hist);
  for (int w = 0; w < 3; w++)
    if (im->callers[w]) memset(im->callers[w], 0, FLASH_SIZE / 2 * sizeof *im->callers[w]);
  im->ram_count = 0;
  if (!jit_call(im, "fj_bench_jit", r0, insns)) return false;
  jit_in_code = im->ram_count;
  if (im->hist && warm) {
    printf("%s, %s: %.1f%% of %" PRIu64 " instructions in machine code (traces); by function:\n",
           in->ex->name, c->name, 100.0 * (double)im->ram_count / (double)(*insns ? *insns : 1), *insns);
    image_profile(im, *insns, 12);
    for (int w = 0; w < 3; w++) {
      uint64_t calls = 0;
      for (uint32_t a = 0; a < FLASH_SIZE / 2; a++) calls += im->callers[w][a];
      printf("  %" PRIu64 " calls into %s, by caller:\n", calls, watch_names[w]);
      image_profile_hist(im, im->callers[w], calls, 5);
    }
  }
  uint32_t *out[8] = {&jit_traces, &jit_code_bytes, &jit_native, &jit_interp,
                      &jit_recorded, &jit_aborted, &jit_hot, &jit_entries};
  for (uint32_t k = 0; k < 8; k++) {
    uint32_t a[4] = {k, 0, 0, 0};
    if (!image_call(im, "fj_bench_jit_stat", a, &v, NULL)) return false;
    *out[k] = (uint32_t)v;
  }
  if (jit_stats && warm) {
    static char text[8192];
    if (!image_call(im, "fj_bench_jit_report", z, &v, NULL) ||
        uc_mem_read(im->uc, (uint32_t)v, text, sizeof text - 1) != UC_ERR_OK)
      return false;
    text[sizeof text - 1] = 0;
    printf("%s, %s: the runtime's report after the run (fj_jit_stats_format):\n%s", in->ex->name, c->name, text);
  }
  if (im->hist)
    printf("%s, %s: since attach: %" PRIu32 " hot events, %" PRIu32 " traces recorded, %" PRIu32
           " aborted, %" PRIu32 " entries\n", in->ex->name, c->name, jit_hot, jit_recorded, jit_aborted,
           jit_entries);
  return true;
}

static image img_o2 = {FJ_BENCH_IMAGE_O2, "-O2", NULL, 0, NULL, 0, 0, NULL, 0, 0, 0, {0, 0, 0}, {NULL, NULL, NULL}};
static image img_os = {FJ_BENCH_IMAGE_OS, "-Os", NULL, 0, NULL, 0, 0, NULL, 0, 0, 0, {0, 0, 0}, {NULL, NULL, NULL}};
static image img_o2sw = {FJ_BENCH_IMAGE_O2SW, "-O2 switch", NULL, 0, NULL, 0, 0, NULL, 0, 0, 0, {0, 0, 0}, {NULL, NULL, NULL}};
static image img_jit = {FJ_BENCH_IMAGE_JIT, "-O2 jit", NULL, 0, NULL, 0, 0, NULL, 0, 0, 0, {0, 0, 0}, {NULL, NULL, NULL}};

/* The first column is the one the ratio is taken of, the NATIVE one its denominator. */
enum { COL_INTERP_O2, COL_INTERP_OS, COL_INTERP_SWITCH, COL_NATIVE, COL_JIT_COLD, COL_JIT_WARM, NCOLS };
static const column columns[NCOLS] = {
    [COL_INTERP_O2] = {"interp -O2", &img_o2, measure_call, "fj_bench_interp"},
    [COL_INTERP_OS] = {"interp -Os", &img_os, measure_call, "fj_bench_interp"},
    [COL_INTERP_SWITCH] = {"switch -O2", &img_o2sw, measure_call, "fj_bench_interp"},
    [COL_NATIVE] = {"native -O2", &img_o2, measure_call, "fj_bench_native"},
    [COL_JIT_COLD] = {"jit cold", &img_jit, measure_jit, "cold"},
    [COL_JIT_WARM] = {"jit warm", &img_jit, measure_jit, "warm"},
};

int main(int argc, char **argv) {
  size_t len = 0;
  bool profile = false;
  int first = 1;
  for (;;) {
    if (first + 1 < argc && strcmp(argv[first], "--len") == 0) len = strtoul(argv[first + 1], NULL, 0), first += 2;
    else if (first < argc && strcmp(argv[first], "--profile") == 0) profile = true, first++;
    else if (first < argc && strcmp(argv[first], "--jit-stats") == 0) jit_stats = true, first++;
    else if (first + 1 < argc && strcmp(argv[first], "--save-traces") == 0) save_dir = argv[first + 1], first += 2;
    else break;
  }
  if (!image_open(&img_o2) || !image_open(&img_os) || !image_open(&img_o2sw) || !image_open(&img_jit))
    return 1;
  /* The interpreter column's image only: the native column runs in it too, so profile that
   * column first and print before the next one overwrites the histogram. */
  if (profile && !(img_o2.hist = calloc(FLASH_SIZE / 2, sizeof *img_o2.hist))) return 1;
  if (profile && !(img_jit.hist = calloc(FLASH_SIZE / 2, sizeof *img_jit.hist))) return 1;
  for (int w = 0; profile && w < 3; w++) {
    img_jit.watch[w] = image_sym(&img_jit, watch_names[w]) & ~1u;
    if (!(img_jit.callers[w] = calloc(FLASH_SIZE / 2, sizeof *img_jit.callers[w]))) return 1;
  }
  printf("Thumb instructions per run on Unicorn's Cortex-M4 model (one run each, counts are exact)\n");
  printf("%-8s %6s %10s", "example", "bytes", "ebpf insns");
  for (int c = 0; c < NCOLS; c++) printf(" %12s", columns[c].name);
  printf(" %9s %11s %6s %6s %6s %10s %9s %9s %9s %10s\n", "interp/nat", "thumb/ebpf", "traces", "code B",
         "ebpf%", "in traces", "trace/nat", "warm/nat", "cold/nat", "interp/jit");
  bool bad = false;
  for (size_t k = 0; k < fj_nexamples; k++) {
    const fj_example *ex = &fj_examples[k];
    if (first < argc) {
      bool want = false;
      for (int i = first; i < argc; i++) want |= strcmp(argv[i], ex->name) == 0;
      if (!want) continue;
    }
    cur_example = ex->name;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.o", FJ_EXAMPLES_DIR, ex->name);
    size_t elf_len = 0;
    uint8_t *elf = fj_file_read(path, &elf_len);
    if (!elf || elf_len > ELF_MAX) {
      fprintf(stderr, "bench_cortexm: cannot use %s\n", path);
      free(elf);
      bad = true;
      continue;
    }
    run_in in = {ex, (uint32_t)k, elf, elf_len, (uint32_t)(len ? len : ex->len)};
    uint8_t *buf = malloc(in.len ? in.len : 1);
    fj_example_input(ex, buf, in.len);
    uint64_t expect = ex->native(buf, in.len);
    free(buf);

    uint64_t insns[NCOLS] = {0}, ebpf = 0;
    bool ok[NCOLS], same = true;
    for (int c = 0; c < NCOLS; c++) {
      uint64_t r0 = 0;
      ok[c] = columns[c].measure(&columns[c], &in, &insns[c], &r0);
      if (ok[c] && r0 != expect) {
        fprintf(stderr, "bench_cortexm: %s: %s returned 0x%" PRIx64 ", expected 0x%" PRIx64 "\n",
                ex->name, columns[c].name, r0, expect);
        same = false;
      }
      if (c == COL_INTERP_O2 && ok[c]) {
        uint32_t z[4] = {0};
        if (profile) {
          printf("%s, %s: instructions by function\n", ex->name, columns[c].name);
          image_profile(columns[c].img, insns[c], 12);
        }
        image_call(columns[c].img, "fj_bench_ebpf_insns", z, &ebpf, NULL);
      }
      bad |= !ok[c];
    }
    bad |= !same;
    printf("%-8s %6" PRIu32 " %10" PRIu64, ex->name, in.len, ebpf);
    for (int c = 0; c < NCOLS; c++) {
      if (ok[c]) printf(" %12" PRIu64, insns[c]);
      else printf(" %12s", "failed");
    }
    if (ok[COL_INTERP_O2] && ok[COL_NATIVE] && insns[COL_NATIVE])
      printf(" %8.1fx", (double)insns[COL_INTERP_O2] / (double)insns[COL_NATIVE]);
    else printf(" %9s", "-");
    if (ok[COL_INTERP_O2] && ebpf) printf(" %11.1f", (double)insns[COL_INTERP_O2] / (double)ebpf);
    else printf(" %11s", "-");
    /* jit_* are from the warm column, the last one measured. */
    if (ok[COL_JIT_WARM])
      printf(" %6" PRIu32 " %6" PRIu32 " %5.1f%% %10" PRIu64 " %8.2fx", jit_traces, jit_code_bytes,
             100.0 * jit_native / (double)(jit_native + jit_interp ? jit_native + jit_interp : 1),
             jit_in_code, (double)jit_in_code / (double)(insns[COL_NATIVE] ? insns[COL_NATIVE] : 1));
    else printf(" %6s %6s %6s %10s %9s", "-", "-", "-", "-", "-");
    const int num[3] = {COL_JIT_WARM, COL_JIT_COLD, COL_INTERP_O2}, den[3] = {COL_NATIVE, COL_NATIVE, COL_JIT_WARM};
    for (int i = 0; i < 3; i++) {
      if (ok[num[i]] && ok[den[i]] && insns[den[i]])
        printf(" %*.2fx", i == 2 ? 9 : 8, (double)insns[num[i]] / (double)insns[den[i]]);
      else printf(" %*s", i == 2 ? 10 : 9, "-");
    }
    printf("%s\n", same ? "" : "  (r0 differs from native!)");
    free(elf);
  }
  uc_close(img_o2.uc);
  uc_close(img_os.uc);
  uc_close(img_o2sw.uc);
  uc_close(img_jit.uc);
  free(img_jit.file);
  free(img_jit.hist);
  for (int w = 0; w < 3; w++) free(img_jit.callers[w]);
  printf("jit: %" PRIu32 " traces compiled by the host for the image, %" PRIu32 " rejected\n",
         img_jit.compiles, img_jit.compile_errors);
  free(img_o2.file);
  free(img_o2.hist);
  free(img_os.file);
  free(img_o2sw.file);
  return bad ? 1 : 0;
}
