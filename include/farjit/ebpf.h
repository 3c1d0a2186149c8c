/* farjit — the eBPF instruction set (RFC 9669) as one table.
 *
 * Everything that decodes or encodes eBPF (interpreter, validator, assembler, disassembler,
 * trace recorder, codegen) works from FJ_OPS below, so an opcode is defined in exactly one place.
 * Header-only and freestanding: shared by the client core and the compiler.
 *
 * One row per *semantic* operation.  Several rows may share an opcode byte; they are told apart
 * by a discriminator field that must hold an exact value:
 *   OFF  the offset field  (div/mod vs sdiv/smod, mov vs movsx)
 *   IMM  the immediate     (le/be/bswap width, atomic operation)
 *   SRC  the source reg    (call helper vs call local, lddw imm64 vs lddw of a function)
 *   NONE no discriminator
 * Columns: _(NAME, opcode, discriminator kind, discriminator value, mnemonic, operand format)
 */
#ifndef FARJIT_EBPF_H
#define FARJIT_EBPF_H

#include <stddef.h>
#include <stdint.h>

/* Operand formats, as the text assembly writes them. */
#define FJ_FMTS(_)                                                          \
  _(ALU_IMM)    /* add %r0, 1          */                                   \
  _(ALU_REG)    /* add %r0, %r1        */                                   \
  _(ALU_UNARY)  /* neg %r0             */                                   \
  _(END)        /* be16 %r0            */                                   \
  _(JA)         /* ja label            (16-bit offset) */                   \
  _(JA32)       /* ja32 label          (32-bit offset in imm) */            \
  _(JCOND_IMM)  /* jeq %r0, 1, label   */                                   \
  _(JCOND_REG)  /* jeq %r0, %r1, label */                                   \
  _(CALL)       /* call 5              (helper id in imm) */                \
  _(CALL_LOCAL) /* call local label    (pc-relative imm) */                 \
  _(CALLX)      /* call %r2            (helper id in dst register) */       \
  _(EXIT)       /* exit                */                                   \
  _(LDDW)       /* lddw %r0, 0x1122334455667788 (two slots) */              \
  _(LDDW_FUNC)  /* lddw %r2, label     (address of a local function) */     \
  _(LDX)        /* ldxw %r0, [%r1+4]   */                                   \
  _(ST)         /* stw [%r1+4], 7      */                                   \
  _(STX)        /* stxw [%r1+4], %r0   */                                   \
  _(ATOMIC)     /* lock add [%r1+4], %r0 */

