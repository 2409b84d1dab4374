/* SPDX-License-Identifier: MIT */
/* UUIDs and request ids (libsodium randomness). */
#ifndef DTM_IDS_H
#define DTM_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define DTM_UUID_LEN 36

/** Random v4 UUID, lower case, NUL-terminated into out[37]. */
void dtm_uuid_v4(char out[DTM_UUID_LEN + 1]);
/** True for the canonical 8-4-4-4-12 hex form. */
bool dtm_uuid_valid(const char *s);

/** A request id taken from a client is kept when it is 1..128 chars of [A-Za-z0-9._:-]. */
bool dtm_request_id_valid(const char *s);
void dtm_request_id_new(char out[DTM_UUID_LEN + 1]);

/** n random bytes, base64url without padding, into out (size >= 4*n/3+2). */
void dtm_random_token(char *out, size_t n_bytes);

#endif
