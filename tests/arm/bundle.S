/* farjit tests — links the host-built case bundle (bundle.h) into the firmware's flash.
 * FJ_BUNDLE_FILE is the path of the bundle, given by tests/arm/module.mk. */
        .section .rodata.fj_bundle, "a"
        .balign 8
        .global fj_bundle_start, fj_bundle_end
fj_bundle_start:
        .incbin FJ_BUNDLE_FILE
fj_bundle_end:
        .balign 8
