#define _POSIX_C_SOURCE 200809L
#include "base/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum an_status file_open_regular(const char *path, int *fd, size_t *size,
                                 struct an_error *err)
{
        /* O_NONBLOCK: opening a FIFO for reading waits for a writer */
        *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (*fd < 0)
                return an_error_set(err, AN_E_IO, "%s", strerror(errno));
        struct stat sb;
        enum an_status st = AN_OK;
        if (fstat(*fd, &sb) != 0)
                st = an_error_set(err, AN_E_IO, "%s", strerror(errno));
        else if (S_ISDIR(sb.st_mode))
                st = an_error_set(err, AN_E_IO, "is a directory");
        else if (!S_ISREG(sb.st_mode))
                st = an_error_set(err, AN_E_IO,
                                  "not a regular file (a pipe, socket or "
                                  "device)");
        else if (fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK) != 0)
                st = an_error_set(err, AN_E_IO, "%s", strerror(errno));
        if (st != AN_OK) {
                close(*fd);
                *fd = -1;
                return st;
        }
        *size = (size_t)sb.st_size;
        return AN_OK;
}

enum an_status file_read_whole(const char *path, size_t max_bytes,
                               uint8_t **data, size_t *size,
                               struct an_error *err)
{
        int fd;
        size_t length = 0;
        enum an_status st = file_open_regular(path, &fd, &length, err);
        if (st != AN_OK)
                return st;
        if ((uint64_t)length > max_bytes)
                st = an_error_set(err, AN_E_FORMAT,
                                  "file is too large (%llu bytes, more than "
                                  "the %llu this input may have)",
                                  (unsigned long long)length,
                                  (unsigned long long)max_bytes);
        size_t n = st == AN_OK ? length : 0, got = 0;
        uint8_t *buf = st == AN_OK ? malloc(n ? n : 1) : NULL;
        if (st == AN_OK && !buf)
                st = an_error_set(err, AN_E_NOMEM, "out of memory");
        while (st == AN_OK && got < n) {
                ssize_t r = read(fd, buf + got, n - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        st = an_error_set(err, AN_E_IO, "read failed: %s",
                                          r < 0 ? strerror(errno)
                                                : "file shrank");
                else
                        got += (size_t)r;
        }
        close(fd);
        if (st != AN_OK) {
                free(buf);
                return st;
        }
        *data = buf;
        *size = n;
        return AN_OK;
}
