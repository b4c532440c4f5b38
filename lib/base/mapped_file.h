/* Read-only memory maps of input files that another program may rewrite.
 *
 * A model is mapped rather than read so that start-up costs no copy (on a
 * virtual machine, filling 244 MB of fresh memory took 0.35-0.9 s, mapping
 * the page cache 0.1 s).  But a mapped file that is truncated while in use
 * (Python's open(p, "wb"), rsync --inplace, a new safetensors.save_file)
 * makes the next read of a vanished page raise SIGBUS, which kills the
 * process without a word; and a file rewritten in place silently changes
 * the bytes under us.
 *
 * So: with mapped_file_guard_sigbus() installed, a SIGBUS inside a mapped
 * file replaces the whole mapping with zero pages (the read that faulted
 * then sees zeros and the program goes on) and marks the file changed;
 * mapped_file_check() reports that, and also any change of the file's size,
 * modification time or identity since it was mapped.  Whoever uses mapped
 * bytes calls mapped_file_check() after using them and before trusting
 * what it computed from them.  A SIGBUS anywhere else keeps its default
 * action (a crash, as before). */
#ifndef ALEXNET_MAPPED_FILE_H
#define ALEXNET_MAPPED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/errors.h"

struct mapped_file {
        const uint8_t *data; /* NULL for an empty file */
        size_t size;
        int slot; /* in the table the SIGBUS handler reads, or -1 */
        /* what fstat said when the file was mapped; the mapping stays
         * valid when the file is replaced by rename, so only the inode's
         * own size and modification time count */
        off_t st_size;
        struct timespec mtime, ctime;
        int fd; /* kept open to compare the above */
        bool is_open;
};

/* Installs the process's SIGBUS handler (once; later calls do nothing).
 * The command-line tool calls it at start; without it a truncated mapped
 * file still crashes the process. */
enum an_status mapped_file_guard_sigbus(struct an_error *err);

/* Maps path (a regular file; see file_open_regular) read-only. */
enum an_status mapped_file_open(struct mapped_file *mf, const char *path,
                                struct an_error *err);

/* AN_OK while the file is as it was mapped; AN_E_IO ("the file changed
 * while in use ...") once it was truncated, rewritten or replaced. */
enum an_status mapped_file_check(const struct mapped_file *mf,
                                 struct an_error *err);

void mapped_file_close(struct mapped_file *mf);

#endif
