/* SPDX-License-Identifier: MIT */
/* The one SMTP sender of the platform (libcurl). Every service that mails (notifications, the
 * account-security mails) builds a dtm_mail_t and calls dtm_smtp_send; nothing else speaks
 * SMTP. Where the mail goes: DTM_SMTP_URL ("smtp://host:25", "smtps://user:pass@host:465";
 * credentials over plain smtp:// require STARTTLS), from DTM_MAIL_FROM.
 *
 * The message is multipart/alternative (text/plain then text/html, both UTF-8, base64), with
 * Date, Message-ID and RFC 2047 encoded non-ASCII headers. Sending is synchronous and blocks
 * for up to DTM_SMTP_TIMEOUT_MS: call it from a worker or job thread, never from a loop.
 * Retrying is the caller's business (the notifications mail queue does it). */
#ifndef DTM_COMMON_SMTP_H
#define DTM_COMMON_SMTP_H

#include "core/err.h"
#include <stddef.h>

/** One mail; every string borrowed for the call. `to` is a bare address, `to_name` (may be
 *  NULL) its display name; `html` may be NULL (then text only). */
typedef struct {
    const char *to, *to_name, *subject, *text, *html;
} dtm_mail_t;

/** Send `m`. DTM_OK when the server accepted it (the Message-ID goes into msgid when not NULL,
 *  size >= 128). DTM_EINVAL for a mail that can never be sent (no SMTP configured, an address
 *  or header with CR/LF, an empty recipient): do not retry it. DTM_EUNAVAIL for anything the
 *  server or the network refused (retry later); `errbuf` (may be NULL) gets the reason. */
dtm_err_t dtm_smtp_send(const dtm_mail_t *m, char *msgid, char *errbuf, size_t errlen);

/** The complete RFC 5322 message for `m` with the given Message-ID and boundary, in malloc'd
 *  memory (the caller frees), or NULL when a header would need CR/LF. For tests and
 *  dtm_smtp_send. */
char *dtm_smtp_format(const dtm_mail_t *m, const char *msgid, const char *boundary);

#endif
