/* alexnet train: SGD on an ImageFolder directory, with checkpoints that
 * survive interruption and resume bit for bit. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/augment.h"
#include "cli.h"
#include "config.h"
#include "data/dataset.h"
#include "model/model.h"
#include "model/model_meta.h"
#include "base/rng.h"
#include "train/init.h"
#include "train/trainer.h"

static const char train_help[] =
        "usage: alexnet train [-o MODEL] [--preset NAME] [--from MODEL]\n"
        "       [--epochs N] [-b BATCH] [--lr RATE] [--momentum M]\n"
        "       [--weight-decay D] [--schedule paper|step|cosine] [--lr-step "
        "N]\n"
        "       [--init paper|he] [--dropout P]\n"
        "       [--augment none|flip|flip-crop|paper]\n"
        "       [--val DIR | --val-split F] [--seed N] [-j THREADS]\n"
        "       [--checkpoint FILE] [--checkpoint-every MINUTES] [--resume "
        "FILE]\n"
        "       [--freeze features] [--resize N] [--cache] [--log FILE] "
        "[--quiet]\n"
        "       DATADIR\n"
        "\n"
        "Train on DATADIR/CLASS/IMAGE (JPEG or PNG, one folder per class).\n"
        "\n"
        "  -o, --output MODEL          the trained model (default "
        "model.safetensors)\n"
        "      --preset NAME           network to train from scratch (default\n"
        "                              alexnet-owt)\n"
        "      --from MODEL            start from a model file (fine-tuning); "
        "the\n"
        "                              last layer is replaced if the classes "
        "differ\n"
        "      --epochs N              epochs (default 90)\n"
        "  -b, --batch BATCH           images per step (default 128)\n"
        "      --lr RATE               learning rate (default 0.01)\n"
        "      --momentum M            (default 0.9)\n"
        "      --weight-decay D        (default 0.0005)\n"
        "      --schedule S            paper: divide by 10 when validation "
        "error\n"
        "                              stops improving (default); step: divide "
        "by\n"
        "                              10 every --lr-step epochs; cosine\n"
        "      --lr-step N             epochs per step of the step schedule "
        "(30)\n"
        "      --init MODE             paper: N(0, 0.01), biases 1 (default); "
        "he\n"
        "      --dropout P             dropout probability of the dropout "
        "layers\n"
        "                              (default: as the network says, 0.5)\n"
        "      --augment MODE          none, flip (centre crop, random "
        "flips),\n"
        "                              flip-crop, or paper (default: crops,\n"
        "                              flips and PCA colour noise)\n"
        "      --val DIR               validation images (same class folders)\n"
        "      --val-split F           hold out fraction F of DATADIR instead\n"
        "      --seed N                seed of every random choice (default "
        "1)\n"
        "  -j, --threads THREADS       compute threads (default: all cores)\n"
        "      --checkpoint FILE       checkpoint path (default MODEL.ckpt)\n"
        "      --checkpoint-every MIN  also checkpoint every MIN minutes\n"
        "      --resume FILE           continue the run saved in checkpoint "
        "FILE\n"
        "      --freeze features       train only the fully connected layers\n"
        "      --resize N              shorter image side before the centre "
        "or\n"
        "                              random crop (default: the model's)\n"
        "      --cache                 keep the decoded images in memory\n"
        "      --log FILE              append one CSV line per epoch\n"
        "  -q, --quiet                 no progress on standard error\n"
        "  -h, --help                  show this help\n";

enum schedule { SCHEDULE_PAPER, SCHEDULE_STEP, SCHEDULE_COSINE };

struct train_options {
        const char *output, *preset, *from, *val_dir, *checkpoint, *resume,
                *log;
        int epochs, batch, lr_step, threads;
        int resize; /* 0: the model's own */
        double lr, momentum, weight_decay, dropout, val_split,
                checkpoint_minutes;
        enum schedule schedule;
        enum init_mode init;
        enum augment_mode augment;
        uint64_t seed;
        bool freeze, quiet, cache;
};

/* What a checkpoint carries besides weights and velocity. */
struct run_state {
        int epoch, step; /* next step to run */
        uint64_t global_step;
        double lr;
        double best_val_error;
        int bad_epochs; /* epochs without improvement (paper schedule) */
        double seconds; /* training time so far */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
        stop_signal = sig;
}

/* ---- options ---------------------------------------------------------- */

static bool number(const char *s, double lo, double hi, double *out)
{
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= lo && v <= hi))
                return false;
        *out = v;
        return true;
}

