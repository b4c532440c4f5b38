/* The start of a run of several processes (run.h): whether every process
 * opened its run, whether all opened the same one (the same settings, data
 * and network, compared by a fingerprint), then rank 0's weights, velocity
 * and state on every process.  Private to run.c. */
#ifndef ALEXNET_JOIN_H
#define ALEXNET_JOIN_H

#include "base/errors.h"
#include "train/run.h"

/* st: how opening went on this process.  Returns it, or the first reason
 * the processes cannot go on together (the same on every process but for
 * the one whose own opening failed). */
enum an_status train_run_join(struct train_run *r, enum an_status st,
                              struct an_error *err);

#endif
