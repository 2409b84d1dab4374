/* SPDX-License-Identifier: MIT */
/* Photo uploads: a multipart/form-data parser (RFC 7578 over RFC 2046), image type detection
 * by magic bytes, and content-addressed storage under DTM_DATA_DIR/uploads. The parser has no
 * server dependencies so it can be unit-tested and fuzzed on its own
 * (tests/fuzz/multipart_fuzz.c). */
#ifndef DTM_COMMON_PHOTO_H
#define DTM_COMMON_PHOTO_H

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include <stdbool.h>
#include <stddef.h>

#define DTM_PHOTO_MAX_BYTES     (5L * 1024 * 1024) /* 5 MiB per photo */
#define DTM_MULTIPART_MAX_PARTS 32
#define DTM_MULTIPART_MAX_HDR   8192 /* bytes of headers per part */

/** One part of a multipart body. Strings are NUL-terminated arena copies; data points into the
 *  parsed body (not copied, not NUL-terminated). */
typedef struct {
    const char *name;         /* Content-Disposition name; never NULL */
    const char *filename;     /* NULL when the part has no filename parameter */
    const char *content_type; /* declared Content-Type, NULL when absent (informational only) */
    const char *data;
    size_t len;
} dtm_mpart_t;

/** The boundary parameter of a "multipart/form-data; boundary=..." Content-Type value (quoted
 *  or not; type and parameter names case-insensitive). Arena copy, or NULL when the value is
 *  not multipart/form-data or the boundary is missing, empty, longer than 70 characters or
 *  holds characters RFC 2046 does not allow. */
const char *dtm_multipart_boundary(dtm_arena_t *a, const char *content_type);

/** Split `body` into parts. Lines end with CRLF; a preamble before the first delimiter and an
 *  epilogue after the close delimiter are ignored; every part needs a Content-Disposition of
 *  form-data with a name. *parts (arena array) and *nparts are set on success.
 *  Errors: DTM_EINVAL for any malformed input (no delimiter, missing close delimiter, bad or
 *  oversized part headers, more than DTM_MULTIPART_MAX_PARTS parts). Never reads outside
 *  body[0..len). */
dtm_err_t dtm_multipart_parse(dtm_arena_t *a, const char *body, size_t len, const char *boundary,
                              dtm_mpart_t **parts, int *nparts);

/** First part named `name`, or NULL. */
const dtm_mpart_t *dtm_multipart_find(const dtm_mpart_t *parts, int nparts, const char *name);

/** Every name given to more than one part fails `v` with "is given more than once", once per
 *  name: a photo is one part like any field, never the first of several. */
void dtm_multipart_unique(dtm_valid_t *v, const dtm_mpart_t *parts, int nparts);

typedef enum {
    DTM_IMG_NONE = 0,
    DTM_IMG_JPEG,
    DTM_IMG_PNG,
    DTM_IMG_WEBP,
} dtm_img_t;

/** Image type from the leading bytes only (JPEG FF D8 FF, the 8-byte PNG signature, RIFF....WEBP
 *  followed by a VP8/VP8L/VP8X chunk). Names and declared types are never consulted. */
dtm_img_t dtm_image_sniff(const void *data, size_t len);
/** "image/jpeg", "image/png", "image/webp"; NULL for DTM_IMG_NONE. */
const char *dtm_image_mime(dtm_img_t t);

/** The byte checks every uploaded photo passes (punch-in, audit answers). */
typedef enum {
    DTM_PHOTO_OK = 0,
    DTM_PHOTO_TOO_LARGE, /* more than DTM_PHOTO_MAX_BYTES: answer 413 */
    DTM_PHOTO_NOT_IMAGE, /* not JPEG, PNG or WebP by its bytes: answer 415 */
} dtm_photo_verdict_t;

/** Size and type of `data` by its bytes only; *type set when DTM_PHOTO_OK. */
dtm_photo_verdict_t dtm_photo_check(const void *data, size_t len, dtm_img_t *type);

/** True for 64 lower-case hex characters. */
bool dtm_sha256_hex_valid(const char *s);

/** Path of a stored photo: <data_dir>/uploads/<sha[0..2]>/<sha[2..]>. Arena string. */
char *dtm_photo_path(dtm_arena_t *a, const char *data_dir, const char *sha_hex);

/** Store `data` content-addressed by its SHA-256 (hex into sha_hex[65]). Writes to a temporary
 *  file in the target directory, fsyncs and renames it into place, so readers never see a
 *  partial file; an existing file with that hash is left alone (*created = false).
 *  Errors: DTM_EINTERNAL when a directory or the file cannot be written (logged). */
typedef struct dtm_req dtm_req_t;
/** After dtm_photo_store failed (errno as it left it): log, then answer 507
 *  insufficient_storage when the disk or quota is full (the client may retry later, nothing was
 *  kept), else 500. */
void dtm_photo_store_failed(dtm_req_t *req, const char *data_dir);

dtm_err_t dtm_photo_store(const char *data_dir, const void *data, size_t len, char sha_hex[65],
                          bool *created);

/** Whether a stored photo is named anywhere: 1 yes, 0 no, negative on error (the round stops,
 *  nothing more is deleted). */
typedef int (*dtm_photo_used_fn)(void *ud, const char *sha_hex);

typedef struct {
    int examined;    /* stored photos looked at */
    int young;       /* touched within the grace period: kept unasked */
    int referenced;  /* named by a row: kept */
    int deleted;     /* unreferenced and old (plus abandoned temporary files) */
    long long bytes; /* bytes of the deleted photos */
} dtm_photo_gc_stats_t;

/** Delete the stored photos under <data_dir>/uploads that nothing names: a file is a candidate
 *  when its mtime is older than grace_s (dtm_photo_store touches a file it finds, so a fresh
 *  upload of old bytes counts as young) and used() says 0; it is renamed aside, checked again
 *  (mtime and used()) and only then unlinked, else put back. Abandoned temporary files older
 *  than grace_s go too. At most max_files photos are examined per call. Returns 0, or -1 when
 *  the directory cannot be read or used() failed (what was deleted is in *st). */
int dtm_photo_gc(const char *data_dir, long grace_s, int max_files, dtm_photo_used_fn used,
                 void *ud, dtm_photo_gc_stats_t *st);

#endif