#define FJ_OPS(_) \
  _(ADD64_IMM,       0x07, OFF,    0, "add",                 ALU_IMM) \
  _(ADD64_REG,       0x0f, OFF,    0, "add",                 ALU_REG) \
  _(SUB64_IMM,       0x17, OFF,    0, "sub",                 ALU_IMM) \
  _(SUB64_REG,       0x1f, OFF,    0, "sub",                 ALU_REG) \
  _(MUL64_IMM,       0x27, OFF,    0, "mul",                 ALU_IMM) \
  _(MUL64_REG,       0x2f, OFF,    0, "mul",                 ALU_REG) \
  _(DIV64_IMM,       0x37, OFF,    0, "div",                 ALU_IMM) \
  _(SDIV64_IMM,      0x37, OFF,    1, "sdiv",                ALU_IMM) \
  _(DIV64_REG,       0x3f, OFF,    0, "div",                 ALU_REG) \
  _(SDIV64_REG,      0x3f, OFF,    1, "sdiv",                ALU_REG) \
  _(OR64_IMM,        0x47, OFF,    0, "or",                  ALU_IMM) \
  _(OR64_REG,        0x4f, OFF,    0, "or",                  ALU_REG) \
  _(AND64_IMM,       0x57, OFF,    0, "and",                 ALU_IMM) \
  _(AND64_REG,       0x5f, OFF,    0, "and",                 ALU_REG) \
  _(LSH64_IMM,       0x67, OFF,    0, "lsh",                 ALU_IMM) \
  _(LSH64_REG,       0x6f, OFF,    0, "lsh",                 ALU_REG) \
  _(RSH64_IMM,       0x77, OFF,    0, "rsh",                 ALU_IMM) \
  _(RSH64_REG,       0x7f, OFF,    0, "rsh",                 ALU_REG) \
  _(MOD64_IMM,       0x97, OFF,    0, "mod",                 ALU_IMM) \
  _(SMOD64_IMM,      0x97, OFF,    1, "smod",                ALU_IMM) \
  _(MOD64_REG,       0x9f, OFF,    0, "mod",                 ALU_REG) \
  _(SMOD64_REG,      0x9f, OFF,    1, "smod",                ALU_REG) \
  _(XOR64_IMM,       0xa7, OFF,    0, "xor",                 ALU_IMM) \
  _(XOR64_REG,       0xaf, OFF,    0, "xor",                 ALU_REG) \
  _(MOV64_IMM,       0xb7, OFF,    0, "mov",                 ALU_IMM) \
  _(MOV64_REG,       0xbf, OFF,    0, "mov",                 ALU_REG) \
  _(ARSH64_IMM,      0xc7, OFF,    0, "arsh",                ALU_IMM) \
  _(ARSH64_REG,      0xcf, OFF,    0, "arsh",                ALU_REG) \
  _(NEG64,           0x87, NONE,   0, "neg",                 ALU_UNARY) \
  _(ADD32_IMM,       0x04, OFF,    0, "add32",               ALU_IMM) \
  _(ADD32_REG,       0x0c, OFF,    0, "add32",               ALU_REG) \
  _(SUB32_IMM,       0x14, OFF,    0, "sub32",               ALU_IMM) \
  _(SUB32_REG,       0x1c, OFF,    0, "sub32",               ALU_REG) \
  _(MUL32_IMM,       0x24, OFF,    0, "mul32",               ALU_IMM) \
  _(MUL32_REG,       0x2c, OFF,    0, "mul32",               ALU_REG) \
  _(DIV32_IMM,       0x34, OFF,    0, "div32",               ALU_IMM) \
  _(SDIV32_IMM,      0x34, OFF,    1, "sdiv32",              ALU_IMM) \
  _(DIV32_REG,       0x3c, OFF,    0, "div32",               ALU_REG) \
  _(SDIV32_REG,      0x3c, OFF,    1, "sdiv32",              ALU_REG) \
  _(OR32_IMM,        0x44, OFF,    0, "or32",                ALU_IMM) \
  _(OR32_REG,        0x4c, OFF,    0, "or32",                ALU_REG) \
  _(AND32_IMM,       0x54, OFF,    0, "and32",               ALU_IMM) \
  _(AND32_REG,       0x5c, OFF,    0, "and32",               ALU_REG) \
  _(LSH32_IMM,       0x64, OFF,    0, "lsh32",               ALU_IMM) \
  _(LSH32_REG,       0x6c, OFF,    0, "lsh32",               ALU_REG) \
  _(RSH32_IMM,       0x74, OFF,    0, "rsh32",               ALU_IMM) \
  _(RSH32_REG,       0x7c, OFF,    0, "rsh32",               ALU_REG) \
  _(MOD32_IMM,       0x94, OFF,    0, "mod32",               ALU_IMM) \
  _(SMOD32_IMM,      0x94, OFF,    1, "smod32",              ALU_IMM) \
  _(MOD32_REG,       0x9c, OFF,    0, "mod32",               ALU_REG) \
  _(SMOD32_REG,      0x9c, OFF,    1, "smod32",              ALU_REG) \
  _(XOR32_IMM,       0xa4, OFF,    0, "xor32",               ALU_IMM) \
  _(XOR32_REG,       0xac, OFF,    0, "xor32",               ALU_REG) \
  _(MOV32_IMM,       0xb4, OFF,    0, "mov32",               ALU_IMM) \
  _(MOV32_REG,       0xbc, OFF,    0, "mov32",               ALU_REG) \
  _(ARSH32_IMM,      0xc4, OFF,    0, "arsh32",              ALU_IMM) \
  _(ARSH32_REG,      0xcc, OFF,    0, "arsh32",              ALU_REG) \
  _(NEG32,           0x84, NONE,   0, "neg32",               ALU_UNARY) \
  _(MOVSX8_64,       0xbf, OFF,    8, "movsx864",            ALU_REG) \
  _(MOVSX16_64,      0xbf, OFF,   16, "movsx1664",           ALU_REG) \
  _(MOVSX32_64,      0xbf, OFF,   32, "movsx3264",           ALU_REG) \
  _(MOVSX8_32,       0xbc, OFF,    8, "movsx832",            ALU_REG) \
  _(MOVSX16_32,      0xbc, OFF,   16, "movsx1632",           ALU_REG) \
  _(LE16,            0xd4, IMM,   16, "le16",                END) \
  _(LE32,            0xd4, IMM,   32, "le32",                END) \
  _(LE64,            0xd4, IMM,   64, "le64",                END) \
  _(BE16,            0xdc, IMM,   16, "be16",                END) \
  _(BE32,            0xdc, IMM,   32, "be32",                END) \
  _(BE64,            0xdc, IMM,   64, "be64",                END) \
  _(BSWAP16,         0xd7, IMM,   16, "bswap16",             END) \
  _(BSWAP32,         0xd7, IMM,   32, "bswap32",             END) \
  _(BSWAP64,         0xd7, IMM,   64, "bswap64",             END) \
  _(JA,              0x05, NONE,   0, "ja",                  JA) \
  _(JA32,            0x06, NONE,   0, "ja32",                JA32) \
  _(JEQ64_IMM,       0x15, NONE,   0, "jeq",                 JCOND_IMM) \
  _(JEQ64_REG,       0x1d, NONE,   0, "jeq",                 JCOND_REG) \
  _(JGT64_IMM,       0x25, NONE,   0, "jgt",                 JCOND_IMM) \
  _(JGT64_REG,       0x2d, NONE,   0, "jgt",                 JCOND_REG) \
  _(JGE64_IMM,       0x35, NONE,   0, "jge",                 JCOND_IMM) \
  _(JGE64_REG,       0x3d, NONE,   0, "jge",                 JCOND_REG) \
  _(JSET64_IMM,      0x45, NONE,   0, "jset",                JCOND_IMM) \
  _(JSET64_REG,      0x4d, NONE,   0, "jset",                JCOND_REG) \
  _(JNE64_IMM,       0x55, NONE,   0, "jne",                 JCOND_IMM) \
  _(JNE64_REG,       0x5d, NONE,   0, "jne",                 JCOND_REG) \
  _(JSGT64_IMM,      0x65, NONE,   0, "jsgt",                JCOND_IMM) \
  _(JSGT64_REG,      0x6d, NONE,   0, "jsgt",                JCOND_REG) \
  _(JSGE64_IMM,      0x75, NONE,   0, "jsge",                JCOND_IMM) \
  _(JSGE64_REG,      0x7d, NONE,   0, "jsge",                JCOND_REG) \
  _(JLT64_IMM,       0xa5, NONE,   0, "jlt",                 JCOND_IMM) \
  _(JLT64_REG,       0xad, NONE,   0, "jlt",                 JCOND_REG) \
  _(JLE64_IMM,       0xb5, NONE,   0, "jle",                 JCOND_IMM) \
  _(JLE64_REG,       0xbd, NONE,   0, "jle",                 JCOND_REG) \
  _(JSLT64_IMM,      0xc5, NONE,   0, "jslt",                JCOND_IMM) \
  _(JSLT64_REG,      0xcd, NONE,   0, "jslt",                JCOND_REG) \
  _(JSLE64_IMM,      0xd5, NONE,   0, "jsle",                JCOND_IMM) \
  _(JSLE64_REG,      0xdd, NONE,   0, "jsle",                JCOND_REG) \
  _(JEQ32_IMM,       0x16, NONE,   0, "jeq32",               JCOND_IMM) \
  _(JEQ32_REG,       0x1e, NONE,   0, "jeq32",               JCOND_REG) \
  _(JGT32_IMM,       0x26, NONE,   0, "jgt32",               JCOND_IMM) \
  _(JGT32_REG,       0x2e, NONE,   0, "jgt32",               JCOND_REG) \
  _(JGE32_IMM,       0x36, NONE,   0, "jge32",               JCOND_IMM) \
  _(JGE32_REG,       0x3e, NONE,   0, "jge32",               JCOND_REG) \
  _(JSET32_IMM,      0x46, NONE,   0, "jset32",              JCOND_IMM) \
  _(JSET32_REG,      0x4e, NONE,   0, "jset32",              JCOND_REG) \
  _(JNE32_IMM,       0x56, NONE,   0, "jne32",               JCOND_IMM) \
  _(JNE32_REG,       0x5e, NONE,   0, "jne32",               JCOND_REG) \
  _(JSGT32_IMM,      0x66, NONE,   0, "jsgt32",              JCOND_IMM) \
  _(JSGT32_REG,      0x6e, NONE,   0, "jsgt32",              JCOND_REG) \
  _(JSGE32_IMM,      0x76, NONE,   0, "jsge32",              JCOND_IMM) \
  _(JSGE32_REG,      0x7e, NONE,   0, "jsge32",              JCOND_REG) \
  _(JLT32_IMM,       0xa6, NONE,   0, "jlt32",               JCOND_IMM) \
  _(JLT32_REG,       0xae, NONE,   0, "jlt32",               JCOND_REG) \
  _(JLE32_IMM,       0xb6, NONE,   0, "jle32",               JCOND_IMM) \
  _(JLE32_REG,       0xbe, NONE,   0, "jle32",               JCOND_REG) \
  _(JSLT32_IMM,      0xc6, NONE,   0, "jslt32",              JCOND_IMM) \
  _(JSLT32_REG,      0xce, NONE,   0, "jslt32",              JCOND_REG) \
  _(JSLE32_IMM,      0xd6, NONE,   0, "jsle32",              JCOND_IMM) \
  _(JSLE32_REG,      0xde, NONE,   0, "jsle32",              JCOND_REG) \
  _(CALL,            0x85, SRC,    0, "call",                CALL) \
  _(CALL_LOCAL,      0x85, SRC,    1, "call",                CALL_LOCAL) \
  _(CALLX,           0x8d, NONE,   0, "call",                CALLX) \
  _(EXIT,            0x95, NONE,   0, "exit",                EXIT) \
  _(LDDW,            0x18, SRC,    0, "lddw",                LDDW) \
  _(LDDW_FUNC,       0x18, SRC,    4, "lddw",                LDDW_FUNC) \
  _(LDXB,            0x71, NONE,   0, "ldxb",                LDX) \
  _(LDXH,            0x69, NONE,   0, "ldxh",                LDX) \
  _(LDXW,            0x61, NONE,   0, "ldxw",                LDX) \
  _(LDXDW,           0x79, NONE,   0, "ldxdw",               LDX) \
  _(LDXSB,           0x91, NONE,   0, "ldxsb",               LDX) \
  _(LDXSH,           0x89, NONE,   0, "ldxsh",               LDX) \
  _(LDXSW,           0x81, NONE,   0, "ldxsw",               LDX) \
  _(STB,             0x72, NONE,   0, "stb",                 ST) \
  _(STH,             0x6a, NONE,   0, "sth",                 ST) \
  _(STW,             0x62, NONE,   0, "stw",                 ST) \
  _(STDW,            0x7a, NONE,   0, "stdw",                ST) \
  _(STXB,            0x73, NONE,   0, "stxb",                STX) \
  _(STXH,            0x6b, NONE,   0, "stxh",                STX) \
  _(STXW,            0x63, NONE,   0, "stxw",                STX) \
  _(STXDW,           0x7b, NONE,   0, "stxdw",               STX) \
  _(AT_ADD64,        0xdb, IMM,    0, "lock add",            ATOMIC) \
  _(AT_FETCH_ADD64,  0xdb, IMM,    1, "lock fetch add",      ATOMIC) \
  _(AT_OR64,         0xdb, IMM,   64, "lock or",             ATOMIC) \
  _(AT_FETCH_OR64,   0xdb, IMM,   65, "lock fetch or",       ATOMIC) \
  _(AT_AND64,        0xdb, IMM,   80, "lock and",            ATOMIC) \
  _(AT_FETCH_AND64,  0xdb, IMM,   81, "lock fetch and",      ATOMIC) \
  _(AT_XOR64,        0xdb, IMM,  160, "lock xor",            ATOMIC) \
  _(AT_FETCH_XOR64,  0xdb, IMM,  161, "lock fetch xor",      ATOMIC) \
  _(AT_XCHG64,       0xdb, IMM,  225, "lock xchg",           ATOMIC) \
  _(AT_CMPXCHG64,    0xdb, IMM,  241, "lock cmpxchg",        ATOMIC) \
  _(AT_ADD32,        0xc3, IMM,    0, "lock add32",          ATOMIC) \
  _(AT_FETCH_ADD32,  0xc3, IMM,    1, "lock fetch add32",    ATOMIC) \
  _(AT_OR32,         0xc3, IMM,   64, "lock or32",           ATOMIC) \
  _(AT_FETCH_OR32,   0xc3, IMM,   65, "lock fetch or32",     ATOMIC) \
  _(AT_AND32,        0xc3, IMM,   80, "lock and32",          ATOMIC) \
  _(AT_FETCH_AND32,  0xc3, IMM,   81, "lock fetch and32",    ATOMIC) \
  _(AT_XOR32,        0xc3, IMM,  160, "lock xor32",          ATOMIC) \
  _(AT_FETCH_XOR32,  0xc3, IMM,  161, "lock fetch xor32",    ATOMIC) \
  _(AT_XCHG32,       0xc3, IMM,  225, "lock xchg32",         ATOMIC) \
  _(AT_CMPXCHG32,    0xc3, IMM,  241, "lock cmpxchg32",      ATOMIC)

