#include "train/schedule.h"

#include <math.h>

struct train_state train_state_start(double lr)
{
        return (struct train_state){0, 0, 0, lr, 1.0, 0, 0, 0};
}

double schedule_warmup(double warmup, int epoch, int step, int steps)
{
        double done = epoch + (step + 1.0) / (steps > 0 ? steps : 1);
        return warmup > 0 && done < warmup ? done / warmup : 1.0;
}

double schedule_lr(enum schedule sch, double base_lr, int lr_step, int epochs,
                   const struct train_state *s, int epoch, int step, int steps)
{
        switch (sch) {
        case SCHEDULE_STEP: return base_lr * pow(0.1, epoch / lr_step);
        case SCHEDULE_COSINE: {
                double done = (double)epoch * steps + step;
                return 0.5 * base_lr *
                       (1 + cos(M_PI * done / ((double)epochs * steps)));
        }
        case SCHEDULE_PAPER: break;
        }
        return s->lr; /* changed by schedule_end_epoch */
}

void schedule_end_epoch(enum schedule sch, struct train_state *s,
                        double val_error)
{
        if (val_error < s->best_val_error - 1e-12) {
                s->best_val_error = val_error;
                s->bad_epochs = 0;
        } else if (++s->bad_epochs >= 2 && sch == SCHEDULE_PAPER) {
                s->lr /= 10;
                s->bad_epochs = 0;
        }
}
