#include "train/train_log.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/file_read.h"
#include "draw/chart.h"

/* A log of more than this is not one this tool wrote (a million epochs
 * of about 100 bytes). */
#define LOG_MAX_BYTES ((size_t)128 << 20)

static const char *const COLUMN_NAMES[LOG_COLUMNS] = {
        "train_loss", "val_loss", "train_top1",
        "train_top5", "val_top1", "val_top5",
};

void train_log_header(FILE *f)
{
        fputs("epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,"
              "seconds,images_per_s,train_top5\n",
              f);
}

void train_log_line(FILE *f, const struct epoch_report *r)
{
        /* top-5 only when there are more than 5 classes (otherwise it is
         * 100%); validation's columns empty without it */
        bool top5 = r->classes > 5;
        fprintf(f, "%d,%.6g,%.6f,%.6f,", r->epoch + 1, r->lr, r->train_loss,
                r->train_top1);
        if (r->validated)
                fprintf(f, "%.6f,%.6f,", r->val.loss, r->val.top1);
        else
                fputs(",,", f);
        if (r->validated && top5)
                fprintf(f, "%.6f", r->val.top5);
        fprintf(f, ",%.1f,%.1f,", r->seconds, r->images_per_s);
        if (top5)
                fprintf(f, "%.6f", r->train_top5);
        fputc('\n', f);
}

double train_log_value(const struct train_log *log, enum train_log_column c,
                       int i)
{
        return log->values[(size_t)c * log->n + i];
}

void train_log_free(struct train_log *log)
{
        free(log->epoch);
        free(log->values);
        memset(log, 0, sizeof *log);
}

/* Splits line at commas in place into at most max fields; the count. */
static int split(char *line, char **fields, int max)
{
        int n = 0;
        for (char *p = line; n < max;) {
                fields[n++] = p;
                p = strchr(p, ',');
                if (!p)
                        break;
                *p++ = '\0';
        }
        return n;
}

enum { MAX_FIELDS = 64 };

/* Where each wanted column is in the header (-1: absent). */
static enum an_status read_header(char *line, int *epoch_at,
                                  int at[LOG_COLUMNS], struct an_error *err)
{
        char *names[MAX_FIELDS];
        int n = split(line, names, MAX_FIELDS);
        *epoch_at = -1;
        for (int c = 0; c < LOG_COLUMNS; c++)
                at[c] = -1;
        for (int i = 0; i < n; i++) {
                names[i][strcspn(names[i], "\r")] = '\0';
                if (!strcmp(names[i], "epoch"))
                        *epoch_at = i;
                for (int c = 0; c < LOG_COLUMNS; c++)
                        if (!strcmp(names[i], COLUMN_NAMES[c]))
                                at[c] = i;
        }
        if (*epoch_at < 0 || at[LOG_TRAIN_LOSS] < 0)
                return an_error_set(err, AN_E_FORMAT,
                                    "not a training log (its first line "
                                    "names no epoch and train_loss columns)");
        return AN_OK;
}

/* A number, or NaN for an empty field; false for anything else. */
static bool parse_value(const char *s, double *v)
{
        if (!*s || *s == '\r') {
                *v = NAN;
                return true;
        }
        char *end;
        *v = strtod(s, &end);
        return end != s && (!*end || *end == '\r');
}

/* Rows of the last run: each row an epoch and LOG_COLUMNS values. */
struct rows {
        double *v; /* [n][1 + LOG_COLUMNS] */
        int n, capacity;
};

static bool add_row(struct rows *r, const double *row)
{
        if (r->n == r->capacity) {
                int c = r->capacity ? 2 * r->capacity : 64;
                double *v = realloc(r->v,
                                    (size_t)c * (1 + LOG_COLUMNS) * sizeof *v);
                if (!v)
                        return false;
                r->v = v;
                r->capacity = c;
        }
        memcpy(r->v + (size_t)r->n++ * (1 + LOG_COLUMNS), row,
               (1 + LOG_COLUMNS) * sizeof *row);
        return true;
}

static enum an_status read_line(char *line, int number, int epoch_at,
                                const int at[LOG_COLUMNS], struct rows *r,
                                struct an_error *err)
{
        char *fields[MAX_FIELDS];
        int n = split(line, fields, MAX_FIELDS);
        double row[1 + LOG_COLUMNS];
        bool ok = epoch_at < n && parse_value(fields[epoch_at], &row[0]) &&
                  isfinite(row[0]);
        for (int c = 0; ok && c < LOG_COLUMNS; c++)
                ok = at[c] < 0 || at[c] >= n
                             ? (row[1 + c] = NAN, true)
                             : parse_value(fields[at[c]], &row[1 + c]);
        if (!ok)
                return an_error_set(err, AN_E_FORMAT,
                                    "line %d is not an epoch's numbers",
                                    number);
        /* an epoch not after the last one: a new run appended */
        if (r->n && row[0] <= r->v[(size_t)(r->n - 1) * (1 + LOG_COLUMNS)])
                r->n = 0;
        return add_row(r, row) ? AN_OK
                               : an_error_set(err, AN_E_NOMEM, "out of memory");
}

