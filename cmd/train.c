/* alexnet train: SGD on an ImageFolder directory, with checkpoints that
 * survive interruption and resume bit for bit.  The run itself is library
 * code (lib/train/run.h); this file parses the options, shows progress,
 * writes the CSV log and maps errors to exit statuses. */
#include <errno.h>
#include <jansson.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "cli.h"
#include "train/checkpoint.h"
#include "train/comm.h"
#include "train/run.h"
#include "train/settings.h"
#include "train/train_log.h"
#include "threads.h"

/* ---- options ------------------------------------------------------------ */

static struct train_settings settings;
static const char *output = "model.safetensors", *checkpoint, *resume,
                  *log_path;
static double checkpoint_minutes;
static int threads;
static int freeze_choice = -1; /* 0: --freeze features */
static bool cache, quiet, keep_checkpoint;
static int processes = 1; /* of a distributed run: each step takes
                           * processes * batch images */

_Static_assert(sizeof(enum schedule) == sizeof(int) &&
                       sizeof(enum init_mode) == sizeof(int) &&
                       sizeof(enum augment_mode) == sizeof(int) &&
                       sizeof(enum lr_scale) == sizeof(int) &&
                       sizeof(enum optimizer) == sizeof(int) &&
                       sizeof(enum allreduce) == sizeof(int),
               "choices are stored through int pointers");

static bool store_path(const char *value, void *field)
{
        if (strlen(value) >= SETTINGS_PATH_MAX)
                return false;
        strcpy(field, value);
        return true;
}

static bool store_name(const char *value, void *field)
{
        if (strlen(value) >= SETTINGS_NAME_MAX)
                return false;
        strcpy(field, value);
        return true;
}

static bool store_seed(const char *value, void *target)
{
        long v;
        if (!parse_long(value, 0, 1L << 53, &v))
                return false;
        *(uint64_t *)target = (uint64_t)v;
        return true;
}

static const char *const freeze_names[] = {"features", NULL};

