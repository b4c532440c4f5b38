/* alexnet train: SGD on an ImageFolder directory, with checkpoints that
 * survive interruption and resume bit for bit. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "model.h"
#include "rng.h"
#include "train.h"

static const char train_help[] =
        "usage: alexnet train [-o MODEL] [--preset NAME] [--from MODEL]\n"
        "       [--epochs N] [-b BATCH] [--lr RATE] [--momentum M]\n"
        "       [--weight-decay D] [--schedule paper|step|cosine] [--lr-step "
        "N]\n"
        "       [--init paper|he] [--dropout P] [--augment "
        "none|flip-crop|paper]\n"
        "       [--val DIR | --val-split F] [--seed N] [-j THREADS]\n"
        "       [--checkpoint FILE] [--checkpoint-every MINUTES] [--resume "
        "FILE]\n"
        "       [--freeze features] [--log FILE] [--quiet] DATADIR\n"
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
        "      --augment MODE          none, flip-crop, or paper (default: "
        "crops,\n"
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
        "      --log FILE              append one CSV line per epoch\n"
        "  -q, --quiet                 no progress on standard error\n"
        "  -h, --help                  show this help\n";

enum schedule { SCHEDULE_PAPER, SCHEDULE_STEP, SCHEDULE_COSINE };

struct train_options {
        const char *output, *preset, *from, *val_dir, *checkpoint, *resume,
                *log;
        int epochs, batch, lr_step, threads;
        double lr, momentum, weight_decay, dropout, val_split,
                checkpoint_minutes;
        enum schedule schedule;
        enum init_mode init;
        enum augment_mode augment;
        uint64_t seed;
        bool freeze, quiet;
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
                OPT_LOG
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
                case OPT_EPOCHS:
                case 'b':
                case OPT_LR_STEP:
                case 'j':
                        if (!number(optarg, 1, 1 << 20, &v) || v != floor(v))
                                return usage_error(cmd,
                                                   "'%s' needs a positive "
                                                   "whole number",
                                                   argv[optind - 1]);
                        *(c == OPT_EPOCHS ? &o->epochs
                          : c == 'b'      ? &o->batch
                          : c == 'j'      ? &o->threads
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
struct image_cache {
        struct image *images; /* width 0: could not be read */
        size_t n;
};

static void cache_free(struct image_cache *c)
{
        for (size_t i = 0; c->images && i < c->n; i++)
                image_free(&c->images[i]);
        free(c->images);
        memset(c, 0, sizeof *c);
}

/* Decodes every image once, in parallel; unreadable ones are reported once
 * and skipped from then on.  Returns how many failed. */
static size_t cache_load(struct image_cache *c, const struct dataset *d,
                         const struct preprocess *pre, struct shape input)
{
        c->n = d->n;
        c->images = calloc(d->n, sizeof *c->images);
        size_t failed = 0;
        if (!c->images)
                return d->n;
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : failed)
        for (size_t i = 0; i < d->n; i++) {
                struct image raw, *out = &c->images[i];
                struct image_options opt = image_defaults();
                struct an_error err;
                opt.min_side = pre->resize;
                enum an_status st = image_load(&raw, d->paths[i], &opt, &err);
                if (st == AN_OK) {
                        int w, h;
                        resize_shorter_side(raw.width, raw.height, pre->resize,
                                            &w, &h);
                        st = w >= input.w && h >= input.h
                                     ? image_resize(&raw, w, h, out, &err)
                                     : an_error_set(&err, AN_E_INVALID,
                                                    "too small");
                        image_free(&raw);
                }
                if (st != AN_OK) {
                        memset(out, 0, sizeof *out);
#pragma omp critical
                        report(d->paths[i], "%s (skipped)", err.message);
                        failed++;
                }
        }
        return failed;
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
                if (c->images[i].width && in_val == held_out)
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

static void fill_batch(const struct image_cache *c, const size_t *items,
                       int count, enum augment_mode mode,
                       const struct colour_pca *pca, uint64_t seed, int epoch,
                       const struct model *m, const struct dataset *d, float *x,
                       int *labels)
{
        struct shape in = m->net.shapes[0];
        size_t sample = shape_count(in);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < count; i++) {
                augment_sample(&c->images[items[i]], mode, pca, seed,
                               (uint64_t)epoch, items[i], in, &m->pre,
                               x + (size_t)i * sample);
                labels[i] = d->labels[items[i]];
        }
}

/* ---- the model -------------------------------------------------------- */

