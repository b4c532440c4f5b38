/* alexnet predict --eval DATADIR: accuracy on a labelled image folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/classify.h"
#include "cli.h"
#include "escape.h"
#include "predict_eval.h"
#include "predict_confusion.h"

/* Each class folder's output index: by name among the model's labels, or
 * (a model without labels) by sorted position.  NULL, reported, when a
 * folder names no class of the model. */
static int *match_classes(const struct model *m, const struct dataset *d,
                          const char *dir)
{
        int classes = (int)net_outputs(&m->net);
        int *index = malloc((d->n_classes + 1) * sizeof *index);
        if (!index) {
                report("predict", "out of memory");
                return NULL;
        }
        if (!m->labels && d->n_classes != classes) {
                report(dir,
                       "%d class folders, the model has %d classes and no "
                       "labels to match their names with",
                       d->n_classes, classes);
                free(index);
                return NULL;
        }
        for (int c = 0; c < d->n_classes; c++) {
                index[c] = m->labels ? -1 : c;
                for (int k = 0; m->labels && k < classes; k++)
                        if (!strcmp(m->labels[k], d->class_names[c]))
                                index[c] = k;
                if (index[c] < 0) {
                        report(dir,
                               "class folder '%s' is none of the model's "
                               "labels (alexnet inspect lists them)",
                               d->class_names[c]);
                        free(index);
                        return NULL;
                }
        }
        return index;
}

/* Counts a batch: failures reported, the decoded images against their
 * classes' output indices. */
static void count_batch(struct accuracy *acc, size_t *failed,
                        const struct batch *b, const float *probs,
                        const int *folder_of_batch, const int *index)
{
        for (int i = 0; i < b->n; i++) {
                if (b->slot[i] < 0) {
                        report(b->paths[i], "%s", b->errors[i]);
                        (*failed)++;
                        continue;
                }
                int label = index[folder_of_batch[i]];
                accuracy_add(acc, probs + (size_t)b->slot[i] * acc->classes,
                             &label, 1);
        }
}

/* Images of class folder c and how many of them ranked first. */
static void class_counts(const struct accuracy *t, int k, size_t *n,
                         size_t *right)
{
        *n = 0;
        for (int p = 0; p < t->classes; p++)
                *n += t->confusion[(size_t)k * t->classes + p];
        *right = t->confusion[(size_t)k * t->classes + k];
}

/* The text report prints the confusion matrix up to this many classes
 * (-f json always has it). */
enum { TEXT_MATRIX_MAX = 32 };

static void print_text(const struct accuracy *t, size_t failed,
                       const struct dataset *d, const int *index, bool named)
{
        printf("images: %zu (%zu could not be read)\n", t->seen, failed);
        printf("top-1: %.2f%%\n", 100 * accuracy_top1(t));
        if (t->classes > 5)
                printf("top-5: %.2f%%\n", 100 * accuracy_top5(t));
        printf("classes matched %s\n\n",
               named ? "by name to the model's labels"
                     : "by position (the model has no labels)");
        printf("%-24s %6s %8s %8s\n", "class", "output", "images", "top-1");
        for (int c = 0; c < d->n_classes; c++) {
                size_t n, right;
                class_counts(t, index[c], &n, &right);
                printf("%-24s %6d %8zu %7.2f%%\n", d->class_names[c], index[c],
                       n, n ? 100.0 * right / n : 0);
        }
        if (t->classes > TEXT_MATRIX_MAX) {
                printf("\n(%d outputs: the confusion matrix is in -f json)\n",
                       t->classes);
                return;
        }
        printf("\nconfusion matrix (rows: true output, columns: predicted)\n");
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

/* One line per class folder, then the whole folder's (class "*"). */
static void print_tsv(const struct accuracy *t, size_t failed,
                      const struct dataset *d, const int *index, bool header)
{
        if (header)
                printf("class\toutput\timages\ttop1\ttop5\tfailed\n");
        for (int c = 0; c < d->n_classes; c++) {
                size_t n, right;
                class_counts(t, index[c], &n, &right);
                char name[4096];
                printf("%s\t%d\t%zu\t%.8f\t\t\n",
                       escape_into(name, sizeof name, d->class_names[c]),
                       index[c], n, n ? (double)right / n : 0);
        }
        printf("*\t\t%zu\t%.8f\t%.8f\t%zu\n", t->seen, accuracy_top1(t),
               accuracy_top5(t), failed);
}

static void print_json(const struct accuracy *t, size_t failed,
                       const struct dataset *d, const int *index)
{
        json_t *classes = json_array(), *matrix = json_array();
        for (int p = 0; p < t->classes; p++) {
                json_t *row = json_array();
                for (int q = 0; q < t->classes; q++)
                        json_array_append_new(
                                row,
                                json_integer(
                                        (json_int_t)t->confusion
                                                [(size_t)p * t->classes + q]));
                json_array_append_new(matrix, row);
        }
        for (int c = 0; c < d->n_classes; c++) {
                size_t n, right;
                class_counts(t, index[c], &n, &right);
                json_array_append_new(classes,
                                      json_pack("{s:s,s:i,s:I,s:f}", "name",
                                                d->class_names[c], "output",
                                                index[c], "images",
                                                (json_int_t)n, "top1",
                                                n ? (double)right / n : 0.0));
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
                    const struct comm *c, const char *dir,
                    enum record_format format, bool header,
                    const char *confusion)
{
        struct accuracy acc;
        struct an_error err;
        int classes = (int)net_outputs(&m->net);
        int *index = match_classes(m, d, dir);
        if (!index)
                return EXIT_FATAL;
        float *probs = malloc((size_t)p->capacity * classes * sizeof *probs);
        if (!probs || accuracy_init(&acc, classes, true, &err) != AN_OK) {
                free(probs);
                free(index);
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
                                    part->labels + position, index);
                        position += b->n;
                }
        }
        if (status != EXIT_FATAL && !sum_counts(&acc, &failed, c))
                status = EXIT_FATAL;
        if (status != EXIT_FATAL && c->rank == 0) {
                if (format == FORMAT_JSON)
                        print_json(&acc, failed, d, index);
                else if (format == FORMAT_TSV)
                        print_tsv(&acc, failed, d, index, header);
                else
                        print_text(&acc, failed, d, index, m->labels != NULL);
                if (confusion &&
                    !draw_confusion(&acc, d, index, m->labels, confusion))
                        status = EXIT_FATAL;
                /* now: under mpirun a process that ends with status 1 gets
                 * the whole job killed, this one perhaps before its exit
                 * would flush */
                fflush(stdout);
        }
        if (status != EXIT_FATAL)
                status = failed ? EXIT_SOME_FAILED : EXIT_ALL_DONE;
        accuracy_free(&acc);
        free(probs);
        free(index);
        return status;
}