static int parse_options(int argc, char **argv, struct train_options *o)
{
        enum {
                OPT_PRESET = 256,
                OPT_FROM,
                OPT_EPOCHS,
                OPT_LR,
                OPT_MOMENTUM,
                OPT_DECAY,
                OPT_SCHEDULE,
                OPT_LR_STEP,
                OPT_INIT,
                OPT_DROPOUT,
                OPT_AUGMENT,
                OPT_VAL,
                OPT_VAL_SPLIT,
                OPT_SEED,
                OPT_CKPT,
                OPT_CKPT_EVERY,
                OPT_RESUME,
                OPT_FREEZE,
                OPT_LOG,
                OPT_CACHE,
                OPT_RESIZE
        };
        static const struct option options[] = {
                {"output", required_argument, NULL, 'o'},
                {"preset", required_argument, NULL, OPT_PRESET},
                {"from", required_argument, NULL, OPT_FROM},
                {"epochs", required_argument, NULL, OPT_EPOCHS},
                {"batch", required_argument, NULL, 'b'},
                {"lr", required_argument, NULL, OPT_LR},
                {"momentum", required_argument, NULL, OPT_MOMENTUM},
                {"weight-decay", required_argument, NULL, OPT_DECAY},
                {"schedule", required_argument, NULL, OPT_SCHEDULE},
                {"lr-step", required_argument, NULL, OPT_LR_STEP},
                {"init", required_argument, NULL, OPT_INIT},
                {"dropout", required_argument, NULL, OPT_DROPOUT},
                {"augment", required_argument, NULL, OPT_AUGMENT},
                {"val", required_argument, NULL, OPT_VAL},
                {"val-split", required_argument, NULL, OPT_VAL_SPLIT},
                {"seed", required_argument, NULL, OPT_SEED},
                {"threads", required_argument, NULL, 'j'},
                {"checkpoint", required_argument, NULL, OPT_CKPT},
                {"checkpoint-every", required_argument, NULL, OPT_CKPT_EVERY},
                {"resume", required_argument, NULL, OPT_RESUME},
                {"freeze", required_argument, NULL, OPT_FREEZE},
                {"log", required_argument, NULL, OPT_LOG},
                {"cache", no_argument, NULL, OPT_CACHE},
                {"resize", required_argument, NULL, OPT_RESIZE},
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const struct command *cmd = &train_command;
        double v;
        int c;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":o:b:j:qh", options, NULL)) !=
               -1) {
                switch (c) {
                case 'o': o->output = optarg; break;
                case OPT_PRESET: o->preset = optarg; break;
                case OPT_FROM: o->from = optarg; break;
                case OPT_VAL: o->val_dir = optarg; break;
                case OPT_CKPT: o->checkpoint = optarg; break;
                case OPT_RESUME: o->resume = optarg; break;
                case OPT_LOG: o->log = optarg; break;
                case 'q': o->quiet = true; break;
                case OPT_CACHE: o->cache = true; break;
                case OPT_EPOCHS:
                case 'b':
                case OPT_LR_STEP:
                case 'j':
                case OPT_RESIZE:
                        if (!number(optarg, 1, 1 << 20, &v) || v != floor(v))
                                return usage_error(cmd,
                                                   "'%s' needs a positive "
                                                   "whole number",
                                                   argv[optind - 1]);
                        *(c == OPT_EPOCHS   ? &o->epochs
                          : c == 'b'        ? &o->batch
                          : c == 'j'        ? &o->threads
                          : c == OPT_RESIZE ? &o->resize
                                            : &o->lr_step) = (int)v;
                        break;
                case OPT_SEED:
                        if (!number(optarg, 0, 9007199254740992.0, &v))
                                return usage_error(cmd, "--seed needs a "
                                                        "number");
                        o->seed = (uint64_t)v;
                        break;
                case OPT_LR:
                case OPT_MOMENTUM:
                case OPT_DECAY:
                case OPT_DROPOUT:
                case OPT_VAL_SPLIT:
                case OPT_CKPT_EVERY:
                        if (!number(optarg, 0, 1e6, &v) ||
                            ((c == OPT_DROPOUT || c == OPT_VAL_SPLIT ||
                              c == OPT_MOMENTUM) &&
                             v >= 1))
                                return usage_error(cmd,
                                                   "'%s' is out of "
                                                   "range",
                                                   argv[optind - 1]);
                        *(c == OPT_LR          ? &o->lr
                          : c == OPT_MOMENTUM  ? &o->momentum
                          : c == OPT_DECAY     ? &o->weight_decay
                          : c == OPT_DROPOUT   ? &o->dropout
                          : c == OPT_VAL_SPLIT ? &o->val_split
                                               : &o->checkpoint_minutes) = v;
                        break;
                case OPT_SCHEDULE:
                        if (!strcmp(optarg, "paper"))
                                o->schedule = SCHEDULE_PAPER;
                        else if (!strcmp(optarg, "step"))
                                o->schedule = SCHEDULE_STEP;
                        else if (!strcmp(optarg, "cosine"))
                                o->schedule = SCHEDULE_COSINE;
                        else
                                return usage_error(cmd,
                                                   "unknown schedule "
                                                   "'%s'",
                                                   optarg);
                        break;
                case OPT_INIT:
                        if (strcmp(optarg, "paper") && strcmp(optarg, "he"))
                                return usage_error(cmd, "--init is paper or "
                                                        "he");
                        o->init = strcmp(optarg, "he") ? INIT_PAPER : INIT_HE;
                        break;
                case OPT_AUGMENT:
                        if (!strcmp(optarg, "none"))
                                o->augment = AUGMENT_NONE;
                        else if (!strcmp(optarg, "flip"))
                                o->augment = AUGMENT_FLIP;
                        else if (!strcmp(optarg, "flip-crop"))
                                o->augment = AUGMENT_FLIP_CROP;
                        else if (!strcmp(optarg, "paper"))
                                o->augment = AUGMENT_PAPER;
                        else
                                return usage_error(cmd,
                                                   "unknown augmentation "
                                                   "'%s'",
                                                   optarg);
                        break;
                case OPT_FREEZE:
                        if (strcmp(optarg, "features"))
                                return usage_error(cmd, "--freeze takes "
                                                        "'features'");
                        o->freeze = true;
                        break;
                case 'h': print_help(cmd); return -1;
                default: return option_error(cmd, c, argv);
                }
        }
        if (optind != argc - 1)
                return usage_error(cmd, "expected one DATADIR");
        if (o->val_dir && o->val_split > 0)
                return usage_error(cmd, "--val and --val-split exclude each "
                                        "other");
        return EXIT_ALL_DONE;
}

/* ---- data ------------------------------------------------------------- */

