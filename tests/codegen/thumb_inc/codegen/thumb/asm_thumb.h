/* Test-only: lets a test build of codegen/compile.c register the Thumb-2 backend
 * (compile.c includes codegen/thumb/asm_thumb.h when it exists).  The tree does not ship that
 * header yet because compile.c then trips -Wclobbered on `be` (a false positive across its
 * setjmp); see tests/codegen/thumb.mk. */
#include "codegen/thumb/thumb.h"
#ifdef FJ_THUMB_TEST_WIDE /* the measuring copy of the driver: thumbv7em without I32 knowledge */
#define fj_backend_thumbv7em fj_backend_thumbv7em_wide
#endif
