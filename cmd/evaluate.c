/* alexnet predict --eval DATADIR: accuracy on a labelled image folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/classify.h"
#include "cli.h"
#include "predict.h"

struct tally {
        size_t seen, failed, top1, top5;
        size_t *confusion; /* [true][predicted] */
        int classes;
};

static void count_batch(struct tally *t, const struct batch *b,
                        const float *probs, const int *labels_of_batch)
{
        struct prediction top[5];
        for (int i = 0; i < b->n; i++) {
                if (b->slot[i] < 0) {
                        report(b->paths[i], "%s", b->errors[i]);
                        t->failed++;
                        continue;
                }
                int truth = labels_of_batch[i];
                int k = top_k(probs + (size_t)b->slot[i] * t->classes,
                              t->classes, 5, top);
                t->seen++;
                t->top1 += top[0].index == truth;
                for (int r = 0; r < k; r++)
                        t->top5 += top[r].index == truth;
                t->confusion[(size_t)truth * t->classes + top[0].index]++;
        }
}

static void print_text(const struct tally *t, const struct dataset *d)
{
        printf("images: %zu (%zu could not be read)\n", t->seen, t->failed);
        printf("top-1: %.2f%%\ntop-5: %.2f%%\n\n",
               t->seen ? 100.0 * t->top1 / t->seen : 0,
               t->seen ? 100.0 * t->top5 / t->seen : 0);
        printf("%-24s %8s %8s\n", "class", "images", "top-1");
        for (int c = 0; c < t->classes; c++) {
                size_t n = 0;
                for (int p = 0; p < t->classes; p++)
                        n += t->confusion[(size_t)c * t->classes + p];
                size_t right = t->confusion[(size_t)c * t->classes + c];
                printf("%-24s %8zu %7.2f%%\n", d->class_names[c], n,
                       n ? 100.0 * right / n : 0);
        }
        printf("\nconfusion matrix (rows: true class, columns: predicted)\n");
        printf("%4s", "");
        for (int p = 0; p < t->classes; p++)
                printf(" %6d", p);
        putchar('\n');
        for (int c = 0; c < t->classes; c++) {
                printf("%4d", c);
                for (int p = 0; p < t->classes; p++)
                        printf(" %6zu",
                               t->confusion[(size_t)c * t->classes + p]);
                putchar('\n');
        }
}

static void print_json(const struct tally *t, const struct dataset *d)
{
        json_t *classes = json_array(), *matrix = json_array();
        for (int c = 0; c < t->classes; c++) {
                json_t *row = json_array();
                size_t n = 0;
                for (int p = 0; p < t->classes; p++) {
                        size_t v = t->confusion[(size_t)c * t->classes + p];
                        n += v;
                        json_array_append_new(row, json_integer((json_int_t)v));
                }
                json_array_append_new(matrix, row);
                json_array_append_new(
                        classes,
                        json_pack("{s:s,s:I,s:f}", "name", d->class_names[c],
                                  "images", (json_int_t)n, "top1",
                                  n ? (double)t->confusion[(size_t)c *
                                                                   t->classes +
                                                           c] /
                                                  n
                                    : 0.0));
        }
        json_t *doc =
                json_pack("{s:I,s:I,s:f,s:f,s:o,s:o}", "images",
                          (json_int_t)t->seen, "failed", (json_int_t)t->failed,
                          "top1", t->seen ? (double)t->top1 / t->seen : 0.0,
                          "top5", t->seen ? (double)t->top5 / t->seen : 0.0,
                          "classes", classes, "confusion", matrix);
        json_dumpf(doc, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(doc);
}

int evaluate_folder(struct model *m, struct pipeline *p,
                    const struct dataset *d, const struct predict_options *o)
{
        struct tally t = {0};
        t.classes = (int)net_outputs(&m->net);
        if (t.classes != d->n_classes) {
                report(o->eval, "%d class folders, the model has %d classes",
                       d->n_classes, t.classes);
                return EXIT_FATAL;
        }
        t.confusion =
                calloc((size_t)t.classes * t.classes, sizeof *t.confusion);
        float *probs = malloc((size_t)o->batch * t.classes * sizeof *probs);
        int status = t.confusion && probs ? EXIT_ALL_DONE : EXIT_FATAL;
        size_t position = 0;
        for (bool last = false; status != EXIT_FATAL && !last;) {
                struct batch *b = pipeline_next(p);
                last = b->last;
                if (!classify_pipeline_batch(m, b, o->crops, probs)) {
                        status = EXIT_FATAL;
                } else {
                        count_batch(&t, b, probs, d->labels + position);
                        position += b->n;
                }
        }
        if (status != EXIT_FATAL) {
                if (o->format == FORMAT_JSON)
                        print_json(&t, d);
                else
                        print_text(&t, d);
                status = t.failed ? EXIT_SOME_FAILED : EXIT_ALL_DONE;
        }
        free(t.confusion);
        free(probs);
        return status;
}
