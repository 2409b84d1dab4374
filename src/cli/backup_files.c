/* SPDX-License-Identifier: MIT */
/* File backups of the uploads directory: a manifest of size, mtime and SHA-256 per file, and
 * tar.zst archives written and read with libarchive (full, or incremental against a base
 * manifest: only new or changed files). */
#include "cli/backup.h"
#include "core/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void scan_dir(const char *root, const char *rel, const json_t *previous, json_t *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* temp files of in-flight uploads start with a dot */
        char crel[4096], cpath[8192];
        snprintf(crel, sizeof crel, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(cpath, sizeof cpath, "%s/%s", root, crel);
        struct stat st;
        if (lstat(cpath, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            scan_dir(root, crel, previous, out);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        json_t *prev = previous ? json_object_get(previous, crel) : NULL;
        const char *sha = NULL;
        char hex[65];
        if (prev && json_integer_value(json_object_get(prev, "size")) == st.st_size &&
            json_integer_value(json_object_get(prev, "mtime")) == st.st_mtime)
            sha = json_string_value(json_object_get(prev, "sha256"));
        if (!sha) {
            if (dtm_sha256_file(cpath, hex, NULL) != 0)
                continue;
            sha = hex;
        }
        json_object_set_new(out, crel,
                            json_pack("{s:I,s:I,s:s}", "size", (json_int_t)st.st_size, "mtime",
                                      (json_int_t)st.st_mtime, "sha256", sha));
    }
    closedir(d);
}

json_t *dtm_files_scan(const char *root, const json_t *previous)
{
    json_t *out = json_object();
    scan_dir(root, "", previous, out);
    return out;
}

static bool changed(const json_t *entry, const json_t *base_entry)
{
    if (!base_entry)
        return true;
    return strcmp(json_string_value(json_object_get(entry, "sha256")),
                  json_string_value(json_object_get(base_entry, "sha256")) ?: "") != 0;
}

int dtm_files_archive(const char *root, const json_t *manifest, const json_t *base, const char *out,
                      long *count, uint64_t *bytes)
{
    *count = 0;
    *bytes = 0;
    uint64_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)manifest, k, v)
    {
        if (changed(v, base ? json_object_get(base, k) : NULL))
            total += (uint64_t)json_integer_value(json_object_get(v, "size"));
    }
    struct archive *a = archive_write_new();
    archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, out) != ARCHIVE_OK) {
        dtm_log_error("cannot write %s: %s", out, archive_error_string(a));
        archive_write_free(a);
        return -1;
    }
    dtm_progress_t pr;
    dtm_progress_begin(&pr, "files archive", total);
    int rc = 0;
    char buf[65536];
    json_object_foreach((json_t *)manifest, k, v)
    {
        if (!changed(v, base ? json_object_get(base, k) : NULL))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", root, k);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            dtm_log_error("cannot read %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            rc = -1;
            break;
        }
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, k);
        archive_entry_set_size(e, st.st_size);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, st.st_mode & 0777);
        archive_entry_set_mtime(e, st.st_mtime, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK) {
            dtm_log_error("archive header for %s: %s", k, archive_error_string(a));
            rc = -1;
        }
        ssize_t n;
        while (rc == 0 && (n = read(fd, buf, sizeof buf)) > 0) {
            if (archive_write_data(a, buf, (size_t)n) != n) {
                dtm_log_error("archive data for %s: %s", k, archive_error_string(a));
                rc = -1;
            }
            dtm_progress_add(&pr, (uint64_t)n);
            *bytes += (uint64_t)n;
        }
        close(fd);
        archive_entry_free(e);
        if (rc != 0)
            break;
        (*count)++;
    }
    dtm_progress_end(&pr);
    if (archive_write_close(a) != ARCHIVE_OK)
        rc = -1;
    archive_write_free(a);
    return rc;
}

static bool safe_path(const char *p)
{
    if (!*p || p[0] == '/')
        return false;
    for (const char *s = p; *s; s++)
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || !s[2]))
            return false;
    return true;
}

int dtm_files_extract(const char *archive_path, const char *dest)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, archive_path, 65536) != ARCHIVE_OK) {
        dtm_log_error("cannot open %s: %s", archive_path, archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    if (dtm_mkdirs(dest, 0755) != 0) {
        archive_read_free(a);
        return -1;
    }
    struct archive_entry *e;
    int rc = 0, r;
    char buf[65536];
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!safe_path(name) || archive_entry_filetype(e) != AE_IFREG) {
            dtm_log_error("refusing archive entry %s", name);
            rc = -1;
            break;
        }
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dest, name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        dtm_mkdirs(path, 0755);
        *slash = '/';
        char tmp[8300];
        snprintf(tmp, sizeof tmp, "%s.restore-tmp", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            dtm_log_error("cannot write %s: %s", tmp, strerror(errno));
            rc = -1;
            break;
        }
        la_ssize_t n;
        while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
            if (write(fd, buf, (size_t)n) != n) {
                rc = -1;
                break;
            }
        if (n < 0)
            rc = -1;
        close(fd);
        if (rc != 0 || rename(tmp, path) != 0) {
            unlink(tmp);
            rc = -1;
            break;
        }
    }
    if (r != ARCHIVE_EOF && rc == 0) {
        dtm_log_error("corrupt archive %s: %s", archive_path, archive_error_string(a));
        rc = -1;
    }
    archive_read_free(a);
    return rc;
}
