/* SPDX-License-Identifier: MIT */
#include "services/common/photo.h"
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static dtm_arena_t *A;

static void setup(void)
{
    A = dtm_arena_new(0);
}

static void teardown(void)
{
    dtm_arena_free(A);
}

TestSuite(boundary, .init = setup, .fini = teardown);
TestSuite(multipart, .init = setup, .fini = teardown);
TestSuite(sniff);
TestSuite(store, .init = setup, .fini = teardown);

Test(boundary, plain_and_quoted)
{
    cr_assert_str_eq(dtm_multipart_boundary(A, "multipart/form-data; boundary=abc123"), "abc123");
    cr_assert_str_eq(dtm_multipart_boundary(A, "Multipart/Form-Data;BOUNDARY=\"a b:c\""), "a b:c");
    cr_assert_str_eq(
        dtm_multipart_boundary(A, "multipart/form-data; charset=utf-8; boundary=----WebKitX"),
        "----WebKitX");
    cr_assert_str_eq(dtm_multipart_boundary(A, "  multipart/form-data ; boundary = x ; a=b"), "x");
}

Test(boundary, rejected)
{
    cr_assert_null(dtm_multipart_boundary(A, NULL));
    cr_assert_null(dtm_multipart_boundary(A, "application/json"));
    cr_assert_null(dtm_multipart_boundary(A, "multipart/mixed; boundary=x"));
    cr_assert_null(dtm_multipart_boundary(A, "multipart/form-dataX; boundary=x"));
    cr_assert_null(dtm_multipart_boundary(A, "multipart/form-data"));
    cr_assert_null(dtm_multipart_boundary(A, "multipart/form-data; boundary="));
    cr_assert_null(dtm_multipart_boundary(A, "multipart/form-data; boundary=\"\""));
    cr_assert_null(dtm_multipart_boundary(A, "multipart/form-data; boundary=\"unterminated"));
    cr_assert_null(dtm_multipart_boundary(A, "multipart/form-data; boundary=a<b"));
    char longb[128] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    cr_assert_null(dtm_multipart_boundary(A, longb), "71 characters is over RFC 2046's 70");
}

#define CRLF "\r\n"

