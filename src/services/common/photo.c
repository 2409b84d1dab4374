/* SPDX-License-Identifier: MIT */
#include "services/common/photo.h"
#include "core/log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Content-Type boundary ---- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool ci_prefix(const char *s, const char *prefix, size_t n)
{
    return strncasecmp(s, prefix, n) == 0;
}

/* RFC 2046 bchars; a boundary may hold spaces but not end with one. */
static bool boundary_ok(const char *b, size_t n)
{
    if (n == 0 || n > 70 || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c == 0 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || strchr("'()+_,-./:=? ", c)))
            return false;
    }
    return true;
}

/* Reads one parameter value at *pp (quoted-string with backslash escapes, or a token) into a
 * fresh arena string; NULL when malformed. `end` bounds the input. */
static char *param_value(dtm_arena_t *a, const char **pp, const char *end)
{
    const char *p = *pp;
    if (p < end && *p == '"') {
        p++;
        char *out = dtm_arena_alloc(a, (size_t)(end - p) + 1);
        size_t n = 0;
        while (p < end && *p != '"') {
            if (*p == '\\' && p + 1 < end)
                p++;
            out[n++] = *p++;
        }
        if (p >= end)
            return NULL; /* unterminated quote */
        out[n] = '\0';
        *pp = p + 1;
        return out;
    }
    const char *start = p;
    while (p < end && *p != ';' && !is_ws(*p))
        p++;
    *pp = p;
    return dtm_arena_strndup(a, start, (size_t)(p - start));
}

/* Walks "; name=value" parameters after a media type or disposition type, calling back for
 * each. Returns false on malformed syntax. */
typedef void (*param_cb)(void *ud, const char *name, size_t name_len, char *value);

static bool parse_params(dtm_arena_t *a, const char *p, const char *end, param_cb cb, void *ud)
{
    for (;;) {
        while (p < end && is_ws(*p))
            p++;
        if (p >= end)
            return true;
        if (*p++ != ';')
            return false;
        while (p < end && is_ws(*p))
            p++;
        if (p >= end)
            return true; /* tolerate a trailing ';' */
        const char *name = p;
        while (p < end && *p != '=' && *p != ';' && !is_ws(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        while (p < end && is_ws(*p))
            p++;
        if (name_len == 0 || p >= end || *p != '=')
            return false;
        p++;
        while (p < end && is_ws(*p))
            p++;
        char *value = param_value(a, &p, end);
        if (!value)
            return false;
        cb(ud, name, name_len, value);
    }
}

static void boundary_cb(void *ud, const char *name, size_t name_len, char *value)
{
    char **out = ud;
    if (!*out && name_len == 8 && ci_prefix(name, "boundary", 8))
        *out = value;
}

const char *dtm_multipart_boundary(dtm_arena_t *a, const char *content_type)
{
    if (!content_type)
        return NULL;
    const char *p = content_type, *end = content_type + strlen(content_type);
    while (p < end && is_ws(*p))
        p++;
    static const char type[] = "multipart/form-data";
    size_t tn = sizeof type - 1;
    if (!ci_prefix(p, type, tn)) /* strncasecmp stops at the NUL of a shorter value */
        return NULL;
    p += tn;
    if (p < end && *p != ';' && !is_ws(*p))
        return NULL; /* "multipart/form-dataX" */
    char *boundary = NULL;
    if (!parse_params(a, p, end, boundary_cb, &boundary) || !boundary)
        return NULL;
    return boundary_ok(boundary, strlen(boundary)) ? boundary : NULL;
}

/* ---- body ---- */

typedef struct {
    bool form_data;
    const char *name, *filename;
} disposition_t;

static void disposition_cb(void *ud, const char *name, size_t name_len, char *value)
{
    disposition_t *d = ud;
    if (name_len == 4 && ci_prefix(name, "name", 4) && !d->name)
        d->name = value;
    else if (name_len == 8 && ci_prefix(name, "filename", 8) && !d->filename)
        d->filename = value;
}

/* Parses the header block [p, end) of one part (lines separated by CRLF). */
static bool parse_part_headers(dtm_arena_t *a, const char *p, const char *end, dtm_mpart_t *part)
{
    disposition_t d = {0};
    bool seen_disposition = false;
    if (memchr(p, '\0', (size_t)(end - p)))
        return false;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (!colon || colon == p || is_ws(*p))
            return false; /* no name, or obsolete line folding */
        size_t name_len = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < line_end && is_ws(*v))
            v++;
        const char *vend = line_end;
        while (vend > v && is_ws(vend[-1]))
            vend--;
        if (name_len == 19 && ci_prefix(p, "content-disposition", 19)) {
            if (seen_disposition)
                return false;
            seen_disposition = true;
            static const char fd[] = "form-data";
            size_t fn = sizeof fd - 1;
            if ((size_t)(vend - v) < fn || !ci_prefix(v, fd, fn))
                return false;
            const char *q = v + fn;
            if (q < vend && *q != ';' && !is_ws(*q))
                return false;
            if (!parse_params(a, q, vend, disposition_cb, &d))
                return false;
            d.form_data = true;
        } else if (name_len == 12 && ci_prefix(p, "content-type", 12)) {
            if (!part->content_type)
                part->content_type = dtm_arena_strndup(a, v, (size_t)(vend - v));
        }
        p = eol ? eol + 2 : end;
    }
    if (!d.form_data || !d.name || !d.name[0])
        return false;
    part->name = d.name;
    part->filename = d.filename;
    return true;
}

