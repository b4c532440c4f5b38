#include "train/settings.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const schedule_names[] = {"paper", "step", "cosine", NULL};
const char *const augment_names[] = {"none", "flip", "flip-crop", "paper",
                                     NULL};
const char *const init_names[] = {"paper", "he", NULL};
const char *const lr_scale_names[] = {"none", "linear", NULL};
const char *const optimizer_names[] = {"sgd", "lars", NULL};
const char *const allreduce_names[] = {"f32", "bf16", NULL};

void train_settings_defaults(struct train_settings *s)
{
        memset(s, 0, sizeof *s);
        snprintf(s->preset, sizeof s->preset, "alexnet-owt");
        s->init = INIT_PAPER;
        s->epochs = 90;
        s->batch = 128;
        s->lr = 0.01;
        s->momentum = 0.9;
        s->weight_decay = 5e-4;
        s->schedule = SCHEDULE_PAPER;
        s->lr_step = 30;
        s->dropout = -1;
        s->augment = AUGMENT_PAPER;
        s->seed = 1;
        s->lars_eta = 0.001;
}

json_t *train_settings_to_json(const struct train_settings *s)
{
        json_t *j = json_pack(
                "{s:s,s:s,s:f,s:s,s:s,s:s,s:i,s:i,s:f,s:f,s:f,s:s,s:i,s:f,"
                "s:s,s:i,s:I,s:b}",
                "datadir", s->datadir, "val", s->val, "val_split", s->val_split,
                "preset", s->preset, "from", s->from, "init",
                init_names[s->init], "epochs", s->epochs, "batch", s->batch,
                "lr", s->lr, "momentum", s->momentum, "weight_decay",
                s->weight_decay, "schedule", schedule_names[s->schedule],
                "lr_step", s->lr_step, "dropout", s->dropout, "augment",
                augment_names[s->augment], "resize", s->resize, "seed",
                (json_int_t)s->seed, "freeze", s->freeze);
        json_t *large = json_pack(
                "{s:s,s:f,s:s,s:f,s:s,s:b}", "lr_scale",
                lr_scale_names[s->lr_scale], "warmup", s->warmup, "optimizer",
                optimizer_names[s->optimizer], "lars_eta", s->lars_eta,
                "allreduce", allreduce_names[s->allreduce], "fast_jpeg",
                s->fast_jpeg);
        if (!j || !large || json_object_update(j, large)) {
                json_decref(j);
                j = NULL;
        }
        json_decref(large);
        return j;
}

/* The index of name in names, or -1. */
static int choice_index(const char *const *names, const char *name)
{
        for (int i = 0; names[i]; i++)
                if (!strcmp(names[i], name))
                        return i;
        return -1;
}

static enum an_status copy_string(char *field, size_t size, const char *key,
                                  const char *value, struct an_error *err)
{
        if (strlen(value) >= size)
                return an_error_set(err, AN_E_FORMAT,
                                    "training settings: %s is too long", key);
        memcpy(field, value, strlen(value) + 1);
        return AN_OK;
}

/* Ranges a run could have been started with (the options' own). */
static bool in_range(const struct train_settings *s)
{
        return s->epochs >= 1 && s->batch >= 1 && s->lr_step >= 1 &&
               s->resize >= 0 && s->lr >= 0 && isfinite(s->lr) &&
               s->momentum >= 0 && s->momentum < 1 && s->weight_decay >= 0 &&
               isfinite(s->weight_decay) && s->dropout < 1 &&
               s->val_split >= 0 && s->val_split < 1 && s->warmup >= 0 &&
               isfinite(s->warmup) && s->lars_eta > 0 && isfinite(s->lars_eta);
}

/* The keys added after the first checkpoints (the large-batch settings,
 * fast_jpeg), which older checkpoints lack: absent, they keep their
 * defaults. */
static bool later_keys_from_json(struct train_settings *s, const json_t *j)
{
        const char *lr_scale = lr_scale_names[s->lr_scale],
                   *optimizer = optimizer_names[s->optimizer],
                   *allreduce = allreduce_names[s->allreduce];
        /* runs written before the key existed decoded JPEGs at reduced
         * scale: they go on doing so */
        int fast_jpeg = 1;
        if (json_unpack((json_t *)j, "{s?s,s?F,s?s,s?F,s?s,s?b}", "lr_scale",
                        &lr_scale, "warmup", &s->warmup, "optimizer",
                        &optimizer, "lars_eta", &s->lars_eta, "allreduce",
                        &allreduce, "fast_jpeg", &fast_jpeg))
                return false;
        s->fast_jpeg = fast_jpeg;
        int scale = choice_index(lr_scale_names, lr_scale),
            opt = choice_index(optimizer_names, optimizer),
            reduce = choice_index(allreduce_names, allreduce);
        s->lr_scale = (enum lr_scale)scale;
        s->optimizer = (enum optimizer)opt;
        s->allreduce = (enum allreduce)reduce;
        return scale >= 0 && opt >= 0 && reduce >= 0;
}

enum an_status train_settings_from_json(struct train_settings *s,
                                        const json_t *j, struct an_error *err)
{
        const char *datadir, *val, *preset, *from, *init, *schedule, *augment;
        json_int_t seed;
        int freeze;
        train_settings_defaults(s);
        if (json_unpack((json_t *)j,
                        "{s:s,s:s,s:F,s:s,s:s,s:s,s:i,s:i,s:F,s:F,s:F,s:s,s:i,"
                        "s:F,s:s,s:i,s:I,s:b}",
                        "datadir", &datadir, "val", &val, "val_split",
                        &s->val_split, "preset", &preset, "from", &from, "init",
                        &init, "epochs", &s->epochs, "batch", &s->batch, "lr",
                        &s->lr, "momentum", &s->momentum, "weight_decay",
                        &s->weight_decay, "schedule", &schedule, "lr_step",
                        &s->lr_step, "dropout", &s->dropout, "augment",
                        &augment, "resize", &s->resize, "seed", &seed, "freeze",
                        &freeze))
                return an_error_set(err, AN_E_FORMAT,
                                    "training settings incomplete");
        int i = choice_index(init_names, init),
            sc = choice_index(schedule_names, schedule),
            au = choice_index(augment_names, augment);
        if (i < 0 || sc < 0 || au < 0 || seed < 0 ||
            !later_keys_from_json(s, j) || !in_range(s))
                return an_error_set(err, AN_E_FORMAT,
                                    "training settings out of range");
        s->init = (enum init_mode)i;
        s->schedule = (enum schedule)sc;
        s->augment = (enum augment_mode)au;
        s->seed = (uint64_t)seed;
        s->freeze = freeze;
        enum an_status st = copy_string(s->datadir, sizeof s->datadir,
                                        "datadir", datadir, err);
        if (st == AN_OK)
                st = copy_string(s->val, sizeof s->val, "val", val, err);
        if (st == AN_OK)
                st = copy_string(s->preset, sizeof s->preset, "preset", preset,
                                 err);
        if (st == AN_OK)
                st = copy_string(s->from, sizeof s->from, "from", from, err);
        return st;
}
