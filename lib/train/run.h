/* A training run, start to end: the data (ImageFolder folders, a held-out
 * split or a validation folder), the model (a preset, a model fine-tuned,
 * or a checkpoint resumed), the batches (loader and prefetch thread), the
 * SGD steps, the schedule, validation and checkpoints.  The caller gives
 * settings and hooks; it shows progress, writes logs and decides when to
 * stop, and the run never prints.
 *
 *     struct train_run r;
 *     train_run_open(&r, &settings, resume_or_NULL, &io, &hooks, &err);
 *     train_run_epochs(&r, &err);          // to the last epoch, or a stop
 *     if (!r.stopped) train_run_save_model(&r, output, &err);
 *     train_run_close(&r);
 *
 * Each epoch ends with a checkpoint, and so does a stop asked for by the
 * should_stop hook; resuming one continues as if never interrupted.
 *
 * With io->comm of several processes the run is data-parallel: every
 * process opens the same run (checked: the same settings, data and
 * network), starts from rank 0's weights and state, steps on its part of
 * each global batch of size * batch, and exchanges gradients, counts and
 * stop requests, so that all take the same steps and stop at the same
 * one; only rank 0 writes files.  Every process must call every function
 * here, in the same order. */
#ifndef ALEXNET_RUN_H
#define ALEXNET_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "model/model.h"
#include "train/comm.h"
#include "train/evaluate.h"
#include "train/reducer.h"
#include "train/schedule.h"
#include "train/settings.h"
#include "train/trainer.h"

/* After each step, for progress. */
struct step_report {
        int epoch, epochs, step, steps;
        double images_per_s; /* this epoch so far */
        double loss;         /* this epoch's mean so far */
};

/* After each epoch, once its checkpoint is safe. */
struct epoch_report {
        int epoch, epochs;
        double lr; /* at the epoch's start */
        double train_loss, train_top1, train_top5;
        bool validated; /* val holds a validation result */
        int classes;    /* top-5 means something only above 5 */
        struct eval_result val;
        double seconds, images_per_s;
};

struct train_hooks {
        void *ctx;
        void (*step_done)(void *ctx, const struct step_report *r);
        /* An error here stops the run (after the checkpoint). */
        enum an_status (*epoch_done)(void *ctx, const struct epoch_report *r,
                                     struct an_error *err);
        /* Polled after every step: true ends the run at a checkpoint (in
         * a distributed run, true on any process stops all). */
        bool (*should_stop)(void *ctx);
        /* An image that cannot be read (it is skipped from then on). */
        unreadable_fn unreadable;
};

/* Where the run writes and what it keeps in memory. */
struct train_io {
        const char *checkpoint;    /* path of the checkpoint */
        double checkpoint_seconds; /* also this often (0: each epoch only) */
        bool cache;                /* decode every image once, keep it */
        const struct comm *comm;   /* the run's processes, or NULL: one */
};

struct train_run {
        struct train_settings settings;
        struct train_io io;
        struct train_hooks hooks;
        struct dataset train_set, val_set;
        struct image_store train_store, val_store;
        struct split train, val;
        struct colour_pca pca;
        struct loader train_loader, val_loader;
        struct model model;
        bool model_open;
        struct trainer trainer;
        struct comm alone; /* io.comm when none is given */
        struct grad_reducer reducer;
        struct train_config config;
        struct train_state state;
        struct eval_buffers buf;
        struct eval_result last_val;
        double epoch_loss;
        size_t epoch_correct, epoch_correct5, epoch_seen;
        int epoch_steps; /* steps of this epoch run since the run opened */
        bool stopped;    /* should_stop ended the run early */
        /* The file an error was about (a folder, a model, the checkpoint),
         * or "": for the caller's message. */
        char error_file[SETTINGS_PATH_MAX];
};

/* Everything up to the first step: the folders scanned, the model built
 * (resume: the checkpoint's weights, velocity and state; settings->from:
 * fine-tuned; else settings->preset initialised), images read, buffers
 * allocated.  On failure r->error_file names what it was about and
 * everything else is released. */
enum an_status train_run_open(struct train_run *r,
                              const struct train_settings *settings,
                              const char *resume, const struct train_io *io,
                              const struct train_hooks *hooks,
                              struct an_error *err);

/* Steps until the last epoch ends or should_stop says stop (then
 * r->stopped).  A checkpoint is written at each epoch's end and at a
 * stop. */
enum an_status train_run_epochs(struct train_run *r, struct an_error *err);

/* Writes the trained model with its provenance (data, images, epochs,
 * seed, processes and global batch, validation result, time) atomically
 * to path (rank 0; the others write nothing). */
enum an_status train_run_save_model(struct train_run *r, const char *path,
                                    struct an_error *err);

void train_run_close(struct train_run *r);

#endif