static const struct option_spec train_options[] = {
        OPT_STRING('o', "output", "MODEL",
                   "the trained model (default model.safetensors)", &output),
        OPT_CUSTOM(0, "preset", "NAME",
                   "network to train from scratch: alexnet,\n"
                   "alexnet-owt (default), alexnet-half or\n"
                   "alexnet-small (32x32 images)",
                   settings.preset, store_name, "a preset name"),
        OPT_CUSTOM(0, "from", "MODEL",
                   "start from a model file (fine-tuning); the\n"
                   "last layer is replaced if the classes differ",
                   settings.from, store_path, "a path"),
        OPT_INT(0, "epochs", "N", "epochs (default 90)", &settings.epochs, 1,
                1 << 20),
        OPT_INT('b', "batch", "BATCH",
                "images per step (default 128); under mpirun\n"
                "per process: each step then takes N*BATCH",
                &settings.batch, 1, 1 << 20),
        OPT_NUMBER(0, "lr", "RATE", "learning rate (default 0.01)",
                   &settings.lr, 0, 1e6, false),
        OPT_NUMBER(0, "momentum", "M", "(default 0.9)", &settings.momentum, 0,
                   1, true),
        OPT_NUMBER(0, "weight-decay", "D", "(default 0.0005)",
                   &settings.weight_decay, 0, 1e6, false),
        OPT_CHOICE(0, "schedule", "S",
                   "paper: divide by 10 when validation error\n"
                   "stops improving (default); step: divide by\n"
                   "10 every --lr-step epochs; cosine",
                   &settings.schedule, schedule_names),
        OPT_INT(0, "lr-step", "N", "epochs per step of the step schedule (30)",
                &settings.lr_step, 1, 1 << 20),
        OPT_CHOICE(0, "lr-scale", "linear",
                   "multiply the rate by the number of processes\n"
                   "(none: as given, the default)",
                   &settings.lr_scale, lr_scale_names),
        OPT_NUMBER(0, "warmup", "EPOCHS",
                   "raise the rate linearly from 0 over EPOCHS\n"
                   "epochs (fractions allowed; default 0)",
                   &settings.warmup, 0, 1e6, false),
        OPT_CHOICE(0, "optimizer", "sgd|lars",
                   "sgd (default) or lars: per-tensor rates\n"
                   "(You et al. 2017) for very large batches",
                   &settings.optimizer, optimizer_names),
        OPT_NUMBER(0, "lars-eta", "ETA", "LARS trust coefficient (0.001)",
                   &settings.lars_eta, 1e-9, 1e6, true),
        OPT_CHOICE(0, "allreduce", "f32|bf16",
                   "gradients exchanged between processes as\n"
                   "float32 (default) or bfloat16 (half the bytes)",
                   &settings.allreduce, allreduce_names),
        OPT_CHOICE(0, "init", "MODE",
                   "paper: N(0, 0.01), biases 1 (default); he", &settings.init,
                   init_names),
        OPT_NUMBER(0, "dropout", "P",
                   "dropout probability of the dropout layers\n"
                   "(default: as the network says, 0.5)",
                   &settings.dropout, 0, 1, true),
        OPT_CHOICE(0, "augment", "MODE",
                   "none, flip (centre crop, random flips),\n"
                   "flip-crop, or paper (default: crops,\n"
                   "flips and PCA colour noise)",
                   &settings.augment, augment_names),
        OPT_CUSTOM(0, "val", "DIR", "validation images (same class folders)",
                   settings.val, store_path, "a path"),
        OPT_NUMBER(0, "val-split", "F",
                   "hold out fraction F of DATADIR instead",
                   &settings.val_split, 0, 1, true),
        OPT_CUSTOM(0, "seed", "N", "seed of every random choice (default 1)",
                   &settings.seed, store_seed, "a whole number from 0 to 2^53"),
        OPT_INT('j', "threads", "THREADS",
                "compute threads (default: the cores free)", &threads, 1,
                1 << 20),
        OPT_STRING(0, "checkpoint", "FILE",
                   "checkpoint path (default MODEL.ckpt)", &checkpoint),
        OPT_NUMBER(0, "checkpoint-every", "MINUTES",
                   "also checkpoint every MINUTES\nminutes (fractions allowed)",
                   &checkpoint_minutes, 0, 1e6, false),
        OPT_STRING(0, "resume", "FILE",
                   "continue the run saved in checkpoint FILE\n"
                   "(DATADIR and the options are the run's own)",
                   &resume),
        OPT_CHOICE(0, "freeze", "features",
                   "train only the fully connected layers", &freeze_choice,
                   freeze_names),
        OPT_INT(0, "resize", "N",
                "shorter image side before the centre or\n"
                "random crop (default: the model's)",
                &settings.resize, 1, 1 << 16),
        OPT_FLAG(0, "keep-checkpoint",
                 "keep the checkpoint after the model is\n"
                 "written (it is removed otherwise)",
                 &keep_checkpoint),
        OPT_FLAG(0, "fast-jpeg",
                 "decode JPEGs at reduced scale (faster; not\n"
                 "the pixels torchvision sees)",
                 &settings.fast_jpeg),
        OPT_FLAG(0, "cache", "keep the decoded images in memory", &cache),
        OPT_STRING(0, "log", "FILE",
                   "append one CSV line per epoch, and draw the\n"
                   "curves beside it (FILE.csv: FILE.png)",
                   &log_path),
        OPT_FLAG('q', "quiet", "no progress on standard error", &quiet),
        OPT_HELP,
        OPT_END,
};

/* What a resumed run may be given anew; every other option must repeat
 * what the checkpoint recorded. */
static const char *const free_on_resume[] = {
        "output",     "epochs",           "batch",  "threads",
        "checkpoint", "checkpoint-every", "resume", "cache",
        "log",        "keep-checkpoint",  "quiet",  "help",
        NULL};

static bool free_to_change(const char *long_name)
{
        for (int i = 0; free_on_resume[i]; i++)
                if (!strcmp(free_on_resume[i], long_name))
                        return true;
        return false;
}

/* Whether the option that sets target was on the command line. */
static bool was_given(const bool *given, const void *target)
{
        for (int i = 0; train_options[i].kind != OPTION_END; i++)
                if (given[i] && train_options[i].target == target)
                        return true;
        return false;
}

/* --weight-decay -> "weight_decay", the key in the recorded settings. */
static void settings_key(const char *long_name, char *key, size_t size)
{
        snprintf(key, size, "%s", long_name);
        for (char *c = key; *c; c++)
                if (*c == '-')
                        *c = '_';
}

/* The first option given whose value differs from the checkpoint's:
 * reported, false. */