dtm_err_t dtm_multipart_parse(dtm_arena_t *a, const char *body, size_t len, const char *boundary,
                              dtm_mpart_t **parts, int *nparts)
{
    *parts = NULL;
    *nparts = 0;
    if (!body || !boundary || !boundary_ok(boundary, strlen(boundary)))
        return DTM_EINVAL;
    /* "\r\n--boundary": the CRLF before a delimiter belongs to the delimiter, not the data. */
    size_t blen = strlen(boundary);
    size_t dlen = blen + 4;
    char *delim = dtm_arena_alloc(a, dlen + 1);
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    delim[dlen] = '\0';

    const char *end = body + len;
    const char *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + (dlen - 2); /* no preamble */
    } else {
        const char *d = memmem(body, len, delim, dlen);
        if (!d)
            return DTM_EINVAL;
        p = d + dlen;
    }

    dtm_mpart_t *out = dtm_arena_calloc(a, sizeof *out * DTM_MULTIPART_MAX_PARTS);
    int n = 0;
    for (;;) {
        /* Just after a delimiter: "--" closes, otherwise optional padding then CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break;
        while (p < end && is_ws(*p))
            p++;
        /* cppcheck-suppress knownConditionTrueFalse ; false positive: p may be < end */
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
            return DTM_EINVAL;
        p += 2;
        if (n == DTM_MULTIPART_MAX_PARTS)
            return DTM_EINVAL;

        const char *hdr_end, *data;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            hdr_end = p; /* empty header block: fails below (no Content-Disposition) */
            data = p + 2;
        } else {
            size_t window = (size_t)(end - p);
            if (window > DTM_MULTIPART_MAX_HDR + 4)
                window = DTM_MULTIPART_MAX_HDR + 4;
            hdr_end = memmem(p, window, "\r\n\r\n", 4);
            if (!hdr_end)
                return DTM_EINVAL;
            data = hdr_end + 4;
        }
        dtm_mpart_t *part = &out[n];
        if (!parse_part_headers(a, p, hdr_end, part))
            return DTM_EINVAL;
        const char *next = memmem(data, (size_t)(end - data), delim, dlen);
        if (!next)
            return DTM_EINVAL; /* truncated: no delimiter after the part */
        part->data = data;
        part->len = (size_t)(next - data);
        n++;
        p = next + dlen;
    }
    *parts = out;
    *nparts = n;
    return DTM_OK;
}

const dtm_mpart_t *dtm_multipart_find(const dtm_mpart_t *parts, int nparts, const char *name)
{
    for (int i = 0; i < nparts; i++)
        if (strcmp(parts[i].name, name) == 0)
            return &parts[i];
    return NULL;
}

