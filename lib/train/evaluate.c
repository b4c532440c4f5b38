#include "train/evaluate.h"

#include "model/classify.h"

/* The counts of every process, summed. */
static enum an_status sum_counts(const struct comm *c, struct accuracy *acc,
                                 struct an_error *err)
{
        double v[4] = {(double)acc->seen, (double)acc->top1, (double)acc->top5,
                       acc->loss_sum};
        enum an_status st = comm_sum_doubles(c, v, 4, err);
        acc->seen = (size_t)v[0];
        acc->top1 = (size_t)v[1];
        acc->top5 = (size_t)v[2];
        acc->loss_sum = v[3];
        return st;
}

enum an_status evaluate_split(struct trainer *t, const struct loader *l,
                              const struct comm *c,
                              const struct eval_buffers *buf,
                              struct eval_result *r, struct an_error *err)
{
        struct accuracy acc;
        int classes = (int)net_outputs(&t->model->net);
        enum an_status st = accuracy_init(&acc, classes, false, err);
        for (int step = 0; st == AN_OK && step < loader_steps(l); step++) {
                int count = loader_fill(l, l->split->index, 0, step, buf->x,
                                        buf->labels, NULL, buf->ok, 0);
                if (!count)
                        continue;
                struct step_stats stats;
                st = trainer_evaluate(t, buf->x, buf->labels, count, buf->probs,
                                      &stats, err);
                if (st == AN_OK) {
                        acc.loss_sum += stats.loss * count;
                        accuracy_add(&acc, buf->probs, buf->labels, count);
                }
        }
        /* Summed even after a failure here, so that no process waits for
         * this one forever; the caller then ends the job. */
        struct an_error sum_err;
        enum an_status summed = sum_counts(c, &acc, &sum_err);
        if (st == AN_OK && summed != AN_OK) {
                st = summed;
                *err = sum_err;
        }
        *r = (struct eval_result){acc.seen,
                                  acc.seen ? acc.loss_sum / acc.seen : 0,
                                  accuracy_top1(&acc), accuracy_top5(&acc)};
        accuracy_free(&acc);
        return st;
}
