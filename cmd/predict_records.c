#include "predict_records.h"

#include "cli.h"
#include "escape.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

const char *const record_format_names[] = {"text", "tsv", "json", NULL};

/* A JSON string; invalid UTF-8 bytes become U+FFFD. */
void put_json_string(FILE *out, const char *s)
{
        fputc('"', out);
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                int n = utf8_length(p);
                if (n > 1 || (n == 1 && *p >= 0x20 && *p != '"' && *p != '\\' &&
                              *p != 0x7f)) {
                        fwrite(p, 1, n, out);
                        p += n;
                        continue;
                }
                if (!n)
                        fputs("\\ufffd", out);
                else if (*p == '"' || *p == '\\')
                        fprintf(out, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", out);
                else if (*p == '\t')
                        fputs("\\t", out);
                else
                        fprintf(out, "\\u%04x", *p);
                p++;
        }
        fputc('"', out);
}

void put_json_file(FILE *out, const char *path)
{
        fputs("{\"file\":", out);
        put_json_string(out, path);
        if (!valid_utf8(path)) {
                fputs(",\"file_hex\":\"", out);
                for (const unsigned char *p = (const unsigned char *)path; *p;
                     p++)
                        fprintf(out, "%02x", *p);
                fputc('"', out);
        }
}

static void put_label(FILE *out, char *const *labels, int index, bool json)
{
        char number[16];
        const char *label = labels ? labels[index] : number;
        snprintf(number, sizeof number, "%d", index);
        if (json)
                put_json_string(out, label);
        else
                put_escaped(out, label);
}

void record_header(FILE *out, enum record_format f)
{
        if (f == FORMAT_TSV)
                fputs("path\trank\tindex\tprobability\tlabel\n", out);
}

/* TSV: fixed decimals, so that sort -n orders them (5e-09 would sort
 * first); JSON: every digit a float32 has. */
static void put_probability(FILE *out, float p, bool json)
{
        if (isfinite(p))
                fprintf(out, json ? "%.9g" : "%.8f", p);
        else
                fputs(json ? "null" : "nan", out);
}

void record_prediction(FILE *out, enum record_format f, const char *path,
                       const struct prediction *top, int k, char *const *labels)
{
        switch (f) {
        case FORMAT_TEXT:
                put_escaped(out, path);
                fputc(':', out);
                for (int r = 0; r < k; r++) {
                        fputs(r ? ", " : " ", out);
                        put_label(out, labels, top[r].index, false);
                        fprintf(out, " %.1f%%", 100.0 * top[r].prob);
                }
                fputc('\n', out);
                break;
        case FORMAT_TSV:
                for (int r = 0; r < k; r++) {
                        put_escaped(out, path);
                        fprintf(out, "\t%d\t%d\t", r + 1, top[r].index);
                        put_probability(out, top[r].prob, false);
                        fputc('\t', out);
                        put_label(out, labels, top[r].index, false);
                        fputc('\n', out);
                }
                break;
        case FORMAT_JSON:
                put_json_file(out, path);
                fputs(",\"top\":[", out);
                for (int r = 0; r < k; r++) {
                        fprintf(out, "%s{\"rank\":%d,\"index\":%d,\"label\":",
                                r ? "," : "", r + 1, top[r].index);
                        put_label(out, labels, top[r].index, true);
                        fputs(",\"prob\":", out);
                        put_probability(out, top[r].prob, true);
                        fputc('}', out);
                }
                fputs("]}\n", out);
                break;
        }
}

void record_failure(FILE *out, enum record_format f, const char *path,
                    const char *message)
{
        if (f != FORMAT_JSON)
                return;
        put_json_file(out, path);
        fputs(",\"error\":", out);
        put_json_string(out, message);
        fputs("}\n", out);
}

bool record_emit(FILE *out, const char *record, size_t n)
{
        /* What is pending goes out first if the record would not fit with
         * it in one atomic write; stdout's buffer (set larger than
         * PIPE_BUF by predict) then never flushes in mid-record. */
        if (__fpending(out) + n > PIPE_BUF && fflush(out) != 0)
                return false;
        return fwrite(record, 1, n, out) == n;
}

FILE *record_open(char **text, size_t *length)
{
        *text = NULL;
        return open_memstream(text, length);
}

void record_close(FILE *record, char **text, size_t *length)
{
        /* the stream's buffer and length are only final after fclose */
        if (record && fclose(record) == 0)
                record_emit(stdout, *text, *length);
        else
                report("predict", "out of memory");
        free(*text);
}

void record_input_failure(const char *path, const char *message, int format,
                          bool recursive)
{
        if (!strcmp(message, "is a directory") && !recursive)
                message = "is a directory (-r classifies the images under "
                          "it)";
        report(path, "%s", message);
        char *text;
        size_t length;
        FILE *record = record_open(&text, &length);
        if (record)
                record_failure(record, format, path, message);
        record_close(record, &text, &length);
}
