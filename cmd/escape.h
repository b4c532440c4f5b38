/* One escaping for every name the tool writes, on standard output (text
 * and TSV records) and on standard error (messages): whatever bytes a file
 * name holds, it stays on one line and shows what it is.  A backslash is
 * written \\, tab \t, newline \n, carriage return \r, and any other
 * control byte or byte that is not part of valid UTF-8 as \xHH. */
#ifndef ALEXNET_ESCAPE_H
#define ALEXNET_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there
 * are not one (RFC 3629: no overlong forms, surrogates or values past
 * U+10FFFF). */
int utf8_length(const unsigned char *s);
bool valid_utf8(const char *s);

void put_escaped(FILE *out, const char *s);

/* The same into dst (always terminated; cut short at a whole escape when
 * it does not fit); returns dst. */
char *escape_into(char *dst, size_t size, const char *s);

/* Undoes put_escaped in place (\\, \t, \n, \r, \xHH); false when s holds
 * a backslash that starts none of them (it is then left as it was). */
bool unescape_in_place(char *s);

#endif
