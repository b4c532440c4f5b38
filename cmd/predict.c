/* alexnet predict: classify images named on the command line or on
 * standard input, one record per image, in input order. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/classify.h"
#include "cli.h"
#include "model/model.h"
#include "train/comm.h"
#include "predict_pipeline.h"
#include "predict_eval.h"
#include "predict_features.h"
#include "predict_heatmap.h"
#include "threads.h"
#include "predict_output.h"
#include "predict_records.h"

struct predict_options {
        const char *model;
        int top, batch, threads;
        int format;    /* enum record_format, as record_format_names */
        int tta;       /* 0: centre crop, 1: ten crops */
        int precision; /* 0: fp32, 1: bf16 */
        long shard, shards;
        bool nul, header, fast_jpeg, recursive, summary;
        const char *output;    /* -o FILE */
        const char *skip_done; /* --skip-done FILE */
        double max_megapixels;
        const char *eval;  /* --eval DATADIR */
        bool features;     /* --features */
        const char *layer; /* --layer NAME */
        const char *index; /* --index FILE.npy */
        int metric;        /* enum metric */
        double duplicates; /* --duplicates T, when duplicates_set */
        bool duplicates_set;
        const char *heatmap;   /* --heatmap FILE.png */
        const char *class;     /* --class LABEL|INDEX */
        const char *confusion; /* --confusion FILE.png */
};

static struct predict_options opt = {
        .top = 5, .batch = 16, .shards = 1, .max_megapixels = 100};

static const char *const tta_names[] = {"center", "ten-crop", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};
static const char *const format_names[] = {"text", "tsv", "json", "npy", NULL};
static const char *const metric_names[] = {"cosine", "euclidean", NULL};

static bool parse_threshold(const char *s, void *target)
{
        opt.duplicates_set = true;
        return parse_double(s, -1e30, 1e30, target);
}

/* --shard K/N: 0 <= K < N. */
static bool parse_shard(const char *s, void *target)
{
        (void)target;
        const char *slash = strchr(s, '/');
        char k[32];
        if (!slash || slash == s || (size_t)(slash - s) >= sizeof k)
                return false;
        memcpy(k, s, slash - s);
        k[slash - s] = '\0';
        return parse_long(slash + 1, 1, 1L << 30, &opt.shards) &&
               parse_long(k, 0, opt.shards - 1, &opt.shard);
}

static bool parse_megapixels(const char *s, void *target)
{
        return parse_double(s, 0, 1e6, target) && *(double *)target > 0;
}

