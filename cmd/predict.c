/* alexnet predict: classify images named on the command line or on
 * standard input, one record per image, in input order. */
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/classify.h"
#include "cli.h"
#include "model/model.h"
#include "pipeline.h"
#include "predict.h"
#include "records.h"

static const char predict_help[] =
        "usage: alexnet predict [-m MODEL] [-k K] [-f text|tsv|json] [-b "
        "BATCH]\n"
        "       [-j THREADS] [--tta center|ten-crop] [--shard K/N] [-0] "
        "[--header]\n"
        "       [--max-megapixels N] [--precision fp32|bf16] [--eval "
        "DATADIR]\n"
        "       [IMAGE...]\n"
        "\n"
        "Classify JPEG and PNG images.  With no IMAGE, or for '-', paths are\n"
        "read from standard input, one a line (-0: NUL-separated).\n"
        "\n"
        "  -m, --model MODEL       model file (default: $ALEXNET_MODEL, then\n"
        "                          the installed default model)\n"
        "  -k, --top K             classes per image (default 5)\n"
        "  -f, --format FORMAT     text (default), tsv or json (JSON Lines)\n"
        "  -b, --batch BATCH       images per forward pass (default 16)\n"
        "  -j, --threads THREADS   compute threads (default: all cores)\n"
        "      --tta MODE          center (default) or ten-crop\n"
        "      --shard K/N         only inputs whose position modulo N is K\n"
        "  -0, --null              standard input holds NUL-separated paths\n"
        "      --header            tsv: start with a header line\n"
        "      --max-megapixels N  refuse larger images (default 100)\n"
        "      --precision P       fp32 (default) or bf16: weights, and "
        "with\n"
        "                          AVX512_BF16 convolution inputs, rounded "
        "to\n"
        "                          bfloat16 (faster; results within its "
        "rounding)\n"
        "      --eval DATADIR      accuracy on DATADIR/CLASS/IMAGE instead of\n"
        "                          records: top-1, top-5, per class, "
        "confusion\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: 0 all classified, 1 some images failed, 2 nothing ran.\n";

static bool parse_int(const char *s, long lo, long hi, long *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                return false;
        *out = v;
        return true;
}

static bool parse_shard(const char *s, long *k, long *n)
{
        char *slash = strchr(s, '/'), *end;
        if (!slash)
                return false;
        errno = 0;
        *k = strtol(s, &end, 10);
        if (errno || end != slash || end == s)
                return false;
        return parse_int(slash + 1, 1, 1L << 30, n) && *k >= 0 && *k < *n;
}

static int parse_options(int argc, char **argv, struct predict_options *o)
{
        enum {
                OPT_TTA = 256,
                OPT_SHARD,
                OPT_HEADER,
                OPT_MAX_MP,
                OPT_EVAL,
                OPT_PRECISION
        };
        static const struct option options[] = {
                {"model", required_argument, NULL, 'm'},
                {"top", required_argument, NULL, 'k'},
                {"format", required_argument, NULL, 'f'},
                {"batch", required_argument, NULL, 'b'},
                {"threads", required_argument, NULL, 'j'},
                {"tta", required_argument, NULL, OPT_TTA},
                {"shard", required_argument, NULL, OPT_SHARD},
                {"null", no_argument, NULL, '0'},
                {"header", no_argument, NULL, OPT_HEADER},
                {"max-megapixels", required_argument, NULL, OPT_MAX_MP},
                {"eval", required_argument, NULL, OPT_EVAL},
                {"precision", required_argument, NULL, OPT_PRECISION},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const struct command *cmd = &predict_command;
        long v;
        char *end;
        int c, f;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":m:k:f:b:j:0h", options, NULL)) !=
               -1) {
                switch (c) {
                case 'm': o->model = optarg; break;
                case 'k':
                        if (!parse_int(optarg, 1, 1 << 24, &v))
                                return usage_error(cmd, "-k needs a positive "
                                                        "count");
                        o->top = (int)v;
                        break;
                case 'f':
                        if ((f = record_format_parse(optarg)) < 0)
                                return usage_error(cmd, "unknown format '%s'",
                                                   optarg);
                        o->format = (enum record_format)f;
                        break;
                case 'b':
                        if (!parse_int(optarg, 1, 4096, &v))
                                return usage_error(cmd, "-b needs a batch "
                                                        "size from 1 to 4096");
                        o->batch = (int)v;
                        break;
                case 'j':
                        if (!parse_int(optarg, 1, 4096, &v))
                                return usage_error(cmd, "-j needs a thread "
                                                        "count from 1 to 4096");
                        o->threads = (int)v;
                        break;
                case OPT_TTA:
                        if (strcmp(optarg, "center") &&
                            strcmp(optarg, "ten-crop"))
                                return usage_error(cmd, "--tta is center or "
                                                        "ten-crop");
                        o->crops = strcmp(optarg, "center") ? TEN_CROPS : 1;
                        break;
                case OPT_SHARD:
                        if (!parse_shard(optarg, &o->shard, &o->shards))
                                return usage_error(cmd, "--shard needs K/N "
                                                        "with 0 <= K < N");
                        break;
                case '0': o->nul = true; break;
                case OPT_HEADER: o->header = true; break;
                case OPT_MAX_MP:
                        o->max_megapixels = strtod(optarg, &end);
                        if (*end || end == optarg ||
                            !(o->max_megapixels > 0 &&
                              o->max_megapixels <= 1e6))
                                return usage_error(cmd, "--max-megapixels "
                                                        "needs a positive "
                                                        "number");
                        break;
                case OPT_EVAL: o->eval = optarg; break;
                case OPT_PRECISION:
                        if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
                                return usage_error(cmd, "--precision is fp32 "
                                                        "or bf16");
                        o->precision =
                                strcmp(optarg, "fp32") ? GEMM_BF16 : GEMM_FP32;
                        break;
                case 'h': print_help(cmd); return -1;
                default: return option_error(cmd, c, argv);
                }
        }
        return EXIT_ALL_DONE;
}

