/* SPDX-License-Identifier: MIT */
#include "core/config.h"
#include "core/jwt.h"
#include "core/timeutil.h"
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW     1795684500LL
#define SECRET1 "first-secret-0123456789abcdef0123456789"
#define SECRET2 "second-secret-0123456789abcdef012345678"
#define SECRET3 "unknown-secret-0123456789abcdef01234567"

static dtm_claims_t claims(void)
{
    dtm_claims_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    snprintf(c.role, sizeof c.role, "manager");
    snprintf(c.jti, sizeof c.jti, "jti-1");
    snprintf(c.iss, sizeof c.iss, "dtm");
    c.iat = NOW;
    c.exp = NOW + 900;
    return c;
}

static const dtm_keyset_t one = {{SECRET1}, 1};

static char *b64url(const char *s)
{
    size_t cap = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)s, strlen(s),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* A token with an arbitrary header and payload, HMAC-SHA256-signed with `secret` (or the
 * given raw signature segment when sig is not NULL). */
static char *forge(const char *header, const char *payload, const char *secret, const char *sig)
{
    char *h = b64url(header), *p = b64url(payload);
    char signing[2048];
    snprintf(signing, sizeof signing, "%s.%s", h, p);
    char sigbuf[128] = "";
    if (sig) {
        snprintf(sigbuf, sizeof sigbuf, "%s", sig);
    } else if (secret) {
        unsigned char mac[32];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_bin2base64(sigbuf, sizeof sigbuf, mac, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    char *tok = malloc(strlen(signing) + strlen(sigbuf) + 2);
    sprintf(tok, "%s.%s", signing, sigbuf);
    free(h);
    free(p);
    return tok;
}

static const char *good_payload =
    "{\"sub\":\"u1\",\"role\":\"admin\",\"jti\":\"j\",\"iss\":\"dtm\",\"iat\":1795684500,"
    "\"exp\":1795685400}";

Test(jwt, sign_and_verify_round_trip)
{
    dtm_claims_t c = claims(), got;
    char *tok = dtm_jwt_sign(&c, &one);
    cr_assert_not_null(tok);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, &got), DTM_OK);
    cr_assert_str_eq(got.sub, c.sub);
    cr_assert_str_eq(got.role, "manager");
    cr_assert_str_eq(got.jti, "jti-1");
    cr_assert_str_eq(got.iss, "dtm");
    cr_assert_eq(got.exp, NOW + 900);
    cr_assert_eq(got.iat, NOW);
    cr_assert_eq(got.nbf, 0);
    free(tok);
}

Test(jwt, tampered_payload_and_signature_rejected)
{
    dtm_claims_t c = claims();
    char *tok = dtm_jwt_sign(&c, &one);
    /* Flip one character of the signature. */
    char *bad = strdup(tok);
    char *last = bad + strlen(bad) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    cr_assert_eq(dtm_jwt_verify(bad, &one, NOW, NULL), DTM_EAUTH);
    free(bad);
    /* Swap in a payload claiming admin, keeping the original signature. */
    const char *sig = strrchr(tok, '.') + 1;
    char *forged =
        forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
              "{\"sub\":\"x\",\"role\":\"admin\",\"iss\":\"dtm\",\"exp\":1795685400}", NULL, sig);
    cr_assert_eq(dtm_jwt_verify(forged, &one, NOW, NULL), DTM_EAUTH);
    free(forged);
    /* Signed with a different key. */
    char *other = forge("{\"alg\":\"HS256\"}", good_payload, SECRET3, NULL);
    cr_assert_eq(dtm_jwt_verify(other, &one, NOW, NULL), DTM_EAUTH);
    free(other);
    free(tok);
}

Test(jwt, control_token_is_accepted)
{
    /* Guards the forge() helper: a correctly forged token must pass, or the negative tests
     * below would pass for the wrong reason. */
    char *tok = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_payload, SECRET1, NULL);
    dtm_claims_t got;
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, &got), DTM_OK);
    cr_assert_str_eq(got.role, "admin");
    free(tok);
}

Test(jwt, alg_none_rejected)
{
    char *tok = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", good_payload, NULL, "");
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH);
    free(tok);
    tok = forge("{\"alg\":\"none\"}", good_payload, SECRET1, NULL);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH);
    free(tok);
    tok = forge("{\"typ\":\"JWT\"}", good_payload, SECRET1, NULL);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH);
    free(tok);
}

Test(jwt, alg_hs512_and_others_rejected)
{
    const char *algs[] = {"{\"alg\":\"HS512\"}", "{\"alg\":\"RS256\"}", "{\"alg\":\"hs256\"}",
                          "{\"alg\":[\"HS256\"]}"};
    for (size_t i = 0; i < 4; i++) {
        char *tok = forge(algs[i], good_payload, SECRET1, NULL);
        cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH, "%s", algs[i]);
        free(tok);
    }
}

Test(jwt, expired_rejected)
{
    dtm_claims_t c = claims();
    char *tok = dtm_jwt_sign(&c, &one);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW + 899, NULL), DTM_OK);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW + 900, NULL), DTM_EAUTH);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW + 100000, NULL), DTM_EAUTH);
    free(tok);
    tok = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"u\",\"iss\":\"dtm\",\"iat\":1}", SECRET1, NULL);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH, "exp is required");
    free(tok);
}

Test(jwt, not_yet_valid_rejected)
{
    dtm_claims_t c = claims();
    c.nbf = NOW + 100;
    char *tok = dtm_jwt_sign(&c, &one);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW + 100, NULL), DTM_OK);
    free(tok);
    c = claims();
    c.iat = NOW + 61; /* issued in the future beyond the skew */
    tok = dtm_jwt_sign(&c, &one);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH);
    free(tok);
    c.iat = NOW + 60;
    tok = dtm_jwt_sign(&c, &one);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_OK);
    free(tok);
}