static const struct option_spec predict_options[] = {
        OPT_STRING('m', "model", "MODEL",
                   "model file (default: $ALEXNET_MODEL, then\n"
                   "the installed default model)",
                   &opt.model),
        OPT_INT('k', "top", "K", "classes per image (default 5)", &opt.top, 1,
                1 << 24),
        OPT_CHOICE('f', "format", "FORMAT",
                   "text (default), tsv or json (JSON Lines);\n"
                   "npy with --features -o FILE.npy",
                   &opt.format, format_names),
        OPT_INT('b', "batch", "BATCH", "images per forward pass (default 16)",
                &opt.batch, 1, 4096),
        OPT_INT('j', "threads", "THREADS",
                "compute threads (default: the cores free)", &opt.threads, 1,
                4096),
        OPT_CHOICE(0, "tta", "MODE", "center (default) or ten-crop", &opt.tta,
                   tta_names),
        OPT_CUSTOM(0, "shard", "K/N",
                   "only inputs whose position modulo N is K", NULL,
                   parse_shard, "K/N with 0 <= K < N"),
        OPT_FLAG('0', "null", "standard input holds NUL-separated paths",
                 &opt.nul),
        OPT_FLAG(0, "header", "tsv: start with a header line", &opt.header),
        OPT_STRING('o', "output", "FILE",
                   "write the records to FILE, atomically: it is\n"
                   "complete or left as it was",
                   &opt.output),
        OPT_STRING(0, "skip-done", "FILE",
                   "skip images FILE (an earlier tsv or json\n"
                   "output) has a result for",
                   &opt.skip_done),
        OPT_FLAG(0, "summary",
                 "end with a line of counts and speed on stderr\n"
                 "(always when stderr is a terminal)",
                 &opt.summary),
        OPT_FLAG('r', "recursive",
                 "classify the JPEG and PNG files under each\n"
                 "directory given, in sorted order",
                 &opt.recursive),
        OPT_FLAG(0, "fast-jpeg",
                 "decode JPEGs at reduced scale: faster, but\n"
                 "not the pixels torchvision sees",
                 &opt.fast_jpeg),
        OPT_CUSTOM(0, "max-megapixels", "N",
                   "refuse larger images (default 100)", &opt.max_megapixels,
                   parse_megapixels, "a positive number up to 1000000"),
        OPT_CHOICE(0, "precision", "P",
                   "fp32 (default) or bf16: weights, and with\n"
                   "AVX512_BF16 convolution inputs, rounded to\n"
                   "bfloat16 (faster; results within its rounding)",
                   &opt.precision, precision_names),
        OPT_STRING(0, "eval", "DATADIR",
                   "accuracy on DATADIR/CLASS/IMAGE instead of\n"
                   "records: top-1, top-5, per class, confusion",
                   &opt.eval),
        OPT_FLAG(0, "features",
                 "a layer's output per image instead of\n"
                 "classes (fc7 after its ReLU; --layer)",
                 &opt.features),
        OPT_STRING(0, "layer", "NAME",
                   "--features, --index, --duplicates: the layer\n"
                   "(a name alexnet inspect lists, or convN, fcN,\n"
                   "reluN, poolN)",
                   &opt.layer),
        OPT_STRING(0, "index", "FILE.npy",
                   "the K nearest images of each, among the rows\n"
                   "of an earlier --features -f npy -o FILE.npy",
                   &opt.index),
        OPT_CUSTOM(0, "duplicates", "T",
                   "pairs of images (and --index rows) at least T\n"
                   "similar (cosine; euclidean: at most T apart)",
                   &opt.duplicates, parse_threshold, "a number"),
        OPT_CHOICE(0, "metric", "M",
                   "--index, --duplicates: cosine (default) or\n"
                   "euclidean",
                   &opt.metric, metric_names),
        OPT_STRING(0, "heatmap", "FILE.png",
                   "for one IMAGE: where the network found the\n"
                   "evidence for its class (Grad-CAM at the last\n"
                   "convolution, or --layer), over the picture",
                   &opt.heatmap),
        OPT_STRING(0, "class", "C",
                   "--heatmap: this class (a label or an index)\n"
                   "instead of the most probable",
                   &opt.class),
        OPT_STRING(0, "confusion", "FILE.png",
                   "--eval: draw the confusion matrix as a heat map",
                   &opt.confusion),
        OPT_HELP,
        OPT_END,
};

static int crops(void)
{
        return opt.tta ? TEN_CROPS : 1;
}

/* Writes the records of one batch; returns how many inputs failed. */
/* Whether the n probabilities are numbers (a model with broken weights
 * gives NaN or infinity, which no caller can rank). */
static bool all_finite(const float *p, int n)
{
        for (int i = 0; i < n; i++)
                if (!isfinite(p[i]))
                        return false;
        return true;
}

static void report_failure(const char *path, const char *message)
{
        record_input_failure(path, message, opt.format, opt.recursive);
}

static int report_batch(const struct batch *b, const float *probs, int classes,
                        char *const *labels, struct prediction *top)
{
        int failed = 0;
        for (int i = 0; i < b->n; i++) {
                if (b->slot[i] < 0) {
                        report_failure(b->paths[i], b->errors[i]);
                        failed++;
                        continue;
                }
                const float *p = probs + (size_t)b->slot[i] * classes;
                if (!all_finite(p, classes)) {
                        report_failure(b->paths[i],
                                       "the model's outputs are not finite "
                                       "numbers (NaN or infinity): its "
                                       "weights are broken");
                        failed++;
                        continue;
                }
                int k = top_k(p, classes, opt.top, top);
                char *text;
                size_t length;
                FILE *record = record_open(&text, &length);
                if (record)
                        record_prediction(record, opt.format, b->paths[i], top,
                                          k, labels);
                record_close(record, &text, &length);
        }
        return failed;
}

/* What the run did, for --summary and the progress line. */
static struct {
        size_t classified, failed;
        double start;
        bool progress; /* a progress line is on the terminal */
} counts;

