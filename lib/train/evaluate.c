#include "train/evaluate.h"

#include "model/classify.h"

enum an_status evaluate_split(struct trainer *t, const struct loader *l,
                              const struct eval_buffers *buf,
                              struct eval_result *r, struct an_error *err)
{
        struct accuracy acc;
        int classes = (int)net_outputs(&t->model->net);
        enum an_status st = accuracy_init(&acc, classes, false, err);
        for (int step = 0; st == AN_OK && step < loader_steps(l); step++) {
                int count = loader_fill(l, l->split->index, 0, step, buf->x,
                                        buf->labels, buf->ok, 0);
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
        *r = (struct eval_result){acc.seen,
                                  acc.seen ? acc.loss_sum / acc.seen : 0,
                                  accuracy_top1(&acc), accuracy_top5(&acc)};
        accuracy_free(&acc);
        return st;
}