enum fj_fmt {
#define FJ_FMT_ENUM(name) FJ_FMT_##name,
  FJ_FMTS(FJ_FMT_ENUM)
#undef FJ_FMT_ENUM
  FJ_FMT__COUNT
};

enum fj_discr { FJ_DISCR_NONE, FJ_DISCR_OFF, FJ_DISCR_IMM, FJ_DISCR_SRC };

/* Semantic operation ids.  FJ_OP_INVALID is 0 so zeroed memory never names a real op. */
enum fj_op {
  FJ_OP_INVALID = 0,
#define FJ_OP_ENUM(name, code, dk, dv, mnem, fmt) FJ_OP_##name,
  FJ_OPS(FJ_OP_ENUM)
#undef FJ_OP_ENUM
  FJ_OP__COUNT
};
_Static_assert(FJ_OP__COUNT == 160, "FJ_OPS changed: update users that switch over every op");
_Static_assert(FJ_OP__COUNT <= 256, "ops must fit in a byte for pre-decoded dispatch");

/* Instruction classes and field masks (RFC 9669 section 3). */
enum {
  FJ_CLS_LD = 0x00, FJ_CLS_LDX = 0x01, FJ_CLS_ST = 0x02, FJ_CLS_STX = 0x03,
  FJ_CLS_ALU = 0x04, FJ_CLS_JMP = 0x05, FJ_CLS_JMP32 = 0x06, FJ_CLS_ALU64 = 0x07,
  FJ_CLS_MASK = 0x07, FJ_SRC_X = 0x08,
  FJ_SIZE_W = 0x00, FJ_SIZE_H = 0x08, FJ_SIZE_B = 0x10, FJ_SIZE_DW = 0x18, FJ_SIZE_MASK = 0x18,
  FJ_MODE_IMM = 0x00, FJ_MODE_MEM = 0x60, FJ_MODE_MEMSX = 0x80, FJ_MODE_ATOMIC = 0xc0,
  FJ_MODE_MASK = 0xe0,
  FJ_ATOMIC_FETCH = 0x01,
  FJ_PSEUDO_CALL = 1,  /* src of a local call */
  FJ_PSEUDO_FUNC = 4,  /* src of lddw loading a local function's address */
};

