#include "predict_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

bool output_begin(struct atomic_file *f, const char *path)
{
        struct an_error err;
        if (atomic_file_create(f, path, &err) != AN_OK) {
                report(path, "%s", err.message);
                return false;
        }
        if (fflush(stdout) != 0 || dup2(f->fd, STDOUT_FILENO) < 0) {
                report(path, "%s", strerror(errno));
                atomic_file_abort(f);
                return false;
        }
        return true;
}

int output_end(struct atomic_file *f, int status)
{
        struct an_error err;
        char path[4096]; /* f's own is freed by commit and abort */
        snprintf(path, sizeof path, "%s", f->path);
        bool written = fflush(stdout) == 0 && !ferror(stdout);
        if (!written && status != EXIT_FATAL) {
                report(path, "write error: %s", strerror(errno));
                status = EXIT_FATAL;
        }
        /* under mpirun (--eval) process 0 alone writes the report */
        if (status == EXIT_FATAL || process_rank_of_job() != 0) {
                atomic_file_abort(f);
                return status;
        }
        if (atomic_file_commit(f, &err) != AN_OK) {
                report(path, "%s", err.message);
                return EXIT_FATAL;
        }
        return status;
}
