#include "predict_features.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "base/file_read.h"
#include "cli.h"
#include "escape.h"
#include "formats/npy.h"
#include "model/features.h"
#include "search/neighbours.h"

/* ---- vectors and their names --------------------------------------------
 */

/* Rows of dim floats with a name each, growing. */
struct named_rows {
        float *v;
        char **names;
        size_t n, capacity, dim;
};

static bool rows_add(struct named_rows *r, const float *v, const char *name)
{
        if (r->n == r->capacity) {
                size_t c = r->capacity ? 2 * r->capacity : 256;
                /* dim 0: names only */
                float *nv =
                        r->dim ? realloc(r->v, c * r->dim * sizeof *nv) : r->v;
                if (nv)
                        r->v = nv;
                char **nn = realloc(r->names, c * sizeof *nn);
                if (nn)
                        r->names = nn;
                if ((r->dim && !nv) || !nn)
                        return false;
                r->capacity = c;
        }
        char *copy = strdup(name);
        if (!copy)
                return false;
        if (r->dim)
                memcpy(r->v + r->n * r->dim, v, r->dim * sizeof *v);
        r->names[r->n++] = copy;
        return true;
}

static void rows_free(struct named_rows *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->names[i]);
        free(r->names);
        free(r->v);
        memset(r, 0, sizeof *r);
}

char *npy_names_path(const char *npy_path)
{
        size_t n = strlen(npy_path);
        size_t stem = n > 4 && !strcmp(npy_path + n - 4, ".npy") ? n - 4 : n;
        char *p = malloc(stem + 5);
        if (p) {
                memcpy(p, npy_path, stem);
                memcpy(p + stem, ".txt", 5);
        }
        return p;
}

/* An index: the matrix, mapped, and its names (FILE.txt beside it). */
struct index {
        struct npy_matrix matrix;
        char *text; /* the names file, split in place */
        char **names;
};

static void index_close(struct index *x)
{
        npy_close(&x->matrix);
        free(x->text);
        free(x->names);
}

/* Splits the names file into x->names, one a line, unescaped; false,
 * with the message in err, when it does not name every row. */
static bool split_names(struct index *x, size_t size, struct an_error *err)
{
        size_t rows = x->matrix.rows, n = 0;
        x->names = malloc((rows ? rows : 1) * sizeof *x->names);
        if (!x->names)
                return an_error_set(err, AN_E_NOMEM, "out of memory"), false;
        for (char *line = x->text; line < x->text + size && n <= rows;) {
                char *end = memchr(line, '\n', x->text + size - line);
                if (!end)
                        end = x->text + size;
                *end = '\0';
                if (n < rows && !unescape_in_place(line))
                        return an_error_set(err, AN_E_FORMAT,
                                            "line %zu is not an escaped path",
                                            n + 1),
                               false;
                if (n < rows)
                        x->names[n] = line;
                n++;
                line = end + 1;
        }
        if (n != rows)
                return an_error_set(err, AN_E_FORMAT,
                                    "names %s%zu paths for %zu rows of the "
                                    "matrix",
                                    n > rows ? "more than " : "", n, rows),
                       false;
        return true;
}

static bool index_open(struct index *x, const char *path, size_t dim)
{
        memset(x, 0, sizeof *x);
        struct an_error err;
        if (npy_open(&x->matrix, path, &err) != AN_OK) {
                report(path, "%s", err.message);
                return false;
        }
        if (x->matrix.cols != dim) {
                report(path,
                       "holds vectors of %zu values; the layer chosen gives "
                       "%zu (--layer must be the one the index was made "
                       "with)",
                       x->matrix.cols, dim);
                index_close(x);
                return false;
        }
        char *names = npy_names_path(path);
        uint8_t *data = NULL;
        size_t size = 0;
        enum an_status st =
                names ? file_read_whole(names, (size_t)1 << 32, &data, &size,
                                        &err)
                      : an_error_set(&err, AN_E_NOMEM, "out of memory");
        if (st == AN_OK && memchr(data, '\0', size))
                st = an_error_set(&err, AN_E_FORMAT, "holds a NUL byte");
        x->text = (char *)data;
        if (st == AN_OK && size && x->text[size - 1] == '\n')
                size--; /* the last line's end */
        bool ok = st == AN_OK && split_names(x, size, &err);
        if (!ok)
                report(names ? names : path, "%s", err.message);
        free(names);
        if (!ok)
                index_close(x);
        return ok;
}

