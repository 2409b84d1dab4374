/* SPDX-License-Identifier: MIT */
#include "services/auth/revoke.h"

#include "db/redis.h"
#include "services/auth/auth.h"

bool dtm_auth_token_revoked(dtm_arena_t *a, const char *jti, const char *sub, int64_t iat)
{
    (void)sub;
    (void)iat;
    /* Logout puts the jti on the denylist until the token expires (auth_cache_deny_jti). */
    redisReply *r = dtm_redis_cmd(a, "EXISTS jwt:deny:%s", jti);
    return r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
}

bool dtm_auth_authenticate(dtm_req_t *req)
{
    if (req->auth.role == DTM_ROLE_SERVICE)
        return true;
    if (!dtm_auth_token_revoked(req->arena, req->auth.jti, req->auth.sub, req->auth.iat))
        return true;
    dtm_resp_error(req, 401, "invalid_token", "The access token has been revoked", NULL);
    return false;
}