static bool given_options_agree(const bool *given,
                                const struct train_settings *recorded)
{
        json_t *mine = train_settings_to_json(&settings);
        json_t *theirs = train_settings_to_json(recorded);
        bool agree = mine && theirs;
        for (int i = 0; agree && train_options[i].kind != OPTION_END; i++) {
                const char *name = train_options[i].long_name;
                char key[64];
                if (!given[i] || free_to_change(name))
                        continue;
                settings_key(name, key, sizeof key);
                json_t *a = json_object_get(mine, key),
                       *b = json_object_get(theirs, key);
                if (a && b && !json_equal(a, b)) {
                        char *was = json_dumps(b, JSON_ENCODE_ANY);
                        usage_error(&train_command,
                                    "--%s differs from the checkpoint's %s; a "
                                    "resumed run keeps its options (only -o, "
                                    "--epochs, -b, --checkpoint, "
                                    "--checkpoint-every, --log, --cache, -j "
                                    "and -q may change)",
                                    name, was ? was : "value");
                        free(was);
                        agree = false;
                }
        }
        json_decref(mine);
        json_decref(theirs);
        return agree;
}

/* --resume: the run's settings from the checkpoint, with the options that
 * may change applied; DATADIR may be given again (the data moved). */
static int take_recorded_settings(const bool *given, const char *datadir)
{
        struct train_settings recorded;
        struct an_error err;
        if (checkpoint_read_settings(resume, &recorded, &err) != AN_OK) {
                report(resume, "%s", err.message);
                return EXIT_FATAL;
        }
        if (!given_options_agree(given, &recorded))
                return EXIT_FATAL;
        int epochs = settings.epochs, batch = settings.batch;
        settings = recorded;
        if (was_given(given, &settings.epochs))
                settings.epochs = epochs;
        /* -b may change: with another number of processes, to keep the
         * global batch (and so the run) the same. */
        if (was_given(given, &settings.batch))
                settings.batch = batch;
        if (datadir)
                strcpy(settings.datadir, datadir);
        return EXIT_ALL_DONE;
}

/* MODEL.ckpt beside the model; when MODEL is a device or pipe
 * (/dev/stdout), NAME.ckpt in the current directory instead, never a new
 * file in /dev. */
static void default_checkpoint(char *buf, size_t size)
{
        struct stat st;
        if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
                const char *slash = strrchr(output, '/');
                snprintf(buf, size, "%s.ckpt", slash ? slash + 1 : output);
        } else {
                snprintf(buf, size, "%s.ckpt", output);
        }
}

/* A resumed run writes where it wrote: MODEL for MODEL.ckpt, and the
 * checkpoint it resumes. */
static void resumed_paths(const bool *given, char *model, size_t size)
{
        size_t n = strlen(resume);
        if (!was_given(given, &output) && n > 5 && n - 5 < size &&
            !strcmp(resume + n - 5, ".ckpt")) {
                snprintf(model, size, "%.*s", (int)(n - 5), resume);
                output = model;
        }
        if (!was_given(given, &checkpoint))
                checkpoint = resume;
}

/* Options into settings and paths; returns EXIT_ALL_DONE to go on, else
 * the status to exit with (-1: --help was shown). */
static int parse_options(int argc, char **argv, char *model, size_t size)
{
        bool given[sizeof train_options / sizeof train_options[0]];
        train_settings_defaults(&settings);
        int operands = options_parse(&train_command, argc, argv, given);
        if (operands < 0)
                return operands;
        if (operands > 1 || (operands == 0 && !resume))
                return usage_error(&train_command, "expected one DATADIR");
        if (*settings.val && settings.val_split > 0)
                return usage_error(&train_command, "--val and --val-split "
                                                   "exclude each other");
        if (operands && !store_path(argv[1], settings.datadir))
                return usage_error(&train_command, "DATADIR is too long");
        settings.freeze = freeze_choice == 0;
        if (!resume)
                return EXIT_ALL_DONE;
        resumed_paths(given, model, size);
        return take_recorded_settings(given, operands ? argv[1] : NULL);
}

/* ---- progress and the log --------------------------------------------------
 */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
        stop_signal = sig;
}

struct reporter {
        bool tty;
        FILE *log;
        bool log_failed;
        char *curves; /* the log's picture */
        bool curves_failed;
};

static void show_step(void *ctx, const struct step_report *r)
{
        const struct reporter *rep = ctx;
        threads_adapt(); /* for the next step */
        if (quiet)
                return;
        double left = r->images_per_s > 0
                              ? ((double)(r->epochs - r->epoch) * r->steps -
                                 r->step) *
                                        settings.batch * processes /
                                        r->images_per_s
                              : 0;
        if (rep->tty)
                fprintf(stderr,
                        "\repoch %d/%d  step %d/%d  %.0f images/s  loss "
                        "%.4f  ETA %dm%02ds ",
                        r->epoch + 1, r->epochs, r->step, r->steps,
                        r->images_per_s, r->loss, (int)left / 60,
                        (int)left % 60);
        else if (r->step == r->steps || r->step % (r->steps / 10 + 1) == 0)
                fprintf(stderr,
                        "alexnet: epoch %d/%d step %d/%d: %.0f images/s, "
                        "loss %.4f\n",
                        r->epoch + 1, r->epochs, r->step, r->steps,
                        r->images_per_s, r->loss);
}

