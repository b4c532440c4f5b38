#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synth_jpeg.h"

const char *fixture_path(const char *rel)
{
        static char path[4096];
        const char *dir = getenv("FIXTURES");
        snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/fixtures", rel);
        return path;
}

void fixture_open(struct st_file *f, const char *rel)
{
        struct an_error err;
        const char *path = fixture_path(rel);
        ck_assert_msg(st_open(f, path, &err) == AN_OK, "%s: %s", path,
                      err.message);
}

float *fixture_tensor(const struct st_file *f, const char *name, size_t *count)
{
        const struct st_tensor *t = st_find(f, name);
        ck_assert_msg(t != NULL, "fixture tensor %s missing", name);
        float *out = malloc((t->count ? t->count : 1) * sizeof *out);
        ck_assert_ptr_nonnull(out);
        struct an_error err;
        ck_assert_int_eq(st_tensor_to_f32(t, out, &err), AN_OK);
        if (count)
                *count = t->count;
        return out;
}

void assert_close(const float *got, const float *want, size_t n, double tol,
                  const char *what)
{
        for (size_t i = 0; i < n; i++) {
                double scale = fabs(want[i]) > 1 ? fabs(want[i]) : 1;
                double diff = fabs((double)got[i] - want[i]);
                ck_assert_msg(diff <= tol * scale,
                              "%s: element %zu is %.9g, expected %.9g "
                              "(diff %.3g > %.1g)",
                              what, i, got[i], want[i], diff, tol * scale);
        }
}

static uint64_t splitmix64_at(uint64_t seed, uint64_t i)
{
        uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

void seeded_uniform(uint64_t seed, uint64_t start, size_t count, float bound,
                    float *out)
{
        for (size_t i = 0; i < count; i++) {
                float u = (float)(splitmix64_at(seed, start + i) >> 40);
                out[i] = (u * 0x1p-23f - 1.0f) * bound;
        }
}

float seeded_bound(int rank, const int64_t *shape)
{
        if (rank == 1)
                return 0.2f;
        int64_t fan_in = 1;
        for (int d = 1; d < rank; d++)
                fan_in *= shape[d];
        return sqrtf(6.0f / (float)fan_in);
}

int run_suite(Suite *s)
{
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void make_image_folder(char *dir, int classes, int per_class, int w, int h)
{
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, 64, "%s/alexnet-test.XXXXXX",
                 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        for (int c = 0; c < classes; c++) {
                char path[256];
                snprintf(path, sizeof path, "%s/c%d", dir, c);
                ck_assert_int_eq(mkdir(path, 0700), 0);
                for (int i = 0; i < per_class; i++) {
                        snprintf(path, sizeof path, "%s/c%d/i%d.jpg", dir, c,
                                 i);
                        ck_assert_int_eq(
                                write_synth_jpeg(path, w, h,
                                                 (unsigned)(c * 1000 + i + 1)),
                                0);
                }
        }
}

void remove_image_folder(const char *dir)
{
        DIR *top = opendir(dir);
        struct dirent *e;
        while (top && (e = readdir(top))) {
                if (e->d_name[0] == '.')
                        continue;
                char sub[512];
                snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
                DIR *d = opendir(sub);
                struct dirent *f;
                while (d && (f = readdir(d))) {
                        char file[1024];
                        snprintf(file, sizeof file, "%s/%s", sub, f->d_name);
                        if (f->d_name[0] != '.')
                                unlink(file);
                }
                if (d)
                        closedir(d);
                rmdir(sub);
        }
        if (top)
                closedir(top);
        rmdir(dir);
}
