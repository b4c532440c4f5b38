#include "base/errors.h"

#include <stdarg.h>
#include <stdio.h>

enum an_status an_error_set(struct an_error *err, enum an_status code,
                            const char *fmt, ...)
{
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                err->code = code;
                vsnprintf(err->message, sizeof err->message, fmt, ap);
                va_end(ap);
        }
        return code;
}

const char *an_status_string(enum an_status code)
{
        switch (code) {
        case AN_OK: return "success";
        case AN_E_IO: return "I/O error";
        case AN_E_FORMAT: return "malformed file";
        case AN_E_NOMEM: return "out of memory";
        case AN_E_INVALID: return "invalid argument";
        case AN_E_UNSUPPORTED: return "unsupported";
        }
        return "unknown error";
}
