#include "train/checkpoint.h"

#include <jansson.h>
#include <stdlib.h>

#include "formats/safetensors.h"

static json_t *state_to_json(const struct train_state *s)
{
        return json_pack("{s:i,s:i,s:I,s:f,s:f,s:i,s:f,s:i}", "epoch", s->epoch,
                         "step", s->step, "global_step",
                         (json_int_t)s->global_step, "lr", s->lr,
                         "best_val_error", s->best_val_error, "bad_epochs",
                         s->bad_epochs, "seconds", s->seconds, "global_batch",
                         s->global_batch);
}

static bool state_from_json(struct train_state *s, const json_t *j)
{
        json_int_t global_step;
        if (json_unpack((json_t *)j, "{s:i,s:i,s:I,s:F,s:F,s:i,s:F}", "epoch",
                        &s->epoch, "step", &s->step, "global_step",
                        &global_step, "lr", &s->lr, "best_val_error",
                        &s->best_val_error, "bad_epochs", &s->bad_epochs,
                        "seconds", &s->seconds))
                return false;
        /* Checkpoints from before distributed training have no
         * "global_batch": their settings' batch was it. */
        s->global_batch = 0;
        json_unpack((json_t *)j, "{s?i}", "global_batch", &s->global_batch);
        s->global_step = (uint64_t)global_step;
        return s->epoch >= 0 && s->step >= 0 && global_step >= 0 &&
               s->global_batch >= 0;
}

/* The metadata strings: each document as compact JSON text. */
static json_t *metadata(const struct train_settings *settings,
                        const struct train_state *state)
{
        json_t *set = train_settings_to_json(settings);
        json_t *sta = state_to_json(state);
        char *set_text = set ? json_dumps(set, JSON_COMPACT) : NULL;
        char *sta_text = sta ? json_dumps(sta, JSON_COMPACT) : NULL;
        json_t *meta = set_text && sta_text
                               ? json_pack("{s:s,s:s}", "train_settings",
                                           set_text, "train_state", sta_text)
                               : NULL;
        free(set_text);
        free(sta_text);
        json_decref(set);
        json_decref(sta);
        return meta;
}

enum an_status checkpoint_save(const char *path, const struct model *m,
                               const float *velocity, size_t n_params,
                               const struct train_settings *settings,
                               const struct train_state *state,
                               struct an_error *err)
{
        struct st_write_tensor v = {
                "train.velocity", ST_F32, 1, {(int64_t)n_params}, velocity};
        json_t *meta = metadata(settings, state);
        if (!meta)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        enum an_status st = model_save_with(m, path, ST_F32, &v, 1, meta, err);
        json_decref(meta);
        return st;
}

/* The JSON document stored as metadata string key, or NULL. */
static json_t *document(const struct st_file *f, const char *key)
{
        const char *text = st_metadata(f, key);
        return text ? json_loads(text, 0, NULL) : NULL;
}

static enum an_status not_a_checkpoint(struct an_error *err, const char *what)
{
        return an_error_set(err, AN_E_FORMAT, "not a training checkpoint (%s)",
                            what);
}

enum an_status checkpoint_read_settings(const char *path,
                                        struct train_settings *settings,
                                        struct an_error *err)
{
        struct st_file f;
        enum an_status st = st_open(&f, path, err);
        if (st != AN_OK)
                return st;
        json_t *j = document(&f, "train_settings");
        if (!j)
                st = not_a_checkpoint(err, st_metadata(&f, "train_state")
                                                   ? "written by an older "
                                                     "alexnet: it does not "
                                                     "record its options"
                                                   : "no training settings");
        else
                st = train_settings_from_json(settings, j, err);
        json_decref(j);
        st_close(&f);
        return st;
}

enum an_status checkpoint_read_state(const char *path,
                                     struct train_state *state, float *velocity,
                                     size_t n_params, struct an_error *err)
{
        struct st_file f;
        enum an_status st = st_open(&f, path, err);
        if (st != AN_OK)
                return st;
        const struct st_tensor *v = st_find(&f, "train.velocity");
        json_t *j = document(&f, "train_state");
        if (!j || !state_from_json(state, j))
                st = not_a_checkpoint(err, "no complete training state");
        else if (!v || v->count != n_params || v->dtype != ST_F32)
                st = not_a_checkpoint(err, "no velocity for this network");
        else
                st = st_tensor_to_f32(v, velocity, err);
        if (st == AN_OK)
                st = st_check(&f, err);
        json_decref(j);
        st_close(&f);
        return st;
}