/* Decoded images, resized to the model's resize size, kept in memory. */
/* Images resized to the model's resize size: all decoded once and kept
 * (--cache), or decoded again each time they are used (streaming).  An
 * image that cannot be read is reported the first time and skipped from
 * then on. */
struct image_cache {
        const struct dataset *d;
        struct preprocess pre;
        struct shape input;
        bool resident;
        struct image *images; /* resident: width 0 if unreadable */
        volatile char *bad;   /* failures seen so far */
        size_t n;
};

static void cache_free(struct image_cache *c)
{
        for (size_t i = 0; c->images && i < c->n; i++)
                image_free(&c->images[i]);
        free(c->images);
        free((char *)c->bad);
        memset(c, 0, sizeof *c);
}

/* Decodes and resizes image i into out; reports a failure once. */
static bool decode(const struct image_cache *c, size_t i, struct image *out)
{
        struct image raw;
        struct image_options opt = image_defaults();
        struct an_error err;
        opt.min_side = c->pre.resize;
        memset(out, 0, sizeof *out);
        enum an_status st = image_load(&raw, c->d->paths[i], &opt, &err);
        if (st == AN_OK) {
                int w, h;
                resize_shorter_side(raw.width, raw.height, c->pre.resize, &w,
                                    &h);
                st = w >= c->input.w && h >= c->input.h
                             ? image_resize(&raw, w, h, out, &err)
                             : an_error_set(&err, AN_E_INVALID, "too small");
                image_free(&raw);
        }
        if (st != AN_OK &&
            !__atomic_test_and_set((char *)&c->bad[i], __ATOMIC_RELAXED))
                report(c->d->paths[i], "%s (skipped)", err.message);
        return st == AN_OK;
}

static bool cache_init(struct image_cache *c, const struct dataset *d,
                       const struct model *m, bool resident)
{
        *c = (struct image_cache){d,        m->pre, m->net.shapes[0],
                                  resident, NULL,   calloc(d->n + 1, 1),
                                  d->n};
        if (resident)
                c->images = calloc(d->n + 1, sizeof *c->images);
        if (!c->bad || (resident && !c->images))
                return false;
        if (resident) {
#pragma omp parallel for schedule(dynamic, 16)
                for (size_t i = 0; i < d->n; i++)
                        decode(c, i, &c->images[i]);
        }
        return true;
}

/* Image i: the resident copy, or decoded into tmp (free it after); NULL if
 * it cannot be read. */
static const struct image *cache_get(const struct image_cache *c, size_t i,
                                     struct image *tmp)
{
        if (c->resident)
                return c->images[i].width ? &c->images[i] : NULL;
        if (c->bad[i])
                return NULL;
        return decode(c, i, tmp) ? tmp : NULL;
}

struct split {
        size_t *index;
        size_t n;
};

/* The readable images of d, minus (or only) a seeded held-out fraction. */
static struct split make_split(const struct image_cache *c, double fraction,
                               bool held_out, uint64_t seed)
{
        struct split s = {malloc((c->n + 1) * sizeof *s.index), 0};
        if (!s.index)
                return s;
        for (size_t i = 0; i < c->n; i++) {
                bool in_val = fraction > 0 &&
                              rng_uniform(seed, 0x56414c, i) < fraction;
                bool readable = !c->resident || c->images[i].width;
                if (readable && in_val == held_out)
                        s.index[s.n++] = i;
        }
        return s;
}

/* The order of epoch e: Fisher-Yates from the seeded generator. */
static void shuffle(size_t *order, const struct split *s, uint64_t seed,
                    int epoch)
{
        memcpy(order, s->index, s->n * sizeof *order);
        for (size_t i = s->n; i > 1; i--) {
                size_t j =
                        rng_bits(seed, 0x5348554600ull + (uint64_t)epoch, i) %
                        i;
                size_t t = order[i - 1];
                order[i - 1] = order[j];
                order[j] = t;
        }
}

/* The network inputs and labels of items; unreadable images are left
 * out.  Returns how many samples were written.  threads: 1 from the
 * feeder thread, 0 for all cores. */
static int fill_batch(const struct image_cache *c, const size_t *items,
                      int count, enum augment_mode mode,
                      const struct colour_pca *pca, uint64_t seed, int epoch,
                      float *x, int *labels, bool *ok, int threads)
{
        size_t sample = shape_count(c->input);
#pragma omp parallel for schedule(dynamic, 4)                                  \
        num_threads(threads ? threads : omp_get_max_threads())
        for (int i = 0; i < count; i++) {
                struct image tmp = {0, 0, NULL};
                const struct image *img = cache_get(c, items[i], &tmp);
                ok[i] = img != NULL;
                if (img)
                        augment_sample(img, mode, pca, seed, (uint64_t)epoch,
                                       items[i], c->input, &c->pre,
                                       x + (size_t)i * sample);
                image_free(&tmp);
        }
        int kept = 0;
        for (int i = 0; i < count; i++) {
                if (!ok[i])
                        continue;
                if (kept != i)
                        memmove(x + (size_t)kept * sample,
                                x + (size_t)i * sample, sample * sizeof *x);
                labels[kept++] = c->d->labels[items[i]];
        }
        return kept;
}

/* ---- the model -------------------------------------------------------- */

static enum an_status set_labels(struct model *m, const struct dataset *d,
                                 struct an_error *err)
{
        labels_free(m->labels);
        m->labels = calloc(d->n_classes + 1, sizeof *m->labels);
        for (int c = 0; m->labels && c < d->n_classes; c++)
                if (!(m->labels[c] = strdup(d->class_names[c])))
                        return an_error_set(err, AN_E_NOMEM, "oom");
        return m->labels ? AN_OK : an_error_set(err, AN_E_NOMEM, "oom");
}

