#include "base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary file being written, so that a signal handler can remove
 * it (atomic_file_remove_partial).  One at a time: the tool writes its
 * outputs one after another. */
static char *volatile in_progress;

void atomic_file_remove_partial(void)
{
        char *path = in_progress;
        if (path)
                unlink(path); /* async-signal-safe */
}

static void release(struct atomic_file *f)
{
        if (in_progress == f->temp_path)
                in_progress = NULL;
        free(f->path);
        free(f->temp_path);
        f->path = f->temp_path = NULL;
        f->fd = -1;
}

/* A destination that is a character device or a pipe (/dev/stdout,
 * /dev/full, a FIFO) is written in place: renaming a file over it would
 * replace the device node itself.  Anything else that is not a regular
 * file (a directory, a socket) is refused before any work is done. */
static enum an_status open_special(struct atomic_file *f, const char *path,
                                   const struct stat *st, struct an_error *err)
{
        if (!S_ISCHR(st->st_mode) && !S_ISFIFO(st->st_mode))
                return an_error_set(err, AN_E_IO, "%s",
                                    S_ISDIR(st->st_mode)
                                            ? "is a directory"
                                            : "not a regular file");
        f->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (f->fd < 0)
                return an_error_set(err, AN_E_IO, "cannot open: %s",
                                    strerror(errno));
        return AN_OK;
}

enum an_status atomic_file_create(struct atomic_file *f, const char *path,
                                  struct an_error *err)
{
        f->fd = -1;
        f->path = f->temp_path = NULL;
        struct stat st;
        bool exists = stat(path, &st) == 0;
        if (exists && !S_ISREG(st.st_mode))
                return open_special(f, path, &st, err);
        /* A symbolic link is written through: its target is replaced, the
         * link stays. */
        f->path = exists ? realpath(path, NULL) : NULL;
        if (!f->path)
                f->path = strdup(path);
        size_t len = f->path ? strlen(f->path) + sizeof ".tmp.XXXXXX" : 1;
        f->temp_path = malloc(len);
        if (!f->path || !f->temp_path) {
                release(f);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        snprintf(f->temp_path, len, "%s.tmp.XXXXXX", f->path);
        f->fd = mkstemp(f->temp_path);
        if (f->fd < 0) {
                int e = errno;
                release(f);
                if (e == ENOENT || e == ENOTDIR)
                        return an_error_set(err, AN_E_IO,
                                            "its folder does not exist");
                return an_error_set(err, AN_E_IO,
                                    "cannot create a temporary file beside "
                                    "it: %s",
                                    strerror(e));
        }
        in_progress = f->temp_path;
        /* mkstemp makes the file private (0600): a file replaced keeps its
         * permissions, a new one gets those open(2) would give it. */
        mode_t mask = umask(0);
        umask(mask);
        fchmod(f->fd, exists ? st.st_mode & 07777 : 0666 & ~mask);
        return AN_OK;
}

enum an_status atomic_file_probe(const char *path, struct an_error *err)
{
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
                return AN_OK; /* a device or pipe: opened when written */
        struct atomic_file f;
        enum an_status status = atomic_file_create(&f, path, err);
        if (status == AN_OK)
                atomic_file_abort(&f);
        return status;
}

enum an_status atomic_file_write(struct atomic_file *f, const void *buf,
                                 size_t n, struct an_error *err)
{
        const char *p = buf;
        while (n > 0) {
                ssize_t w = write(f->fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return an_error_set(err, AN_E_IO, "write failed: %s",
                                            w < 0 ? strerror(errno)
                                                  : "no progress");
                p += w;
                n -= (size_t)w;
        }
        return AN_OK;
}

static void sync_directory(const char *path)
{
        char *copy = strdup(path);
        if (!copy)
                return;
        int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
                fsync(dfd); /* best effort: some file systems refuse it */
                close(dfd);
        }
        free(copy);
}

enum an_status atomic_file_commit(struct atomic_file *f, struct an_error *err)
{
        int e = 0;
        if (!f->temp_path) { /* a device or pipe, written in place */
                if (close(f->fd) != 0)
                        e = errno;
                f->fd = -1;
                return e ? an_error_set(err, AN_E_IO, "cannot write: %s",
                                        strerror(e))
                         : AN_OK;
        }
        if (fsync(f->fd) != 0)
                e = errno;
        if (close(f->fd) != 0 && !e)
                e = errno;
        f->fd = -1;
        if (!e && rename(f->temp_path, f->path) != 0)
                e = errno;
        if (e) {
                atomic_file_abort(f);
                return an_error_set(err, AN_E_IO, "cannot write: %s",
                                    strerror(e));
        }
        sync_directory(f->path);
        release(f);
        return AN_OK;
}

void atomic_file_abort(struct atomic_file *f)
{
        if (f->fd >= 0)
                close(f->fd);
        if (f->temp_path)
                unlink(f->temp_path);
        release(f);
}
