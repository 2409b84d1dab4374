/* SPDX-License-Identifier: MIT */
/* Fixed-window counters kept in this process, used when Redis is down so login limits still
 * hold (per process rather than cluster-wide). Keys are stored as 64-bit hashes in an
 * open-addressed table: a collision can only make two keys share a counter, which errs on the
 * strict side. Also the refresh-token hash, a pure helper. */
#include "services/auth/auth.h"
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define PROBES 16

typedef struct {
    uint64_t key; /* 0 = empty */
    int64_t start_ms;
    int64_t end_ms;
    long count;
} slot_t;

struct auth_rl {
    pthread_mutex_t mu;
    size_t mask;
    slot_t *slots;
};

auth_rl_t *auth_rl_new(size_t capacity)
{
    size_t n = 64;
    while (n < capacity)
        n <<= 1;
    auth_rl_t *rl = dtm_calloc(1, sizeof *rl);
    pthread_mutex_init(&rl->mu, NULL);
    rl->mask = n - 1;
    rl->slots = dtm_calloc(n, sizeof(slot_t));
    return rl;
}

void auth_rl_free(auth_rl_t *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl->slots);
    free(rl);
}

/* FNV-1a, never 0 (0 marks an empty slot). */
static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

long auth_rl_hit(auth_rl_t *rl, const char *key, int window_s, int64_t now_ms, int *retry_after_s)
{
    uint64_t h = key_hash(key);
    int64_t window_ms = (int64_t)window_s * 1000;
    pthread_mutex_lock(&rl->mu);
    slot_t *found = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < PROBES; i++) {
        slot_t *s = &rl->slots[(h + i) & rl->mask];
        if (s->key == h) {
            found = s;
            break;
        }
        bool dead = s->key == 0 || s->end_ms <= now_ms;
        if (dead && !free_slot)
            free_slot = s;
        if (!oldest || s->start_ms < oldest->start_ms)
            oldest = s;
    }
    slot_t *s = found ? found : free_slot ? free_slot : oldest;
    if (!found || s->end_ms <= now_ms) {
        s->key = h;
        s->start_ms = now_ms;
        s->end_ms = now_ms + window_ms;
        s->count = 0;
    }
    long count = ++s->count;
    int64_t left_ms = s->end_ms - now_ms;
    pthread_mutex_unlock(&rl->mu);
    int left = (int)((left_ms + 999) / 1000);
    *retry_after_s = left < 1 ? 1 : left;
    return count;
}

void auth_token_hash(const char *token, char out[AUTH_TOKEN_HASH_LEN + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, AUTH_TOKEN_HASH_LEN + 1, digest, sizeof digest);
}
