/* predict's output records in the three formats, with the escaping that
 * keeps any path (tabs, newlines, invalid UTF-8) on one valid line:
 *
 *   text  "PATH: LABEL 53.2%, LABEL 20.1%, ..."
 *   tsv   "PATH<TAB>RANK<TAB>INDEX<TAB>PROBABILITY<TAB>LABEL", one line per
 *         rank; in PATH and LABEL a backslash is written \\, tab \t,
 *         newline \n, carriage return \r, and any other control byte or
 *         byte that is not part of valid UTF-8 as \xHH (text does the same)
 *   json  {"file":PATH,"top":[{"rank":1,"index":281,"label":"tabby",
 *         "prob":0.532}]} or {"file":PATH,"error":MESSAGE}; a path that is
 *         not valid UTF-8 has its invalid bytes shown as U+FFFD in "file"
 *         and its exact bytes in "file_hex"
 *
 * Probabilities are written with 8 decimals in tsv (fixed notation, so
 * that sort -n orders them) and 9 significant digits in json.
 *
 * Records are rendered whole (into memory), then handed to record_emit:
 * each write(2) of predict's output ends at a record boundary and holds
 * whole records up to PIPE_BUF bytes, which a pipe writes atomically, so
 * several predicts writing one pipe (xargs -P) never tear a line. */
#ifndef ALEXNET_RECORDS_H
#define ALEXNET_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model/classify.h"

enum record_format { FORMAT_TEXT, FORMAT_TSV, FORMAT_JSON };

/* "text", "tsv", "json" in enum order, NULL-ended. */
extern const char *const record_format_names[];

void record_header(FILE *out, enum record_format f);

/* labels may be NULL (the class index is shown as the label). */
void record_prediction(FILE *out, enum record_format f, const char *path,
                       const struct prediction *top, int k,
                       char *const *labels);

/* json only: {"file":...,"error":...}; text and tsv write nothing (the
 * failure goes to stderr). */
void record_failure(FILE *out, enum record_format f, const char *path,
                    const char *message);

/* A JSON string (invalid UTF-8 bytes as U+FFFD); the opening of a
 * record, {"file":PATH (with "file_hex" when PATH is not UTF-8). */
void put_json_string(FILE *out, const char *s);
void put_json_file(FILE *out, const char *path);

/* Appends one rendered record (or several whole ones) to out, flushing
 * first what is pending if both would exceed PIPE_BUF; false on a write
 * error.  out must be fully buffered with a buffer above PIPE_BUF. */
bool record_emit(FILE *out, const char *record, size_t n);

/* A record is rendered whole in memory (record_open), then emitted so
 * that no write ends inside it (record_close: to stdout, through
 * record_emit; write errors show on stdout's error flag). */
FILE *record_open(char **text, size_t *length);
void record_close(FILE *record, char **text, size_t *length);

/* An input that failed: a one-line message on stderr and, in json, its
 * error record.  format: enum record_format (json writes a record). */
void record_input_failure(const char *path, const char *message, int format,
                          bool recursive);

#endif
