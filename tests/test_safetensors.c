/* The safetensors reader refuses every malformed file cleanly; the writer's
 * output reads back exactly; F16/BF16 conversions round correctly. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/half.h"
#include "base/mapped_file.h"
#include "testutil.h"

/* A file image: 8-byte length, the header text, then data_len bytes. */
static uint8_t *image(const char *header, size_t data_len, size_t *size)
{
        size_t h = strlen(header);
        *size = 8 + h + data_len;
        uint8_t *buf = calloc(*size, 1);
        for (int i = 0; i < 8; i++)
                buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
        memcpy(buf + 8, header, h);
        for (size_t i = 0; i < data_len; i++)
                buf[8 + h + i] = (uint8_t)i;
        return buf;
}

static enum an_status parse(const char *header, size_t data_len,
                            struct an_error *err)
{
        size_t size;
        uint8_t *buf = image(header, data_len, &size);
        struct st_file f;
        enum an_status st = st_parse(&f, buf, size, err);
        if (st == AN_OK)
                st_close(&f);
        free(buf);
        return st;
}

static const char valid[] =
        "{\"__metadata__\":{\"k\":\"v\"},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        "\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}";

START_TEST(valid_file_parses)
{
        size_t size;
        uint8_t *buf = image(valid, 16, &size);
        struct st_file f;
        struct an_error err;
        ck_assert_int_eq(st_parse(&f, buf, size, &err), AN_OK);
        ck_assert_uint_eq(f.n_tensors, 2);
        const struct st_tensor *a = st_find(&f, "a"), *b = st_find(&f, "b");
        ck_assert(a && b);
        ck_assert_int_eq(a->dtype, ST_F16);
        ck_assert_int_eq(a->rank, 2);
        ck_assert_uint_eq(a->count, 4);
        ck_assert_ptr_eq(b->data, buf + size - 8);
        ck_assert_str_eq(st_metadata(&f, "k"), "v");
        ck_assert_ptr_null(st_metadata(&f, "missing"));
        st_close(&f);
        free(buf);
}
END_TEST

/* Each header must be refused with AN_E_FORMAT and a message naming the
 * problem (the expected phrase). */
static const struct {
        const char *header;
        size_t data_len;
        const char *phrase;
} malformed[] = {
        {"not json", 0, "not valid JSON"},
        {"[1,2]", 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
         "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
         "do not hold"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
         6, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
         "one is missing from the header"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
         "after the last tensor"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
         "invalid size"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,"
         "1099511627776],\"data_offsets\":[0,4]}}",
         4, "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
         "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
         "exactly"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4,
         "shape must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
         "\"x\":1}}",
         4, "exactly"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "not a string"},
        {"{\"__metadata__\":[]}", 0, "not an object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "not valid JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,"
         "18446744073709551615]}}",
         4, "not valid JSON"},
};
enum { N_MALFORMED = sizeof malformed / sizeof malformed[0] };

START_TEST(malformed_header_is_refused)
{
        struct an_error err = {0};
        enum an_status st =
                parse(malformed[_i].header, malformed[_i].data_len, &err);
        ck_assert_int_eq(st, AN_E_FORMAT);
        ck_assert_msg(strstr(err.message, malformed[_i].phrase) != NULL,
                      "case %d: message '%s' lacks '%s'", _i, err.message,
                      malformed[_i].phrase);
        ck_assert(strchr(err.message, '\n') == NULL);
}
END_TEST

START_TEST(every_truncation_is_refused)
{
        size_t size;
        uint8_t *buf = image(valid, 16, &size);
        struct an_error err;
        for (size_t len = 0; len < size; len++) {
                uint8_t *copy = malloc(len ? len : 1);
                memcpy(copy, buf, len);
                struct st_file f;
                ck_assert_msg(st_parse(&f, copy, len, &err) == AN_E_FORMAT,
                              "truncated to %zu bytes was accepted", len);
                free(copy);
        }
        free(buf);
}
END_TEST