/* ---- records ----------------------------------------------------------------
 */

static const char *score_name(const struct feature_options *o)
{
        return o->metric == METRIC_COSINE ? "similarity" : "distance";
}

static void feature_record(FILE *out, const struct feature_options *o,
                           const char *layer, const char *path, const float *v,
                           size_t dim)
{
        bool json = o->format == FORMAT_JSON;
        if (json) {
                put_json_file(out, path);
                fputs(",\"layer\":", out);
                put_json_string(out, layer);
                fputs(",\"features\":[", out);
        } else
                put_escaped(out, path);
        for (size_t j = 0; j < dim; j++) {
                if (json && j)
                        fputc(',', out);
                if (!json)
                        fputc('\t', out);
                if (isfinite(v[j]))
                        fprintf(out, "%.9g", v[j]);
                else
                        fputs(json ? "null" : "nan", out);
        }
        fputs(json ? "]}\n" : "\n", out);
}

static void neighbour_record(FILE *out, const struct feature_options *o,
                             const char *path, const struct neighbour *best,
                             int k, char *const *names)
{
        switch (o->format) {
        case FORMAT_TEXT:
                put_escaped(out, path);
                fputc(':', out);
                for (int r = 0; r < k; r++) {
                        fputs(r ? ", " : " ", out);
                        put_escaped(out, names[best[r].row]);
                        fprintf(out, " %.6f", best[r].score);
                }
                fputc('\n', out);
                break;
        case FORMAT_TSV:
                for (int r = 0; r < k; r++) {
                        put_escaped(out, path);
                        fprintf(out, "\t%d\t", r + 1);
                        put_escaped(out, names[best[r].row]);
                        fprintf(out, "\t%.6f\n", best[r].score);
                }
                break;
        default:
                put_json_file(out, path);
                fputs(",\"neighbours\":[", out);
                for (int r = 0; r < k; r++) {
                        fprintf(out, "%s{\"rank\":%d,\"file\":", r ? "," : "",
                                r + 1);
                        put_json_string(out, names[best[r].row]);
                        fprintf(out, ",\"%s\":%.9g}", score_name(o),
                                best[r].score);
                }
                fputs("]}\n", out);
        }
}

static void pair_record(FILE *out, const struct feature_options *o,
                        const char *a, const char *b, float score)
{
        bool json = o->format == FORMAT_JSON;
        if (json) {
                put_json_file(out, a);
                fputs(",\"other\":", out);
                put_json_string(out, b);
                fprintf(out, ",\"%s\":%.9g}\n", score_name(o), score);
                return;
        }
        put_escaped(out, a);
        fputc('\t', out);
        put_escaped(out, b);
        fprintf(out, "\t%.6f\n", score);
}

static void header_record(const struct feature_options *o, size_t dim)
{
        if (!o->header || o->format != FORMAT_TSV)
                return;
        if (o->mode == MODE_FEATURES) {
                fputs("path", stdout);
                for (size_t j = 0; j < dim; j++)
                        printf("\tf%zu", j);
                fputc('\n', stdout);
        } else if (o->mode == MODE_NEIGHBOURS)
                printf("path\trank\tneighbour\t%s\n", score_name(o));
        else
                printf("path\tother\t%s\n", score_name(o));
}

/* ---- the run
 * ------------------------------------------------------------------
 */

struct run {
        const struct feature_options *o;
        int layer;
        const char *layer_name;
        size_t dim;
        float *features;    /* [batch capacity][dim] */
        struct index index; /* --index */
        bool has_index;
        struct vector_set set;    /* the index's, for --index */
        struct neighbour *best;   /* [batch capacity][k] */
        struct named_rows inputs; /* --duplicates: vectors; npy: names */
        size_t npy_rows;
};

