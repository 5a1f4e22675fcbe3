/*
 * auth_test.c -- bearer tokens (cluster/auth.h): the token file parser
 * (comments, blanks, every refusal with its file:line and reason), scopes
 * found for the file's tokens and not for others, the 401/403 decisions of
 * ls_auth_check, the default scope rule by method and path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/auth.h"
#include "runtime/err.h"

#define R "r0123456789abcdefR"
#define W "w0123456789abcdefW"
#define A "a0123456789abcdefA"
#define I "i0123456789abcdefI"

static const char good[] = "# API tokens\n"
                           "read   " R "\n"
                           "\n"
                           "  write\t" W "  \r\n"
                           "admin " A "\n"
                           "internal " I;

static ls_auth *
parse_ok(const char *text)
{
	ls_auth *a = NULL;
	char err[256] = "";
	int rc = ls_auth_parse(text, strlen(text), "t.txt", &a, err,
	                       sizeof(err));
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(a);
	return a;
}

static void
test_parse(void **state)
{
	(void)state;
	ls_auth *a = parse_ok(good);
	assert_int_equal(ls_auth_count(a), 4);
	assert_int_equal(ls_auth_scope(a, R, strlen(R)), LS_SCOPE_READ);
	assert_int_equal(ls_auth_scope(a, W, strlen(W)), LS_SCOPE_WRITE);
	assert_int_equal(ls_auth_scope(a, A, strlen(A)), LS_SCOPE_ADMIN);
	assert_int_equal(ls_auth_scope(a, I, strlen(I)), LS_SCOPE_INTERNAL);
	assert_string_equal(ls_auth_internal_token(a), I);
	/* near misses */
	assert_int_equal(ls_auth_scope(a, R, strlen(R) - 1), LS_SCOPE_NONE);
	assert_int_equal(ls_auth_scope(a, "r0123456789abcdefX", 18),
	                 LS_SCOPE_NONE);
	assert_int_equal(ls_auth_scope(a, "", 0), LS_SCOPE_NONE);
	assert_int_equal(ls_auth_scope(NULL, R, strlen(R)), LS_SCOPE_NONE);
	ls_auth_free(a);
}

static void
refused(const char *text, const char *want)
{
	ls_auth *a = (ls_auth *)1;
	char err[256] = "";
	int rc = ls_auth_parse(text, strlen(text), "t.txt", &a, err,
	                       sizeof(err));
	printf("%-40.40s -> %s\n", text, err);
	assert_true(rc == LS_EPARSE || rc == LS_ERANGE);
	assert_ptr_equal(a, (ls_auth *)1); /* untouched */
	if (strstr(err, want) == NULL)
		fail_msg("'%s' not in '%s'", want, err);
}

static void
test_refused(void **state)
{
	(void)state;
	refused("read " R "\n", "t.txt:1: no `internal` token");
	refused("internal " I "\nroot " R "\n",
	        "t.txt:2: unknown scope 'root'");
	refused("internal short\n", "t.txt:1: a token is 16 to 256");
	refused("internal " I " extra\n", "t.txt:1: want `SCOPE TOKEN` (more");
	refused("# c\n\ninternal\n", "t.txt:3: want `SCOPE TOKEN` (no token)");
	refused("internal " I "\nread " I "\n", "t.txt:2: this token is "
	                                         "already given");
	refused("internal i0123456789ab\x01" "cdefI\n",
	        "t.txt:1: a token is printable ASCII (character 14");
	refused("internal i0123456789abcdef\xc3\xa9\n",
	        "printable ASCII");
	refused("", "no `internal` token");
	char *big = malloc(LS_AUTH_MAX_FILE + 2);
	assert_non_null(big);
	memset(big, '#', LS_AUTH_MAX_FILE + 1);
	big[LS_AUTH_MAX_FILE + 1] = '\0';
	refused(big, "larger than");
	free(big);
}

static void
test_load(void **state)
{
	(void)state;
	char path[] = "/tmp/ls-auth-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	ls_auth *a = NULL;
	char err[256];
	assert_int_equal(ls_auth_load(path, &a, err, sizeof(err)), 0);
	assert_int_equal(ls_auth_count(a), 4);
	ls_auth_free(a);
	unlink(path);
	assert_int_equal(ls_auth_load(path, &a, err, sizeof(err)), LS_EIO);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
}

static void
test_check(void **state)
{
	(void)state;
	ls_auth *a = parse_ok(good);
	const char *why;
	/* no token file: everything open */
	assert_int_equal(ls_auth_check(NULL, NULL, LS_SCOPE_INTERNAL, &why),
	                 0);
	assert_int_equal(ls_auth_check(a, NULL, LS_SCOPE_NONE, &why), 0);
	assert_int_equal(ls_auth_check(a, NULL, LS_SCOPE_READ, &why), 401);
	assert_non_null(strstr(why, "missing"));
	assert_int_equal(ls_auth_check(a, "Basic " R, LS_SCOPE_READ, &why),
	                 401);
	assert_int_equal(ls_auth_check(a, "Bearer nope-nope-nope-nope",
	                               LS_SCOPE_READ, &why),
	                 401);
	assert_string_equal(why, "unknown token");
	assert_int_equal(ls_auth_check(a, "Bearer " R, LS_SCOPE_READ, &why),
	                 0);
	assert_int_equal(ls_auth_check(a, "bearer  " R " ", LS_SCOPE_READ,
	                               &why),
	                 0);
	assert_int_equal(ls_auth_check(a, "Bearer " R, LS_SCOPE_WRITE, &why),
	                 403);
	assert_non_null(strstr(why, "write"));
	assert_int_equal(ls_auth_check(a, "Bearer " W, LS_SCOPE_WRITE, &why),
	                 0);
	assert_int_equal(ls_auth_check(a, "Bearer " W, LS_SCOPE_ADMIN, &why),
	                 403);
	assert_int_equal(ls_auth_check(a, "Bearer " A, LS_SCOPE_ADMIN, &why),
	                 0);
	/* internal endpoints: only the internal token, admin included */
	assert_int_equal(ls_auth_check(a, "Bearer " A, LS_SCOPE_INTERNAL,
	                               &why),
	                 403);
	assert_non_null(strstr(why, "internal"));
	assert_int_equal(ls_auth_check(a, "Bearer " I, LS_SCOPE_INTERNAL,
	                               &why),
	                 0);
	assert_int_equal(ls_auth_check(a, "Bearer " I, LS_SCOPE_ADMIN, &why),
	                 0);
	ls_auth_free(a);
}

static void
test_required(void **state)
{
	(void)state;
	assert_int_equal(ls_auth_required("GET", "/v1/status"), LS_SCOPE_READ);
	assert_int_equal(ls_auth_required("HEAD", "/metrics"), LS_SCOPE_READ);
	assert_int_equal(ls_auth_required("POST", "/v1/topologies"),
	                 LS_SCOPE_WRITE);
	assert_int_equal(ls_auth_required("DELETE", "/v1/topologies/x"),
	                 LS_SCOPE_WRITE);
	assert_int_equal(ls_auth_required("GET", "/v1/internal/ckpt"),
	                 LS_SCOPE_INTERNAL);
	assert_int_equal(ls_auth_required("POST", "/v1/internal/"),
	                 LS_SCOPE_INTERNAL);
	assert_int_equal(ls_auth_required("GET", "/v1/internalx"),
	                 LS_SCOPE_READ);
	assert_string_equal(ls_scope_name(LS_SCOPE_ADMIN), "admin");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_load),     cmocka_unit_test(test_check),
	    cmocka_unit_test(test_required),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