START_TEST(header_length_past_end_is_refused)
{
        uint8_t buf[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        struct st_file f;
        struct an_error err;
        ck_assert_int_eq(st_parse(&f, buf, sizeof buf, &err), AN_E_FORMAT);
        ck_assert(strstr(err.message, "past the end") != NULL);
        ck_assert_int_eq(st_parse(&f, buf, 3, &err), AN_E_FORMAT);
        ck_assert(strstr(err.message, "too short") != NULL);
}
END_TEST

START_TEST(open_refuses_directory_and_missing_file)
{
        struct st_file f;
        struct an_error err;
        ck_assert_int_eq(st_open(&f, ".", &err), AN_E_IO);
        ck_assert_str_eq(err.message, "is a directory");
        ck_assert_int_eq(st_open(&f, "/nonexistent/x.safetensors", &err),
                         AN_E_IO);
        ck_assert(strstr(err.message, "No such file") != NULL);
}
END_TEST

START_TEST(write_then_read_round_trips)
{
        char path[] = "/tmp/alexnet-test-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        float a[6] = {1, -2, 0.5f, 3.25f, -0.0f, 1e-3f}, b[3] = {7, 8, 9};
        struct st_write_tensor t[3] = {
                {"a", ST_F32, 2, {2, 3}, a},
                {"b16", ST_F16, 1, {3}, b},
                {"bbf", ST_BF16, 1, {3}, b},
        };
        json_t *meta = json_pack("{ss}", "hello", "world");
        struct an_error err;
        ck_assert_int_eq(st_write(path, meta, t, 3, &err), AN_OK);
        json_decref(meta);
        struct st_file f;
        ck_assert_int_eq(st_open(&f, path, &err), AN_OK);
        ck_assert_str_eq(st_metadata(&f, "hello"), "world");
        /* The header is padded so data begins 8-byte aligned. */
        ck_assert_uint_eq((uintptr_t)f.tensors[0].data % 8, 0);
        float *got = fixture_tensor(&f, "a", NULL);
        ck_assert_int_eq(memcmp(got, a, sizeof a), 0);
        free(got);
        got = fixture_tensor(&f, "b16", NULL);
        ck_assert_int_eq(memcmp(got, b, sizeof b), 0);
        free(got);
        got = fixture_tensor(&f, "bbf", NULL);
        ck_assert_int_eq(memcmp(got, b, sizeof b), 0);
        free(got);
        st_close(&f);
        unlink(path);
}
END_TEST

START_TEST(truncated_while_mapped_is_an_error_not_a_crash)
{
        /* A tensor of several pages, so that its end is past the first
         * page once the file is cut to nothing. */
        enum { N = 4096 };
        static float a[N];
        for (int i = 0; i < N; i++)
                a[i] = (float)i + 1;
        char path[] = "/tmp/alexnet-test-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        struct st_write_tensor t = {"a", ST_F32, 1, {N}, a};
        struct an_error err;
        ck_assert_int_eq(st_write(path, NULL, &t, 1, &err), AN_OK);
        ck_assert_int_eq(mapped_file_guard_sigbus(&err), AN_OK);
        struct st_file f;
        ck_assert_int_eq(st_open(&f, path, &err), AN_OK);
        ck_assert_int_eq(st_check(&f, &err), AN_OK);
        const float *data = (const float *)st_find(&f, "a")->data;
        ck_assert_float_eq(data[N - 1], (float)N);
        ck_assert_int_eq(truncate(path, 0), 0);
        /* Without the guard this read raises SIGBUS and kills the test. */
        volatile float after = data[N - 1];
        ck_assert_float_eq(after, 0.0f);
        ck_assert_int_eq(st_check(&f, &err), AN_E_IO);
        ck_assert_msg(strstr(err.message, "truncated while in use"), "%s",
                      err.message);
        st_close(&f);
        unlink(path);
}
END_TEST

START_TEST(rewritten_while_mapped_is_reported)
{
        float a[4] = {1, 2, 3, 4};
        char path[] = "/tmp/alexnet-test-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        struct st_write_tensor t = {"a", ST_F32, 1, {4}, a};
        struct an_error err;
        ck_assert_int_eq(st_write(path, NULL, &t, 1, &err), AN_OK);
        struct st_file f;
        ck_assert_int_eq(st_open(&f, path, &err), AN_OK);
        /* the same size, other bytes, as rsync --inplace would leave it */
        struct stat sb;
        ck_assert_int_eq(stat(path, &sb), 0);
        fd = open(path, O_WRONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, "\x7f", 1, sb.st_size - 1), 1);
        close(fd);
        struct timespec later[2] = {{0, UTIME_OMIT},
                                    {sb.st_mtim.tv_sec + 1, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, path, later, 0), 0);
        ck_assert_int_eq(st_check(&f, &err), AN_E_IO);
        ck_assert_msg(strstr(err.message, "changed while in use"), "%s",
                      err.message);
        st_close(&f);
        /* replaced by rename, the mapped inode is untouched: no error */
        ck_assert_int_eq(st_open(&f, path, &err), AN_OK);
        ck_assert_int_eq(st_write(path, NULL, &t, 1, &err), AN_OK);
        ck_assert_int_eq(st_check(&f, &err), AN_OK);
        st_close(&f);
        unlink(path);
}
END_TEST

