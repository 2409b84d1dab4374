/* SPDX-License-Identifier: MIT */
/* Account rules that need no database: e-mail syntax, password policy, argon2id hashing. */
#include "services/users/users.h"
#include "core/ids.h"
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

/* OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1 (libsodium always uses p = 1). */
#define PWHASH_OPS 2ULL
#define PWHASH_MEM (19ULL * 1024 * 1024)

static bool local_char_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL;
}

static bool domain_ok(const char *d)
{
    int labels = 0;
    const char *p = d;
    for (;;) {
        const char *start = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '-')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0 || n > 63 || start[0] == '-' || p[-1] == '-')
            return false;
        labels++;
        if (*p == '\0')
            break;
        if (*p != '.')
            return false;
        p++;
    }
    return labels >= 2;
}

char *users_email_normalize(dtm_arena_t *a, const char *email)
{
    if (!email)
        return NULL;
    size_t len = strlen(email);
    if (len < 3 || len > USERS_EMAIL_MAX)
        return NULL;
    const char *at = strchr(email, '@');
    if (!at || strchr(at + 1, '@'))
        return NULL;
    size_t local_len = (size_t)(at - email);
    if (local_len == 0 || local_len > 64 || email[0] == '.' || at[-1] == '.')
        return NULL;
    for (size_t i = 0; i < local_len; i++) {
        if (!local_char_ok((unsigned char)email[i]))
            return NULL;
        if (email[i] == '.' && email[i + 1] == '.')
            return NULL;
    }
    if (!domain_ok(at + 1))
        return NULL;
    char *out = dtm_arena_strndup(a, email, len);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

const char *users_password_problem(const char *password, const char *email)
{
    if (!password)
        return "is required";
    size_t n = utf8_len(password);
    if (n < USERS_PASSWORD_MIN)
        return "must be at least 10 characters";
    if (n > USERS_PASSWORD_MAX)
        return "must be at most 128 characters";
    if (email && strcasecmp(password, email) == 0)
        return "must not be the e-mail address";
    return NULL;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static char dummy_hash[USERS_HASH_LEN];

/* argon2id is CPU- and memory-bound (19 MiB each): more hashes at once than cores only adds
 * memory (16 workers would be ~300 MiB) and no throughput, so their number is capped. */
static sem_t hash_slots;

/* The dummy hash has the current parameters, so verifying an unknown e-mail costs as much as
 * verifying a real account (no user enumeration by timing). */
static void sodium_setup(void)
{
    if (sodium_init() < 0)
        dtm_panic("libsodium failed to initialise");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    sem_init(&hash_slots, 0, (unsigned)(cpus < 2 ? 2 : cpus > 64 ? 64 : cpus));
    char pw[64];
    dtm_random_token(pw, 24);
    if (crypto_pwhash_str_alg(dummy_hash, pw, strlen(pw), PWHASH_OPS, (size_t)PWHASH_MEM,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        dtm_panic("argon2id: cannot hash (out of memory)");
}

static void ensure_sodium(void)
{
    pthread_once(&sodium_once, sodium_setup);
}

dtm_err_t users_password_hash(const char *password, char out[USERS_HASH_LEN])
{
    ensure_sodium();
    _Static_assert(USERS_HASH_LEN >= crypto_pwhash_STRBYTES, "hash buffer too small");
    while (sem_wait(&hash_slots) != 0)
        ;
    int rc = crypto_pwhash_str_alg(out, password, strlen(password), PWHASH_OPS, (size_t)PWHASH_MEM,
                                   crypto_pwhash_ALG_ARGON2ID13);
    sem_post(&hash_slots);
    return rc == 0 ? DTM_OK : DTM_EINTERNAL;
}

bool users_password_verify(const char *hash, const char *password)
{
    ensure_sodium();
    bool real = hash && *hash;
    while (sem_wait(&hash_slots) != 0)
        ;
    int rc = crypto_pwhash_str_verify(real ? hash : dummy_hash, password, strlen(password));
    sem_post(&hash_slots);
    return real && rc == 0;
}

bool users_password_needs_rehash(const char *hash)
{
    ensure_sodium();
    return crypto_pwhash_str_needs_rehash(hash, PWHASH_OPS, (size_t)PWHASH_MEM) != 0;
}