static enum an_status take_rows(struct train_log *log, const struct rows *r,
                                struct an_error *err)
{
        log->n = r->n;
        log->epoch = malloc(((size_t)r->n + 1) * sizeof *log->epoch);
        log->values =
                malloc(((size_t)r->n + 1) * LOG_COLUMNS * sizeof *log->values);
        if (!log->epoch || !log->values) {
                train_log_free(log);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        for (int i = 0; i < r->n; i++) {
                const double *row = r->v + (size_t)i * (1 + LOG_COLUMNS);
                log->epoch[i] = row[0];
                for (int c = 0; c < LOG_COLUMNS; c++)
                        log->values[(size_t)c * r->n + i] = row[1 + c];
        }
        return AN_OK;
}

enum an_status train_log_read(struct train_log *log, const char *path,
                              struct an_error *err)
{
        memset(log, 0, sizeof *log);
        uint8_t *data;
        size_t size;
        enum an_status st =
                file_read_whole(path, LOG_MAX_BYTES, &data, &size, err);
        if (st != AN_OK)
                return st;
        char *text = malloc(size + 1);
        if (!text)
                st = an_error_set(err, AN_E_NOMEM, "out of memory");
        else if (memchr(data, '\0', size))
                st = an_error_set(err, AN_E_FORMAT,
                                  "not a training log (binary data)");
        if (text) {
                memcpy(text, data, size);
                text[size] = '\0';
        }
        free(data);
        int epoch_at = -1, at[LOG_COLUMNS], number = 0;
        struct rows rows = {0};
        char *save = NULL;
        for (char *line = st == AN_OK ? strtok_r(text, "\n", &save) : NULL;
             st == AN_OK && line; line = strtok_r(NULL, "\n", &save)) {
                number++;
                st = number == 1 ? read_header(line, &epoch_at, at, err)
                                 : read_line(line, number, epoch_at, at, &rows,
                                             err);
        }
        if (st == AN_OK && !rows.n)
                st = an_error_set(err, AN_E_FORMAT, "holds no epoch yet");
        if (st == AN_OK)
                st = take_rows(log, &rows, err);
        free(rows.v);
        free(text);
        return st;
}

static const double BLUE[3] = {0.12, 0.47, 0.71},
                    ORANGE[3] = {1.00, 0.50, 0.05};

/* A series of column c, or none when the column is empty throughout. */
static int add_series(const struct train_log *log, enum train_log_column c,
                      const char *label, const double rgb[3], bool dashed,
                      struct series *s)
{
        const double *y = log->values + (size_t)c * log->n;
        bool any = false;
        for (int i = 0; i < log->n; i++)
                any |= isfinite(y[i]);
        if (!any)
                return 0;
        *s = (struct series){
                label, log->epoch, y, log->n, {rgb[0], rgb[1], rgb[2]}, dashed};
        return 1;
}

enum an_status train_log_draw(const struct train_log *log, const char *png,
                              struct plot_area *areas, struct an_error *err)
{
        struct series loss[2], acc[4];
        int nl = 0, na = 0;
        nl += add_series(log, LOG_TRAIN_LOSS, "training", BLUE, false,
                         &loss[nl]);
        nl += add_series(log, LOG_VAL_LOSS, "validation", ORANGE, false,
                         &loss[nl]);
        na += add_series(log, LOG_TRAIN_TOP1, "training top-1", BLUE, false,
                         &acc[na]);
        na += add_series(log, LOG_TRAIN_TOP5, "training top-5", BLUE, true,
                         &acc[na]);
        na += add_series(log, LOG_VAL_TOP1, "validation top-1", ORANGE, false,
                         &acc[na]);
        na += add_series(log, LOG_VAL_TOP5, "validation top-5", ORANGE, true,
                         &acc[na]);
        struct panel panels[2] = {
                {"loss", "epoch", "cross-entropy", loss, nl, false, 0, 0},
                {"accuracy", "epoch", "share of images", acc, na, true, 0, 1},
        };
        return draw_chart(panels, 2, 480, 360, png, areas, err);
}

char *train_log_picture_path(const char *log_path)
{
        size_t n = strlen(log_path);
        bool csv = n > 4 && !strcmp(log_path + n - 4, ".csv");
        size_t stem = csv ? n - 4 : n;
        char *p = malloc(stem + 5);
        if (p) {
                memcpy(p, log_path, stem);
                memcpy(p + stem, ".png", 5);
        }
        return p;
}
