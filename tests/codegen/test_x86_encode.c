/* Tests for codegen/x86/emit_x86.h: every encoder, several register combinations (r8-r15, and
 * the rsp/r12 SIB and rbp/r13 displacement special cases), checked two ways:
 *   - byte-for-byte against golden encodings (cross-checked with GNU as when the table was made;
 *     the only difference is `sar r15, 1`, where as picks the shorter D1 form), and
 *   - against capstone: the bytes decode to exactly one instruction of the full length whose
 *     Intel-syntax text is the expected one (branches are decoded at address 0x1000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <capstone/capstone.h>

#include "codegen/x86/emit_x86.h"

#define R(x) FJ_X86_##x

/* _(encoder call on `mc`, golden hex, capstone text) */
#define X86_CASES(_) \
  _(fj_x86_mov_rr(mc, 8, R(RAX), R(RBX)), "4889d8", "mov rax, rbx") \
  _(fj_x86_mov_rr(mc, 8, R(R8), R(R15)), "4d89f8", "mov r8, r15") \
  _(fj_x86_mov_rr(mc, 4, R(RSP), R(R12)), "4489e4", "mov esp, r12d") \
  _(fj_x86_mov_rr(mc, 4, R(R13), R(RBP)), "4189ed", "mov r13d, ebp") \
  _(fj_x86_mov_ri32(mc, R(RAX), 0x12345678), "b878563412", "mov eax, 0x12345678") \
  _(fj_x86_mov_ri32(mc, R(R11), 0xffffffffu), "41bbffffffff", "mov r11d, 0xffffffff") \
  _(fj_x86_mov_ri64s(mc, R(RDI), -2), "48c7c7feffffff", "mov rdi, -2") \
  _(fj_x86_mov_ri64s(mc, R(R12), INT32_MIN), "49c7c400000080", "mov r12, -0x80000000") \
  _(fj_x86_movabs(mc, R(RCX), 0x8000000000000000ull), "48b90000000000000080", "movabs rcx, 0x8000000000000000") \
  _(fj_x86_movabs(mc, R(R14), 0x123456789abcdef0ull), "49bef0debc9a78563412", "movabs r14, 0x123456789abcdef0") \
  _(fj_x86_mov_imm(mc, R(R9), 0), "4531c9", "xor r9d, r9d") \
  _(fj_x86_mov_imm(mc, R(RSI), 0), "31f6", "xor esi, esi") \
  _(fj_x86_mov_rm(mc, 8, R(RAX), R(RSP), 8), "488b442408", "mov rax, qword ptr [rsp + 8]") \
  _(fj_x86_mov_rm(mc, 8, R(R9), R(R12), 0), "4d8b0c24", "mov r9, qword ptr [r12]") \
  _(fj_x86_mov_rm(mc, 8, R(RDX), R(RBP), 0), "488b5500", "mov rdx, qword ptr [rbp]") \
  _(fj_x86_mov_rm(mc, 8, R(R15), R(R13), -8), "4d8b7df8", "mov r15, qword ptr [r13 - 8]") \
  _(fj_x86_mov_rm(mc, 4, R(RBX), R(RDI), 0x1000), "8b9f00100000", "mov ebx, dword ptr [rdi + 0x1000]") \
  _(fj_x86_mov_rm(mc, 2, R(R10), R(RAX), -128), "440fb75080", "movzx r10d, word ptr [rax - 0x80]") \
  _(fj_x86_mov_rm(mc, 1, R(RSI), R(R11), 127), "410fb6737f", "movzx esi, byte ptr [r11 + 0x7f]") \
  _(fj_x86_mov_rm(mc, 1, R(RAX), R(RSP), 128), "0fb6842480000000", "movzx eax, byte ptr [rsp + 0x80]") \
  _(fj_x86_movsx_rm(mc, 1, R(RAX), R(RCX), 1), "480fbe4101", "movsx rax, byte ptr [rcx + 1]") \
  _(fj_x86_movsx_rm(mc, 2, R(R8), R(RSP), 0), "4c0fbf0424", "movsx r8, word ptr [rsp]") \
  _(fj_x86_movsx_rm(mc, 4, R(RDX), R(R13), 0), "49635500", "movsxd rdx, dword ptr [r13]") \
  _(fj_x86_mov_mr(mc, 8, R(RSP), 16, R(RAX)), "4889442410", "mov qword ptr [rsp + 0x10], rax") \
  _(fj_x86_mov_mr(mc, 4, R(R12), -4, R(R8)), "45894424fc", "mov dword ptr [r12 - 4], r8d") \
  _(fj_x86_mov_mr(mc, 2, R(RBP), 2, R(RCX)), "66894d02", "mov word ptr [rbp + 2], cx") \
  _(fj_x86_mov_mr(mc, 1, R(RAX), 0, R(RSI)), "408830", "mov byte ptr [rax], sil") \
  _(fj_x86_mov_mr(mc, 1, R(R13), 0, R(RDI)), "41887d00", "mov byte ptr [r13], dil") \
  _(fj_x86_mov_mr(mc, 1, R(RBX), 300, R(R14)), "4488b32c010000", "mov byte ptr [rbx + 0x12c], r14b") \
  _(fj_x86_mov_mi(mc, 1, R(RAX), 1, -1), "c64001ff", "mov byte ptr [rax + 1], 0xff") \
  _(fj_x86_mov_mi(mc, 2, R(R12), 0, 0x1234), "6641c704243412", "mov word ptr [r12], 0x1234") \
  _(fj_x86_mov_mi(mc, 4, R(RBP), -16, 7), "c745f007000000", "mov dword ptr [rbp - 0x10], 7") \
  _(fj_x86_mov_mi(mc, 8, R(R15), 0, -5), "49c707fbffffff", "mov qword ptr [r15], -5") \
  _(fj_x86_movsx_rr(mc, 1, R(RAX), R(RSI)), "480fbec6", "movsx rax, sil") \
  _(fj_x86_movsx_rr(mc, 2, R(R9), R(RBX)), "4c0fbfcb", "movsx r9, bx") \
  _(fj_x86_movsx_rr(mc, 4, R(RCX), R(R10)), "4963ca", "movsxd rcx, r10d") \
  _(fj_x86_movzx_rr(mc, 1, R(RAX), R(RDI)), "400fb6c7", "movzx eax, dil") \
  _(fj_x86_movzx_rr(mc, 1, R(RCX), R(RDX)), "0fb6ca", "movzx ecx, dl") \
  _(fj_x86_movzx_rr(mc, 2, R(R12), R(R13)), "450fb7e5", "movzx r12d, r13w") \
  _(fj_x86_lea(mc, R(RAX), R(RSP), 8), "488d442408", "lea rax, [rsp + 8]") \
  _(fj_x86_lea(mc, R(R13), R(R13), 0), "4d8d6d00", "lea r13, [r13]") \
  _(fj_x86_lea_bi(mc, R(RAX), R(RCX), R(RDX)), "488d0411", "lea rax, [rcx + rdx]") \
  _(fj_x86_lea_bi(mc, R(R9), R(R13), R(R12)), "4f8d4c2500", "lea r9, [r13 + r12]") \
  _(fj_x86_lea_bi(mc, R(RSI), R(RSP), R(R8)), "4a8d3404", "lea rsi, [rsp + r8]") \
  _(fj_x86_lea_bi(mc, R(R15), R(RBP), R(RDI)), "4c8d7c3d00", "lea r15, [rbp + rdi]") \
  _(fj_x86_lea_bis(mc, 8, R(RAX), R(RCX), R(RCX), 1), "488d0449", "lea rax, [rcx + rcx*2]") \
  _(fj_x86_lea_bis(mc, 4, R(R9), R(R13), R(R13), 3), "478d4ced00", "lea r9d, [r13 + r13*8]") \
  _(fj_x86_lea_bis(mc, 8, R(RSI), R(RDX), R(RDX), 2), "488d3492", "lea rsi, [rdx + rdx*4]") \
  _(fj_x86_lea_rip(mc, R(RAX), 0), "488d0500000000", "lea rax, [rip]") \
  _(fj_x86_lea_rip(mc, R(R10), -100), "4c8d159cffffff", "lea r10, [rip - 0x64]") \
  _(fj_x86_add_rr(mc, 8, R(RAX), R(RCX)), "4801c8", "add rax, rcx") \
  _(fj_x86_add_rr(mc, 4, R(R8), R(RSP)), "4101e0", "add r8d, esp") \
  _(fj_x86_add_ri(mc, 8, R(RSP), 8), "4883c408", "add rsp, 8") \
  _(fj_x86_add_ri(mc, 4, R(R12), 1000), "4181c4e8030000", "add r12d, 0x3e8") \
  _(fj_x86_add_rm(mc, 8, R(RAX), R(RBX), 8), "48034308", "add rax, qword ptr [rbx + 8]") \
  _(fj_x86_add_mi(mc, 8, R(RBX), 104, -3), "48834368fd", "add qword ptr [rbx + 0x68], -3") \
  _(fj_x86_sub_rr(mc, 8, R(R15), R(RDX)), "4929d7", "sub r15, rdx") \
  _(fj_x86_sub_ri(mc, 8, R(RSP), 0x88), "4881ec88000000", "sub rsp, 0x88") \
  _(fj_x86_sub_ri(mc, 4, R(RBP), -1), "83edff", "sub ebp, -1") \
  _(fj_x86_sub_mi(mc, 8, R(RBX), 104, 0x1000), "48816b6800100000", "sub qword ptr [rbx + 0x68], 0x1000") \
  _(fj_x86_and_rr(mc, 4, R(RAX), R(R9)), "4421c8", "and eax, r9d") \
  _(fj_x86_and_ri(mc, 8, R(R11), INT32_MIN), "4981e300000080", "and r11, 0xffffffff80000000") \
  _(fj_x86_or_rr(mc, 8, R(R13), R(R14)), "4d09f5", "or r13, r14") \
  _(fj_x86_or_ri(mc, 4, R(RDI), 0x80), "81cf80000000", "or edi, 0x80") \
  _(fj_x86_xor_rr(mc, 4, R(RSI), R(RSI)), "31f6", "xor esi, esi") \
  _(fj_x86_xor_ri(mc, 8, R(RBX), -1), "4883f3ff", "xor rbx, 0xffffffffffffffff") \
  _(fj_x86_cmp_rr(mc, 8, R(RAX), R(R12)), "4c39e0", "cmp rax, r12") \
  _(fj_x86_cmp_ri(mc, 4, R(R10), 5), "4183fa05", "cmp r10d, 5") \
  _(fj_x86_cmp_rm(mc, 8, R(RCX), R(RAX), 8), "483b4808", "cmp rcx, qword ptr [rax + 8]") \
  _(fj_x86_cmp_mi(mc, 8, R(RBX), 104, 0), "48837b6800", "cmp qword ptr [rbx + 0x68], 0") \
  _(fj_x86_test_rr(mc, 8, R(RAX), R(RDX)), "4885d0", "test rax, rdx") \
  _(fj_x86_test_rr(mc, 4, R(R8), R(R9)), "4585c8", "test r8d, r9d") \
  _(fj_x86_test_ri(mc, 8, R(R14), 0x100), "49f7c600010000", "test r14, 0x100") \
  _(fj_x86_test_ri(mc, 4, R(RCX), -1), "f7c1ffffffff", "test ecx, 0xffffffff") \
  _(fj_x86_imul_rr(mc, 8, R(RAX), R(R13)), "490fafc5", "imul rax, r13") \
  _(fj_x86_imul_rr(mc, 4, R(R12), R(RBP)), "440fafe5", "imul r12d, ebp") \
  _(fj_x86_imul_rri(mc, 8, R(RCX), R(RDX), 10), "486bca0a", "imul rcx, rdx, 0xa") \
  _(fj_x86_imul_rri(mc, 4, R(R15), R(RSP), 100000), "4469fca0860100", "imul r15d, esp, 0x186a0") \
  _(fj_x86_not_r(mc, 8, R(RAX)), "48f7d0", "not rax") \
  _(fj_x86_neg_r(mc, 8, R(R10)), "49f7da", "neg r10") \
  _(fj_x86_neg_r(mc, 4, R(RBP)), "f7dd", "neg ebp") \
  _(fj_x86_mul_r(mc, 8, R(RCX)), "48f7e1", "mul rcx") \
  _(fj_x86_imul_r(mc, 8, R(RCX)), "48f7e9", "imul rcx") \
  _(fj_x86_imul_r(mc, 4, R(R9)), "41f7e9", "imul r9d") \
  _(fj_x86_div_r(mc, 8, R(R11)), "49f7f3", "div r11") \
  _(fj_x86_div_r(mc, 4, R(RSI)), "f7f6", "div esi") \
  _(fj_x86_idiv_r(mc, 8, R(RCX)), "48f7f9", "idiv rcx") \
  _(fj_x86_idiv_r(mc, 4, R(R12)), "41f7fc", "idiv r12d") \
  _(fj_x86_shl_rcl(mc, 8, R(RAX)), "48d3e0", "shl rax, cl") \
  _(fj_x86_shl_ri(mc, 4, R(R9), 31), "41c1e11f", "shl r9d, 0x1f") \
  _(fj_x86_shr_rcl(mc, 4, R(R13)), "41d3ed", "shr r13d, cl") \
  _(fj_x86_shr_ri(mc, 8, R(RDX), 63), "48c1ea3f", "shr rdx, 0x3f") \
  _(fj_x86_sar_rcl(mc, 8, R(RSP)), "48d3fc", "sar rsp, cl") \
  _(fj_x86_sar_ri(mc, 8, R(R15), 1), "49c1ff01", "sar r15, 1") \
  _(fj_x86_rol_ri(mc, 2, R(RAX), 8), "66c1c008", "rol ax, 8") \
  _(fj_x86_rol_ri(mc, 2, R(R11), 8), "6641c1c308", "rol r11w, 8") \
  _(fj_x86_rol_ri(mc, 8, R(R9), 21), "49c1c115", "rol r9, 0x15") \
  _(fj_x86_rol_ri(mc, 4, R(RSI), 13), "c1c60d", "rol esi, 0xd") \
  _(fj_x86_rol_rcl(mc, 8, R(RBX)), "48d3c3", "rol rbx, cl") \
  _(fj_x86_cqo(mc), "4899", "cqo") \
  _(fj_x86_cdq(mc), "99", "cdq") \
  _(fj_x86_bswap_r(mc, 8, R(RAX)), "480fc8", "bswap rax") \
  _(fj_x86_bswap_r(mc, 4, R(R12)), "410fcc", "bswap r12d") \
  _(fj_x86_bswap_r(mc, 8, R(R15)), "490fcf", "bswap r15") \
  _(fj_x86_setcc_r(mc, FJ_X86_CC_E, R(RAX)), "0f94c0", "sete al") \
  _(fj_x86_setcc_r(mc, FJ_X86_CC_B, R(RSI)), "400f92c6", "setb sil") \
  _(fj_x86_setcc_r(mc, FJ_X86_CC_G, R(R9)), "410f9fc1", "setg r9b") \
  _(fj_x86_cmovcc_rr(mc, FJ_X86_CC_NE, 8, R(RAX), R(RCX)), "480f45c1", "cmovne rax, rcx") \
  _(fj_x86_cmovcc_rr(mc, FJ_X86_CC_L, 4, R(R12), R(R13)), "450f4ce5", "cmovl r12d, r13d") \
  _(fj_x86_lock_alu_mr(mc, 0x01, 8, R(RAX), 8, R(RCX)), "f048014808", "lock add qword ptr [rax + 8], rcx") \
  _(fj_x86_lock_alu_mr(mc, 0x09, 4, R(R12), 0, R(R8)), "f045090424", "lock or dword ptr [r12], r8d") \
  _(fj_x86_lock_alu_mr(mc, 0x21, 8, R(RBP), 0, R(RDX)), "f048215500", "lock and qword ptr [rbp], rdx") \
  _(fj_x86_lock_alu_mr(mc, 0x31, 4, R(RSP), -4, R(RBX)), "f0315c24fc", "lock xor dword ptr [rsp - 4], ebx") \
  _(fj_x86_lock_xadd_mr(mc, 8, R(RDI), 16, R(RAX)), "f0480fc14710", "lock xadd qword ptr [rdi + 0x10], rax") \
  _(fj_x86_lock_xadd_mr(mc, 4, R(R13), 0, R(R14)), "f0450fc17500", "lock xadd dword ptr [r13], r14d") \
  _(fj_x86_xchg_mr(mc, 8, R(RSI), 0, R(R10)), "4c8716", "xchg qword ptr [rsi], r10") \
  _(fj_x86_xchg_mr(mc, 4, R(R12), 4, R(RCX)), "41874c2404", "xchg dword ptr [r12 + 4], ecx") \
  _(fj_x86_lock_cmpxchg_mr(mc, 8, R(RDX), -8, R(R9)), "f04c0fb14af8", "lock cmpxchg qword ptr [rdx - 8], r9") \
  _(fj_x86_lock_cmpxchg_mr(mc, 4, R(RSP), 0, R(RSI)), "f00fb13424", "lock cmpxchg dword ptr [rsp], esi") \
  _(fj_x86_jmp_rel32(mc, 0x100), "e900010000", "jmp 0x1105") \
  _(fj_x86_jcc_rel32(mc, FJ_X86_CC_NE, -6), "0f85faffffff", "jne 0x1000") \
  _(fj_x86_jcc_rel32(mc, FJ_X86_CC_A, 0x10), "0f8710000000", "ja 0x1016") \
  _(fj_x86_call_rel32(mc, 0), "e800000000", "call 0x1005") \
  _(fj_x86_call_r(mc, R(RAX)), "ffd0", "call rax") \
  _(fj_x86_call_r(mc, R(R11)), "41ffd3", "call r11") \
  _(fj_x86_jmp_r(mc, R(RCX)), "ffe1", "jmp rcx") \
  _(fj_x86_jmp_r(mc, R(R15)), "41ffe7", "jmp r15") \
  _(fj_x86_jmp_m(mc, R(RBX), 120), "ff6378", "jmp qword ptr [rbx + 0x78]") \
  _(fj_x86_jmp_m(mc, R(R12), 0), "41ff2424", "jmp qword ptr [r12]") \
  _(fj_x86_push_r(mc, R(RBP)), "55", "push rbp") \
  _(fj_x86_push_r(mc, R(R12)), "4154", "push r12") \
  _(fj_x86_pop_r(mc, R(RBX)), "5b", "pop rbx") \
  _(fj_x86_pop_r(mc, R(R15)), "415f", "pop r15") \
  _(fj_x86_push_m(mc, R(RSP), 8), "ff742408", "push qword ptr [rsp + 8]") \
  _(fj_x86_imul_rm(mc, 8, R(RSI), R(RSP), 8), "480faf742408", "imul rsi, qword ptr [rsp + 8]") \
  _(fj_x86_imul_rm(mc, 4, R(R9), R(RSP), 0x10), "440faf4c2410", "imul r9d, dword ptr [rsp + 0x10]") \
  _(fj_x86_pop_m(mc, R(RSP), 0x10), "8f442410", "pop qword ptr [rsp + 0x10]") \
  _(fj_x86_push_m(mc, R(R13), 0x200), "41ffb500020000", "push qword ptr [r13 + 0x200]") \
  _(fj_x86_ret(mc), "c3", "ret") \
  _(fj_x86_nop(mc), "90", "nop") \
  _(fj_x86_int3(mc), "cc", "int3") \

