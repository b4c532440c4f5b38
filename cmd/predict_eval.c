/* alexnet predict --eval DATADIR: accuracy on a labelled image folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/classify.h"
#include "cli.h"
#include "predict_eval.h"

/* Counts a batch: failures reported, the decoded images against their
 * labels. */
static void count_batch(struct accuracy *acc, size_t *failed,
                        const struct batch *b, const float *probs,
                        const int *labels_of_batch)
{
        for (int i = 0; i < b->n; i++) {
                if (b->slot[i] < 0) {
                        report(b->paths[i], "%s", b->errors[i]);
                        (*failed)++;
                        continue;
                }
                accuracy_add(acc, probs + (size_t)b->slot[i] * acc->classes,
                             &labels_of_batch[i], 1);
        }
}

static void print_text(const struct accuracy *t, size_t failed,
                       const struct dataset *d)
{
        printf("images: %zu (%zu could not be read)\n", t->seen, failed);
        printf("top-1: %.2f%%\ntop-5: %.2f%%\n\n", 100 * accuracy_top1(t),
               100 * accuracy_top5(t));
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

static void print_json(const struct accuracy *t, size_t failed,
                       const struct dataset *d)
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
        json_t *doc = json_pack(
                "{s:I,s:I,s:f,s:f,s:o,s:o}", "images", (json_int_t)t->seen,
                "failed", (json_int_t)failed, "top1", accuracy_top1(t), "top5",
                accuracy_top5(t), "classes", classes, "confusion", matrix);
        json_dumpf(doc, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(doc);
}

bool eval_part_init(struct eval_part *part, const struct dataset *d,
                    const struct comm *c)
{
        size_t step = (size_t)c->size, first = (size_t)c->rank;
        part->n = d->n > first ? (d->n - first + step - 1) / step : 0;
        part->paths = malloc((part->n + 1) * sizeof *part->paths);
        part->labels = malloc((part->n + 1) * sizeof *part->labels);
        for (size_t i = 0; part->paths && part->labels && i < part->n; i++) {
                part->paths[i] = d->paths[first + i * step];
                part->labels[i] = d->labels[first + i * step];
        }
        return part->paths && part->labels;
}

void eval_part_free(struct eval_part *part)
{
        free(part->paths);
        free(part->labels);
}

/* Every process's counts and failures summed (confusion matrix
 * included). */
static bool sum_counts(struct accuracy *acc, size_t *failed,
                       const struct comm *c)
{
        size_t cells = (size_t)acc->classes * acc->classes;
        uint64_t *v = malloc((cells + 4) * sizeof *v);
        if (!v)
                return false;
        v[0] = acc->seen, v[1] = acc->top1, v[2] = acc->top5, v[3] = *failed;
        for (size_t i = 0; i < cells; i++)
                v[4 + i] = acc->confusion[i];
        struct an_error err;
        bool ok = comm_sum_u64(c, v, cells + 4, &err) == AN_OK;
        if (!ok)
                report("predict", "%s", err.message);
        acc->seen = v[0], acc->top1 = v[1], acc->top5 = v[2], *failed = v[3];
        for (size_t i = 0; i < cells; i++)
                acc->confusion[i] = v[4 + i];
        free(v);
        return ok;
}

int evaluate_folder(struct model *m, struct pipeline *p,
                    const struct dataset *d, const struct eval_part *part,
                    const struct comm *c, const char *dir, bool json)
{
        struct accuracy acc;
        struct an_error err;
        int classes = (int)net_outputs(&m->net);
        if (classes != d->n_classes) {
                report(dir, "%d class folders, the model has %d classes",
                       d->n_classes, classes);
                return EXIT_FATAL;
        }
        float *probs = malloc((size_t)p->capacity * classes * sizeof *probs);
        if (!probs || accuracy_init(&acc, classes, true, &err) != AN_OK) {
                free(probs);
                report("predict", "out of memory");
                return EXIT_FATAL;
        }
        int status = EXIT_ALL_DONE;
        size_t position = 0, failed = 0;
        for (bool last = false; status != EXIT_FATAL && !last;) {
                struct batch *b = pipeline_next(p);
                last = b->last;
                if (!pipeline_classify(p, b, probs)) {
                        status = EXIT_FATAL;
                } else {
                        count_batch(&acc, &failed, b, probs,
                                    part->labels + position);
                        position += b->n;
                }
        }
        if (status != EXIT_FATAL && !sum_counts(&acc, &failed, c))
                status = EXIT_FATAL;
        if (status != EXIT_FATAL && c->rank == 0) {
                if (json)
                        print_json(&acc, failed, d);
                else
                        print_text(&acc, failed, d);
        }
        if (status != EXIT_FATAL) {
                status = failed ? EXIT_SOME_FAILED : EXIT_ALL_DONE;
        }
        accuracy_free(&acc);
        free(probs);
        return status;
}