static double seconds_now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + t.tv_nsec * 1e-9;
}

/* On a terminal, while the records go elsewhere: a line of counts,
 * rewritten after each batch. */
static void show_progress(void)
{
        int saved = errno; /* isatty sets it: finish_output reads it */
        bool shown = isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO);
        errno = saved;
        if (!shown)
                return;
        fprintf(stderr, "\ralexnet: predict: %zu classified, %zu failed\033[K",
                counts.classified, counts.failed);
        counts.progress = true;
}

static void show_summary(size_t skipped)
{
        int saved = errno; /* as in show_progress */
        bool shown = opt.summary || isatty(STDERR_FILENO);
        errno = saved;
        if (!shown)
                return;
        double seconds = seconds_now() - counts.start;
        char done[64] = "";
        if (skipped)
                snprintf(done, sizeof done, ", %zu skipped as done", skipped);
        fprintf(stderr,
                "%salexnet: predict: %zu classified, %zu failed%s in %.1f s "
                "(%.1f images/s)\n",
                counts.progress ? "\r\033[K" : "", counts.classified,
                counts.failed, done, seconds,
                seconds > 0 ? counts.classified / seconds : 0.0);
        errno = saved;
}

/* Runs the pipeline to the end; returns the exit status. */
static int classify_all(struct model *m, struct pipeline *p)
{
        int classes = (int)net_outputs(&m->net);
        float *probs = malloc((size_t)opt.batch * classes * sizeof *probs);
        struct prediction *top = malloc((size_t)opt.top * sizeof *top);
        int status = EXIT_ALL_DONE;
        if (!probs || !top) {
                report("predict", "out of memory");
                status = EXIT_FATAL;
        }
        /* once for shards meant to be concatenated: by the first */
        if (opt.header && opt.shard == 0)
                record_header(stdout, opt.format);
        for (bool last = false; status != EXIT_FATAL && !last;) {
                struct batch *b = pipeline_next(p);
                last = b->last;
                if (!pipeline_classify(p, b, probs))
                        status = EXIT_FATAL;
                else {
                        int failed =
                                report_batch(b, probs, classes, m->labels, top);
                        counts.failed += (size_t)failed;
                        counts.classified += (size_t)(b->n - failed);
                        if (failed)
                                status = EXIT_SOME_FAILED;
                        show_progress();
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
static bool fit_batch(const struct model *m, const char *path)
{
        int fit = net_max_batch(&m->net, opt.batch * crops()) / crops();
        if (fit < 1) {
                report(path,
                       "one image needs %.1f GiB of activations, more than "
                       "the %.0f GiB limit",
                       net_arena_bytes(&m->net, crops()) / 1073741824.0,
                       NET_ARENA_LIMIT / 1073741824.0);
                return false;
        }
        if (fit < opt.batch)
                opt.batch = fit;
        return true;
}

/* The model, its batch fitted to the arena limit and its weights packed;
 * false, reported, with nothing open. */
static bool open_model(struct model *m, const char **model_path)
{
        struct an_error err;
        const char *path = opt.model ? opt.model : default_model_path();
        *model_path = path;
        if (!path) {
                report_no_model();
                return false;
        }
        if (model_open(m, path, &err) != AN_OK) {
                /* a path from the environment says so: the user may not
                 * remember setting it */
                const char *env = getenv("ALEXNET_MODEL");
                if (!opt.model && env && !strcmp(env, path))
                        report("ALEXNET_MODEL", "%s: %s", path, err.message);
                else
                        report(path, "%s", err.message);
                return false;
        }
        bool ok = fit_batch(m, path);
        if (ok && net_prepack(&m->net, opt.precision ? GEMM_BF16 : GEMM_FP32,
                              &err) != AN_OK) {
                report(path, "%s", err.message);
                ok = false;
        }
        if (!ok)
                model_close(m);
        return ok;
}

static bool feature_mode(void)
{
        return opt.features || opt.index || opt.duplicates_set;
}

/* --features, --index, --duplicates over the pipeline (NULL: no images,
 * only the index's rows); the exit status. */
static int run_features(struct model *m, struct pipeline *p)
{
        struct feature_options o = {
                .mode = opt.features         ? MODE_FEATURES
                        : opt.duplicates_set ? MODE_DUPLICATES
                                             : MODE_NEIGHBOURS,
                .layer = opt.layer,
                .format = opt.format,
                .output = opt.output,
                .header = opt.header && opt.shard == 0,
                .index = opt.index,
                .metric = opt.metric,
                .k = opt.top,
                .threshold = opt.duplicates,
                .recursive = opt.recursive,
        };
        return features_run(m, p, &o);
}

/* Classifies what source yields (the images of d with --eval); the exit
 * status. */
static int classify_source(struct model *m, const char *model_path,
                           struct path_source *source, const struct dataset *d,
                           const struct eval_part *part, const struct comm *c)
{
        struct pipeline p = {
                .source = source,
                .model = m,
                .model_path = model_path,
                .pre = &m->pre,
                .input = m->net.shapes[0],
                .image = image_defaults(),
                .capacity = opt.batch,
                .crops = crops(),
        };
        p.image.max_pixels = (uint64_t)(opt.max_megapixels * 1e6);
        p.image.resize_side = m->pre.resize;
        p.image.reduced_jpeg = opt.fast_jpeg;
        if (!pipeline_init(&p)) {
                report("predict", "out of memory");
                return EXIT_FATAL;
        }
        struct heatmap_options heatmap = {opt.heatmap, opt.class, opt.layer,
                                          opt.format};
        int status = opt.eval ? evaluate_folder(m, &p, d, part, c, opt.eval,
                                                opt.format, opt.header,
                                                opt.confusion)
                     : feature_mode() ? run_features(m, &p)
                     : opt.heatmap    ? explain_image(m, &p, &heatmap)
                                      : classify_all(m, &p);
        pipeline_free(&p);
        return status;
}

/* Whether the paths will be read from a terminal (no IMAGE, or "-"). */
static bool reads_terminal(char **operands, int n)
{
        bool stdin_used = n == 0;
        for (int i = 0; i < n; i++)
                stdin_used |= !strcmp(operands[i], "-");
        return stdin_used && isatty(STDIN_FILENO);
}

/* A run that could not start: -o's temporary file removed. */
static int give_up(struct atomic_file *output)
{
        return output ? output_end(output, EXIT_FATAL) : EXIT_FATAL;
}

/* Everything after the options and the output file: the model, the
 * images, the records; the exit status. */
static int classify_images(char **images, int operands,
                           const struct done_set *done,
                           struct atomic_file *output)
{
        if (!opt.eval && reads_terminal(images, operands))
                report("predict", "reading image paths from the terminal, "
                                  "one a line (Ctrl-D ends them)");
        threads_init(opt.threads);
        /* Under mpirun, --eval's images are split across the processes. */
        struct comm comm = comm_alone();
        struct an_error err;
        if (opt.eval && comm_init(&comm, &err) != AN_OK) {
                report("predict", "%s", err.message);
                return give_up(output);
        }
        report_as_process(comm.rank);
        struct model m;
        const char *model_path;
        if (!open_model(&m, &model_path)) {
                comm_abort(&comm, EXIT_FATAL);
                return give_up(output);
        }
        struct dataset d = {0};
        if (opt.eval && dataset_scan(&d, opt.eval, &err) != AN_OK) {
                report(opt.eval, "%s", err.message);
                model_close(&m);
                comm_abort(&comm, EXIT_FATAL);
                return give_up(output);
        }
        struct path_source source;
        struct eval_part part = {0};
        int status = EXIT_FATAL;
        if (opt.eval && !eval_part_init(&part, &d, &comm)) {
                report("predict", "out of memory");
        } else {
                if (opt.eval)
                        path_source_init(&source, part.paths, (int)part.n,
                                         false, 0, 1);
                else
                        path_source_init(&source, images, operands, opt.nul,
                                         opt.shard, opt.shards);
                source.recursive = opt.recursive;
                source.done = opt.skip_done ? done : NULL;
                /* --duplicates within an index alone reads no paths */
                status = opt.duplicates_set && opt.index && !operands
                                 ? run_features(&m, NULL)
                                 : classify_source(&m, model_path, &source, &d,
                                                   &part, &comm);
                /* folders -r could not read are failures too */
                if (source.walk_problems && status == EXIT_ALL_DONE)
                        status = EXIT_SOME_FAILED;
                if (!opt.eval)
                        show_summary(source.skipped);
                path_source_free(&source);
        }
        /* The other processes may be waiting for this one's counts. */
        if (status == EXIT_FATAL)
                comm_abort(&comm, status);
        eval_part_free(&part);
        dataset_free(&d);
        model_close(&m);
        /* -o is committed before the job ends: mpirun kills every process
         * once one exits with a status other than 0 */
        if (output)
                status = output_end(output, status);
        comm_finalize(&comm);
        return status;
}

/* What is wrong with the options together, or NULL. */
static const char *options_conflict(int operands)
{
        if (opt.eval && feature_mode())
                return "--eval does not go with --features, --index or "
                       "--duplicates";
        if (opt.features && (opt.index || opt.duplicates_set))
                return "--features writes vectors; --index and --duplicates "
                       "search them: one at a time";
        if (opt.format == FORMAT_NPY && (!opt.features || !opt.output))
                return "-f npy goes with --features and -o FILE.npy";
        struct stat st;
        if (opt.format == FORMAT_NPY && stat(opt.output, &st) == 0 &&
            !S_ISREG(st.st_mode))
                return "-f npy writes a file (its header is written last), "
                       "not a pipe or device";
        if (opt.layer && !feature_mode() && !opt.heatmap)
                return "--layer goes with --features, --index, --duplicates "
                       "or --heatmap";
        if (opt.heatmap && (opt.eval || feature_mode() || opt.tta ||
                            opt.shards > 1 || operands != 1))
                return "--heatmap explains one IMAGE, centre-cropped, by "
                       "itself";
        if (opt.class && !opt.heatmap)
                return "--class goes with --heatmap";
        if (opt.confusion && !opt.eval)
                return "--confusion goes with --eval";
        if (opt.metric && !opt.index && !opt.duplicates_set)
                return "--metric goes with --index or --duplicates";
        return NULL;
}

static int run_predict(int argc, char **argv)
{
        int operands = options_parse(&predict_command, argc, argv, NULL);
        if (operands < 0)
                return operands == -1 ? EXIT_ALL_DONE : EXIT_FATAL;
        if (opt.eval && (operands > 0 || opt.shards > 1))
                return usage_error(&predict_command,
                                   "--eval takes no IMAGE and no --shard");
        const char *conflict = options_conflict(operands);
        if (conflict)
                return usage_error(&predict_command, conflict);
        /* larger than PIPE_BUF: only record_emit decides when to write */
        static char stdout_buffer[1 << 16];
        setvbuf(stdout, stdout_buffer, _IOFBF, sizeof stdout_buffer);
        counts.start = seconds_now();
        struct done_set done = {0};
        if (opt.skip_done && !done_set_load(&done, opt.skip_done))
                return EXIT_FATAL;
        struct atomic_file output;
        if (opt.output) {
                remove_partial_output_on_signals();
                if (!output_begin(&output, opt.output)) {
                        done_set_free(&done);
                        return EXIT_FATAL;
                }
        }
        int status = classify_images(argv + 1, operands, &done,
                                     opt.output ? &output : NULL);
        done_set_free(&done);
        return finish_output(status);
}

const struct command predict_command = {
        "predict",
        run_predict,
        "classify images",
        "usage: alexnet predict [-m MODEL] [-k K] [-f text|tsv|json|npy]\n"
        "       [-b BATCH] [-j THREADS] [--tta center|ten-crop] [--shard K/N]\n"
        "       [-0] [--header] [--max-megapixels N] [--fast-jpeg]\n"
        "       [--precision fp32|bf16] [--eval DATADIR [--confusion "
        "FILE.png]]\n"
        "       [-r] [-o FILE] [--skip-done FILE] [--summary]\n"
        "       [--features | --index FILE.npy | --duplicates T] [--layer "
        "NAME]\n"
        "       [--metric cosine|euclidean] [--heatmap FILE.png [--class C]]\n"
        "       [IMAGE...]\n",
        "Classify JPEG and PNG images.  With no IMAGE, or for '-', paths are\n"
        "read from standard input, one a line (-0: NUL-separated).  Or give\n"
        "each image's feature vector, its nearest images in an index, the\n"
        "near-duplicate pairs, or where in one image the network looked.\n",
        predict_options,
        "Exit status: 0 all classified, 1 some images failed, 2 nothing ran.\n",
};