typedef struct enc_case {
  const char *call, *hex, *text;
} enc_case;

static const enc_case cases[] = {
#define CASE_ROW(e, h, t) {#e, h, t},
  X86_CASES(CASE_ROW)
#undef CASE_ROW
};
enum { NCASES = sizeof cases / sizeof cases[0] };

static void run_case(int i, fj_mcode *mc) {
  int k = 0;
#define CASE_RUN(e, h, t) if (k++ == i) { e; return; }
  X86_CASES(CASE_RUN)
#undef CASE_RUN
}

static void to_hex(const uint8_t *p, size_t n, char *out) {
  for (size_t k = 0; k < n; k++) sprintf(out + 2 * k, "%02x", p[k]);
  out[2 * n] = '\0';
}

static void test_golden_bytes(void **state) {
  (void)state;
  for (int i = 0; i < NCASES; i++) {
    fj_mcode mc;
    fj_mcode_init(&mc);
    run_case(i, &mc);
    assert_false(mc.oom);
    char hex[64];
    to_hex(mc.p, mc.len, hex);
    if (strcmp(hex, cases[i].hex) != 0)
      fail_msg("%s: emitted %s, golden %s", cases[i].call, hex, cases[i].hex);
    fj_mcode_free(&mc);
  }
}

static void test_capstone_agrees(void **state) {
  (void)state;
  csh h;
  assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &h), CS_ERR_OK);
  for (int i = 0; i < NCASES; i++) {
    fj_mcode mc;
    fj_mcode_init(&mc);
    run_case(i, &mc);
    cs_insn *ins;
    size_t n = cs_disasm(h, mc.p, mc.len, 0x1000, 0, &ins);
    if (n != 1 || ins[0].size != mc.len)
      fail_msg("%s: capstone decodes %zu insns (first %u of %u bytes)", cases[i].call, n,
               n ? ins[0].size : 0, mc.len);
    char text[256];
    snprintf(text, sizeof text, "%s%s%s", ins[0].mnemonic, ins[0].op_str[0] ? " " : "",
             ins[0].op_str);
    if (strcmp(text, cases[i].text) != 0)
      fail_msg("%s: capstone says '%s', expected '%s'", cases[i].call, text, cases[i].text);
    cs_free(ins, n);
    fj_mcode_free(&mc);
  }
  cs_close(&h);
}

