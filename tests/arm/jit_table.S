/* farjit tests — links the host-built replay table (client_runtime/cortexm/replay.h) into
 * flash.  FJ_JIT_TABLE_FILE is its path, given by tests/arm/module.mk. */
        .section .rodata.fj_jit_table, "a"
        .balign 8
        .global fj_jit_table_start, fj_jit_table_end
fj_jit_table_start:
        .incbin FJ_JIT_TABLE_FILE
fj_jit_table_end:
        .balign 8