START_TEST(write_failure_leaves_no_file)
{
        float a[1] = {1};
        struct st_write_tensor t = {"a", ST_F32, 1, {1}, a};
        struct an_error err;
        ck_assert_int_eq(
                st_write("/nonexistent-dir/m.safetensors", NULL, &t, 1, &err),
                AN_E_IO);
        ck_assert(access("/nonexistent-dir", F_OK) != 0);
}
END_TEST

START_TEST(half_conversions_round_to_nearest_even)
{
        /* Bit patterns from IEEE 754 binary16 tables. */
        ck_assert_uint_eq(f32_to_f16(1.0f), 0x3c00);
        ck_assert_uint_eq(f32_to_f16(-2.0f), 0xc000);
        ck_assert_uint_eq(f32_to_f16(65504.0f), 0x7bff);
        ck_assert_uint_eq(f32_to_f16(65519.0f), 0x7bff);
        ck_assert_uint_eq(f32_to_f16(65520.0f), 0x7c00);
        ck_assert_uint_eq(f32_to_f16(0x1p-24f), 0x0001);
        ck_assert_uint_eq(f32_to_f16(0x1p-25f), 0x0000); /* tie to even */
        ck_assert_uint_eq(f32_to_f16(0x1.8p-24f), 0x0002);
        ck_assert_uint_eq(f32_to_f16(0x1p-14f), 0x0400);
        ck_assert_uint_eq(f32_to_f16(0.1f), 0x2e66);
        ck_assert_uint_eq(f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie */
        ck_assert_uint_eq(f32_to_f16(1.0f + 0x1.8p-11f), 0x3c01);
        ck_assert_uint_eq(f32_to_f16(1.0f + 0x1.8p-10f), 0x3c02); /* tie */
        ck_assert_uint_eq(f32_to_f16(NAN) & 0x7e00, 0x7e00);
        ck_assert_float_eq(f16_to_f32(0x3555), 0x1.554p-2f);
        ck_assert_float_eq(f16_to_f32(0x0001), 0x1p-24f);
        ck_assert_float_eq(f16_to_f32(0x8400), -0x1p-14f);
        ck_assert(isinf(f16_to_f32(0x7c00)));
        ck_assert_uint_eq(f32_to_bf16(1.0f), 0x3f80);
        ck_assert_uint_eq(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie */
        ck_assert_uint_eq(f32_to_bf16(1.0f + 0x1.8p-8f), 0x3f81);
        ck_assert_uint_eq(f32_to_bf16(1.0f + 0x1.8p-7f), 0x3f82); /* tie */
        ck_assert_float_eq(bf16_to_f32(0xc0a0), -5.0f);
        /* Every F16 value survives F16 -> F32 -> F16. */
        for (uint32_t h = 0; h < 0x10000; h++) {
                if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
                        continue; /* NaN payloads are not kept */
                ck_assert_uint_eq(f32_to_f16(f16_to_f32((uint16_t)h)), h);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("safetensors");
        TCase *tc = tcase_create("safetensors");
        tcase_add_test(tc, valid_file_parses);
        tcase_add_loop_test(tc, malformed_header_is_refused, 0, N_MALFORMED);
        tcase_add_test(tc, every_truncation_is_refused);
        tcase_add_test(tc, header_length_past_end_is_refused);
        tcase_add_test(tc, open_refuses_directory_and_missing_file);
        tcase_add_test(tc, write_then_read_round_trips);
        tcase_add_test(tc, truncated_while_mapped_is_an_error_not_a_crash);
        tcase_add_test(tc, rewritten_while_mapped_is_reported);
        tcase_add_test(tc, write_failure_leaves_no_file);
        tcase_add_test(tc, half_conversions_round_to_nearest_even);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