void dtm_multipart_unique(dtm_valid_t *v, const dtm_mpart_t *parts, int nparts)
{
    for (int i = 0; i < nparts; i++) {
        if (dtm_multipart_find(parts, i, parts[i].name))
            continue; /* reported at its first occurrence */
        if (dtm_multipart_find(parts + i + 1, nparts - i - 1, parts[i].name))
            dtm_valid_fail(v, parts[i].name, "is given more than once");
    }
}

/* ---- images ---- */

dtm_img_t dtm_image_sniff(const void *data, size_t len)
{
    const unsigned char *b = data;
    if (!b)
        return DTM_IMG_NONE;
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return DTM_IMG_JPEG;
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (len >= 8 && memcmp(b, png, 8) == 0)
        return DTM_IMG_PNG;
    if (len >= 16 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0 &&
        (memcmp(b + 12, "VP8 ", 4) == 0 || memcmp(b + 12, "VP8L", 4) == 0 ||
         memcmp(b + 12, "VP8X", 4) == 0))
        return DTM_IMG_WEBP;
    return DTM_IMG_NONE;
}

const char *dtm_image_mime(dtm_img_t t)
{
    switch (t) {
    case DTM_IMG_JPEG:
        return "image/jpeg";
    case DTM_IMG_PNG:
        return "image/png";
    case DTM_IMG_WEBP:
        return "image/webp";
    default:
        return NULL;
    }
}

/* ---- storage ---- */

bool dtm_sha256_hex_valid(const char *s)
{
    if (!s)
        return false;
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= 64 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

char *dtm_photo_path(dtm_arena_t *a, const char *data_dir, const char *sha_hex)
{
    return dtm_arena_sprintf(a, "%s/uploads/%.2s/%s", data_dir, sha_hex, sha_hex + 2);
}

static int mkdir_one(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

/* mkdir -p for data_dir (which may be relative and nested), then uploads/ and uploads/ab/. */
static int mkdirs(char *path)
{
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        int rc = mkdir_one(path);
        *s = '/';
        if (rc < 0)
            return -1;
    }
    return mkdir_one(path);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

dtm_err_t dtm_photo_store(const char *data_dir, const void *data, size_t len, char sha_hex[65],
                          bool *created)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, data, len);
    sodium_bin2hex(sha_hex, 65, hash, sizeof hash);
    *created = false;

    char dir[4096], path[4224], tmp[4224];
    if (snprintf(dir, sizeof dir, "%s/uploads/%.2s", data_dir, sha_hex) >= (int)sizeof dir)
        return DTM_EINTERNAL;
    snprintf(path, sizeof path, "%s/%s", dir, sha_hex + 2);
    snprintf(tmp, sizeof tmp, "%s/.tmp-%.16s-XXXXXX", dir, sha_hex);
    struct stat st;
    /* Same content already stored: touch it, so that the garbage collector (which deletes only
     * files untouched for its grace period) leaves it to the row about to name it. A file the
     * collector took away meanwhile (utimensat fails) is written again. */
    if (stat(path, &st) == 0 && (size_t)st.st_size == len &&
        utimensat(AT_FDCWD, path, NULL, 0) == 0)
        return DTM_OK;
    if (mkdirs(dir) < 0)
        return DTM_EINTERNAL;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return DTM_EINTERNAL;
    int saved;
    if (write_all(fd, data, len) < 0 || fchmod(fd, 0640) < 0 || fsync(fd) < 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return DTM_EINTERNAL;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return DTM_EINTERNAL;
    }
    *created = true;
    return DTM_OK;
}

dtm_photo_verdict_t dtm_photo_check(const void *data, size_t len, dtm_img_t *type)
{
    if (len > (size_t)DTM_PHOTO_MAX_BYTES)
        return DTM_PHOTO_TOO_LARGE;
    *type = dtm_image_sniff(data, len);
    return *type == DTM_IMG_NONE ? DTM_PHOTO_NOT_IMAGE : DTM_PHOTO_OK;
}

