#include "train/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/prefetch.h"
#include "model/model_meta.h"
#include "train/checkpoint.h"
#include "train/finetune.h"
#include "train/init.h"
#include "train/join.h"

/* Names the file the next error will be about. */
static void blame(struct train_run *r, const char *file)
{
        size_t n = file ? strlen(file) : 0;
        if (n >= sizeof r->error_file)
                n = sizeof r->error_file - 1;
        memmove(r->error_file, file ? file : "", n);
        r->error_file[n] = '\0';
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- opening ---------------------------------------------------------- */

static bool same_classes(const struct dataset *a, const struct dataset *b)
{
        bool same = a->n_classes == b->n_classes;
        for (int c = 0; same && c < a->n_classes; c++)
                same = !strcmp(a->class_names[c], b->class_names[c]);
        return same;
}

/* The training folder and the validation folder, whose class folders must
 * be the training folder's. */
static enum an_status open_folders(struct train_run *r, struct an_error *err)
{
        const struct train_settings *s = &r->settings;
        blame(r, s->datadir);
        enum an_status st = dataset_scan(&r->train_set, s->datadir, err);
        if (st == AN_OK && r->train_set.n_classes < 2)
                st = an_error_set(err, AN_E_INVALID,
                                  "one class folder (%s): a classifier needs "
                                  "at least two",
                                  r->train_set.class_names[0]);
        if (st != AN_OK || !*s->val)
                return st;
        blame(r, s->val);
        st = dataset_scan(&r->val_set, s->val, err);
        if (st == AN_OK && !same_classes(&r->train_set, &r->val_set))
                st = an_error_set(err, AN_E_INVALID,
                                  "its class folders differ from %s's",
                                  s->datadir);
        return st;
}

static enum an_status model_from_scratch(struct model *m,
                                         const struct train_settings *s,
                                         int classes, struct an_error *err)
{
        enum an_status st = model_from_preset(m, s->preset, classes, err);
        if (st == AN_OK)
                model_init_weights(m, s->init, s->seed, 0);
        return st;
}

/* The settings that change a model as a run starts: the resize size and
 * the dropout probability. */
static enum an_status apply_model_settings(struct model *m,
                                           const struct train_settings *s,
                                           int classes, struct an_error *err)
{
        if ((int)net_outputs(&m->net) != classes)
                return an_error_set(err, AN_E_INVALID,
                                    "the model has %zu outputs for %d classes",
                                    net_outputs(&m->net), classes);
        struct shape in = m->net.arch.input;
        if (s->resize && (s->resize < in.h || s->resize < in.w))
                return an_error_set(err, AN_E_INVALID,
                                    "--resize %d is smaller than the %dx%d "
                                    "input",
                                    s->resize, in.h, in.w);
        if (s->resize)
                m->pre.resize = s->resize;
        for (int i = 0; s->dropout >= 0 && i < m->net.arch.n_layers; i++)
                if (m->net.arch.layers[i].type == LAYER_DROPOUT)
                        m->net.arch.layers[i].drop_p = s->dropout;
        return AN_OK;
}

static enum an_status build_model(struct train_run *r, const char *resume,
                                  struct an_error *err)
{
        const struct train_settings *s = &r->settings;
        int classes = r->train_set.n_classes;
        struct model *m = &r->model;
        enum an_status st;
        blame(r, resume ? resume : *s->from ? s->from : s->preset);
        if (resume)
                st = model_open(m, resume, err);
        else if (*s->from)
                st = model_finetune_from(m, s->from, classes, s->init, s->seed,
                                         err);
        else
                st = model_from_scratch(m, s, classes, err);
        if (st != AN_OK)
                return st;
        r->model_open = true;
        if (!m->owned_params)
                st = model_own_params(m, err);
        if (st == AN_OK)
                st = apply_model_settings(m, s, classes, err);
        return st;
}

/* The model's labels are the class folders' names; a resumed model's must
 * already be. */
static enum an_status set_labels(struct train_run *r, bool resumed,
                                 struct an_error *err)
{
        struct model *m = &r->model;
        const struct dataset *d = &r->train_set;
        if (resumed) {
                bool same = m->labels != NULL;
                for (int c = 0; same && c < d->n_classes; c++)
                        same = !strcmp(m->labels[c], d->class_names[c]);
                blame(r, r->settings.datadir);
                return same ? AN_OK
                            : an_error_set(err, AN_E_INVALID,
                                           "its class folders are not the "
                                           "checkpoint's classes");
        }
        blame(r, r->settings.datadir);
        for (int c = 0; c < d->n_classes; c++) {
                struct an_error why;
                if (label_check(d->class_names[c], &why) != AN_OK)
                        return an_error_set(err, AN_E_INVALID,
                                            "class folder %d (in sorted "
                                            "order) cannot be a label: %s",
                                            c + 1, why.message);
        }
        labels_free(m->labels);
        m->labels = calloc(d->n_classes + 1, sizeof *m->labels);
        for (int c = 0; m->labels && c < d->n_classes; c++)
                if (!(m->labels[c] = strdup(d->class_names[c])))
                        return an_error_set(err, AN_E_NOMEM, "out of memory");
        return m->labels ? AN_OK
                         : an_error_set(err, AN_E_NOMEM, "out of memory");
}

/* The image stores, the splits and the loaders over them. */
static enum an_status open_images(struct train_run *r, struct an_error *err)
{
        const struct train_settings *s = &r->settings;
        const struct model *m = &r->model;
        bool has_val_dir = *s->val != '\0';
        struct shape input = m->net.shapes[0];
        blame(r, NULL);
        enum an_status st = image_store_init(
                &r->train_store, &r->train_set, &m->pre, input, r->io.cache,
                s->fast_jpeg, r->hooks.unreadable, r->hooks.ctx, err);
        if (st == AN_OK && has_val_dir)
                st = image_store_init(&r->val_store, &r->val_set, &m->pre,
                                      input, r->io.cache, s->fast_jpeg,
                                      r->hooks.unreadable, r->hooks.ctx, err);
        const struct image_store *val_store =
                has_val_dir ? &r->val_store : &r->train_store;
        if (st == AN_OK)
                st = split_init(&r->train, &r->train_store, s->val_split, false,
                                s->seed, err);
        if (st == AN_OK)
                st = split_init(&r->val, val_store,
                                has_val_dir ? 0 : s->val_split, !has_val_dir,
                                s->seed, err);
        if (st == AN_OK && !r->train.n)
                st = an_error_set(err, AN_E_INVALID,
                                  "no readable training images");
        if (st == AN_OK && s->augment == AUGMENT_PAPER)
                st = loader_fit_pca(&r->train_store, &r->train, &r->pca, err);
        const struct comm *c = r->io.comm;
        r->train_loader = (struct loader){&r->train_store, &r->train, s->batch,
                                          s->augment,      &r->pca,   s->seed,
                                          c->size,         c->rank};
        r->val_loader =
                (struct loader){val_store, &r->val, s->batch, AUGMENT_NONE,
                                NULL,      s->seed, c->size,  c->rank};
        return st;
}

static enum an_status alloc_buffers(struct train_run *r, struct an_error *err)
{
        size_t sample = shape_count(r->model.net.shapes[0]);
        size_t classes = net_outputs(&r->model.net);
        size_t batch = (size_t)r->settings.batch;
        r->buf.x = malloc(batch * sample * sizeof *r->buf.x);
        r->buf.probs = malloc(batch * classes * sizeof *r->buf.probs);
        r->buf.labels = malloc(batch * sizeof *r->buf.labels);
        r->buf.ok = malloc(batch * sizeof *r->buf.ok);
        if (r->buf.x && r->buf.probs && r->buf.labels && r->buf.ok)
                return AN_OK;
        return an_error_set(err, AN_E_NOMEM, "out of memory for batches of %zu",
                            batch);
}

/* The trainer, and where a resumed run stands. */
static enum an_status start_trainer(struct train_run *r, const char *resume,
                                    struct an_error *err)
{
        const struct train_settings *s = &r->settings;
        r->config =
                (struct train_config){s->momentum,
                                      s->weight_decay,
                                      true,
                                      s->seed,
                                      model_frozen_layers(&r->model, s->freeze),
                                      s->optimizer,
                                      s->lars_eta};
        r->state = train_state_start(s->lr);
        enum an_status st = trainer_init(&r->trainer, &r->model, s->batch, err);
        if (st == AN_OK && resume) {
                blame(r, resume);
                st = checkpoint_read_state(resume, &r->state,
                                           r->trainer.velocity,
                                           r->trainer.n_params, err);
        }
        if (st == AN_OK && r->io.comm->size > 1) {
                st = grad_reducer_open(&r->reducer, r->io.comm,
                                       r->trainer.n_params,
                                       r->model.net.arch.n_layers,
                                       s->allreduce == ALLREDUCE_BF16, err);
                r->trainer.reducer = st == AN_OK ? &r->reducer : NULL;
        }
        return st;
}

/* A checkpoint written with another global batch (another number of
 * processes, or another -b) continues from the same epoch at the first
 * step of the new batches that holds its next sample: a few samples of
 * that epoch may be seen twice, none is skipped.  With the same global
 * batch the run continues exactly. */
static void continue_position(struct train_run *r)
{
        int now = r->settings.batch * r->io.comm->size;
        int was = r->state.global_batch ? r->state.global_batch : now;
        if (was != now)
                r->state.step =
                        (int)((uint64_t)r->state.step * was / (uint64_t)now);
        r->state.global_batch = now;
}

enum an_status train_run_open(struct train_run *r,
                              const struct train_settings *settings,
                              const char *resume, const struct train_io *io,
                              const struct train_hooks *hooks,
                              struct an_error *err)
{
        memset(r, 0, sizeof *r);
        r->settings = *settings;
        r->io = *io;
        r->hooks = *hooks;
        r->alone = comm_alone();
        if (!r->io.comm)
                r->io.comm = &r->alone;
        enum an_status st = open_folders(r, err);
        if (st == AN_OK)
                st = build_model(r, resume, err);
        if (st == AN_OK)
                st = set_labels(r, resume != NULL, err);
        if (st == AN_OK)
                st = open_images(r, err);
        if (st == AN_OK)
                st = alloc_buffers(r, err);
        if (st == AN_OK)
                st = start_trainer(r, resume, err);
        st = train_run_join(r, st, err);
        if (st == AN_OK)
                continue_position(r);
        if (st != AN_OK) {
                char file[sizeof r->error_file];
                memcpy(file, r->error_file, sizeof file);
                train_run_close(r);
                memcpy(r->error_file, file, sizeof file);
        }
        return st;
}

void train_run_close(struct train_run *r)
{
        grad_reducer_close(&r->reducer);
        trainer_free(&r->trainer);
        free(r->buf.x);
        free(r->buf.probs);
        free(r->buf.labels);
        free(r->buf.ok);
        split_free(&r->train);
        split_free(&r->val);
        image_store_free(&r->train_store);
        image_store_free(&r->val_store);
        dataset_free(&r->train_set);
        dataset_free(&r->val_set);
        if (r->model_open)
                model_close(&r->model);
        memset(r, 0, sizeof *r);
}

/* ---- the loop --------------------------------------------------------- */

/* Rank 0 writes for the whole run. */
static bool writes_files(const struct train_run *r)
{
        return r->io.comm->rank == 0;
}

/* Rank 0 writes the checkpoint; the others wait for it and learn whether
 * it was written, so that none stops (and has the job ended) while the
 * write is under way, and a failure stops every process. */
static enum an_status write_checkpoint(struct train_run *r,
                                       struct an_error *err)
{
        enum an_status st = AN_OK;
        if (writes_files(r)) {
                st = checkpoint_save(r->io.checkpoint, &r->model,
                                     r->trainer.velocity, r->trainer.n_params,
                                     &r->settings, &r->state, err);
                if (st != AN_OK)
                        blame(r, r->io.checkpoint);
        }
        int written = st == AN_OK;
        struct an_error bcast_err;
        enum an_status sent = comm_broadcast(r->io.comm, &written,
                                             sizeof written, &bcast_err);
        if (st == AN_OK && sent != AN_OK) {
                *err = bcast_err;
                return sent;
        }
        if (st == AN_OK && !written)
                return an_error_set(err, AN_E_IO,
                                    "process 0 could not write the checkpoint");
        return st;
}

/* The schedule's rate, scaled for the global batch and warmed up. */
static double step_lr(const struct train_run *r, int epoch, int step)
{
        const struct train_settings *s = &r->settings;
        int steps = loader_steps(&r->train_loader);
        double scale = s->lr_scale == LR_SCALE_LINEAR ? r->io.comm->size : 1.0;
        return scale *
               schedule_lr(s->schedule, s->lr, s->lr_step, s->epochs, &r->state,
                           epoch, step, steps) *
               schedule_warmup(s->warmup, epoch, step, steps);
}

static bool stop_asked(const struct train_run *r)
{
        return r->hooks.should_stop && r->hooks.should_stop(r->hooks.ctx);
}

/* How a step ended on every process. */
struct step_end {
        bool stop;       /* some process was asked to stop */
        bool checkpoint; /* rank 0 found a checkpoint due */
        size_t images;   /* trained on by all processes */
};

/* The step's loss, hits and images summed over the processes into the
 * epoch's, and the processes' stop requests and rank 0's checkpoint
 * clock, so that all stop and checkpoint at the same step. */
static enum an_status tally_step(struct train_run *r,
                                 const struct step_stats *stats, int count,
                                 bool due, struct step_end *end,
                                 struct an_error *err)
{
        double v[6] = {
                stats->loss * count, stats->correct,         count,
                stop_asked(r),       due && writes_files(r), stats->correct5};
        enum an_status st = comm_sum_doubles(r->io.comm, v, 6, err);
        r->epoch_loss += v[0];
        r->epoch_correct += (size_t)v[1];
        r->epoch_correct5 += (size_t)v[5];
        r->epoch_seen += (size_t)v[2];
        r->epoch_steps++;
        *end = (struct step_end){v[3] > 0, v[4] > 0, (size_t)v[2]};
        return st;
}

/* One SGD step on this process's part b of a global batch. */
static enum an_status train_step(struct train_run *r,
                                 const struct loaded_batch *b,
                                 struct step_stats *stats, struct an_error *err)
{
        double total = b->count;
        enum an_status st = comm_sum_doubles(r->io.comm, &total, 1, err);
        *stats = (struct step_stats){0};
        r->trainer.step = r->state.global_step;
        if (st == AN_OK && total > 0) {
                struct train_batch batch = {b->x, b->labels, b->ids, b->count,
                                            (int)total};
                st = trainer_step(&r->trainer, &r->config, &batch,
                                  step_lr(r, b->epoch, b->step), stats, err);
        }
        r->state.step = b->step + 1;
        r->state.global_step++;
        return st;
}

static void report_step(const struct train_run *r, int epoch, int step,
                        double rate)
{
        if (!r->hooks.step_done)
                return;
        struct step_report rep = {
                epoch, r->settings.epochs,
                step,  loader_steps(&r->train_loader),
                rate,  r->epoch_seen ? r->epoch_loss / r->epoch_seen : 0};
        r->hooks.step_done(r->hooks.ctx, &rep);
}

/* One epoch from step r->state.step, batches from the prefetch thread;
 * checkpoints when due or asked to stop. */
static enum an_status run_epoch(struct train_run *r, struct prefetch *pf,
                                int epoch, double *images_per_s,
                                struct an_error *err)
{
        int steps = loader_steps(&r->train_loader);
        double start = now(), last_checkpoint = now();
        size_t images = 0;
        for (int step = r->state.step; step < steps; step++) {
                const struct loaded_batch *b = prefetch_take(pf);
                int count = b->count;
                struct step_stats stats;
                enum an_status st = train_step(r, b, &stats, err);
                prefetch_release(pf);
                /* Rank 0's clock decides for all. */
                bool due = r->io.checkpoint_seconds > 0 &&
                           now() - last_checkpoint > r->io.checkpoint_seconds;
                struct step_end end;
                if (st == AN_OK)
                        st = tally_step(r, &stats, count, due, &end, err);
                if (st != AN_OK)
                        return st;
                images += end.images;
                double elapsed = now() - start;
                *images_per_s = images / (elapsed > 0 ? elapsed : 1e-9);
                report_step(r, epoch, step + 1, *images_per_s);
                bool stop = end.stop;
                if (stop || end.checkpoint) {
                        r->state.seconds += now() - start;
                        start = now();
                        st = write_checkpoint(r, err);
                        last_checkpoint = now();
                        r->stopped = stop;
                        if (st != AN_OK || stop)
                                return st;
                }
        }
        r->state.seconds += now() - start;
        return AN_OK;
}

/* Validation, the schedule, the checkpoint and the epoch's report. */
static enum an_status end_epoch(struct train_run *r, int epoch, double lr,
                                double seconds, double rate,
                                struct an_error *err)
{
        struct epoch_report rep = {.epoch = epoch,
                                   .epochs = r->settings.epochs,
                                   .lr = lr,
                                   .validated = r->val.n > 0,
                                   .classes = r->train_set.n_classes,
                                   .seconds = seconds,
                                   .images_per_s = rate};
        /* Every image failed to decode (their headers looked fine): no
         * model is better than one that learnt nothing.  (A run resumed
         * at the end of an epoch has taken no step of it here.) */
        if (r->epoch_steps && !r->epoch_seen) {
                blame(r, r->settings.datadir);
                return an_error_set(err, AN_E_INVALID,
                                    "no training image could be decoded in "
                                    "epoch %d",
                                    epoch + 1);
        }
        enum an_status st = AN_OK;
        if (r->val.n)
                st = evaluate_split(&r->trainer, &r->val_loader, r->io.comm,
                                    &r->buf, &rep.val, err);
        if (st != AN_OK)
                return st;
        r->last_val = rep.val;
        schedule_end_epoch(r->settings.schedule, &r->state, 1 - rep.val.top1);
        rep.train_loss = r->epoch_seen ? r->epoch_loss / r->epoch_seen : 0;
        rep.train_top1 =
                r->epoch_seen ? (double)r->epoch_correct / r->epoch_seen : 0;
        rep.train_top5 =
                r->epoch_seen ? (double)r->epoch_correct5 / r->epoch_seen : 0;
        r->state.epoch = epoch + 1;
        r->state.step = 0;
        r->epoch_loss = 0;
        r->epoch_correct = r->epoch_correct5 = r->epoch_seen = 0;
        r->epoch_steps = 0;
        st = write_checkpoint(r, err);
        if (st == AN_OK && r->hooks.epoch_done)
                st = r->hooks.epoch_done(r->hooks.ctx, &rep, err);
        return st;
}

enum an_status train_run_epochs(struct train_run *r, struct an_error *err)
{
        struct prefetch pf;
        enum an_status st =
                prefetch_start(&pf, &r->train_loader, r->state.epoch,
                               r->state.step, r->settings.epochs, err);
        for (int epoch = r->state.epoch;
             st == AN_OK && !r->stopped && epoch < r->settings.epochs;
             epoch++) {
                double rate = 0, start = now();
                double lr = step_lr(r, epoch, r->state.step);
                st = run_epoch(r, &pf, epoch, &rate, err);
                if (st == AN_OK && !r->stopped)
                        st = end_epoch(r, epoch, lr, now() - start, rate, err);
        }
        if (pf.started)
                prefetch_stop(&pf);
        return st;
}

static void record_provenance(struct train_run *r)
{
        json_t *p = r->model.provenance;
        const struct train_settings *s = &r->settings;
        json_object_set_new(p, "trained_on", json_string(s->datadir));
        json_object_set_new(p, "train_images",
                            json_integer((json_int_t)r->train.n));
        json_object_set_new(p, "val_images",
                            json_integer((json_int_t)r->val.n));
        json_object_set_new(p, "epochs", json_integer(s->epochs));
        json_object_set_new(p, "val_top1", json_real(r->last_val.top1));
        json_object_set_new(p, "val_top5", json_real(r->last_val.top5));
        json_object_set_new(p, "train_seconds", json_real(r->state.seconds));
        json_object_set_new(p, "seed", json_integer((json_int_t)s->seed));
        /* inspect counts these parameters as frozen */
        if (s->freeze)
                json_object_set_new(p, "frozen_features", json_true());
        json_object_set_new(p, "processes", json_integer(r->io.comm->size));
        json_object_set_new(
                p, "global_batch",
                json_integer((json_int_t)s->batch * r->io.comm->size));
        provenance_stamp(p, "trained_at");
}

enum an_status train_run_save_model(struct train_run *r, const char *path,
                                    struct an_error *err)
{
        if (!writes_files(r))
                return AN_OK;
        record_provenance(r);
        enum an_status st = model_save(&r->model, path, ST_F32, err);
        if (st != AN_OK)
                blame(r, path);
        return st;
}