bool classify_pipeline_batch(struct model *m, const struct batch *b, int crops,
                             float *probs)
{
        struct an_error err;
        if (!b->decoded || classify_batch(&m->net, b->input, b->decoded, crops,
                                          probs, &err) == AN_OK)
                return true;
        report("predict", "%s", err.message);
        return false;
}

/* Writes the records of one batch; returns how many inputs failed. */
static int report_batch(const struct batch *b, const float *probs, int classes,
                        const struct predict_options *o, char *const *labels,
                        struct prediction *top)
{
        int failed = 0;
        for (int i = 0; i < b->n; i++) {
                if (b->slot[i] < 0) {
                        report(b->paths[i], "%s", b->errors[i]);
                        record_failure(stdout, o->format, b->paths[i],
                                       b->errors[i]);
                        failed++;
                        continue;
                }
                int k = top_k(probs + (size_t)b->slot[i] * classes, classes,
                              o->top, top);
                record_prediction(stdout, o->format, b->paths[i], top, k,
                                  labels);
        }
        return failed;
}

/* Runs the pipeline to the end; returns the exit status. */
static int classify_all(struct model *m, struct pipeline *p,
                        const struct predict_options *o)
{
        int classes = (int)net_outputs(&m->net);
        float *probs = malloc((size_t)o->batch * classes * sizeof *probs);
        struct prediction *top = malloc((size_t)o->top * sizeof *top);
        int status = EXIT_ALL_DONE;
        if (!probs || !top) {
                report("predict", "out of memory");
                status = EXIT_FATAL;
        }
        if (o->header)
                record_header(stdout, o->format);
        for (bool last = false; status != EXIT_FATAL && !last;) {
                struct batch *b = pipeline_next(p);
                last = b->last;
                if (!classify_pipeline_batch(m, b, o->crops, probs))
                        status = EXIT_FATAL;
                else if (report_batch(b, probs, classes, o, m->labels, top)) {
                        status = EXIT_SOME_FAILED;
                }
                if (b->read_errno) {
                        report("standard input", "%s", strerror(b->read_errno));
                        status = EXIT_FATAL;
                }
                /* A pipeline reader sees each batch as soon as it is done. */
                if (fflush(stdout) != 0)
                        break;
        }
        free(probs);
        free(top);
        return status;
}

/* Makes the batch smaller when its activations would exceed the arena
 * limit (a model with very large inputs); false, reported, when not even
 * one image fits. */
static bool fit_batch(const struct model *m, const char *path,
                      struct predict_options *o)
{
        int fit = net_max_batch(&m->net, o->batch * o->crops) / o->crops;
        if (fit < 1) {
                report(path,
                       "one image needs %.1f GiB of activations, more than "
                       "the %.0f GiB limit",
                       net_arena_bytes(&m->net, o->crops) / 1073741824.0,
                       NET_ARENA_LIMIT / 1073741824.0);
                return false;
        }
        if (fit < o->batch)
                o->batch = fit;
        return true;
}

static int run_predict(int argc, char **argv)
{
        struct predict_options o = {NULL,        5,    16,       0,     1,
                                    FORMAT_TEXT, 0,    1,        false, false,
                                    100,         NULL, GEMM_FP32};
        int rc = parse_options(argc, argv, &o);
        if (rc != EXIT_ALL_DONE)
                return rc < 0 ? EXIT_ALL_DONE : rc;
        if (o.threads)
                omp_set_num_threads(o.threads);

        struct model m;
        struct an_error err;
        const char *path = o.model ? o.model : default_model_path();
        if (!path)
                return report_no_model();
        if (model_open(&m, path, &err) != AN_OK) {
                report_error(path, &err);
                return EXIT_FATAL;
        }
        if (!fit_batch(&m, path, &o)) {
                model_close(&m);
                return EXIT_FATAL;
        }
        if (net_prepack(&m.net, o.precision, &err) != AN_OK) {
                report_error(path, &err);
                model_close(&m);
                return EXIT_FATAL;
        }
        struct dataset d = {0};
        if (o.eval && (optind < argc || o.shards > 1)) {
                model_close(&m);
                return usage_error(&predict_command,
                                   "--eval takes no IMAGE and no --shard");
        }
        if (o.eval && dataset_scan(&d, o.eval, &err) != AN_OK) {
                report(o.eval, "%s", err.message);
                model_close(&m);
                return EXIT_FATAL;
        }
        struct path_source source;
        if (o.eval)
                path_source_init(&source, d.paths, (int)d.n, false, 0, 1);
        else
                path_source_init(&source, argv + optind, argc - optind, o.nul,
                                 o.shard, o.shards);
        struct pipeline p = {
                .source = &source,
                .pre = &m.pre,
                .input = m.net.shapes[0],
                .image = image_defaults(),
                .capacity = o.batch,
                .crops = o.crops,
        };
        p.image.max_pixels = (uint64_t)(o.max_megapixels * 1e6);
        p.image.min_side = m.pre.resize;
        int status = EXIT_FATAL;
        if (!pipeline_start(&p)) {
                report("predict", "out of memory");
        } else {
                status = o.eval ? evaluate_folder(&m, &p, &d, &o)
                                : classify_all(&m, &p, &o);
                pipeline_finish(&p);
        }
        dataset_free(&d);
        path_source_free(&source);
        model_close(&m);
        return finish_output(status);
}

const struct command predict_command = {
        "predict",
        run_predict,
        "classify images",
        predict_help,
};