/* The log's picture, redrawn from the whole log after each epoch; a
 * failure is reported once and does not stop the run (the log, from
 * which `alexnet inspect --curves` draws it again, is what counts). */
static void draw_curves(struct reporter *rep)
{
        struct an_error err;
        struct train_log log;
        enum an_status st = train_log_read(&log, log_path, &err);
        if (st == AN_OK) {
                st = train_log_draw(&log, rep->curves, NULL, &err);
                train_log_free(&log);
        }
        if (st != AN_OK && !rep->curves_failed)
                report(rep->curves, "%s (training goes on)", err.message);
        rep->curves_failed |= st != AN_OK;
}

/* The epoch's CSV line and its line on stderr; a log that cannot be
 * written (a full disk) stops the run, its checkpoint already safe. */
static enum an_status show_epoch(void *ctx, const struct epoch_report *r,
                                 struct an_error *err)
{
        struct reporter *rep = ctx;
        bool top5 = r->classes > 5;
        if (rep->log) {
                train_log_line(rep->log, r);
                if (fflush(rep->log) != 0 || ferror(rep->log)) {
                        rep->log_failed = true;
                        return an_error_set(err, AN_E_IO, "write failed: %s",
                                            strerror(errno));
                }
                draw_curves(rep);
        }
        if (quiet)
                return AN_OK;
        char shown[96] = "";
        if (r->validated)
                snprintf(shown, sizeof shown, ", val loss %.4f top-1 %.2f%%",
                         r->val.loss, 100 * r->val.top1);
        if (r->validated && top5)
                snprintf(shown + strlen(shown), sizeof shown - strlen(shown),
                         " top-5 %.2f%%", 100 * r->val.top5);
        fprintf(stderr,
                "%salexnet: epoch %d/%d: lr %.3g, train loss %.4f top-1 "
                "%.2f%%%s, %.0f images/s\n",
                rep->tty ? "\n" : "", r->epoch + 1, r->epochs, r->lr,
                r->train_loss, 100 * r->train_top1, shown, r->images_per_s);
        return AN_OK;
}

static bool stop_requested(void *ctx)
{
        (void)ctx;
        return stop_signal != 0;
}

static void show_unreadable(void *ctx, const char *path, const char *message)
{
        (void)ctx;
        report(path, "%s (skipped)", message);
}

static FILE *open_log(void)
{
        FILE *f = fopen(log_path, "a");
        if (!f) {
                report(log_path, "%s", strerror(errno));
                return NULL;
        }
        if (ftell(f) == 0)
                train_log_header(f);
        return f;
}

static void close_reporter(struct reporter *rep)
{
        if (rep->log)
                fclose(rep->log);
        free(rep->curves);
}

/* ---- the command ------------------------------------------------------------
 */

/* Runs the opened run to its end or an interruption; the exit status.
 * In a distributed run only process 0 speaks for the run; a failure on
 * any one process ends the job, since the others would wait for it. */
static int train(struct train_run *r, const struct reporter *rep,
                 const struct comm *c)
{
        struct an_error err;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        /* mpirun forwards SIGUSR1 to every process (it ends the job on
         * SIGINT and SIGTERM after odls_base_sigkill_timeout seconds). */
        signal(SIGUSR1, on_signal);
        enum an_status st = train_run_epochs(r, &err);
        if (st == AN_OK && r->stopped) {
                if (c->rank == 0)
                        report("train",
                               "interrupted; checkpoint written to %s, "
                               "continue with "
                               "--resume %s",
                               r->io.checkpoint, r->io.checkpoint);
                return EXIT_FATAL;
        }
        if (st == AN_OK)
                st = train_run_save_model(r, output, &err);
        if (st == AN_OK && c->rank == 0) {
                /* The model holds all a checkpoint would give now (a
                 * checkpoint is twice its size): gone unless asked for. */
                if (!keep_checkpoint && unlink(r->io.checkpoint) != 0 &&
                    errno != ENOENT)
                        report(r->io.checkpoint, "cannot remove: %s",
                               strerror(errno));
                if (!quiet)
                        report("train", "wrote %s%s%s", output,
                               keep_checkpoint ? "; checkpoint kept in " : "",
                               keep_checkpoint ? r->io.checkpoint : "");
        }
        if (st != AN_OK) {
                report(rep->log_failed  ? log_path
                       : *r->error_file ? r->error_file
                                        : "train",
                       "%s", err.message);
                comm_abort(c, EXIT_FATAL);
                return EXIT_FATAL;
        }
        return EXIT_ALL_DONE;
}