/* --from: the model, its last linear layer replaced when the number of
 * classes differs (fresh weights for it, the rest kept). */
static enum an_status start_from(struct model *m, const char *path, int classes,
                                 const struct train_options *o,
                                 struct an_error *err)
{
        struct model src;
        enum an_status st = model_open(&src, path, err);
        if (st != AN_OK)
                return st;
        struct arch a;
        st = arch_copy(&a, &src.net.arch, err);
        int last = -1;
        for (int i = 0; st == AN_OK && i < a.n_layers; i++)
                if (a.layers[i].type == LAYER_LINEAR)
                        last = i;
        bool replace = last >= 0 && (int)net_outputs(&src.net) != classes;
        if (st == AN_OK && replace)
                a.layers[last].out = classes;
        if (st == AN_OK && last < 0 && (int)net_outputs(&src.net) != classes)
                st = an_error_set(err, AN_E_UNSUPPORTED,
                                  "the model has %zu outputs and no linear "
                                  "layer to replace",
                                  net_outputs(&src.net));
        if (st == AN_OK)
                st = model_from_arch(m, &a, err);
        if (st == AN_OK) {
                m->pre = src.pre;
                model_init_weights(m, o->init, o->seed, replace ? last : a.n_layers);
                for (int i = 0; i < (replace ? last : a.n_layers); i++)
                        if (m->net.weights[i]) {
                                uint64_t n = layer_param_count(
                                        &a.layers[i], m->net.shapes[i]);
                                uint64_t nb =
                                        a.layers[i].bias ? a.layers[i].out : 0;
                                memcpy((float *)m->net.weights[i],
                                       src.net.weights[i],
                                       (n - nb) * sizeof(float));
                                if (nb)
                                        memcpy((float *)m->net.biases[i],
                                               src.net.biases[i],
                                               nb * sizeof(float));
                        }
        }
        arch_free(&a);
        model_close(&src);
        return st;
}

static enum an_status read_state(const struct model *m, const char *path,
                                 struct run_state *s, float *velocity,
                                 size_t n_params, struct an_error *err)
{
        struct st_file f;
        enum an_status st = st_open(&f, path, err);
        if (st != AN_OK)
                return st;
        const struct st_tensor *v = st_find(&f, "train.velocity");
        json_t *j =
                st_metadata(&f, "train_state")
                        ? json_loads(st_metadata(&f, "train_state"), 0, NULL)
                        : NULL;
        if (!v || v->count != n_params || v->dtype != ST_F32 || !j ||
            json_unpack(j, "{s:i,s:i,s:I,s:f,s:f,s:i,s:f}", "epoch", &s->epoch,
                        "step", &s->step, "global_step",
                        (json_int_t *)&s->global_step, "lr", &s->lr,
                        "best_val_error", &s->best_val_error, "bad_epochs",
                        &s->bad_epochs, "seconds", &s->seconds))
                st = an_error_set(err, AN_E_FORMAT,
                                  "not a checkpoint of this network (no "
                                  "complete training state)");
        else
                st = st_tensor_to_f32(v, velocity, err);
        (void)m;
        json_decref(j);
        st_close(&f);
        return st;
}

static enum an_status save_checkpoint(const struct model *m,
                                      const struct trainer *t,
                                      const struct run_state *s,
                                      const char *path, struct an_error *err)
{
        struct st_write_tensor v = {"train.velocity",
                                    ST_F32,
                                    1,
                                    {(int64_t)t->n_params},
                                    t->velocity};
        json_t *state = json_pack(
                "{s:i,s:i,s:I,s:f,s:f,s:i,s:f}", "epoch", s->epoch, "step",
                s->step, "global_step", (json_int_t)s->global_step, "lr", s->lr,
                "best_val_error", s->best_val_error, "bad_epochs",
                s->bad_epochs, "seconds", s->seconds);
        char *text = json_dumps(state, JSON_COMPACT);
        json_t *meta = json_pack("{s:s}", "train_state", text ? text : "{}");
        enum an_status st = model_save_with(m, path, ST_F32, &v, 1, meta, err);
        free(text);
        json_decref(state);
        json_decref(meta);
        return st;
}

/* ---- evaluation ------------------------------------------------------- */

struct eval_result {
        double loss, top1, top5;
};

static enum an_status evaluate(struct trainer *t, const struct image_cache *c,
                               const struct split *s, int batch, float *x,
                               int *labels, bool *ok, float *probs,
                               struct eval_result *r, struct an_error *err)
{
        double loss = 0;
        size_t top1 = 0, top5 = 0, seen = 0;
        int classes = (int)net_outputs(&t->model->net);
        for (size_t start = 0; start < s->n; start += batch) {
                int count = s->n - start < (size_t)batch ? (int)(s->n - start)
                                                         : batch;
                count = fill_batch(c, s->index + start, count, AUGMENT_NONE,
                                   NULL, 0, 0, x, labels, ok, 0);
                if (!count)
                        continue;
                seen += count;
                struct step_stats stats;
                enum an_status st = trainer_evaluate(t, x, labels, count, probs,
                                                     &stats, err);
                if (st != AN_OK)
                        return st;
                loss += stats.loss * count;
                top1 += stats.correct;
                for (int i = 0; i < count; i++) {
                        const float *p = probs + (size_t)i * classes;
                        int higher = 0;
                        for (int j = 0; j < classes; j++)
                                higher += p[j] > p[labels[i]];
                        top5 += higher < 5;
                }
        }
        r->loss = seen ? loss / seen : 0;
        r->top1 = seen ? (double)top1 / seen : 0;
        r->top5 = seen ? (double)top5 / seen : 0;
        return AN_OK;
}

/* ---- the loop ---------------------------------------------------------- */

