/*
 * libFuzzer harness for the config file parser: the input is written to an
 * anonymous memory file and read back through its /proc path, exactly as
 * `ztiam serve --config FILE` would read it.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/base.h"
#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	zt_config cfg = { 0 };
	int fd;

	if ((fd = memfd_create("ztiam-config", 0)) < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		/* Errors go to stderr; keep the fuzzer's output readable. */
		if (freopen("/dev/null", "w", stderr) == NULL)
			return 0;
		zt_config_read_file(&cfg, path);
		zt_config_free(&cfg);
	}
	close(fd);
	return 0;
}