enum {
  FJ_NREGS = 11,           /* r0-r10 */
  FJ_REG_FP = 10,          /* read-only frame pointer */
  FJ_STACK_SIZE = 512,     /* bytes per frame */
  FJ_MAX_CALL_DEPTH = 8,   /* local-call frames, the entry frame included */
};

/* One 8-byte instruction slot, exactly as it sits in memory (little-endian). */
typedef struct fj_insn {
  uint8_t code;
  uint8_t regs;  /* dst in bits 0-3, src in bits 4-7 */
  int16_t off;
  int32_t imm;
} fj_insn;
_Static_assert(sizeof(fj_insn) == 8, "eBPF instructions are 8 bytes");

static inline unsigned fj_insn_dst(fj_insn i) { return i.regs & 0x0f; }
static inline unsigned fj_insn_src(fj_insn i) { return i.regs >> 4; }
static inline fj_insn fj_insn_make(uint8_t code, unsigned dst, unsigned src, int16_t off, int32_t imm) {
  fj_insn i = {code, (uint8_t)((dst & 0x0f) | ((src & 0x0f) << 4)), off, imm};
  return i;
}

/* Static description of each op, indexed by enum fj_op. */
typedef struct fj_op_info {
  const char *name;  /* "ADD64_IMM" */
  const char *mnem;  /* "add" (assembly suffixes such as "32" included) */
  uint8_t code;
  uint8_t discr;     /* enum fj_discr */
  uint8_t fmt;       /* enum fj_fmt */
  int32_t discr_val;
} fj_op_info;

