/* The training log: one CSV line per epoch (what alexnet train --log
 * appends), read back and drawn as training curves.
 *
 *     epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,seconds,
 *     images_per_s,train_top5
 *
 * Columns are found by the header's names, so a log begun by an older
 * version (without train_top5) reads too; an empty field (no validation,
 * or top-5 with at most 5 classes) is a gap.  A log holds the runs that
 * were appended to it; an epoch number not above the one before starts a
 * new run, and the curves show the last. */
#ifndef ALEXNET_TRAIN_LOG_H
#define ALEXNET_TRAIN_LOG_H

#include <stdio.h>

#include "base/errors.h"
#include "train/run.h"

/* Writes the header line (for a new, empty log). */
void train_log_header(FILE *f);
/* Writes the epoch's line. */
void train_log_line(FILE *f, const struct epoch_report *r);

enum train_log_column {
        LOG_TRAIN_LOSS,
        LOG_VAL_LOSS,
        LOG_TRAIN_TOP1,
        LOG_TRAIN_TOP5,
        LOG_VAL_TOP1,
        LOG_VAL_TOP5,
        LOG_COLUMNS
};

struct train_log {
        int n;          /* epochs of the last run */
        double *epoch;  /* [n] */
        double *values; /* [LOG_COLUMNS][n]; NaN where empty */
};

/* Reads the last run of the log at path. */
enum an_status train_log_read(struct train_log *log, const char *path,
                              struct an_error *err);
void train_log_free(struct train_log *log);

/* The value of column c at epoch i. */
double train_log_value(const struct train_log *log, enum train_log_column c,
                       int i);

/* Draws the log as two panels, loss and accuracy (top-1 solid, top-5
 * dashed; training blue, validation orange), against epoch, into a PNG;
 * areas (2, or NULL) receive the panels' layouts (draw/chart.h). */
struct plot_area;
enum an_status train_log_draw(const struct train_log *log, const char *png,
                              struct plot_area *areas, struct an_error *err);

/* The picture's path beside a log: "run.csv" gives "run.png", any other
 * name gets ".png" added.  Freed by the caller; NULL when out of memory. */
char *train_log_picture_path(const char *log_path);

#endif
