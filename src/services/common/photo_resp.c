/* SPDX-License-Identifier: MIT */
/* The HTTP answer to a failed photo store, apart from photo.c so that the storage code (linked
 * by the fuzz harnesses, which stub the response functions) needs nothing of http/. */
#include "core/log.h"
#include "http/http.h"
#include "services/common/photo.h"
#include <errno.h>
#include <string.h>

void dtm_photo_store_failed(dtm_req_t *req, const char *data_dir)
{
    int e = errno;
    dtm_log_error("cannot store photo under %s: %s", data_dir, strerror(e));
    if (e == ENOSPC || e == EDQUOT)
        dtm_resp_error(req, 507, "insufficient_storage",
                       "The server has no room for the photo now; nothing was recorded, try again "
                       "later",
                       NULL);
    else
        dtm_resp_err(req, DTM_EINTERNAL, "The photo could not be stored");
}