Test(multipart, fields_and_file)
{
    static const char body[] =
        "preamble to ignore" CRLF "--XyZ" CRLF
        "Content-Disposition: form-data; name=\"storeId\"" CRLF CRLF "1234" CRLF "--XyZ" CRLF
        "content-disposition: form-data; name=\"photo\"; filename=\"a \\\"q\\\".jpg\"" CRLF
        "Content-Type: image/jpeg" CRLF CRLF "\xff\xd8\xff\r\n--not-the-boundary\r\n\x00end" CRLF
        "--XyZ--" CRLF "epilogue";
    dtm_mpart_t *parts;
    int n;
    cr_assert_eq(dtm_multipart_parse(A, body, sizeof body - 1, "XyZ", &parts, &n), DTM_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(parts[0].name, "storeId");
    cr_assert_null(parts[0].filename);
    cr_assert_eq(parts[0].len, 4);
    cr_assert(memcmp(parts[0].data, "1234", 4) == 0);
    const dtm_mpart_t *photo = dtm_multipart_find(parts, n, "photo");
    cr_assert_not_null(photo);
    cr_assert_str_eq(photo->filename, "a \"q\".jpg");
    cr_assert_str_eq(photo->content_type, "image/jpeg");
    /* Binary data with CRLF, dashes and NUL survives; the CRLF before the delimiter does not. */
    static const char want[] = "\xff\xd8\xff\r\n--not-the-boundary\r\n\x00end";
    cr_assert_eq(photo->len, sizeof want - 1);
    cr_assert(memcmp(photo->data, want, sizeof want - 1) == 0);
    cr_assert_null(dtm_multipart_find(parts, n, "note"));
}

Test(multipart, empty_values_and_padding)
{
    /* No preamble, transport padding after the delimiter, an empty part, LWSP in headers. */
    static const char body[] =
        "--b  \t" CRLF "Content-Disposition:form-data;name=note" CRLF CRLF "" CRLF "--b" CRLF
        "Content-Disposition: form-data; name=\"x\"" CRLF CRLF "v" CRLF "--b--";
    dtm_mpart_t *parts;
    int n;
    cr_assert_eq(dtm_multipart_parse(A, body, sizeof body - 1, "b", &parts, &n), DTM_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(parts[0].name, "note");
    cr_assert_eq(parts[0].len, 0);
    cr_assert_eq(parts[1].len, 1);
}

Test(multipart, only_close_delimiter)
{
    dtm_mpart_t *parts;
    int n = -1;
    cr_assert_eq(dtm_multipart_parse(A, "--b--\r\n", 7, "b", &parts, &n), DTM_OK);
    cr_assert_eq(n, 0);
}

static dtm_err_t parse(const char *body)
{
    dtm_mpart_t *parts;
    int n;
    return dtm_multipart_parse(A, body, strlen(body), "b", &parts, &n);
}

Test(multipart, malformed)
{
    cr_assert_eq(parse(""), DTM_EINVAL);
    cr_assert_eq(parse("no delimiter at all"), DTM_EINVAL);
    cr_assert_eq(parse("--b"), DTM_EINVAL, "delimiter then end of input");
    cr_assert_eq(parse("--bX" CRLF), DTM_EINVAL, "longer boundary");
    /* Truncated: the last part never ends. */
    cr_assert_eq(parse("--b" CRLF "Content-Disposition: form-data; name=a" CRLF CRLF "abc"),
                 DTM_EINVAL);
    /* Headers never end. */
    cr_assert_eq(parse("--b" CRLF "Content-Disposition: form-data; name=a" CRLF), DTM_EINVAL);
    /* Bare LF line endings. */
    cr_assert_eq(parse("--b\nContent-Disposition: form-data; name=a\n\nv\n--b--"), DTM_EINVAL);
    /* No disposition, wrong disposition, no name, empty name, duplicate disposition. */
    cr_assert_eq(parse("--b" CRLF "Content-Type: text/plain" CRLF CRLF "v" CRLF "--b--"),
                 DTM_EINVAL);
    cr_assert_eq(
        parse("--b" CRLF "Content-Disposition: attachment; name=a" CRLF CRLF "v" CRLF "--b--"),
        DTM_EINVAL);
    cr_assert_eq(parse("--b" CRLF "Content-Disposition: form-data" CRLF CRLF "v" CRLF "--b--"),
                 DTM_EINVAL);
    cr_assert_eq(
        parse("--b" CRLF "Content-Disposition: form-data; name=\"\"" CRLF CRLF "v" CRLF "--b--"),
        DTM_EINVAL);
    cr_assert_eq(parse("--b" CRLF "Content-Disposition: form-data; name=a" CRLF
                       "Content-Disposition: form-data; name=b" CRLF CRLF "v" CRLF "--b--"),
                 DTM_EINVAL);
    /* Empty header block, header without a colon, obsolete folding, unterminated quote. */
    cr_assert_eq(parse("--b" CRLF CRLF "v" CRLF "--b--"), DTM_EINVAL);
    cr_assert_eq(parse("--b" CRLF "garbage" CRLF CRLF "v" CRLF "--b--"), DTM_EINVAL);
    cr_assert_eq(parse("--b" CRLF "Content-Disposition: form-data;" CRLF " name=a" CRLF CRLF
                       "v" CRLF "--b--"),
                 DTM_EINVAL);
    cr_assert_eq(
        parse("--b" CRLF "Content-Disposition: form-data; name=\"a" CRLF CRLF "v" CRLF "--b--"),
        DTM_EINVAL);
    /* Invalid boundary argument. */
    dtm_mpart_t *parts;
    int n;
    cr_assert_eq(dtm_multipart_parse(A, "--\r\n", 4, "", &parts, &n), DTM_EINVAL);
}

Test(multipart, header_block_limit)
{
    size_t pad = DTM_MULTIPART_MAX_HDR + 100;
    char *body = malloc(pad + 200);
    int off = sprintf(body, "--b" CRLF "Content-Disposition: form-data; name=a" CRLF "X-Pad: ");
    memset(body + off, 'p', pad);
    sprintf(body + off + pad, CRLF CRLF "v" CRLF "--b--");
    cr_assert_eq(parse(body), DTM_EINVAL);
    free(body);
}

Test(multipart, part_count_limit)
{
    char body[8192] = "";
    for (int i = 0; i < DTM_MULTIPART_MAX_PARTS; i++)
        strcat(body, "--b" CRLF "Content-Disposition: form-data; name=f" CRLF CRLF "v" CRLF);
    strcat(body, "--b--");
    cr_assert_eq(parse(body), DTM_OK);
    body[strlen(body) - 5] = '\0';
    strcat(body, "--b" CRLF "Content-Disposition: form-data; name=f" CRLF CRLF "v" CRLF "--b--");
    cr_assert_eq(parse(body), DTM_EINVAL);
}

Test(multipart, repeated_names_fail_once_each)
{
    const dtm_mpart_t parts[] = {
        {.name = "photo"}, {.name = "note"}, {.name = "photo"},
        {.name = "photo"}, {.name = "a"},    {.name = "note"},
    };
    dtm_valid_t v;
    dtm_valid_init(&v);
    dtm_multipart_unique(&v, parts, 5);
    cr_assert_not(dtm_valid_ok(&v));
    json_t *d = dtm_valid_take(&v);
    cr_assert_eq(json_array_size(d), 1, "photo once, however often it repeats");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "field")), "photo");
    json_decref(d);
    dtm_multipart_unique(&v, parts, 6);
    d = dtm_valid_take(&v);
    cr_assert_eq(json_array_size(d), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 1), "field")), "note");
    json_decref(d);
    dtm_multipart_unique(&v, parts + 1, 2); /* note, photo: all distinct */
    cr_assert(dtm_valid_ok(&v));
    dtm_valid_cleanup(&v);
}

