#include "model/model_meta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

enum { MAX_LABEL_BYTES = 1024 };

json_t *preprocess_to_json(const struct preprocess *p, struct shape input)
{
        return json_pack("{sis[ii]sssfs[fff]s[fff]}", "resize", p->resize,
                         "crop", input.h, input.w, "channels", p->channels,
                         "scale", p->scale, "mean", p->mean[0], p->mean[1],
                         p->mean[2], "std", p->std[0], p->std[1], p->std[2]);
}

static enum an_status bad_preprocess(struct an_error *err, const char *what)
{
        return an_error_set(err, AN_E_FORMAT, "preprocess: %s", what);
}

static bool read_triple(const json_t *j, double out[3], bool positive)
{
        if (json_array_size(j) != 3)
                return false;
        for (int i = 0; i < 3; i++) {
                const json_t *v = json_array_get(j, i);
                out[i] = json_number_value(v);
                if (!json_is_number(v) || !isfinite(out[i]) ||
                    (positive && !(out[i] > 0)))
                        return false;
        }
        return true;
}

enum an_status preprocess_from_json(struct preprocess *p, const json_t *j,
                                    struct shape input, struct an_error *err)
{
        const json_t *resize = json_object_get(j, "resize");
        const json_t *crop = json_object_get(j, "crop");
        const char *channels =
                json_string_value(json_object_get(j, "channels"));
        const json_t *scale = json_object_get(j, "scale");
        if (!json_is_object(j))
                return bad_preprocess(err, "not a JSON object");
        json_int_t r = json_integer_value(resize);
        if (!json_is_integer(resize) || r < 1 || r > 1 << 16)
                return bad_preprocess(err, "\"resize\" must be a positive "
                                           "integer");
        p->resize = (int)r;
        if (p->resize < input.h || p->resize < input.w)
                return bad_preprocess(err, "\"resize\" is smaller than the "
                                           "input crop");
        if (json_array_size(crop) != 2 ||
            json_integer_value(json_array_get(crop, 0)) != input.h ||
            json_integer_value(json_array_get(crop, 1)) != input.w)
                return bad_preprocess(err, "\"crop\" must equal the "
                                           "architecture's input size");
        if (!channels || (strcmp(channels, "RGB") && strcmp(channels, "BGR")))
                return bad_preprocess(err, "\"channels\" must be RGB or BGR");
        strcpy(p->channels, channels);
        p->scale = json_number_value(scale);
        if (!json_is_number(scale) || !isfinite(p->scale) || !(p->scale > 0))
                return bad_preprocess(err, "\"scale\" must be a positive "
                                           "number");
        if (!read_triple(json_object_get(j, "mean"), p->mean, false) ||
            !read_triple(json_object_get(j, "std"), p->std, true))
                return bad_preprocess(err, "\"mean\" and \"std\" must be "
                                           "three numbers (std positive)");
        return AN_OK;
}

json_t *labels_to_json(char *const *labels)
{
        json_t *j = json_array();
        for (size_t i = 0; j && labels && labels[i]; i++)
                if (json_array_append_new(j, json_string(labels[i]))) {
                        json_decref(j);
                        return NULL;
                }
        return j;
}

void labels_free(char **labels)
{
        for (size_t i = 0; labels && labels[i]; i++)
                free(labels[i]);
        free(labels);
}

enum an_status label_check(const char *s, struct an_error *err)
{
        json_t *probe = json_string(s); /* NULL unless valid UTF-8 */
        bool utf8 = probe != NULL;
        json_decref(probe);
        if (!utf8)
                return an_error_set(err, AN_E_INVALID, "not valid UTF-8");
        if (strlen(s) > MAX_LABEL_BYTES)
                return an_error_set(err, AN_E_INVALID, "longer than %d bytes",
                                    MAX_LABEL_BYTES);
        if (strchr(s, '\n') || strchr(s, '\t'))
                return an_error_set(err, AN_E_INVALID,
                                    "holds a newline or a tab");
        return AN_OK;
}

enum an_status labels_from_json(char ***labels, const json_t *j, size_t count,
                                struct an_error *err)
{
        if (!json_is_array(j) || json_array_size(j) != count)
                return an_error_set(err, AN_E_FORMAT,
                                    "labels: expected an array of %zu "
                                    "strings, one per output",
                                    count);
        char **list = calloc(count + 1, sizeof *list);
        if (!list)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
                const char *s = json_string_value(json_array_get(j, i));
                struct an_error why;
                if (!s || label_check(s, &why) != AN_OK) {
                        labels_free(list);
                        return an_error_set(err, AN_E_FORMAT,
                                            "labels: entry %zu is not a "
                                            "single-line string of at most "
                                            "%d bytes",
                                            i, MAX_LABEL_BYTES);
                }
                if (!(list[i] = strdup(s))) {
                        labels_free(list);
                        return an_error_set(err, AN_E_NOMEM, "out of memory");
                }
        }
        *labels = list;
        return AN_OK;
}

void provenance_stamp(json_t *provenance, const char *time_key)
{
        char when[32];
        time_t now = time(NULL);
        struct tm utc;
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &utc));
        json_object_set_new(provenance, time_key, json_string(when));
        json_object_set_new(provenance, "tool",
                            json_string("alexnet " PACKAGE_VERSION));
}
