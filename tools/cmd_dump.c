/* farjit dump — show what is inside a code blob (farjit/blob.h).
 *
 *   farjit dump BLOB [--no-disasm]
 *
 * Prints the client validator's verdict (client_runtime/blob_check.h), the header, the
 * relocation and exit tables, the meta text (IR before/after optimization and the register
 * allocation when the blob was compiled with FJ_CG_DUMP / `farjit compile --dump`), and the code
 * disassembled with capstone (x86-64, or Thumb-2 as CS_MODE_THUMB | CS_MODE_MCLASS) with the
 * entry, every relocation field and every exit's patch site annotated.  Never trusts the blob:
 * each part is printed only if it lies inside the file.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "client_runtime/blob_check.h"
#include "farjit/blob.h"
#include "farjit/helpers.h"
#include "farjit/target.h"
#include "tools/cli.h"
#include "tools/commands.h"

enum { OPT_NO_DISASM, OPT_HELP };

static const fj_cli_opt dump_opts[] = {
  {"no-disasm", 0, NULL, OPT_NO_DISASM, "do not disassemble the code"},
  {"help", 'h', NULL, OPT_HELP, "show this help"},
  {0},
};

typedef struct dump_args {
  bool no_disasm, help;
} dump_args;

static int dump_opt(void *ud, int id, const char *val) {
  dump_args *a = ud;
  (void)val;
  if (id == OPT_NO_DISASM) a->no_disasm = true;
  else a->help = true;
  return 0;
}

static const char *reloc_kind_name(unsigned k) {
  switch (k) {
#define FJ_RK_NAME(name, id, bytes, text) case id: return #name;
  FJ_RELOC_KINDS(FJ_RK_NAME)
#undef FJ_RK_NAME
  default: return "?";
  }
}
static const char *sym_name(unsigned s) {
  switch (s) {
#define FJ_SYM_NAME(name, id, text) case id: return #name;
  FJ_SYM_KINDS(FJ_SYM_NAME)
#undef FJ_SYM_NAME
  default: return "?";
  }
}
static const char *rt_name(unsigned r) {
  switch (r) {
#define FJ_RT_NAME(name, id, text) case id: return #name;
  FJ_RT_ENTRIES(FJ_RT_NAME)
#undef FJ_RT_NAME
  default: return "?";
  }
}
static const char *helper_name(unsigned id) {
  switch (id) {
#define FJ_HELPER_NAME(name, hid, str, ret, args) case hid: return str;
  FJ_STD_HELPERS(FJ_HELPER_NAME)
#undef FJ_HELPER_NAME
  default: return "helper";
  }
}
static const char *exit_kind_name(unsigned k) {
  static const char *const names[] = {"?", "guard", "link", "stop", "call", "budget"};
  return k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static void reloc_text(const fj_blob_reloc *r, char *buf, size_t cap) {
  if (r->sym == FJ_SYM_HELPER)
    snprintf(buf, cap, "%s %s %u (%s)", reloc_kind_name(r->kind), sym_name(r->sym), r->target,
             helper_name(r->target));
  else if (r->sym == FJ_SYM_RUNTIME)
    snprintf(buf, cap, "%s %s %s", reloc_kind_name(r->kind), sym_name(r->sym), rt_name(r->target));
  else
    snprintf(buf, cap, "%s %s pc %u", reloc_kind_name(r->kind), sym_name(r->sym), r->target);
  if (r->addend) {
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, " %+d", r->addend);
  }
}

static bool inside(uint64_t off, uint64_t len, uint64_t total) { return off <= total && len <= total - off; }

static void disassemble(const fj_blob_header *h, const uint8_t *code, const fj_blob_reloc *rel,
                        uint32_t nrel, const fj_blob_exit *ex, uint32_t nex) {
  csh cs;
  cs_err err = h->target == FJ_TARGET_THUMBV7EM
                   ? cs_open(CS_ARCH_ARM, (cs_mode)(CS_MODE_THUMB | CS_MODE_MCLASS), &cs)
                   : cs_open(CS_ARCH_X86, CS_MODE_64, &cs);
  if (err != CS_ERR_OK) {
    printf("  (capstone cannot open this target: %s)\n", cs_strerror(err));
    return;
  }
  cs_option(cs, CS_OPT_SKIPDATA, CS_OPT_ON);
  cs_insn *ins;
  size_t n = cs_disasm(cs, code, h->code_size, 0, 0, &ins);
  for (size_t k = 0; k < n; k++) {
    uint64_t a = ins[k].address, e = a + ins[k].size;
    if (a == h->entry_off) printf("entry:\n");
    char note[256] = "";
    size_t nl = 0;
    for (uint32_t i = 0; i < nrel; i++) {
      if (rel[i].offset >= a && rel[i].offset < e) {
        char t[128];
        reloc_text(&rel[i], t, sizeof t);
        nl += (size_t)snprintf(note + nl, sizeof note - nl, "%sreloc %s", nl ? "; " : "", t);
        if (nl >= sizeof note) nl = sizeof note - 1;
      }
    }
    for (uint32_t i = 0; i < nex; i++) {
      if (ex[i].patch_off != FJ_BLOB_NO_PATCH && ex[i].patch_off >= a && ex[i].patch_off < e) {
        nl += (size_t)snprintf(note + nl, sizeof note - nl, "%sexit %u (%s, pc %u) patch site",
                               nl ? "; " : "", i, exit_kind_name(ex[i].kind), ex[i].pc);
        if (nl >= sizeof note) nl = sizeof note - 1;
      }
    }
    if (nl)
      printf("  %6llx  %-8s %-40s  ; %s\n", (unsigned long long)a, ins[k].mnemonic, ins[k].op_str, note);
    else
      printf("  %6llx  %-8s %s\n", (unsigned long long)a, ins[k].mnemonic, ins[k].op_str);
  }
  if (n) cs_free(ins, n);
  cs_close(&cs);
}

static int dump_blob(const char *path, const uint8_t *b, size_t len, bool disasm) {
  if (len < sizeof(fj_blob_header)) {
    fj_cli_error("dump", "%s: %zu bytes: shorter than a blob header", path, len);
    return FJ_EXIT_FAIL;
  }
  fj_blob_header h;
  memcpy(&h, b, sizeof h);
  fj_blob_expect ex = {h.target, 0, FJ_BLOB_ANY_PC, h.parent_id, h.parent_exit, UINT32_MAX, NULL, NULL};
  fj_blob_view v;
  int why = fj_blob_check(b, len, &ex, &v);
  printf("blob %s: %zu bytes, %s\n", path, len, why ? fj_blob_reject_text(why) : "valid");
  printf("  target %s, version %u, compiler %u, crc32 0x%08x\n", fj_target_name(h.target),
         h.version, h.compiler_version, h.crc32);
  printf("  trace kind %u, start pc %u, parent %u exit %u, frame %u bytes, entry +0x%x\n", h.kind,
         h.start_pc, h.parent_id, h.parent_exit, h.frame_size, h.entry_off);
  printf("  code %u bytes at 0x%x, %u relocs at 0x%x, %u exits at 0x%x, meta %u bytes at 0x%x\n",
         h.code_size, h.code_off, h.nrelocs, h.reloc_off, h.nexits, h.exit_off, h.meta_size, h.meta_off);
  printf("  trace sha256 ");
  for (int k = 0; k < 32; k++) printf("%02x", h.trace_hash[k]);
  printf("\n");

  fj_blob_reloc *rel = NULL;
  fj_blob_exit *exits = NULL;
  uint32_t nrel = 0, nex = 0;
  if (inside(h.reloc_off, (uint64_t)h.nrelocs * sizeof *rel, len) && h.nrelocs) {
    nrel = h.nrelocs;
    rel = malloc(nrel * sizeof *rel);
    if (rel) memcpy(rel, b + h.reloc_off, nrel * sizeof *rel);
    else nrel = 0;
  }
  if (inside(h.exit_off, (uint64_t)h.nexits * sizeof *exits, len) && h.nexits) {
    nex = h.nexits;
    exits = malloc(nex * sizeof *exits);
    if (exits) memcpy(exits, b + h.exit_off, nex * sizeof *exits);
    else nex = 0;
  }
  printf("relocations (%u):\n", nrel);
  for (uint32_t i = 0; i < nrel; i++) {
    char t[128];
    reloc_text(&rel[i], t, sizeof t);
    printf("  %3u  +0x%-6x %s\n", i, rel[i].offset, t);
  }
  printf("exits (%u):\n", nex);
  for (uint32_t i = 0; i < nex; i++) {
    if (exits[i].patch_off == FJ_BLOB_NO_PATCH)
      printf("  %3u  %-6s pc %-5u frames %u  snap %-4u no patch site\n", i,
             exit_kind_name(exits[i].kind), exits[i].pc, exits[i].nframes, exits[i].snap);
    else
      printf("  %3u  %-6s pc %-5u frames %u  snap %-4u patch +0x%x\n", i,
             exit_kind_name(exits[i].kind), exits[i].pc, exits[i].nframes, exits[i].snap,
             exits[i].patch_off);
  }
  if (h.meta_size && inside(h.meta_off, h.meta_size, len))
    printf("meta:\n%.*s%s", (int)h.meta_size, (const char *)b + h.meta_off,
           b[h.meta_off + h.meta_size - 1] == '\n' ? "" : "\n");
  if (disasm && inside(h.code_off, h.code_size, len)) {
    printf("code:\n");
    disassemble(&h, b + h.code_off, rel, nrel, exits, nex);
  }
  free(rel);
  free(exits);
  return why ? FJ_EXIT_FAIL : FJ_EXIT_OK;
}

int fj_cmd_dump(int argc, char **argv) {
  dump_args a = {0};
  const char *pos[1];
  int npos, rc = fj_cli_parse("dump", argc - 1, argv + 1, dump_opts, dump_opt, &a, pos, &npos, 1);
  if (rc) return rc;
  if (a.help || npos != 1) {
    FILE *f = a.help ? stdout : stderr;
    fprintf(f, "usage: farjit dump BLOB [--no-disasm]\n"
               "Shows a code blob: validity, header, relocations, exits, meta (IR dumps when\n"
               "compiled with --dump) and the annotated disassembly.  Exit 1 if invalid.\n\noptions:\n");
    fj_cli_print_opts(f, dump_opts);
    return a.help ? FJ_EXIT_OK : FJ_EXIT_USAGE;
  }
  size_t len;
  uint8_t *b = fj_cli_read_file("dump", pos[0], &len);
  if (!b) return FJ_EXIT_FAIL;
  rc = dump_blob(pos[0], b, len, !a.no_disasm);
  free(b);
  if (fflush(stdout) != 0) rc = FJ_EXIT_FAIL;
  return rc;
}
