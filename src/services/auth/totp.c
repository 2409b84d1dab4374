/* SPDX-License-Identifier: MIT */
/* TOTP (RFC 6238 over RFC 4226 HOTP): SHA-1, 6 digits, 30 s steps, what every authenticator
 * app and oathtool do by default. The secret comes from libsodium's CSPRNG; the HMAC is
 * OpenSSL's HMAC-SHA1 because libsodium has no SHA-1 (and SHA-1 is what API.md and the apps
 * expect; HOTP's use of it is not affected by SHA-1's collision weakness). Codes are compared
 * in constant time. Also the otpauth:// URI and its QR code as SVG (libqrencode). Pure: no I/O. */
#include "services/auth/auth.h"

#include "core/str.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t auth_base32_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    unsigned buf = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            if (o + 1 >= cap)
                return 0;
            out[o++] = b32_alphabet[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        if (o + 1 >= cap)
            return 0;
        out[o++] = b32_alphabet[(buf << (5 - bits)) & 31];
    }
    out[o] = '\0';
    return o;
}

long auth_base32_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t o = 0;
    unsigned buf = 0;
    int bits = 0;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == '=' || c == ' ' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        const char *at = c ? strchr(b32_alphabet, c) : NULL;
        if (!at)
            return -1;
        buf = (buf << 5) | (unsigned)(at - b32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)((buf >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return (long)o;
}

void auth_totp_code(const unsigned char *key, size_t keylen, uint64_t step, char out[7])
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(step & 0xff);
        step >>= 8;
    }
    HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen);
    int off = mac[maclen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    snprintf(out, 7, "%06u", (unsigned)(bin % 1000000u));
    sodium_memzero(mac, sizeof mac);
}

int64_t auth_totp_match(const unsigned char *key, size_t keylen, const char *code, int64_t now_s,
                        int64_t last_step)
{
    if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6)
        return -1;
    int64_t t = now_s / AUTH_TOTP_PERIOD;
    int64_t found = -1;
    /* Every step of the window is computed, whichever matches: the time taken does not say
     * which one did. */
    for (int64_t s = t - AUTH_TOTP_WINDOW; s <= t + AUTH_TOTP_WINDOW; s++) {
        char c[7];
        auth_totp_code(key, keylen, (uint64_t)s, c);
        if (sodium_memcmp(c, code, 6) == 0 && s > last_step && found < 0)
            found = s;
    }
    return found;
}

/* RFC 3986 unreserved characters pass, everything else is %XX. */
static void uri_escape(dtm_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '@')
            dtm_buf_append(b, s, 1);
        else
            dtm_buf_printf(b, "%%%02X", c);
    }
}

char *auth_totp_uri(dtm_arena_t *a, const char *issuer, const char *account, const char *secret)
{
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_puts(&b, "otpauth://totp/");
    uri_escape(&b, issuer);
    dtm_buf_puts(&b, ":");
    uri_escape(&b, account);
    dtm_buf_printf(&b, "?secret=%s&issuer=", secret);
    uri_escape(&b, issuer);
    dtm_buf_printf(&b, "&algorithm=SHA1&digits=6&period=%d", AUTH_TOTP_PERIOD);
    char *out = dtm_arena_strndup(a, b.data, b.len);
    dtm_buf_free(&b);
    return out;
}

/* One dark module = one unit square; a 4-module quiet zone; one <path> of horizontal runs. */
char *auth_qr_svg(dtm_arena_t *a, const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return NULL;
    int w = q->width, size = w + 8;
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_printf(&b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                   "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                   "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                   size, size, size, size);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w;) {
            if (!(q->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (q->data[y * w + x + run] & 1))
                run++;
            dtm_buf_printf(&b, "M%d %dh%dv1h-%dz", x + 4, y + 4, run, run);
            x += run;
        }
    }
    dtm_buf_puts(&b, "\"/></svg>");
    QRcode_free(q);
    char *out = dtm_arena_strndup(a, b.data, b.len);
    dtm_buf_free(&b);
    return out;
}

void auth_recovery_code_new(char out[AUTH_RECOVERY_LEN + 1])
{
    unsigned char raw[10]; /* 80 bits */
    char b32[17];
    randombytes_buf(raw, sizeof raw);
    auth_base32_encode(raw, sizeof raw, b32, sizeof b32);
    /* xxxx-xxxx-xxxx-xxxx, lower case */
    for (int i = 0, o = 0; i < 16; i++) {
        if (i && i % 4 == 0)
            out[o++] = '-';
        out[o++] = (char)(b32[i] >= 'A' && b32[i] <= 'Z' ? b32[i] - 'A' + 'a' : b32[i]);
    }
    out[AUTH_RECOVERY_LEN] = '\0';
    sodium_memzero(raw, sizeof raw);
}

bool auth_recovery_code_hash(const char *code, char out[AUTH_TOKEN_HASH_LEN + 1])
{
    char norm[32];
    size_t n = 0;
    for (const char *p = code; *p; p++) {
        char c = *p;
        if (c == '-' || c == ' ')
            continue;
        if (n >= 16)
            return false;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
            return false;
        norm[n++] = c;
    }
    if (n != 16)
        return false;
    norm[n] = '\0';
    auth_token_hash(norm, out);
    return true;
}
