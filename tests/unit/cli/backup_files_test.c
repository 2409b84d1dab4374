/* SPDX-License-Identifier: MIT */
/* File backups: manifest scan, full and incremental tar.zst, extraction with checks. */
#include "cli/backup.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void put(const char *rel, const char *content)
{
    char p[512];
    snprintf(p, sizeof p, "%s/src/%s", root, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    dtm_mkdirs(p, 0755);
    *slash = '/';
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/dtm-unit-backup-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
    dtm_rmtree(root);
}

TestSuite(backup_files, .init = setup, .fini = teardown);

static char *path(const char *rel)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", root, rel);
    return p[k];
}

Test(backup_files, full_then_incremental_roundtrip)
{
    put("ab/one.jpg", "one");
    put("cd/two.png", "two");
    put(".tmp-upload", "in flight"); /* dot files are in-flight uploads: skipped */
    json_t *full = dtm_files_scan(path("src"), NULL);
    cr_assert_eq(json_object_size(full), 2);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(full, "ab/one.jpg"), "sha256")),
        "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed");
    long count;
    uint64_t bytes;
    cr_assert_eq(dtm_files_archive(path("src"), full, NULL, path("full.tar.zst"), &count, &bytes),
                 0);
    cr_assert_eq(count, 2);
    cr_assert_eq(bytes, 6);

    put("cd/two.png", "two, changed");
    put("ef/three.webp", "three");
    json_t *now = dtm_files_scan(path("src"), full);
    cr_assert_eq(dtm_files_archive(path("src"), now, full, path("inc.tar.zst"), &count, &bytes), 0);
    cr_assert_eq(count, 2, "only the changed and the new file");

    cr_assert_eq(dtm_files_extract(path("full.tar.zst"), path("out")), 0);
    cr_assert_eq(dtm_files_extract(path("inc.tar.zst"), path("out")), 0);
    json_t *got = dtm_files_scan(path("out"), NULL);
    const char *k;
    json_t *v;
    json_object_foreach(now, k, v)
    {
        json_t *g = json_object_get(got, k);
        cr_assert_not_null(g, "%s restored", k);
        cr_assert_str_eq(json_string_value(json_object_get(g, "sha256")),
                         json_string_value(json_object_get(v, "sha256")));
    }
    json_decref(full);
    json_decref(now);
    json_decref(got);
}

Test(backup_files, corrupt_archive_is_an_error)
{
    put("a.bin", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    json_t *m = dtm_files_scan(path("src"), NULL);
    long count;
    uint64_t bytes;
    cr_assert_eq(dtm_files_archive(path("src"), m, NULL, path("a.tar.zst"), &count, &bytes), 0);
    FILE *f = fopen(path("a.tar.zst"), "r+b");
    fseek(f, 20, SEEK_SET);
    fputs("garbage-garbage-garbage", f);
    fclose(f);
    cr_assert_neq(dtm_files_extract(path("a.tar.zst"), path("bad")), 0);
    json_decref(m);
}

Test(backup_files, helpers)
{
    char hex[65];
    uint64_t size = 0;
    put("x", "abc");
    cr_assert_eq(dtm_sha256_file(path("src/x"), hex, &size), 0);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(size, 3);
    cr_assert(dtm_dir_empty(path("nonexistent")));
    cr_assert_not(dtm_dir_empty(path("src")));
    cr_assert_neq(dtm_rmtree("/"), 0);
}
