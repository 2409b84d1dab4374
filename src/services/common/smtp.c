/* SPDX-License-Identifier: MIT */
/* SMTP through libcurl (see smtp.h). The message is built here (curl only moves it): headers
 * are checked for CR/LF so that no caller-supplied text can add a header or a recipient. */
#include "services/common/smtp.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/str.h"
#include <curl/curl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
            return false;
    return true;
}

/* Base64 of n bytes, lines of 76 characters ended by CRLF (RFC 2045). */
static void put_base64(dtm_buf_t *b, const void *data, size_t n, bool wrap)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *enc = malloc(cap);
    if (!enc)
        abort();
    sodium_bin2base64(enc, cap, data, n, sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(enc);
    for (size_t i = 0; i < len; i += 76) {
        size_t k = len - i < 76 ? len - i : 76;
        dtm_buf_append(b, enc + i, k);
        if (wrap)
            dtm_buf_puts(b, "\r\n");
    }
    free(enc);
}

/* A header value: as it is when plain ASCII, else an RFC 2047 encoded word. Encoded words are
 * cut at 39 input bytes (52 base64 characters) on UTF-8 character boundaries, which keeps a
 * folded Subject line under 78 characters. */
static void put_header_text(dtm_buf_t *b, const char *s)
{
    if (is_ascii(s)) {
        dtm_buf_puts(b, s);
        return;
    }
    size_t len = strlen(s), i = 0;
    while (i < len) {
        size_t k = len - i < 39 ? len - i : 39;
        while (i + k < len && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k--; /* do not split a character */
        if (i > 0)
            dtm_buf_puts(b, "\r\n ");
        dtm_buf_puts(b, "=?UTF-8?B?");
        put_base64(b, s + i, k, false);
        dtm_buf_puts(b, "?=");
        i += k;
    }
}

/* "Name" <addr>, the name quoted (quotes and backslashes escaped) or encoded. */
static void put_address(dtm_buf_t *b, const char *name, const char *addr)
{
    if (name && *name) {
        if (is_ascii(name)) {
            dtm_buf_puts(b, "\"");
            for (const char *p = name; *p; p++) {
                if (*p == '"' || *p == '\\')
                    dtm_buf_puts(b, "\\");
                dtm_buf_append(b, p, 1);
            }
            dtm_buf_puts(b, "\" ");
        } else {
            put_header_text(b, name);
            dtm_buf_puts(b, " ");
        }
    }
    dtm_buf_printf(b, "<%s>", addr);
}

static void put_part(dtm_buf_t *b, const char *boundary, const char *type, const char *text)
{
    dtm_buf_printf(b, "--%s\r\nContent-Type: %s; charset=utf-8\r\n", boundary, type);
    dtm_buf_puts(b, "Content-Transfer-Encoding: base64\r\n\r\n");
    put_base64(b, text, strlen(text), true);
}

/* The address part of DTM_MAIL_FROM ("Name <a@b>" or "a@b"). */
static const char *from_address(char *out, size_t n)
{
    const char *from = dtm_cfg.mail_from ? dtm_cfg.mail_from : "";
    const char *lt = strchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt && gt > lt + 1)
        snprintf(out, n, "%.*s", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(out, n, "%s", from);
    return out;
}

char *dtm_smtp_format(const dtm_mail_t *m, const char *msgid, const char *boundary)
{
    if (!m->to || !*m->to || has_crlf(m->to) || has_crlf(m->to_name) || has_crlf(m->subject) ||
        has_crlf(dtm_cfg.mail_from) || strpbrk(m->to, "<>\" ,;"))
        return NULL;
    dtm_buf_t b;
    dtm_buf_init(&b);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    dtm_buf_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: ", date,
                   dtm_cfg.mail_from ? dtm_cfg.mail_from : "");
    put_address(&b, m->to_name, m->to);
    dtm_buf_printf(&b, "\r\nMessage-ID: %s\r\nSubject: ", msgid);
    put_header_text(&b, m->subject ? m->subject : "");
    dtm_buf_puts(&b, "\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
    if (m->html) {
        dtm_buf_printf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
                       boundary);
        put_part(&b, boundary, "text/plain", m->text ? m->text : "");
        put_part(&b, boundary, "text/html", m->html);
        dtm_buf_printf(&b, "--%s--\r\n", boundary);
    } else {
        dtm_buf_puts(&b, "Content-Type: text/plain; charset=utf-8\r\n");
        dtm_buf_puts(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
        put_base64(&b, m->text ? m->text : "", strlen(m->text ? m->text : ""), true);
    }
    dtm_buf_append(&b, "", 1);
    return b.data; /* the caller frees */
}

typedef struct {
    const char *data;
    size_t len, off;
} upload_t;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    upload_t *u = ud;
    size_t n = size * nitems, left = u->len - u->off;
    if (n > left)
        n = left;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

dtm_err_t dtm_smtp_send(const dtm_mail_t *m, char *msgid, char *errbuf, size_t errlen)
{
    char dummy[8];
    if (!errbuf) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    errbuf[0] = '\0';
    if (!dtm_cfg.smtp_url || !*dtm_cfg.smtp_url) {
        snprintf(errbuf, errlen, "DTM_SMTP_URL is not set");
        return DTM_EINVAL;
    }
    char from[256], id[128], token[24], boundary[64];
    from_address(from, sizeof from);
    const char *at = strchr(from, '@');
    dtm_random_token(token, 12);
    snprintf(id, sizeof id, "<%s@%s>", token, at && at[1] ? at + 1 : "dtm.local");
    dtm_random_token(token, 12);
    snprintf(boundary, sizeof boundary, "=_dtm_%s", token);
    char *msg = dtm_smtp_format(m, id, boundary);
    if (!msg || !*from) {
        free(msg);
        snprintf(errbuf, errlen, "invalid address or header");
        return DTM_EINVAL;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        free(msg);
        snprintf(errbuf, errlen, "curl_easy_init failed");
        return DTM_EUNAVAIL;
    }
    char mfrom[300], rcpt[300];
    snprintf(mfrom, sizeof mfrom, "<%s>", from);
    snprintf(rcpt, sizeof rcpt, "<%s>", m->to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    upload_t up = {msg, strlen(msg), 0};
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, dtm_cfg.smtp_url);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mfrom);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)dtm_cfg.smtp_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)dtm_cfg.smtp_timeout_ms);
    /* Credentials never travel in clear: over smtp:// they require STARTTLS. */
    if (strncmp(dtm_cfg.smtp_url, "smtp://", 7) == 0 && strchr(dtm_cfg.smtp_url + 7, '@'))
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        snprintf(errbuf, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(h);
    free(msg);
    if (rc != CURLE_OK)
        return DTM_EUNAVAIL;
    if (msgid)
        snprintf(msgid, 128, "%s", id);
    return DTM_OK;
}