static enum an_status set_labels(struct model *m, const struct dataset *d,
                                 struct an_error *err)
{
        for (size_t i = 0; m->labels && m->labels[i]; i++)
                free(m->labels[i]);
        free(m->labels);
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
                init_weights(m, o->init, o->seed, replace ? last : a.n_layers);
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

static enum an_status write_checkpoint(const struct model *m,
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
                               const struct split *s, const struct dataset *d,
                               int batch, float *x, int *labels, float *probs,
                               struct eval_result *r, struct an_error *err)
{
        double loss = 0;
        size_t top1 = 0, top5 = 0;
        int classes = (int)net_outputs(&t->model->net);
        for (size_t start = 0; start < s->n; start += batch) {
                int count = s->n - start < (size_t)batch ? (int)(s->n - start)
                                                         : batch;
                fill_batch(c, s->index + start, count, AUGMENT_NONE, NULL, 0, 0,
                           t->model, d, x, labels);
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
        r->loss = s->n ? loss / s->n : 0;
        r->top1 = s->n ? (double)top1 / s->n : 0;
        r->top5 = s->n ? (double)top5 / s->n : 0;
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
        float *x, *probs;
        int *labels;
        size_t *order;
        double epoch_loss;
        size_t epoch_correct, epoch_seen;
        FILE *log;
        bool tty;
};

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

/* One epoch from step r->s.step; returns false when interrupted. */
static enum an_status run_epoch(struct run *r, int epoch, double *images_per_s,
                                struct an_error *err)
{
        int batch = r->o->batch;
        int steps = (int)((r->train.n + batch - 1) / batch);
        shuffle(r->order, &r->train, r->o->seed, epoch);
        double start = now(), last_ckpt = now();
        size_t images = 0;
        for (int step = r->s.step; step < steps; step++) {
                size_t first = (size_t)step * batch;
                int count = r->train.n - first < (size_t)batch
                                    ? (int)(r->train.n - first)
                                    : batch;
                fill_batch(r->train_cache, r->order + first, count,
                           r->o->augment, &r->pca, r->o->seed, epoch, r->m,
                           r->train_set, r->x, r->labels);
                double lr = scheduled_lr(r, epoch, step, steps);
                struct step_stats stats;
                r->t.step = r->s.global_step;
                enum an_status st =
                        trainer_step(&r->t, &r->cfg, r->x, r->labels, count, lr,
                                     &stats, err);
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
                        st = write_checkpoint(r->m, &r->t, &r->s, r->checkpoint,
                                              err);
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

static void log_epoch(struct run *r, int epoch, double lr,
                      const struct eval_result *val, double seconds,
                      double rate)
{
        double loss = r->epoch_seen ? r->epoch_loss / r->epoch_seen : 0;
        double top1 =
                r->epoch_seen ? (double)r->epoch_correct / r->epoch_seen : 0;
        if (r->log) {
                fprintf(r->log, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.1f\n",
                        epoch + 1, lr, loss, top1, val->loss, val->top1,
                        val->top5, seconds, rate);
                fflush(r->log);
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
}

static enum an_status train_loop(struct run *r, struct eval_result *final,
                                 struct an_error *err)
{
        enum an_status st = AN_OK;
        int steps = (int)((r->train.n + r->o->batch - 1) / r->o->batch);
        memset(final, 0, sizeof *final);
        for (int epoch = r->s.epoch; epoch < r->o->epochs; epoch++) {
                double rate = 0, start = now();
                double lr = scheduled_lr(r, epoch, r->s.step, steps);
                st = run_epoch(r, epoch, &rate, err);
                if (st != AN_OK || stop_signal)
                        return st;
                struct eval_result val = {0, 0, 0};
                if (r->val.n)
                        st = evaluate(&r->t, r->val_cache, &r->val, r->val_set,
                                      r->o->batch, r->x, r->labels, r->probs,
                                      &val, err);
                if (st != AN_OK)
                        return st;
                *final = val;
                end_of_epoch_schedule(r, 1 - val.top1);
                log_epoch(r, epoch, lr, &val, now() - start, rate);
                r->s.epoch = epoch + 1;
                r->s.step = 0;
                r->epoch_loss = 0;
                r->epoch_correct = r->epoch_seen = 0;
                st = write_checkpoint(r->m, &r->t, &r->s, r->checkpoint, err);
                if (st != AN_OK)
                        return st;
        }
        return AN_OK;
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
                        init_weights(m, o->init, o->seed, 0);
        }
        if (st == AN_OK && !m->owned_params)
                st = model_own_params(m, err);
        if (st == AN_OK && (int)net_outputs(&m->net) != classes)
                st = an_error_set(err, AN_E_INVALID,
                                  "the model has %zu outputs for %d classes",
                                  net_outputs(&m->net), classes);
        for (int i = 0;
             st == AN_OK && o->dropout >= 0 && i < m->net.arch.n_layers; i++)
                if (m->net.arch.layers[i].type == LAYER_DROPOUT)
                        m->net.arch.layers[i].drop_p = o->dropout;
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
        r->order = malloc((r->train.n + 1) * sizeof *r->order);
        return r->x && r->probs && r->labels && r->order;
}

static void free_run(struct run *r)
{
        trainer_free(&r->t);
        free(r->x);
        free(r->probs);
        free(r->labels);
        free(r->order);
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
        snprintf(checkpoint, sizeof checkpoint, "%s.ckpt", o.output);

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
        cache_load(&train_cache, &train, &m.pre, m.net.shapes[0]);
        if (o.val_dir)
                cache_load(&val_cache, &val, &m.pre, m.net.shapes[0]);
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
        if (o.augment == AUGMENT_PAPER)
                colour_pca_fit(&train_cache.images[0], train_cache.n, &r.pca);
        enum an_status st = r.train.n ? AN_OK
                                      : an_error_set(&err, AN_E_INVALID,
                                                     "no readable training "
                                                     "images");
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
                report("train", "%s", err.message);
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
