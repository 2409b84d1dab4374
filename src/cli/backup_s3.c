/* SPDX-License-Identifier: MIT */
/* S3-compatible object storage for backup artefacts. Requests are signed with AWS Signature
 * Version 4 by libcurl itself (CURLOPT_AWS_SIGV4), the maintained implementation, rather than
 * by hand-written signing code.
 *
 * DTM_BACKUP_S3_URL     https://s3.<region>.amazonaws.com/<bucket>[/prefix] (path style), or
 *                       any S3-compatible endpoint (MinIO, Ceph RGW...)
 * DTM_BACKUP_S3_REGION  e.g. eu-west-1 (default us-east-1)
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN (secrets; never logged) */
#include "cli/backup.h"
#include "core/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool dtm_s3_configured(void)
{
    const char *u = getenv("DTM_BACKUP_S3_URL");
    return u && *u;
}

int dtm_s3_put(const char *key, const char *path)
{
    const char *base = getenv("DTM_BACKUP_S3_URL");
    const char *region = getenv("DTM_BACKUP_S3_REGION");
    const char *ak = getenv("AWS_ACCESS_KEY_ID");
    const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!base || !ak || !sk) {
        dtm_log_error("S3 upload needs DTM_BACKUP_S3_URL, AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY");
        return -1;
    }
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        if (f)
            fclose(f);
        return -1;
    }
    char url[4096], sigv4[128], userpwd[512];
    snprintf(url, sizeof url, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/", key);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", region && *region ? region : "us-east-1");
    snprintf(userpwd, sizeof userpwd, "%s:%s", ak, sk);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    /* Temporary credentials (ECS task roles, EKS IRSA, STS) come with a session token. */
    const char *sess = getenv("AWS_SESSION_TOKEN");
    char tokhdr[4096];
    if (sess && *sess &&
        snprintf(tokhdr, sizeof tokhdr, "x-amz-security-token: %s", sess) < (int)sizeof tokhdr)
        hdrs = curl_slist_append(hdrs, tokhdr);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READDATA, f);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        dtm_log_error("S3 upload of %s failed: %s", key, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    fclose(f);
    return rc == CURLE_OK ? 0 : -1;
}
