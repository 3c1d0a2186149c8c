/* farjit — protobuf-c messages <-> frames, for hosts (server, CLI, Linux client runtime).
 *
 * The generated code lives in $(B)/gen/proto/farjit.pb-c.[ch] (protoc-c at build time).
 * fj_msg_pack serialises an Envelope into one malloc'd buffer that already holds the frame
 * header, ready to write; the caller frees it with free().  fj_msg_unpack decodes a payload;
 * free the result with fj_msg_free.  Neither keeps state: any thread may call them.
 */
#ifndef FARJIT_PROTO_MSG_H
#define FARJIT_PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto/farjit.pb-c.h"

typedef Farjit__Envelope fj_envelope;

/* Frame bytes for env, or NULL (out of memory, or larger than FJ_FRAME_MAX). */
uint8_t *fj_msg_pack(const fj_envelope *env, size_t *len);
/* NULL if payload is not a valid protobuf Envelope.  An Envelope whose message this version does
 * not know (a newer peer) decodes with msg_case FARJIT__ENVELOPE__MSG__NOT_SET. */
fj_envelope *fj_msg_unpack(const uint8_t *payload, size_t len);
void fj_msg_free(fj_envelope *env);

/* Name of the envelope's message case ("compile_request"), for logs. */
const char *fj_msg_name(const fj_envelope *env);

/* Convenience builders returning frame bytes (malloc'd) or NULL. */
uint8_t *fj_msg_error(int code, uint64_t id, const char *message, size_t *len);

#endif /* FARJIT_PROTO_MSG_H */
