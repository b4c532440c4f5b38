/* The learning rate over a run.  paper: divided by 10 when the validation
 * error stops improving (Krizhevsky et al. 2012, section 5; here: after two
 * epochs without a new best); step: divided by 10 every lr_step epochs;
 * cosine: from the base rate to 0 over the run, step by step. */
#ifndef ALEXNET_SCHEDULE_H
#define ALEXNET_SCHEDULE_H

#include <stdint.h>

enum schedule { SCHEDULE_PAPER, SCHEDULE_STEP, SCHEDULE_COSINE };

/* Where a run stands: saved in checkpoints. */
struct train_state {
        int epoch, step;      /* the next step to run */
        uint64_t global_step; /* steps taken: keys the dropout masks */
        double lr;            /* the paper schedule's current rate */
        double best_val_error;
        int bad_epochs;   /* epochs without a new best */
        double seconds;   /* training time so far */
        int global_batch; /* samples per step of the steps so far, over
                           * every process (0: not recorded) */
};

/* The state of a run not started yet at base rate lr. */
struct train_state train_state_start(double lr);

/* The rate of step `step` (of steps) in epoch `epoch` (of epochs). */
double schedule_lr(enum schedule sch, double base_lr, int lr_step, int epochs,
                   const struct train_state *s, int epoch, int step, int steps);

/* The share of the rate during a warm-up of `warmup` epochs: rising
 * linearly, step by step, to 1 at its end (Goyal et al. 2017); 1 after it
 * and when warmup is 0. */
double schedule_warmup(double warmup, int epoch, int step, int steps);

/* After an epoch's validation: tracks the best error and, on the paper
 * schedule, divides the rate when it stopped improving. */
void schedule_end_epoch(enum schedule sch, struct train_state *s,
                        double val_error);

#endif
