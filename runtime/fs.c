/*
 * fs.c -- file-system helpers (see fs.h).
 */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"

int
ls_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = path != NULL ? strlen(path) : 0;

	if (n == 0 || n >= sizeof(buf))
		return LS_ERANGE;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return LS_EIO;
		buf[i] = c;
	}
	return 0;
}