/* The memory-operand rules across all 16 bases and the three displacement sizes. */
static void test_mem_operand_all_bases(void **state) {
  (void)state;
  csh h;
  assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &h), CS_ERR_OK);
  static const char *names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                  "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  static const int32_t disps[] = {0, 8, -128, 127, 128, -129, 0x12345678};
  for (unsigned b = 0; b < 16; b++) {
    for (size_t k = 0; k < sizeof disps / sizeof disps[0]; k++) {
      for (unsigned d = 0; d < 16; d += 5) {
        fj_mcode mc;
        fj_mcode_init(&mc);
        fj_x86_mov_rm(&mc, 8, d, b, disps[k]);
        cs_insn *ins;
        size_t n = cs_disasm(h, mc.p, mc.len, 0, 0, &ins);
        assert_int_equal(n, 1);
        assert_int_equal(ins[0].size, mc.len);
        char want[96];
        int32_t v = disps[k];
        if (v == 0) snprintf(want, sizeof want, "%s, qword ptr [%s]", names[d], names[b]);
        else {
          unsigned a = v < 0 ? (unsigned)-(int64_t)v : (unsigned)v;  /* capstone: < 10 in decimal */
          snprintf(want, sizeof want, a < 10 ? "%s, qword ptr [%s %c %u]" : "%s, qword ptr [%s %c 0x%x]",
                   names[d], names[b], v < 0 ? '-' : '+', a);
        }
        if (strcmp(ins[0].op_str, want) != 0) fail_msg("got '%s' want '%s'", ins[0].op_str, want);
        /* Short displacement whenever it fits (1 byte), none at 0 except rbp/r13. */
        unsigned extra = ((b & 7) == 4) ? 1 : 0;
        unsigned dbytes = (v == 0 && (b & 7) != 5) ? 0 : (v >= -128 && v <= 127) ? 1 : 4;
        assert_int_equal(mc.len, 3 + extra + dbytes);
        cs_free(ins, n);
        fj_mcode_free(&mc);
      }
    }
  }
  cs_close(&h);
}

/* Branch encoders report where their rel32 lives; patch-site alignment helper aligns it. */
static void test_branch_fields(void **state) {
  (void)state;
  fj_mcode mc;
  fj_mcode_init(&mc);
  fj_x86_nop(&mc);
  assert_int_equal(fj_x86_jmp_rel32(&mc, 0), 2);
  assert_int_equal(fj_x86_jcc_rel32(&mc, FJ_X86_CC_E, 0), 8);
  assert_int_equal(fj_x86_call_rel32(&mc, 0), 13);
  for (int pad = 0; pad < 4; pad++) {
    fj_x86_nop(&mc);
    fj_x86_align_jmp_field(&mc);
    uint32_t at = fj_x86_jmp_rel32(&mc, 0);
    assert_int_equal(at % 4, 0);
  }
  assert_int_equal(fj_x86_cc_invert(FJ_X86_CC_E), FJ_X86_CC_NE);
  assert_int_equal(fj_x86_cc_invert(FJ_X86_CC_GE), FJ_X86_CC_L);
  fj_mcode_free(&mc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_golden_bytes),
    cmocka_unit_test(test_capstone_agrees),
    cmocka_unit_test(test_mem_operand_all_bases),
    cmocka_unit_test(test_branch_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
