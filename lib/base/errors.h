/* Error reporting for the alexnet library.
 *
 * The library never prints and never exits.  A function that can fail
 * returns an `enum an_status` (AN_OK is 0) and, when given a non-NULL
 * `struct an_error *`, fills it with the same code and a one-line message
 * that a caller can show after the name of the file it was working on:
 *
 *     struct an_error err;
 *     if (model_open(&m, path, &err) != AN_OK)
 *             fprintf(stderr, "alexnet: %s: %s\n", path, err.message);
 */
#ifndef ALEXNET_ERRORS_H
#define ALEXNET_ERRORS_H

enum an_status {
        AN_OK = 0,
        AN_E_IO,          /* the operating system refused a read or write */
        AN_E_FORMAT,      /* a file is malformed, truncated or inconsistent */
        AN_E_NOMEM,       /* an allocation failed */
        AN_E_INVALID,     /* an argument or description is out of range */
        AN_E_UNSUPPORTED, /* well-formed, but something this tool cannot do */
};

struct an_error {
        enum an_status code;
        char message[400];
};

/* Records code and a printf-style message in err (if not NULL); returns code
 * so that `return an_error_set(err, AN_E_FORMAT, "...");` reads naturally. */
enum an_status an_error_set(struct an_error *err, enum an_status code,
                            const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A short name for a status code ("I/O error", "malformed file", ...). */
const char *an_status_string(enum an_status code);

#endif