struct run {
        const struct train_options *o;
        struct model *m;
        struct trainer t;
        struct train_config cfg;
        const struct dataset *train_set, *val_set;
        struct image_cache *train_cache, *val_cache;
        struct split train, val;
        struct colour_pca pca;
        struct run_state s;
        const char *checkpoint;
        const char *failed_file; /* the file an I/O error was about */
        float *x, *probs;
        int *labels;
        bool *ok;
        double epoch_loss;
        size_t epoch_correct, epoch_seen;
        FILE *log;
        bool tty;
};

static enum an_status write_checkpoint(struct run *r, struct an_error *err)
{
        enum an_status st =
                save_checkpoint(r->m, &r->t, &r->s, r->checkpoint, err);
        if (st != AN_OK)
                r->failed_file = r->checkpoint;
        return st;
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double scheduled_lr(const struct run *r, int epoch, int step, int steps)
{
        const struct train_options *o = r->o;
        switch (o->schedule) {
        case SCHEDULE_STEP: return o->lr * pow(0.1, epoch / o->lr_step);
        case SCHEDULE_COSINE: {
                double done = (double)epoch * steps + step;
                return 0.5 * o->lr *
                       (1 + cos(M_PI * done / ((double)o->epochs * steps)));
        }
        default: return r->s.lr; /* paper: changed after validation */
        }
}

static void progress(const struct run *r, int epoch, int step, int steps,
                     double rate)
{
        if (r->o->quiet)
                return;
        double loss = r->epoch_seen ? r->epoch_loss / r->epoch_seen : 0;
        double left =
                rate > 0 ? ((double)(r->o->epochs - epoch) * steps - step) *
                                   r->o->batch / rate
                         : 0;
        if (r->tty)
                fprintf(stderr,
                        "\repoch %d/%d  step %d/%d  %.0f images/s  loss "
                        "%.4f  ETA %dm%02ds ",
                        epoch + 1, r->o->epochs, step, steps, rate, loss,
                        (int)left / 60, (int)left % 60);
        else if (step == steps || step % (steps / 10 + 1) == 0)
                fprintf(stderr,
                        "alexnet: epoch %d/%d step %d/%d: %.0f images/s, "
                        "loss %.4f\n",
                        epoch + 1, r->o->epochs, step, steps, rate, loss);
}

/* ---- the feeder: batches prepared in the background -------------------
 *
 * One thread decodes and augments the batch after the one being trained
 * on (two slots circulate), in the order the steps will take them; the
 * network's OpenMP threads keep the cores.  Batches depend only on the
 * seed, the epoch and the step, so prefetching changes nothing. */

struct slot {
        int epoch, step, count;
        float *x;
        int *labels;
        bool *ok;
        bool ready;
};

struct feeder {
        struct run *r;
        struct slot slots[2];
        size_t *order;
        int first_epoch, first_step, taken;
        bool stop;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t thread;
};

static int steps_per_epoch(const struct run *r)
{
        return (int)((r->train.n + r->o->batch - 1) / r->o->batch);
}

static void fill_slot(struct feeder *f, struct slot *sl, int epoch, int step)
{
        struct run *r = f->r;
        size_t first = (size_t)step * r->o->batch;
        int count = r->train.n - first < (size_t)r->o->batch
                            ? (int)(r->train.n - first)
                            : r->o->batch;
        sl->epoch = epoch;
        sl->step = step;
        sl->count = fill_batch(r->train_cache, f->order + first, count,
                               r->o->augment, &r->pca, r->o->seed, epoch, sl->x,
                               sl->labels, sl->ok, 1);
}

static void *feeder_main(void *arg)
{
        struct feeder *f = arg;
        int k = 0;
        omp_set_num_threads(1); /* resizing must not start a team */
        for (int epoch = f->first_epoch; epoch < f->r->o->epochs; epoch++) {
                shuffle(f->order, &f->r->train, f->r->o->seed, epoch);
                int step0 = epoch == f->first_epoch ? f->first_step : 0;
                for (int step = step0; step < steps_per_epoch(f->r); step++) {
                        struct slot *sl = &f->slots[k++ % 2];
                        pthread_mutex_lock(&f->lock);
                        while (sl->ready && !f->stop)
                                pthread_cond_wait(&f->changed, &f->lock);
                        bool stop = f->stop;
                        pthread_mutex_unlock(&f->lock);
                        if (stop)
                                return NULL;
                        fill_slot(f, sl, epoch, step);
                        pthread_mutex_lock(&f->lock);
                        sl->ready = true;
                        pthread_cond_broadcast(&f->changed);
                        pthread_mutex_unlock(&f->lock);
                }
        }
        return NULL;
}

static bool feeder_start(struct feeder *f, struct run *r)
{
        size_t sample = shape_count(r->m->net.shapes[0]);
        memset(f, 0, sizeof *f);
        f->r = r;
        f->first_epoch = r->s.epoch;
        f->first_step = r->s.step;
        f->order = malloc((r->train.n + 1) * sizeof *f->order);
        bool ok = f->order != NULL;
        for (int i = 0; i < 2; i++) {
                struct slot *sl = &f->slots[i];
                sl->x = malloc((size_t)r->o->batch * sample * sizeof *sl->x);
                sl->labels = malloc((size_t)r->o->batch * sizeof *sl->labels);
                sl->ok = malloc((size_t)r->o->batch * sizeof *sl->ok);
                ok = ok && sl->x && sl->labels && sl->ok;
        }
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->changed, NULL);
        if (ok && pthread_create(&f->thread, NULL, feeder_main, f) == 0)
                return true;
        f->thread = 0;
        return false;
}