static bool run_open(struct run *r, struct model *m, int capacity,
                     const struct feature_options *o)
{
        memset(r, 0, sizeof *r);
        r->o = o;
        const struct arch *a = &m->net.arch;
        r->layer = o->layer ? arch_find_layer(a, o->layer)
                            : feature_layer_default(a);
        if (r->layer < 0) {
                report(o->layer ? o->layer : "predict",
                       o->layer ? "no such layer in the model (alexnet "
                                  "inspect lists them)"
                                : "the model has no hidden layer");
                return false;
        }
        r->layer_name = a->layers[r->layer].name;
        r->dim = feature_size(&m->net, r->layer);
        r->inputs.dim = o->mode == MODE_DUPLICATES ? r->dim : 0;
        r->features = malloc((size_t)capacity * r->dim * sizeof *r->features);
        if (!r->features) {
                report("predict", "out of memory");
                return false;
        }
        if (!o->index)
                return true;
        if (!index_open(&r->index, o->index, r->dim))
                return false;
        r->has_index = true;
        if (o->mode != MODE_NEIGHBOURS)
                return true;
        struct an_error err;
        r->best = malloc((size_t)capacity * o->k * sizeof *r->best);
        if (!r->best ||
            vector_set_init(&r->set, r->index.matrix.data, r->index.matrix.rows,
                            r->dim, &err) != AN_OK) {
                report("predict", "out of memory");
                return false;
        }
        return true;
}

static void run_close(struct run *r)
{
        free(r->features);
        free(r->best);
        vector_set_free(&r->set);
        if (r->has_index)
                index_close(&r->index);
        rows_free(&r->inputs);
}

/* One decoded image's result, as the mode wants it; false when out of
 * memory. */
static bool take_image(struct run *r, const char *path, int slot)
{
        const float *v = r->features + (size_t)slot * r->dim;
        if (r->o->mode == MODE_DUPLICATES)
                return rows_add(&r->inputs, v, path);
        if (r->o->format == FORMAT_NPY) {
                /* a write error shows on stdout's error flag, reported at
                 * the end as for every record */
                r->npy_rows++;
                fwrite(v, sizeof *v, r->dim, stdout);
                return rows_add(&r->inputs, NULL, path);
        }
        char *text;
        size_t length;
        FILE *record = record_open(&text, &length);
        if (record && r->o->mode == MODE_FEATURES)
                feature_record(record, r->o, r->layer_name, path, v, r->dim);
        else if (record) {
                size_t rows = r->index.matrix.rows;
                int k = (size_t)r->o->k < rows ? r->o->k : (int)rows;
                neighbour_record(record, r->o, path,
                                 r->best + (size_t)slot * r->o->k, k,
                                 r->index.names);
        }
        record_close(record, &text, &length);
        return true;
}

/* One batch; returns how many inputs failed, or -1 on a fatal error. */
static int take_batch(struct run *r, struct pipeline *p, const struct batch *b)
{
        struct an_error err;
        if (b->decoded &&
            features_batch(&p->model->net, b->input, b->decoded, p->crops,
                           r->layer, r->features, &err) != AN_OK) {
                report("predict", "%s", err.message);
                return -1;
        }
        if (model_check_file(p->model, &err) != AN_OK) {
                report(p->model_path, "%s", err.message);
                return -1;
        }
        if (b->decoded && r->o->mode == MODE_NEIGHBOURS &&
            nearest(&r->set, r->features, (size_t)b->decoded, r->o->metric,
                    r->o->k, r->best, &err) != AN_OK) {
                report("predict", "%s", err.message);
                return -1;
        }
        int failed = 0;
        for (int i = 0; i < b->n; i++) {
                if (b->slot[i] < 0) {
                        record_input_failure(b->paths[i], b->errors[i],
                                             r->o->format, r->o->recursive);
                        failed++;
                } else if (!take_image(r, b->paths[i], b->slot[i])) {
                        report("predict", "out of memory");
                        return -1;
                }
        }
        return failed;
}

/* npy: the real header over the placeholder, and the names file; false,
 * reported. */
