#include "escape.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there
 * are not one (overlong forms, surrogates and values past U+10FFFF are
 * invalid, RFC 3629). */
int utf8_length(const unsigned char *s)
{
        if (s[0] < 0x80)
                return 1;
        int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
        if (!n || s[0] > 0xf4)
                return 0;
        for (int i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
            (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
                return 0;
        return n;
}

bool valid_utf8(const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                int n = utf8_length(p);
                if (!n)
                        return false;
                p += n;
        }
        return true;
}

/* The escaped form of the character at p into piece (at least 8 bytes);
 * its length, and in *consumed the bytes of p it stands for. */
static int escape_piece(const unsigned char *p, char *piece, int *consumed)
{
        int n = utf8_length(p);
        if (n > 1 || (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\')) {
                memcpy(piece, p, n);
                *consumed = n;
                return n;
        }
        *consumed = 1;
        switch (*p) {
        case '\\': return snprintf(piece, 8, "\\\\");
        case '\t': return snprintf(piece, 8, "\\t");
        case '\n': return snprintf(piece, 8, "\\n");
        case '\r': return snprintf(piece, 8, "\\r");
        default: return snprintf(piece, 8, "\\x%02x", *p);
        }
}

void put_escaped(FILE *out, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                char piece[8];
                int consumed, len = escape_piece(p, piece, &consumed);
                fwrite(piece, 1, len, out);
                p += consumed;
        }
}

char *escape_into(char *dst, size_t size, const char *s)
{
        size_t used = 0;
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                char piece[8];
                int consumed, len = escape_piece(p, piece, &consumed);
                if (used + (size_t)len + 1 > size)
                        break;
                memcpy(dst + used, piece, len);
                used += len;
                p += consumed;
        }
        if (size)
                dst[used] = '\0';
        return dst;
}

static int hex_digit(char c)
{
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

/* The byte the escape at p stands for, and its length; 0 for none. */
static int unescape_piece(const char *p, char *byte)
{
        static const char from[] = "\\tnr", to[] = "\\\t\n\r";
        const char *at = p[1] ? strchr(from, p[1]) : NULL;
        if (at) {
                *byte = to[at - from];
                return 2;
        }
        if (p[1] == 'x' && hex_digit(p[2]) >= 0 && hex_digit(p[3]) >= 0) {
                *byte = (char)(hex_digit(p[2]) * 16 + hex_digit(p[3]));
                return 4;
        }
        return 0;
}

bool unescape_in_place(char *s)
{
        for (const char *p = s; *p; p++)
                if (*p == '\\') {
                        char b;
                        int n = unescape_piece(p, &b);
                        if (!n || b == '\0')
                                return false;
                        p += n - 1;
                }
        char *w = s;
        for (const char *p = s; *p;) {
                if (*p != '\\') {
                        *w++ = *p++;
                        continue;
                }
                p += unescape_piece(p, w++);
        }
        *w = '\0';
        return true;
}
