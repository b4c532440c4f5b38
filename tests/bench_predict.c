/* End-to-end prediction benchmark: `make bench-predict`, never part of
 * `make check`.
 *
 *   bench_predict [N]     N generated JPEGs (default 1000)
 *   BENCH_PRESET          network (default alexnet-owt, random weights)
 *   ALEXNET               the binary to time (default ./alexnet)
 *
 * Writes N JPEGs of mixed sizes (from 160x120 to 2048x1536) and a model
 * file into a temporary directory, then reports
 *   1. per-stage time in this process, one image at a time: decode
 *      (image_load with the DCT-scaling target), preprocess (resize, crop,
 *      normalise) and forward (batches of 16);
 *   2. `alexnet predict` over the whole list: wall time and images/s;
 *   3. the wall time of `alexnet predict -m MODEL one.jpg` with a warm page
 *      cache (median of 5 runs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/classify.h"
#include "model/model.h"
#include "synth_jpeg.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double run(const char *command)
{
        double t0 = now();
        if (system(command) != 0)
                fprintf(stderr, "bench: '%s' failed\n", command);
        return now() - t0;
}

static int compare_doubles(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
        static const int sizes[][2] = {{160, 120},  {640, 480},  {800, 600},
                                       {1024, 768}, {1280, 960}, {2048, 1536},
                                       {500, 375},  {375, 500}};
        int n = argc > 1 ? atoi(argv[1]) : 1000;
        const char *preset = getenv("BENCH_PRESET");
        const char *binary = getenv("ALEXNET");
        preset = preset ? preset : "alexnet-owt";
        binary = binary ? binary : "./alexnet";
        char dir[] = "/tmp/alexnet-bench-XXXXXX", path[512], cmd[2048];
        if (n < 1 || !mkdtemp(dir))
                return 1;

        struct model m;
        struct an_error err;
        if (model_from_preset(&m, preset, 1000, &err) != AN_OK)
                return 1;
        for (uint64_t i = 0; i < model_param_count(&m); i++)
                m.owned_params[i] =
                        (float)((i * 2654435761u) % 1000) * 1e-5f - 0.005f;
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (model_save(&m, path, ST_F32, &err) != AN_OK)
                return 1;

        printf("writing %d JPEGs to %s\n", n, dir);
        snprintf(path, sizeof path, "%s/list", dir);
        FILE *list = fopen(path, "w");
        for (int i = 0; i < n; i++) {
                const int *s = sizes[i % 8];
                snprintf(path, sizeof path, "%s/%05d.jpg", dir, i);
                if (write_synth_jpeg(path, s[0], s[1], (unsigned)i) != 0)
                        return 1;
                fprintf(list, "%s\n", path);
        }
        fclose(list);

        /* 1. stages, in this process */
        enum { BATCH = 16 };
        struct shape in = m.net.shapes[0];
        size_t sample = shape_count(in);
        float *input = malloc(BATCH * sample * sizeof *input);
        float *probs = malloc(BATCH * net_outputs(&m.net) * sizeof *probs);
        struct image_options opt = image_defaults();
        opt.resize_side = m.pre.resize;
        double t_decode = 0, t_pre = 0, t_forward = 0;
        for (int i = 0; i < n; i++) {
                struct image img;
                snprintf(path, sizeof path, "%s/%05d.jpg", dir, i);
                double t0 = now();
                if (image_load(&img, path, &opt, &err) != AN_OK)
                        return 1;
                double t1 = now();
                image_preprocess(&img, &m.pre, in, 1,
                                 input + (i % BATCH) * sample, &err);
                image_free(&img);
                double t2 = now();
                t_decode += t1 - t0;
                t_pre += t2 - t1;
                if (i % BATCH == BATCH - 1 || i == n - 1) {
                        classify_batch(&m.net, input, i % BATCH + 1, 1, probs,
                                       &err);
                        t_forward += now() - t2;
                }
        }
        printf("\nstages (%s, %d images, forward in batches of %d):\n", preset,
               n, BATCH);
        printf("  decode      %8.2f ms/image\n", 1e3 * t_decode / n);
        printf("  preprocess  %8.2f ms/image\n", 1e3 * t_pre / n);
        printf("  forward     %8.2f ms/image\n", 1e3 * t_forward / n);

        /* 2. the command over the whole list */
        snprintf(cmd, sizeof cmd,
                 "%s predict -m %s/model.safetensors -f tsv -k 1 < %s/list "
                 "> /dev/null",
                 binary, dir, dir);
        double total = run(cmd);
        printf("\nalexnet predict over %d images: %.1f s, %.2f images/s\n", n,
               total, n / total);

        /* 3. one image, warm cache */
        double times[5];
        snprintf(cmd, sizeof cmd,
                 "%s predict -m %s/model.safetensors %s/00002.jpg > /dev/null",
                 binary, dir, dir);
        run(cmd);
        for (int i = 0; i < 5; i++)
                times[i] = run(cmd);
        qsort(times, 5, sizeof *times, compare_doubles);
        printf("alexnet predict one 800x600 JPEG: %.0f ms wall (median of "
               "5, warm cache)\n",
               times[2] * 1e3);

        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        run(cmd);
        free(input);
        free(probs);
        model_close(&m);
        return 0;
}