static void feeder_stop(struct feeder *f)
{
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
        if (f->thread)
                pthread_join(f->thread, NULL);
        for (int i = 0; i < 2; i++) {
                free(f->slots[i].x);
                free(f->slots[i].labels);
                free(f->slots[i].ok);
        }
        free(f->order);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->changed);
}

static struct slot *feeder_take(struct feeder *f)
{
        struct slot *sl = &f->slots[f->taken % 2];
        pthread_mutex_lock(&f->lock);
        while (!sl->ready)
                pthread_cond_wait(&f->changed, &f->lock);
        pthread_mutex_unlock(&f->lock);
        return sl;
}

static void feeder_release(struct feeder *f, struct slot *sl)
{
        pthread_mutex_lock(&f->lock);
        sl->ready = false;
        f->taken++;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
}

/* One epoch from step r->s.step, batches from the feeder. */
static enum an_status run_epoch(struct run *r, struct feeder *f, int epoch,
                                double *images_per_s, struct an_error *err)
{
        int steps = steps_per_epoch(r);
        double start = now(), last_ckpt = now();
        size_t images = 0;
        for (int step = r->s.step; step < steps; step++) {
                struct slot *sl = feeder_take(f);
                double lr = scheduled_lr(r, epoch, step, steps);
                struct step_stats stats = {0, 0};
                enum an_status st = AN_OK;
                r->t.step = r->s.global_step;
                if (sl->count)
                        st = trainer_step(&r->t, &r->cfg, sl->x, sl->labels,
                                          sl->count, lr, &stats, err);
                int count = sl->count;
                feeder_release(f, sl);
                if (st != AN_OK)
                        return st;
                r->epoch_loss += stats.loss * count;
                r->epoch_correct += stats.correct;
                r->epoch_seen += count;
                images += count;
                r->s.step = step + 1;
                r->s.global_step++;
                double elapsed = now() - start;
                *images_per_s = images / (elapsed > 0 ? elapsed : 1e-9);
                progress(r, epoch, step + 1, steps, *images_per_s);
                bool due = r->o->checkpoint_minutes > 0 &&
                           now() - last_ckpt > r->o->checkpoint_minutes * 60;
                if (stop_signal || due) {
                        r->s.seconds += now() - start;
                        start = now();
                        st = write_checkpoint(r, err);
                        last_ckpt = now();
                        if (st != AN_OK || stop_signal)
                                return st;
                }
        }
        r->s.seconds += now() - start;
        return AN_OK;
}

static void end_of_epoch_schedule(struct run *r, double val_error)
{
        if (val_error < r->s.best_val_error - 1e-12) {
                r->s.best_val_error = val_error;
                r->s.bad_epochs = 0;
        } else if (++r->s.bad_epochs >= 2 && r->o->schedule == SCHEDULE_PAPER) {
                /* the paper: divide by 10 when validation error stops
                 * improving (here: two epochs without a new best) */
                r->s.lr /= 10;
                r->s.bad_epochs = 0;
        }
}

/* Prints the epoch's line and appends it to the CSV log; a log that
 * cannot be written (a full disk) is an error, reported after the
 * epoch's checkpoint is safe. */
static enum an_status log_epoch(struct run *r, int epoch, double lr,
                                const struct eval_result *val, double seconds,
                                double rate, struct an_error *err)
{
        enum an_status st = AN_OK;
        double loss = r->epoch_seen ? r->epoch_loss / r->epoch_seen : 0;
        double top1 =
                r->epoch_seen ? (double)r->epoch_correct / r->epoch_seen : 0;
        if (r->log) {
                fprintf(r->log, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.1f\n",
                        epoch + 1, lr, loss, top1, val->loss, val->top1,
                        val->top5, seconds, rate);
                if (fflush(r->log) != 0 || ferror(r->log)) {
                        r->failed_file = r->o->log;
                        st = an_error_set(err, AN_E_IO, "write failed: %s",
                                          strerror(errno));
                }
        }
        if (!r->o->quiet)
                fprintf(stderr,
                        "%salexnet: epoch %d/%d: lr %.3g, train loss %.4f "
                        "top-1 "
                        "%.2f%%, val loss %.4f top-1 %.2f%% top-5 %.2f%%, "
                        "%.0f images/s\n",
                        r->tty ? "\n" : "", epoch + 1, r->o->epochs, lr, loss,
                        100 * top1, val->loss, 100 * val->top1, 100 * val->top5,
                        rate);
        return st;
}

static enum an_status train_loop(struct run *r, struct eval_result *final,
                                 struct an_error *err)
{
        enum an_status st = AN_OK;
        int steps = steps_per_epoch(r);
        struct feeder f;
        memset(final, 0, sizeof *final);
        if (!feeder_start(&f, r)) {
                feeder_stop(&f);
                return an_error_set(err, AN_E_NOMEM,
                                    "cannot start the data thread");
        }
        for (int epoch = r->s.epoch; st == AN_OK && epoch < r->o->epochs;
             epoch++) {
                double rate = 0, start = now();
                double lr = scheduled_lr(r, epoch, r->s.step, steps);
                st = run_epoch(r, &f, epoch, &rate, err);
                if (st != AN_OK || stop_signal)
                        break;
                struct eval_result val = {0, 0, 0};
                if (r->val.n)
                        st = evaluate(&r->t, r->val_cache, &r->val, r->o->batch,
                                      r->x, r->labels, r->ok, r->probs, &val,
                                      err);
                if (st != AN_OK)
                        break;
                *final = val;
                end_of_epoch_schedule(r, 1 - val.top1);
                enum an_status log_st =
                        log_epoch(r, epoch, lr, &val, now() - start, rate, err);
                r->s.epoch = epoch + 1;
                r->s.step = 0;
                r->epoch_loss = 0;
                r->epoch_correct = r->epoch_seen = 0;
                st = write_checkpoint(r, err);
                if (st == AN_OK)
                        st = log_st;
        }
        feeder_stop(&f);
        return st;
}