Test(jwt, wrong_issuer_rejected)
{
    dtm_claims_t c = claims();
    snprintf(c.iss, sizeof c.iss, "evil");
    char *tok = dtm_jwt_sign(&c, &one);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH);
    free(tok);
    tok = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"u\",\"exp\":1795685400}", SECRET1, NULL);
    cr_assert_eq(dtm_jwt_verify(tok, &one, NOW, NULL), DTM_EAUTH, "iss is required");
    free(tok);
}

Test(jwt, kid_rotation)
{
    dtm_keyset_t old_only = {{SECRET1}, 1};
    dtm_keyset_t rotated = {{SECRET2, SECRET1}, 2};
    dtm_keyset_t unknown = {{SECRET3}, 1};
    dtm_claims_t c = claims();
    char *old_tok = dtm_jwt_sign(&c, &old_only);
    char *new_tok = dtm_jwt_sign(&c, &rotated);
    /* kid header present and equal to the signing key's kid */
    char kid[9], kid2[9];
    dtm_jwt_kid(SECRET2, kid);
    dtm_jwt_kid(SECRET1, kid2);
    cr_assert_eq(strlen(kid), 8);
    cr_assert_str_neq(kid, kid2);
    cr_assert_eq(dtm_jwt_verify(old_tok, &rotated, NOW, NULL), DTM_OK, "old key still verifies");
    cr_assert_eq(dtm_jwt_verify(new_tok, &rotated, NOW, NULL), DTM_OK);
    cr_assert_eq(dtm_jwt_verify(new_tok, &old_only, NOW, NULL), DTM_EAUTH);
    cr_assert_eq(dtm_jwt_verify(old_tok, &unknown, NOW, NULL), DTM_EAUTH, "unknown key rejected");
    /* A kid pointing at the wrong key (or unknown) must not let a bad signature through. */
    char hdr[64];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid);
    char *mislabeled = forge(hdr, good_payload, SECRET3, NULL);
    cr_assert_eq(dtm_jwt_verify(mislabeled, &rotated, NOW, NULL), DTM_EAUTH);
    free(mislabeled);
    char *unlabeled =
        forge("{\"alg\":\"HS256\",\"kid\":\"deadbeef\"}", good_payload, SECRET1, NULL);
    cr_assert_eq(dtm_jwt_verify(unlabeled, &rotated, NOW, NULL), DTM_OK, "unknown kid: try all");
    free(unlabeled);
    free(old_tok);
    free(new_tok);
}

Test(jwt, malformed_tokens_rejected)
{
    const char *bad[] = {"",
                         "abc",
                         "a.b",
                         "a.b.c.d",
                         "...",
                         "eyJhbGciOiJIUzI1NiJ9.e30.",
                         "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(dtm_jwt_verify(bad[i], &one, NOW, NULL), DTM_EAUTH, "%s", bad[i]);
    cr_assert_eq(dtm_jwt_verify(NULL, &one, NOW, NULL), DTM_EAUTH);
    dtm_keyset_t empty = {{NULL}, 0};
    dtm_claims_t c = claims();
    cr_assert_null(dtm_jwt_sign(&c, &empty));
}

Test(jwt, keys_from_config)
{
    dtm_cfg.jwt_secret = SECRET2;
    dtm_cfg.jwt_previous_secrets = SECRET1 "," SECRET3;
    const dtm_keyset_t *k = dtm_jwt_keys();
    cr_assert_eq(k->n, 3);
    cr_assert_str_eq(k->secrets[0], SECRET2);
    cr_assert_str_eq(k->secrets[1], SECRET1);
    cr_assert_str_eq(k->secrets[2], SECRET3);
    dtm_cfg.jwt_previous_secrets = NULL;
    k = dtm_jwt_keys();
    cr_assert_eq(k->n, 1);
}

/* The cached check answers like dtm_jwt_verify, also when the answer comes from its cache of
 * verified tokens: a cached token still expires, and a token differing from a cached
 * one (same length, forged signature) is not taken for it. */
Test(jwt, verify_cache_agrees_with_jwt_verify)
{
    dtm_cfg.jwt_secret = SECRET1;
    dtm_cfg.jwt_previous_secrets = NULL;
    dtm_claims_t c = {.role = "admin", .jti = "j1", .iss = "dtm"};
    snprintf(c.sub, sizeof c.sub, "user-1");
    int64_t now = dtm_now_ms() / 1000;
    c.iat = now;
    c.exp = now + 2;
    char *tok = dtm_jwt_sign(&c, dtm_jwt_keys());
    dtm_claims_t out;
    for (int i = 0; i < 3; i++) {
        memset(&out, 0, sizeof out);
        cr_assert_eq(dtm_jwt_verify_cached(tok, now, &out), DTM_OK);
        cr_assert_str_eq(out.sub, "user-1");
        cr_assert_str_eq(out.role, "admin");
    }
    /* same length, last signature character changed */
    char *forged = strdup(tok);
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    cr_assert_neq(dtm_jwt_verify_cached(forged, now, &out), DTM_OK);
    cr_assert_neq(dtm_jwt_verify_cached(forged, now, &out), DTM_OK);
    /* expiry is checked on every hit */
    cr_assert_eq(dtm_jwt_verify_cached(tok, now + 1, &out), DTM_OK);
    cr_assert_neq(dtm_jwt_verify_cached(tok, now + 2, &out), DTM_OK);
    cr_assert_neq(dtm_jwt_verify_cached("", now, &out), DTM_OK);
    cr_assert_neq(dtm_jwt_verify_cached("a.b.c", now, &out), DTM_OK);
    free(forged);
    free(tok);
}
