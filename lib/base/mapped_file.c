#define _GNU_SOURCE /* MAP_ANONYMOUS, st_mtim */
#include "base/mapped_file.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file_read.h"

/* The mappings the SIGBUS handler knows.  Written under table_lock by
 * open and close; read by the handler with atomic loads only (it may run
 * in any thread at any time, so it takes no lock). */
enum { MAX_MAPPED = 32 };
static struct {
        _Atomic uintptr_t start;
        _Atomic size_t length; /* whole pages */
        atomic_int hit;        /* a read faulted: the file shrank */
} table[MAX_MAPPED];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous_sigbus;
static atomic_int guard_installed;

static void pass_on(int sig, siginfo_t *info, void *context)
{
        if (previous_sigbus.sa_flags & SA_SIGINFO &&
            previous_sigbus.sa_sigaction) {
                previous_sigbus.sa_sigaction(sig, info, context);
                return;
        }
        if (previous_sigbus.sa_handler != SIG_DFL &&
            previous_sigbus.sa_handler != SIG_IGN) {
                previous_sigbus.sa_handler(sig);
                return;
        }
        /* Default action: with SIG_DFL restored, a fault re-executes and
         * kills; a sent signal is sent again. */
        signal(sig, SIG_DFL);
        if (info->si_code <= 0)
                raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
        uintptr_t at = (uintptr_t)info->si_addr;
        for (int i = 0; info->si_code > 0 && i < MAX_MAPPED; i++) {
                uintptr_t start = atomic_load(&table[i].start);
                size_t length = atomic_load(&table[i].length);
                if (!start || at - start >= length)
                        continue;
                /* Zero pages in place of the whole file: the faulting read
                 * and every later one see zeros instead of faulting. */
                void *zeros =
                        mmap((void *)start, length, PROT_READ,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
                if (zeros != MAP_FAILED) {
                        atomic_store(&table[i].hit, 1);
                        return;
                }
        }
        pass_on(sig, info, context);
}

enum an_status mapped_file_guard_sigbus(struct an_error *err)
{
        if (atomic_exchange(&guard_installed, 1))
                return AN_OK;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &previous_sigbus) != 0) {
                atomic_store(&guard_installed, 0);
                return an_error_set(err, AN_E_IO, "cannot handle SIGBUS: %s",
                                    strerror(errno));
        }
        return AN_OK;
}

static size_t whole_pages(size_t size)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        return (size + page - 1) / page * page;
}

static int register_mapping(const void *start, size_t size)
{
        pthread_mutex_lock(&table_lock);
        int slot = -1;
        for (int i = 0; slot < 0 && i < MAX_MAPPED; i++)
                if (!atomic_load(&table[i].start))
                        slot = i;
        if (slot >= 0) {
                atomic_store(&table[slot].hit, 0);
                atomic_store(&table[slot].length, whole_pages(size));
                atomic_store(&table[slot].start, (uintptr_t)start);
        }
        pthread_mutex_unlock(&table_lock);
        return slot;
}

enum an_status mapped_file_open(struct mapped_file *mf, const char *path,
                                struct an_error *err)
{
        memset(mf, 0, sizeof *mf);
        mf->slot = -1;
        enum an_status st = file_open_regular(path, &mf->fd, &mf->size, err);
        if (st != AN_OK)
                return st;
        struct stat sb;
        void *map = NULL;
        if (fstat(mf->fd, &sb) != 0 ||
            (mf->size && (map = mmap(NULL, mf->size, PROT_READ, MAP_PRIVATE,
                                     mf->fd, 0)) == MAP_FAILED)) {
                st = an_error_set(err, AN_E_IO, "cannot map: %s",
                                  strerror(errno));
                close(mf->fd);
                memset(mf, 0, sizeof *mf);
                return st;
        }
        mf->data = map;
        mf->is_open = true;
        mf->st_size = sb.st_size;
        mf->mtime = sb.st_mtim;
        if (map)
                mf->slot = register_mapping(map, mf->size);
        return AN_OK;
}

enum an_status mapped_file_check(const struct mapped_file *mf,
                                 struct an_error *err)
{
        struct stat sb;
        if (!mf->is_open)
                return AN_OK;
        if (mf->slot >= 0 && atomic_load(&table[mf->slot].hit))
                return an_error_set(err, AN_E_IO,
                                    "the file was truncated while in use "
                                    "(rewritten by another program?)");
        if (fstat(mf->fd, &sb) != 0)
                return an_error_set(err, AN_E_IO, "%s", strerror(errno));
        if (sb.st_size != mf->st_size ||
            sb.st_mtim.tv_sec != mf->mtime.tv_sec ||
            sb.st_mtim.tv_nsec != mf->mtime.tv_nsec)
                return an_error_set(err, AN_E_IO,
                                    "the file changed while in use "
                                    "(rewritten by another program?)");
        return AN_OK;
}

void mapped_file_close(struct mapped_file *mf)
{
        if (!mf->is_open)
                return;
        if (mf->slot >= 0) {
                pthread_mutex_lock(&table_lock);
                atomic_store(&table[mf->slot].start, 0);
                pthread_mutex_unlock(&table_lock);
        }
        if (mf->data)
                munmap((void *)mf->data, mf->size);
        close(mf->fd);
        memset(mf, 0, sizeof *mf);
}