static void record_provenance(struct model *m, const struct train_options *o,
                              const char *datadir, const struct run *r,
                              const struct eval_result *val)
{
        char when[32];
        time_t t = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        json_t *p = m->provenance;
        json_object_set_new(p, "trained_on", json_string(datadir));
        json_object_set_new(p, "train_images",
                            json_integer((json_int_t)r->train.n));
        json_object_set_new(p, "val_images",
                            json_integer((json_int_t)r->val.n));
        json_object_set_new(p, "epochs", json_integer(o->epochs));
        json_object_set_new(p, "val_top1", json_real(val->top1));
        json_object_set_new(p, "val_top5", json_real(val->top5));
        json_object_set_new(p, "train_seconds", json_real(r->s.seconds));
        json_object_set_new(p, "trained_at", json_string(when));
        json_object_set_new(p, "tool", json_string("alexnet " PACKAGE_VERSION));
        json_object_set_new(p, "seed", json_integer((json_int_t)o->seed));
}

/* PCA of the training pixels: over a spread sample of up to 1000 training
 * images (borrowed from the cache, or decoded for the purpose). */
static void fit_pca(const struct image_cache *c, const struct split *train,
                    struct colour_pca *pca)
{
        size_t n = train->n < 1000 ? train->n : 1000, have = 0;
        struct image *sample = calloc(n + 1, sizeof *sample);
        for (size_t i = 0; sample && i < n; i++) {
                struct image tmp = {0, 0, NULL};
                const struct image *img =
                        cache_get(c, train->index[i * train->n / n], &tmp);
                if (img)
                        sample[have++] = c->resident ? *img : tmp;
        }
        colour_pca_fit(sample, have, pca);
        for (size_t i = 0; !c->resident && i < have; i++)
                image_free(&sample[i]);
        free(sample);
}

/* --resize: the shorter side images are resized to before the crop (the
 * model file records it, so predict does the same). */
static enum an_status set_resize(struct model *m, int resize,
                                 struct an_error *err)
{
        struct shape in = m->net.arch.input;
        if (resize < in.h || resize < in.w)
                return an_error_set(err, AN_E_INVALID,
                                    "--resize %d is smaller than the %dx%d "
                                    "input",
                                    resize, in.h, in.w);
        m->pre.resize = resize;
        return AN_OK;
}

/* Opens or makes the model to train; on failure nothing stays open. */
static enum an_status build_model(struct model *m,
                                  const struct train_options *o, int classes,
                                  struct an_error *err)
{
        enum an_status st;
        if (o->resume) {
                st = model_open(m, o->resume, err);
        } else if (o->from) {
                st = start_from(m, o->from, classes, o, err);
        } else {
                st = model_from_preset(m, o->preset, classes, err);
                if (st == AN_OK)
                        model_init_weights(m, o->init, o->seed, 0);
        }
        if (st != AN_OK)
                return st; /* nothing opened */
        if (!m->owned_params)
                st = model_own_params(m, err);
        if (st == AN_OK && (int)net_outputs(&m->net) != classes)
                st = an_error_set(err, AN_E_INVALID,
                                  "the model has %zu outputs for %d classes",
                                  net_outputs(&m->net), classes);
        if (st == AN_OK && o->resize)
                st = set_resize(m, o->resize, err);
        for (int i = 0;
             st == AN_OK && o->dropout >= 0 && i < m->net.arch.n_layers; i++)
                if (m->net.arch.layers[i].type == LAYER_DROPOUT)
                        m->net.arch.layers[i].drop_p = o->dropout;
        if (st != AN_OK)
                model_close(m);
        return st;
}

static int frozen_layers(const struct model *m, bool freeze)
{
        for (int i = 0; freeze && i < m->net.arch.n_layers; i++)
                if (m->net.arch.layers[i].type == LAYER_LINEAR)
                        return i;
        return 0;
}

static bool alloc_buffers(struct run *r)
{
        size_t sample = shape_count(r->m->net.shapes[0]);
        size_t classes = net_outputs(&r->m->net);
        r->x = malloc((size_t)r->o->batch * sample * sizeof *r->x);
        r->probs = malloc((size_t)r->o->batch * classes * sizeof *r->probs);
        r->labels = malloc((size_t)r->o->batch * sizeof *r->labels);
        r->ok = malloc((size_t)r->o->batch * sizeof *r->ok);
        return r->x && r->probs && r->labels && r->ok;
}

static void free_run(struct run *r)
{
        trainer_free(&r->t);
        free(r->x);
        free(r->probs);
        free(r->labels);
        free(r->ok);
        free(r->train.index);
        free(r->val.index);
        if (r->log)
                fclose(r->log);
}

/* The training and validation folders; returns EXIT_FATAL on failure, -1
 * on success. */
static int load_data(struct run *r, const char *datadir, struct dataset *train,
                     struct dataset *val)
{
        struct an_error err;
        if (dataset_scan(train, datadir, &err) != AN_OK) {
                report(datadir, "%s", err.message);
                return EXIT_FATAL;
        }
        if (r->o->val_dir) {
                if (dataset_scan(val, r->o->val_dir, &err) != AN_OK) {
                        report(r->o->val_dir, "%s", err.message);
                        return EXIT_FATAL;
                }
                bool same = val->n_classes == train->n_classes;
                for (int c = 0; same && c < val->n_classes; c++)
                        same = !strcmp(val->class_names[c],
                                       train->class_names[c]);
                if (!same) {
                        report(r->o->val_dir,
                               "its class folders differ from "
                               "%s's",
                               datadir);
                        return EXIT_FATAL;
                }
        }
        return -1;
}