Test(sniff, by_magic_bytes)
{
    cr_assert_eq(dtm_image_sniff("\xff\xd8\xff\xe0", 4), DTM_IMG_JPEG);
    cr_assert_eq(dtm_image_sniff("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), DTM_IMG_PNG);
    cr_assert_eq(dtm_image_sniff("RIFF\x24\0\0\0WEBPVP8 ", 16), DTM_IMG_WEBP);
    cr_assert_eq(dtm_image_sniff("RIFF\x24\0\0\0WEBPVP8L", 16), DTM_IMG_WEBP);
    cr_assert_eq(dtm_image_sniff("RIFF\x24\0\0\0WEBPVP8X", 16), DTM_IMG_WEBP);
    cr_assert_str_eq(dtm_image_mime(DTM_IMG_PNG), "image/png");
    cr_assert_null(dtm_image_mime(DTM_IMG_NONE));
}

Test(sniff, lookalikes_rejected)
{
    cr_assert_eq(dtm_image_sniff("this is not a jpeg", 18), DTM_IMG_NONE);
    cr_assert_eq(dtm_image_sniff("\xff\xd8", 2), DTM_IMG_NONE, "truncated JPEG magic");
    cr_assert_eq(dtm_image_sniff("\x89PNG\r\n\x1a", 7), DTM_IMG_NONE);
    cr_assert_eq(dtm_image_sniff("\x89PNG\n\n\x1a\n", 8), DTM_IMG_NONE, "mangled line ending");
    cr_assert_eq(dtm_image_sniff("RIFF\x24\0\0\0WAVEfmt ", 16), DTM_IMG_NONE, "a WAV file");
    cr_assert_eq(dtm_image_sniff("RIFF\x24\0\0\0WEBPJUNK", 16), DTM_IMG_NONE);
    cr_assert_eq(dtm_image_sniff("GIF89a", 6), DTM_IMG_NONE, "GIF is not accepted");
    cr_assert_eq(dtm_image_sniff(NULL, 0), DTM_IMG_NONE);
    cr_assert_eq(dtm_image_sniff("", 0), DTM_IMG_NONE);
}

Test(store, sha_validation)
{
    cr_assert(
        dtm_sha256_hex_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    cr_assert_not(
        dtm_sha256_hex_valid("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    cr_assert_not(dtm_sha256_hex_valid("e3b0"));
    cr_assert_not(
        dtm_sha256_hex_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"));
    cr_assert_not(
        dtm_sha256_hex_valid("../0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    cr_assert_not(dtm_sha256_hex_valid(NULL));
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || strncmp(e->d_name, ".tmp", 4) == 0)
            n++;
    closedir(d);
    return n;
}

Test(store, content_addressed_and_atomic)
{
    char root[] = "/tmp/dtm-photo-test-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char *data_dir = dtm_arena_sprintf(A, "%s/nested/data", root);
    char sha[65];
    bool created;
    cr_assert_eq(dtm_photo_store(data_dir, "", 0, sha, &created), DTM_OK);
    cr_assert_str_eq(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert(created);

    static const char img[] = "\xff\xd8\xff hello";
    cr_assert_eq(dtm_photo_store(data_dir, img, sizeof img - 1, sha, &created), DTM_OK);
    cr_assert(created);
    char *path = dtm_photo_path(A, data_dir, sha);
    cr_assert(strstr(path, "/uploads/") != NULL);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char back[64];
    size_t got = fread(back, 1, sizeof back, f);
    fclose(f);
    cr_assert_eq(got, sizeof img - 1);
    cr_assert(memcmp(back, img, got) == 0);

    /* Storing the same bytes again is a no-op, and no temporary files are left behind. */
    cr_assert_eq(dtm_photo_store(data_dir, img, sizeof img - 1, sha, &created), DTM_OK);
    cr_assert_not(created);
    char *dir = dtm_arena_sprintf(A, "%s/uploads/%.2s", data_dir, sha);
    cr_assert_eq(count_entries(dir), 1);

    char *cmd = dtm_arena_sprintf(A, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

Test(store, unwritable_dir_fails_cleanly)
{
    char sha[65];
    bool created = true;
    cr_assert_eq(dtm_photo_store("/proc/dtm-no-such-dir", "x", 1, sha, &created), DTM_EINTERNAL);
    cr_assert_not(created);
}
