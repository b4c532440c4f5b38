/* Training logs (inspect --curves, and train after each epoch): the
 * header's columns, numbers, gaps, appended runs; then the curves drawn
 * (to /dev/null), whatever the values: huge, tiny, equal, repeated. */
#include "fuzz.h"
#include "train/train_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *path = fuzz_file(0, data, size);
        struct train_log log;
        if (!path || train_log_read(&log, path, NULL) != AN_OK)
                return 0;
        if (log.n <= 200)
                train_log_draw(&log, "/dev/null", NULL, NULL);
        train_log_free(&log);
        return 0;
}