/* Joins the other processes when started by mpirun or srun; process 0
 * alone shows progress and writes the log. */
static bool join_job(struct comm *c)
{
        struct an_error err;
        if (comm_init(c, &err) != AN_OK) {
                report("train", "%s", err.message);
                return false;
        }
        report_as_process(c->rank);
        processes = c->size;
        if (c->rank != 0) {
                quiet = true;
                log_path = NULL;
        }
        return true;
}

static bool can_write(const char *path)
{
        struct an_error err;
        if (atomic_file_probe(path, &err) == AN_OK)
                return true;
        report(path, "%s", err.message);
        return false;
}

static int run_train(int argc, char **argv)
{
        char resumed_model[SETTINGS_PATH_MAX], default_ckpt[SETTINGS_PATH_MAX];
        int rc = parse_options(argc, argv, resumed_model, sizeof resumed_model);
        if (rc != EXIT_ALL_DONE)
                return rc == -1 ? EXIT_ALL_DONE : EXIT_FATAL;
        threads_init(threads);
        /* A checkpoint or model half written when a signal ends the run
         * is removed (SIGINT and SIGTERM are caught later to stop at a
         * checkpoint); before MPI, which may set its own. */
        remove_partial_output_on_signals();
        struct comm comm;
        if (!join_job(&comm))
                return EXIT_FATAL;
        default_checkpoint(default_ckpt, sizeof default_ckpt);
        struct reporter rep = {isatty(STDERR_FILENO), NULL, false, NULL, false};
        if (log_path && (!(rep.log = open_log()) ||
                         !(rep.curves = train_log_picture_path(log_path)))) {
                close_reporter(&rep);
                comm_abort(&comm, EXIT_FATAL);
                comm_finalize(&comm);
                return EXIT_FATAL;
        }
        struct train_io io = {checkpoint ? checkpoint : default_ckpt,
                              checkpoint_minutes * 60, cache, &comm};
        /* A run that could not write its model or checkpoints fails now,
         * not after its first epoch. */
        if (comm.rank == 0 &&
            (!can_write(output) || !can_write(io.checkpoint))) {
                close_reporter(&rep);
                comm_abort(&comm, EXIT_FATAL);
                comm_finalize(&comm);
                return EXIT_FATAL;
        }
        struct train_hooks hooks = {&rep, show_step, show_epoch, stop_requested,
                                    show_unreadable};
        struct train_run r;
        struct an_error err;
        int status;
        if (train_run_open(&r, &settings, resume, &io, &hooks, &err) != AN_OK) {
                report(*r.error_file ? r.error_file : "train", "%s",
                       err.message);
                status = EXIT_FATAL;
        } else {
                status = train(&r, &rep, &comm);
                train_run_close(&r);
        }
        close_reporter(&rep);
        comm_finalize(&comm);
        return status;
}

const struct command train_command = {
        "train",
        run_train,
        "train a network on a folder of labelled images",
        "usage: alexnet train [-o MODEL] [--preset NAME] [--from MODEL]\n"
        "       [--epochs N] [-b BATCH] [--lr RATE] [--momentum M]\n"
        "       [--weight-decay D] [--schedule paper|step|cosine] [--lr-step "
        "N]\n"
        "       [--lr-scale linear] [--warmup EPOCHS] [--optimizer sgd|lars]\n"
        "       [--lars-eta ETA] [--allreduce f32|bf16]\n"
        "       [--init paper|he] [--dropout P]\n"
        "       [--augment none|flip|flip-crop|paper]\n"
        "       [--val DIR | --val-split F] [--seed N] [-j THREADS]\n"
        "       [--checkpoint FILE] [--checkpoint-every MINUTES] [--resume "
        "FILE]\n"
        "       [--freeze features] [--resize N] [--fast-jpeg] [--cache]\n"
        "       [--keep-checkpoint] [--log FILE] [--quiet]\n"
        "       DATADIR\n",
        "Train on DATADIR/CLASS/IMAGE (JPEG or PNG, one folder per class).\n"
        "With --resume, DATADIR and every option that shapes the run come\n"
        "from the checkpoint.  Started by mpirun or srun (a build with MPI),\n"
        "the processes train one model together; process 0 writes.\n",
        train_options,
        NULL,
};
