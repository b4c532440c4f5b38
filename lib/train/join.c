#include "train/join.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, over the bytes of what must be the same on every process. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
        const unsigned char *p = data;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 0x100000001b3ull;
        return h;
}

static uint64_t hash_string(uint64_t h, const char *s)
{
        return hash_bytes(h, s, strlen(s) + 1);
}

static uint64_t hash_json(uint64_t h, const json_t *j)
{
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        h = hash_string(h, text ? text : "?");
        free(text);
        return h;
}

static uint64_t hash_dataset(uint64_t h, const struct dataset *d)
{
        h = hash_bytes(h, &d->n, sizeof d->n);
        for (int c = 0; c < d->n_classes; c++)
                h = hash_string(h, d->class_names[c]);
        for (size_t i = 0; i < d->n; i++) {
                h = hash_string(h, d->paths[i]);
                h = hash_bytes(h, &d->labels[i], sizeof d->labels[i]);
        }
        return h;
}

/* What every process of a run must agree on: the settings, the data
 * (every file and label) and the network's architecture. */
static uint64_t run_fingerprint(const struct train_run *r)
{
        uint64_t h = 0xcbf29ce484222325ull;
        json_t *settings = train_settings_to_json(&r->settings);
        json_t *arch = arch_to_json(&r->model.net.arch);
        h = hash_json(h, settings);
        h = hash_json(h, arch);
        json_decref(settings);
        json_decref(arch);
        h = hash_bytes(h, &r->trainer.n_params, sizeof r->trainer.n_params);
        h = hash_dataset(h, &r->train_set);
        return hash_dataset(h, &r->val_set);
}

/* Rank 0's weights, velocity and state on every process. */
static enum an_status broadcast_start(struct train_run *r, struct an_error *err)
{
        const struct comm *c = r->io.comm;
        size_t bytes = r->trainer.n_params * sizeof(float);
        enum an_status st =
                comm_broadcast(c, r->model.owned_params, bytes, err);
        if (st == AN_OK)
                st = comm_broadcast(c, r->trainer.velocity, bytes, err);
        if (st == AN_OK)
                st = comm_broadcast(c, &r->state, sizeof r->state, err);
        return st;
}

enum an_status train_run_join(struct train_run *r, enum an_status st,
                              struct an_error *err)
{
        const struct comm *c = r->io.comm;
        if (c->size < 2)
                return st;
        double failed = st != AN_OK;
        struct an_error sum_err;
        enum an_status summed = comm_sum_doubles(c, &failed, 1, &sum_err);
        if (st != AN_OK)
                return st;
        if (summed != AN_OK) {
                *err = sum_err;
                return summed;
        }
        r->error_file[0] = '\0'; /* about no one file */
        if (failed > 0)
                return an_error_set(err, AN_E_INVALID,
                                    "another process could not start the run "
                                    "(see its message)");
        int differing;
        st = comm_first_differing(c, run_fingerprint(r), &differing, err);
        if (st == AN_OK && differing >= 0)
                return an_error_set(err, AN_E_INVALID,
                                    "process %d was given other options, "
                                    "data or network than process 0",
                                    differing);
        return st == AN_OK ? broadcast_start(r, err) : st;
}
