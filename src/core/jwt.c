/* SPDX-License-Identifier: MIT */
/* HS256 JWTs. Verification is strict on purpose: exactly three segments, base64url without
 * padding, alg must be the string "HS256" (so "none", HS512, RS256 and alg-confusion tricks all
 * fail), the MAC is compared in constant time, then exp/nbf/iat/iss are checked. */
#include "core/jwt.h"
#include "core/arena.h"
#include "core/config.h"
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWT_MAX_LEN  8192
#define JWT_ISSUER   "dtm"
#define JWT_IAT_SKEW 60
#define B64_VARIANT  sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* ---- keys from config ---- */

static pthread_mutex_t keys_mu = PTHREAD_MUTEX_INITIALIZER;
static dtm_keyset_t keys;

/* Every key string ever built stays reachable here: callers may hold a keyset pointer across a
 * config reload (tests do), so old strings are never freed. One node per reload. */
typedef struct key_store {
    struct key_store *next;
    char text[]; /* "current\0prev1,prev2" */
} key_store_t;
static key_store_t *stores;

static bool same_source(const char *cur, const char *prev)
{
    return stores && strcmp(stores->text, cur) == 0 &&
           strcmp(stores->text + strlen(stores->text) + 1, prev) == 0;
}

const dtm_keyset_t *dtm_jwt_keys(void)
{
    const char *cur = dtm_cfg.jwt_secret ? dtm_cfg.jwt_secret : "";
    const char *prev = dtm_cfg.jwt_previous_secrets ? dtm_cfg.jwt_previous_secrets : "";
    pthread_mutex_lock(&keys_mu);
    if (!same_source(cur, prev)) {
        size_t nc = strlen(cur), np = strlen(prev);
        key_store_t *st = dtm_alloc(sizeof *st + nc + np + 2);
        memcpy(st->text, cur, nc + 1);
        memcpy(st->text + nc + 1, prev, np + 1);
        st->next = stores;
        stores = st;
        /* Work on a second copy for splitting, kept in the same node chain. */
        key_store_t *split = dtm_alloc(sizeof *split + np + 1);
        memcpy(split->text, prev, np + 1);
        split->next = st->next;
        st->next = split;
        keys.n = 0;
        if (*cur)
            keys.secrets[keys.n++] = st->text; /* the signing key is taken whole */
        char *save = NULL;
        for (char *tok = strtok_r(split->text, ",", &save); tok && keys.n < 8;
             tok = strtok_r(NULL, ",", &save))
            if (*tok)
                keys.secrets[keys.n++] = tok;
    }
    pthread_mutex_unlock(&keys_mu);
    return &keys;
}

void dtm_jwt_kid(const char *secret, char out[9])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
    sodium_bin2hex(out, 9, h, 4);
}

/* ---- encoding helpers ---- */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void)
{
    if (sodium_init() < 0)
        abort();
}

static void hmac(const char *secret, const char *data, size_t n,
                 unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    pthread_once(&sodium_once, sodium_start);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, n);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

static char *b64(const void *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, B64_VARIANT);
    char *out = dtm_alloc(cap);
    sodium_bin2base64(out, cap, bin, n, B64_VARIANT);
    return out;
}

/* Decodes exactly [s, s+n); NULL on any invalid character or padding. */
static unsigned char *unb64(const char *s, size_t n, size_t *out_len)
{
    unsigned char *bin = dtm_alloc(n + 1);
    const char *end = NULL;
    if (sodium_base642bin(bin, n, s, n, NULL, out_len, &end, B64_VARIANT) != 0 || end != s + n) {
        free(bin);
        return NULL;
    }
    bin[*out_len] = '\0';
    return bin;
}

char *dtm_jwt_sign(const dtm_claims_t *c, const dtm_keyset_t *ks)
{
    if (!ks || ks->n < 1)
        return NULL;
    char kid[9];
    dtm_jwt_kid(ks->secrets[0], kid);
    json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "typ", "JWT", "kid", kid);
    json_t *pl = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "sub", c->sub, "role", c->role, "jti",
                           c->jti, "iss", c->iss[0] ? c->iss : JWT_ISSUER, "iat",
                           (json_int_t)c->iat, "exp", (json_int_t)c->exp);
    if (!hdr || !pl) {
        json_decref(hdr);
        json_decref(pl);
        return NULL;
    }
    if (c->nbf)
        json_object_set_new(pl, "nbf", json_integer(c->nbf));
    char *h = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *p = json_dumps(pl, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    json_decref(pl);
    char *hb = b64(h, strlen(h)), *pb = b64(p, strlen(p));
    free(h);
    free(p);
    size_t n = strlen(hb) + 1 + strlen(pb);
    char *tok = dtm_alloc(n + 1 + sodium_base64_ENCODED_LEN(32, B64_VARIANT));
    sprintf(tok, "%s.%s", hb, pb);
    free(hb);
    free(pb);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac(ks->secrets[0], tok, n, mac);
    char *sb = b64(mac, sizeof mac);
    sprintf(tok + n, ".%s", sb);
    free(sb);
    return tok;
}

/* ---- verification ---- */

