/* Everything that shapes a training run: the data, the network it starts
 * from, the optimiser, the schedule, the augmentation and the seed.  Every
 * checkpoint records them (checkpoint.h), so a resumed run continues the
 * run it resumes, whatever options it is given; their JSON keys are the
 * names of train's options ("weight_decay" for --weight-decay). */
#ifndef ALEXNET_SETTINGS_H
#define ALEXNET_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/errors.h"
#include "data/augment.h"
#include "train/init.h"
#include "train/schedule.h"
#include "train/trainer.h"

enum { SETTINGS_PATH_MAX = 4096, SETTINGS_NAME_MAX = 64 };

/* linear: the rate multiplied by the number of processes, i.e. by the
 * global batch over -b (Goyal et al. 2017). */
enum lr_scale { LR_SCALE_NONE, LR_SCALE_LINEAR };

/* The gradients exchanged as float32, or as bfloat16 (half the bytes). */
enum allreduce { ALLREDUCE_F32, ALLREDUCE_BF16 };

struct train_settings {
        char datadir[SETTINGS_PATH_MAX]; /* DATADIR/CLASS/IMAGE */
        char val[SETTINGS_PATH_MAX];     /* validation folder, or "" */
        double val_split;                /* or a held-out fraction */
        char preset[SETTINGS_NAME_MAX];  /* the network from scratch, */
        char from[SETTINGS_PATH_MAX];    /* or the model fine-tuned ("") */
        enum init_mode init;
        int epochs, batch;
        double lr, momentum, weight_decay;
        enum schedule schedule;
        int lr_step;    /* epochs per step of SCHEDULE_STEP */
        double dropout; /* below 0: as the network says */
        enum augment_mode augment;
        int resize;     /* 0: the model's own */
        bool fast_jpeg; /* JPEGs decoded at reduced scale (image_options) */
        uint64_t seed;
        bool freeze; /* train only the fully connected layers */
        /* Large batches over several processes: */
        enum lr_scale lr_scale; /* the rate times the processes, or not */
        double warmup;          /* epochs the rate rises over */
        enum optimizer optimizer;
        double lars_eta;          /* LARS's trust coefficient */
        enum allreduce allreduce; /* how gradients are exchanged */
};

/* The paper's recipe (Krizhevsky et al. 2012, section 5), alexnet-owt. */
void train_settings_defaults(struct train_settings *s);

json_t *train_settings_to_json(const struct train_settings *s);
/* Every key must be present and valid. */
enum an_status train_settings_from_json(struct train_settings *s,
                                        const json_t *j, struct an_error *err);

/* The names of the choices, as options and JSON spell them; NULL-ended,
 * in enum order. */
extern const char *const schedule_names[];
extern const char *const augment_names[];
extern const char *const init_names[];
extern const char *const lr_scale_names[];
extern const char *const optimizer_names[];
extern const char *const allreduce_names[]; /* f32, bf16 */

#endif