static bool finish_npy(struct run *r)
{
        char header[NPY_HEADER_BYTES];
        npy_header(header, r->npy_rows, r->dim);
        if (fflush(stdout) != 0)
                return true; /* finish_output reports it */
        if (pwrite(STDOUT_FILENO, header, sizeof header, 0) !=
            (ssize_t)sizeof header) {
                report(r->o->output, "cannot write the matrix's header: %s",
                       strerror(errno));
                return false;
        }
        char *path = npy_names_path(r->o->output), *text = NULL;
        size_t length = 0;
        FILE *names = open_memstream(&text, &length);
        for (size_t i = 0; names && i < r->inputs.n; i++) {
                put_escaped(names, r->inputs.names[i]);
                fputc('\n', names);
        }
        bool rendered = names && fclose(names) == 0;
        struct atomic_file f;
        struct an_error err;
        enum an_status st =
                path && rendered
                        ? atomic_file_create(&f, path, &err)
                        : an_error_set(&err, AN_E_NOMEM, "out of memory");
        bool created = st == AN_OK;
        if (st == AN_OK)
                st = atomic_file_write(&f, text, length, &err);
        if (st == AN_OK)
                st = atomic_file_commit(&f, &err);
        if (st != AN_OK && created)
                atomic_file_abort(&f);
        if (st != AN_OK)
                report(path ? path : "predict", "%s", err.message);
        free(path);
        free(text);
        return st == AN_OK;
}

struct pair_output {
        const struct run *r;
        char *const *names;
};

static int put_pair(void *ctx, size_t i, size_t j, float score)
{
        const struct pair_output *p = ctx;
        char *text;
        size_t length;
        FILE *record = record_open(&text, &length);
        if (record)
                pair_record(record, p->r->o, p->names[i], p->names[j], score);
        record_close(record, &text, &length);
        return ferror(stdout) != 0;
}

/* --duplicates: the index's rows, then the inputs', searched pairwise;
 * false, reported. */
static bool find_duplicates(struct run *r)
{
        size_t from_index = r->has_index ? r->index.matrix.rows : 0;
        size_t n = from_index + r->inputs.n;
        float *all = r->inputs.v;
        char **names = r->inputs.names;
        if (from_index) {
                all = malloc((n ? n : 1) * r->dim * sizeof *all);
                names = malloc((n ? n : 1) * sizeof *names);
                if (!all || !names) {
                        free(all);
                        free(names);
                        report("predict", "out of memory");
                        return false;
                }
                memcpy(all, r->index.matrix.data,
                       from_index * r->dim * sizeof *all);
                if (r->inputs.n)
                        memcpy(all + from_index * r->dim, r->inputs.v,
                               r->inputs.n * r->dim * sizeof *all);
                memcpy(names, r->index.names, from_index * sizeof *names);
                if (r->inputs.n)
                        memcpy(names + from_index, r->inputs.names,
                               r->inputs.n * sizeof *names);
        }
        struct vector_set set;
        struct an_error err;
        struct pair_output out = {r, names};
        enum an_status st = vector_set_init(&set, all, n, r->dim, &err);
        if (st == AN_OK)
                st = near_pairs(&set, (enum metric)r->o->metric,
                                r->o->threshold, put_pair, &out, &err);
        vector_set_free(&set);
        if (from_index) {
                free(all);
                free(names);
        }
        /* a write error stopped it: finish_output reports it */
        if (st != AN_OK && !ferror(stdout))
                report("predict", "%s", err.message);
        return st == AN_OK || ferror(stdout);
}

int features_run(struct model *m, struct pipeline *p,
                 const struct feature_options *o)
{
        struct run r;
        if (!run_open(&r, m, p ? p->capacity : 1, o)) {
                run_close(&r);
                return EXIT_FATAL;
        }
        header_record(o, r.dim);
        if (o->format == FORMAT_NPY) {
                char placeholder[NPY_HEADER_BYTES];
                npy_header(placeholder, 0, r.dim);
                fwrite(placeholder, 1, sizeof placeholder, stdout);
        }
        int status = EXIT_ALL_DONE;
        for (bool last = !p; !last;) {
                struct batch *b = pipeline_next(p);
                last = b->last;
                int failed = take_batch(&r, p, b);
                if (failed < 0)
                        status = EXIT_FATAL;
                else if (failed)
                        status = EXIT_SOME_FAILED;
                if (b->read_errno) {
                        report("standard input", "%s", strerror(b->read_errno));
                        status = EXIT_FATAL;
                }
                if (status == EXIT_FATAL)
                        break;
                if (o->format != FORMAT_NPY && fflush(stdout) != 0)
                        break;
        }
        if (status != EXIT_FATAL && o->format == FORMAT_NPY && !finish_npy(&r))
                status = EXIT_FATAL;
        if (status != EXIT_FATAL && o->mode == MODE_DUPLICATES &&
            !find_duplicates(&r))
                status = EXIT_FATAL;
        run_close(&r);
        return status;
}