/* One copy per program: a weak definition (GCC/Clang) that every user may emit and the linker
 * folds, so the header stays usable by both the client and the compiler without either linking
 * the other.  On a Cortex-M4 the table is 2.5 KB of flash; a static copy per file was 2.5 KB
 * each. */
#if defined(__GNUC__)
#define FJ_OP_TABLE_LINKAGE __attribute__((weak))
#else
#define FJ_OP_TABLE_LINKAGE static
#endif
FJ_OP_TABLE_LINKAGE const fj_op_info fj_op_table[FJ_OP__COUNT] = {
  [FJ_OP_INVALID] = {"INVALID", "?", 0, FJ_DISCR_NONE, 0, 0},
#define FJ_OP_INFO(name, code, dk, dv, mnem, fmt) \
  [FJ_OP_##name] = {#name, mnem, code, FJ_DISCR_##dk, FJ_FMT_##fmt, dv},
  FJ_OPS(FJ_OP_INFO)
#undef FJ_OP_INFO
};

/* Decode an instruction to its semantic op, or FJ_OP_INVALID.  Linear in the rows sharing an
 * opcode byte (at most 6), so callers that decode in a hot loop pre-decode once at load time. */
static inline enum fj_op fj_op_decode(fj_insn i) {
  for (int op = 1; op < FJ_OP__COUNT; op++) {
    const fj_op_info *d = &fj_op_table[op];
    if (d->code != i.code) continue;
    switch (d->discr) {
    case FJ_DISCR_OFF: if (i.off != d->discr_val) continue; break;
    case FJ_DISCR_IMM: if (i.imm != d->discr_val) continue; break;
    case FJ_DISCR_SRC: if ((int32_t)fj_insn_src(i) != d->discr_val) continue; break;
    default: break;
    }
    return (enum fj_op)op;
  }
  return FJ_OP_INVALID;
}

static inline int fj_op_is_lddw(enum fj_op op) { return op == FJ_OP_LDDW || op == FJ_OP_LDDW_FUNC; }

/* Access width in bytes of a load/store/atomic opcode byte. */
static inline unsigned fj_code_size_bytes(uint8_t code) {
  switch (code & FJ_SIZE_MASK) {
  case FJ_SIZE_B: return 1;
  case FJ_SIZE_H: return 2;
  case FJ_SIZE_W: return 4;
  default: return 8;
  }
}

#endif /* FARJIT_EBPF_H */