/* ---- garbage collection ---- */

static bool hex_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

/* One candidate: a stored photo untouched for the grace period. Moved aside first (an atomic
 * rename), then judged again: a store that touched it or a row that names it since the first
 * look puts it back, so a concurrent upload of the same bytes never loses its file. */
static int gc_one(const char *dirpath, const char *name, const char *sha, time_t cutoff,
                  dtm_photo_used_fn used, void *ud, dtm_photo_gc_stats_t *st)
{
    char path[4400], tomb[4400];
    if (snprintf(path, sizeof path, "%s/%s", dirpath, name) >= (int)sizeof path ||
        snprintf(tomb, sizeof tomb, "%s/%s.gc", dirpath, name) >= (int)sizeof tomb)
        return 0;
    int u = used(ud, sha);
    if (u < 0)
        return -1;
    if (u) {
        st->referenced++;
        return 0;
    }
    if (rename(path, tomb) < 0)
        return 0; /* gone already */
    struct stat s;
    u = stat(tomb, &s) == 0 && s.st_mtime < cutoff ? used(ud, sha) : 1;
    if (u != 0) {
        /* Back in place, unless a new upload already wrote it again (EEXIST): same bytes. */
        if (link(tomb, path) < 0 && errno != EEXIST)
            dtm_log_warn("photo gc: cannot put %s back: %s", path, strerror(errno));
        unlink(tomb);
        if (u < 0)
            return -1;
        st->referenced++;
        return 0;
    }
    if (unlink(tomb) == 0) {
        st->deleted++;
        st->bytes += (long long)s.st_size;
    }
    return 0;
}

int dtm_photo_gc(const char *data_dir, long grace_s, int max_files, dtm_photo_used_fn used,
                 void *ud, dtm_photo_gc_stats_t *st)
{
    memset(st, 0, sizeof *st);
    char root[4096];
    if (snprintf(root, sizeof root, "%s/uploads", data_dir) >= (int)sizeof root)
        return -1;
    DIR *top = opendir(root);
    if (!top)
        return errno == ENOENT ? 0 : -1;
    time_t cutoff = time(NULL) - grace_s;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && st->examined < max_files && (de = readdir(top))) {
        if (strlen(de->d_name) != 2 || !hex_name(de->d_name, 2))
            continue;
        char dirpath[4104];
        snprintf(dirpath, sizeof dirpath, "%s/%s", root, de->d_name);
        DIR *d = opendir(dirpath);
        if (!d)
            continue;
        struct dirent *fe;
        while (rc == 0 && st->examined < max_files && (fe = readdir(d))) {
            const char *n = fe->d_name;
            size_t len = strlen(n);
            char path[4400];
            struct stat s;
            if ((n[0] == '.' && strncmp(n, ".tmp-", 5) != 0) ||
                snprintf(path, sizeof path, "%s/%s", dirpath, n) >= (int)sizeof path)
                continue;
            if (stat(path, &s) < 0 || !S_ISREG(s.st_mode))
                continue;
            if (strncmp(n, ".tmp-", 5) == 0) {
                /* A write that died before its rename: never named by a row. */
                if (s.st_mtime < cutoff && unlink(path) == 0)
                    st->deleted++;
                continue;
            }
            if (len == 65 && strcmp(n + 62, ".gc") == 0) {
                /* A round that stopped between its two looks: put it back, judge it anew. */
                char orig[4400];
                snprintf(orig, sizeof orig, "%s/%.62s", dirpath, n);
                if (link(path, orig) == 0 || errno == EEXIST)
                    unlink(path);
                continue;
            }
            if (len != 62 || !hex_name(n, 62))
                continue;
            st->examined++;
            if (s.st_mtime >= cutoff) {
                st->young++;
                continue;
            }
            char sha[65];
            snprintf(sha, sizeof sha, "%s%s", de->d_name, n);
            rc = gc_one(dirpath, n, sha, cutoff, used, ud, st);
        }
        closedir(d);
    }
    closedir(top);
    return rc;
}