static json_t *segment_json(const char *s, size_t n)
{
    size_t len;
    unsigned char *bin = unb64(s, n, &len);
    if (!bin)
        return NULL;
    json_t *j = json_loadb((const char *)bin, len, JSON_REJECT_DUPLICATES, NULL);
    free(bin);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool header_ok(json_t *hdr, const char **kid)
{
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    json_t *typ = json_object_get(hdr, "typ");
    if (!alg || strcmp(alg, "HS256") != 0)
        return false;
    if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        return false;
    if (json_object_get(hdr, "crit"))
        return false; /* we understand no extensions */
    *kid = json_string_value(json_object_get(hdr, "kid"));
    return true;
}

/* Tries the key whose kid matches, else every key. Constant-time MAC comparison. */
static bool signature_ok(const char *token, size_t signed_len, const unsigned char *sig,
                         const dtm_keyset_t *ks, const char *kid)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    for (int i = 0; kid && i < ks->n; i++) {
        char k[9];
        dtm_jwt_kid(ks->secrets[i], k);
        if (strcmp(k, kid) == 0) {
            hmac(ks->secrets[i], token, signed_len, mac);
            return crypto_verify_32(mac, sig) == 0;
        }
    }
    bool ok = false;
    for (int i = 0; i < ks->n; i++) {
        hmac(ks->secrets[i], token, signed_len, mac);
        ok |= crypto_verify_32(mac, sig) == 0;
    }
    return ok;
}

static bool copy_str(json_t *pl, const char *k, char *out, size_t cap, bool required)
{
    json_t *j = json_object_get(pl, k);
    if (!j) {
        out[0] = '\0';
        return !required;
    }
    const char *s = json_string_value(j);
    if (!s || strlen(s) >= cap || strlen(s) != json_string_length(j))
        return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

static bool int_claim(json_t *pl, const char *k, int64_t *out, bool required)
{
    json_t *j = json_object_get(pl, k);
    *out = 0;
    if (!j)
        return !required;
    if (!json_is_integer(j))
        return false;
    *out = (int64_t)json_integer_value(j);
    return true;
}

static bool claims_ok(json_t *pl, int64_t now, dtm_claims_t *c)
{
    if (!copy_str(pl, "sub", c->sub, sizeof c->sub, true) ||
        !copy_str(pl, "role", c->role, sizeof c->role, false) ||
        !copy_str(pl, "jti", c->jti, sizeof c->jti, false) ||
        !copy_str(pl, "iss", c->iss, sizeof c->iss, true) || !int_claim(pl, "exp", &c->exp, true) ||
        !int_claim(pl, "iat", &c->iat, false) || !int_claim(pl, "nbf", &c->nbf, false))
        return false;
    if (strcmp(c->iss, JWT_ISSUER) != 0)
        return false;
    if (c->exp <= now)
        return false;
    if (c->nbf && c->nbf > now)
        return false;
    if (c->iat > now + JWT_IAT_SKEW)
        return false;
    return true;
}

dtm_err_t dtm_jwt_verify(const char *token, const dtm_keyset_t *ks, int64_t now_s,
                         dtm_claims_t *out)
{
    if (!token || !ks || ks->n < 1 || strlen(token) > JWT_MAX_LEN)
        return DTM_EAUTH;
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return DTM_EAUTH;
    dtm_err_t err = DTM_EAUTH;
    json_t *hdr = segment_json(token, (size_t)(d1 - token));
    json_t *pl = NULL;
    size_t sig_len = 0;
    unsigned char *sig = unb64(d2 + 1, strlen(d2 + 1), &sig_len);
    const char *kid = NULL;
    if (!hdr || !sig || sig_len != crypto_auth_hmacsha256_BYTES || !header_ok(hdr, &kid))
        goto out;
    /* The signature is checked before the payload is even parsed. */
    if (!signature_ok(token, (size_t)(d2 - token), sig, ks, kid))
        goto out;
    pl = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    dtm_claims_t c;
    memset(&c, 0, sizeof c);
    if (!pl || !claims_ok(pl, now_s, &c))
        goto out;
    if (out)
        *out = c;
    err = DTM_OK;
out:
    json_decref(hdr);
    json_decref(pl);
    free(sig);
    return err;
}

/* ---- verified-token cache ----
 *
 * A client sends the same access token for its 15 minutes; verifying it costs two base64
 * decodes, two JSON parses and an HMAC.
 * Each loop thread keeps the last tokens it verified: a slot is chosen by a keyed SipHash of
 * the token and matched with a constant-time comparison of the whole token, so a lookup says
 * nothing about a cached token's bytes. Tokens that fail are never cached. */

#define VCACHE_SLOTS     32
#define VCACHE_TOKEN_MAX 600

typedef struct {
    size_t len; /* 0: empty */
    char token[VCACHE_TOKEN_MAX];
    dtm_claims_t claims;
} vslot_t;

static _Thread_local vslot_t t_vcache[VCACHE_SLOTS];
static unsigned char g_vkey[crypto_shorthash_KEYBYTES];
static pthread_once_t g_vkey_once = PTHREAD_ONCE_INIT;

static void vkey_init(void)
{
    if (sodium_init() < 0)
        abort();
    randombytes_buf(g_vkey, sizeof g_vkey);
}

dtm_err_t dtm_jwt_verify_cached(const char *token, int64_t now_s, dtm_claims_t *out)
{
    size_t len = strlen(token);
    vslot_t *slot = NULL;
    if (len > 0 && len <= VCACHE_TOKEN_MAX) {
        pthread_once(&g_vkey_once, vkey_init);
        unsigned char h[crypto_shorthash_BYTES];
        crypto_shorthash(h, (const unsigned char *)token, len, g_vkey);
        slot = &t_vcache[h[0] % VCACHE_SLOTS];
        if (slot->len == len && sodium_memcmp(slot->token, token, len) == 0) {
            const dtm_claims_t *c = &slot->claims;
            if (c->exp <= now_s || (c->nbf && c->nbf > now_s))
                return DTM_EAUTH;
            *out = *c;
            return DTM_OK;
        }
    }
    dtm_err_t err = dtm_jwt_verify(token, dtm_jwt_keys(), now_s, out);
    if (err == DTM_OK && slot) {
        memcpy(slot->token, token, len);
        slot->len = len;
        slot->claims = *out;
    }
    return err;
}