/* MODEL.ckpt beside the model; when MODEL is a device or pipe
 * (/dev/stdout), NAME.ckpt in the current directory instead, never a new
 * file in /dev. */
static void default_checkpoint(const char *output, char *buf, size_t size)
{
        struct stat st;
        if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
                const char *slash = strrchr(output, '/');
                snprintf(buf, size, "%s.ckpt", slash ? slash + 1 : output);
        } else {
                snprintf(buf, size, "%s.ckpt", output);
        }
}

static int run_train(int argc, char **argv)
{
        struct train_options o = {.output = "model.safetensors",
                                  .preset = "alexnet-owt",
                                  .epochs = 90,
                                  .batch = 128,
                                  .lr_step = 30,
                                  .lr = 0.01,
                                  .momentum = 0.9,
                                  .weight_decay = 5e-4,
                                  .dropout = -1,
                                  .schedule = SCHEDULE_PAPER,
                                  .init = INIT_PAPER,
                                  .augment = AUGMENT_PAPER,
                                  .seed = 1};
        int rc = parse_options(argc, argv, &o);
        if (rc != EXIT_ALL_DONE)
                return rc < 0 ? EXIT_ALL_DONE : rc;
        if (o.threads)
                omp_set_num_threads(o.threads);
        const char *datadir = argv[optind];
        char checkpoint[4096];
        default_checkpoint(o.output, checkpoint, sizeof checkpoint);

        struct dataset train = {0}, val = {0};
        struct image_cache train_cache = {0}, val_cache = {0};
        struct model m;
        struct an_error err;
        struct run r = {.o = &o,
                        .m = &m,
                        .checkpoint = o.checkpoint ? o.checkpoint : checkpoint};
        r.tty = isatty(STDERR_FILENO);
        int status = load_data(&r, datadir, &train, &val);
        if (status != -1) {
                dataset_free(&train);
                dataset_free(&val);
                return status;
        }
        if (build_model(&m, &o, train.n_classes, &err) != AN_OK) {
                report(o.resume ? o.resume
                       : o.from ? o.from
                                : o.preset,
                       "%s", err.message);
                dataset_free(&train);
                dataset_free(&val);
                return EXIT_FATAL;
        }
        set_labels(&m, &train, &err);
        bool cached = cache_init(&train_cache, &train, &m, o.cache) &&
                      (!o.val_dir || cache_init(&val_cache, &val, &m, o.cache));
        r.train_set = &train;
        r.val_set = o.val_dir ? &val : &train;
        r.train_cache = &train_cache;
        r.val_cache = o.val_dir ? &val_cache : &train_cache;
        r.train = make_split(&train_cache, o.val_split, false, o.seed);
        r.val = o.val_dir ? make_split(&val_cache, 0, false, o.seed)
                          : make_split(&train_cache, o.val_split, true, o.seed);
        r.cfg = (struct train_config){o.momentum, o.weight_decay, true, o.seed,
                                      frozen_layers(&m, o.freeze)};
        r.s = (struct run_state){0, 0, 0, o.lr, 1.0, 0, 0};
        enum an_status st = !cached     ? an_error_set(&err, AN_E_NOMEM, "oom")
                            : r.train.n ? AN_OK
                                        : an_error_set(&err, AN_E_INVALID,
                                                       "no readable training "
                                                       "images");
        if (st == AN_OK && o.augment == AUGMENT_PAPER)
                fit_pca(&train_cache, &r.train, &r.pca);
        if (st == AN_OK && !alloc_buffers(&r))
                st = an_error_set(&err, AN_E_NOMEM, "out of memory");
        if (st == AN_OK)
                st = trainer_init(&r.t, &m, o.batch, &err);
        if (st == AN_OK && o.resume)
                st = read_state(&m, o.resume, &r.s, r.t.velocity, r.t.n_params,
                                &err);
        if (st == AN_OK && o.log && !(r.log = fopen(o.log, "a")))
                st = an_error_set(&err, AN_E_IO, "%s: %s", o.log,
                                  strerror(errno));
        if (st == AN_OK && r.log && ftell(r.log) == 0)
                fputs("epoch,lr,train_loss,train_top1,val_loss,val_top1,"
                      "val_top5,seconds,images_per_s\n",
                      r.log);
        struct eval_result final = {0, 0, 0};
        if (st == AN_OK) {
                signal(SIGINT, on_signal);
                signal(SIGTERM, on_signal);
                st = train_loop(&r, &final, &err);
        }
        if (st == AN_OK && stop_signal) {
                report("train",
                       "interrupted; checkpoint written to %s, "
                       "continue with --resume %s",
                       r.checkpoint, r.checkpoint);
                status = EXIT_FATAL;
        } else if (st == AN_OK) {
                record_provenance(&m, &o, datadir, &r, &final);
                st = model_save(&m, o.output, ST_F32, &err);
                status = st == AN_OK ? EXIT_ALL_DONE : EXIT_FATAL;
                if (st != AN_OK)
                        report(o.output, "%s", err.message);
        } else {
                report(r.failed_file ? r.failed_file : "train", "%s",
                       err.message);
                status = EXIT_FATAL;
        }
        free_run(&r);
        cache_free(&train_cache);
        cache_free(&val_cache);
        dataset_free(&train);
        dataset_free(&val);
        model_close(&m);
        return status;
}

const struct command train_command = {
        "train",
        run_train,
        "train a network on a folder of labelled images",
        train_help,
};
