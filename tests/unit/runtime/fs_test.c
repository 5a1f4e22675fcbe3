/*
 * fs_test.c -- ls_mkdir_p creates missing parents, accepts existing
 * directories, and refuses what it cannot create.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/err.h"
#include "runtime/fs.h"

static void
test_mkdir_p(void **unused)
{
	(void)unused;
	char base[] = "/tmp/ls-fs-test-XXXXXX";
	char path[256], file[256];
	struct stat st;

	assert_non_null(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/a/b/c", base);
	assert_int_equal(ls_mkdir_p(path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* again: already there is fine, trailing slash too */
	assert_int_equal(ls_mkdir_p(path), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/", base);
	assert_int_equal(ls_mkdir_p(path), 0);
	/* a file in the way cannot become a directory */
	snprintf(file, sizeof(file), "%s/f", base);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/f/x", base);
	assert_int_equal(ls_mkdir_p(path), LS_EIO);
	assert_int_equal(ls_mkdir_p(""), LS_ERANGE);
	assert_int_equal(ls_mkdir_p(NULL), LS_ERANGE);
	unlink(file);
	snprintf(path, sizeof(path), "%s/a/b/c", base);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a/b", base);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", base);
	rmdir(path);
	rmdir(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkdir_p),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
