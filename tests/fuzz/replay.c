/* Runs files (or every file of directories) through a fuzz harness's
 * LLVMFuzzerTestOneInput without libFuzzer: the regression half of the
 * fuzzing, in `make check`.  A crash or sanitizer report fails the run;
 * the harness's own result is ignored, as libFuzzer ignores it. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                return 1;
        }
        size_t cap = 1 << 16, size = 0;
        unsigned char *buf = malloc(cap);
        size_t n;
        while (buf && (n = fread(buf + size, 1, cap - size, f)) > 0) {
                size += n;
                if (size == cap) {
                        unsigned char *bigger = realloc(buf, cap * 2);
                        if (!bigger) {
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        buf = bigger;
                        cap *= 2;
                }
        }
        fclose(f);
        if (!buf) {
                fprintf(stderr, "%s: out of memory\n", path);
                return 1;
        }
        LLVMFuzzerTestOneInput(buf, size);
        free(buf);
        return 0;
}

static int compare_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, int *count)
{
        DIR *d = opendir(dir);
        if (!d) {
                perror(dir);
                return 1;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char **more = realloc(names, (n + 1) * sizeof *names);
                if (!more)
                        break;
                names = more;
                names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, compare_names);
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                failed |= replay_file(path);
                ++*count;
                free(names[i]);
        }
        free(names);
        return failed;
}

int main(int argc, char **argv)
{
        int failed = 0, count = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) != 0) {
                        perror(argv[i]);
                        failed = 1;
                } else if (S_ISDIR(st.st_mode)) {
                        failed |= replay_dir(argv[i], &count);
                } else {
                        failed |= replay_file(argv[i]);
                        count++;
                }
        }
        printf("%s: %d inputs replayed\n", argv[0], count);
        return failed;
}
