/*
 * tls_test.c -- the development CA and node certificates (cluster/tls.h):
 * an issued certificate verifies against its CA (mbedtls x509 verify) and
 * carries the name as CN and the hosts as subjectAltName; a certificate of
 * another CA does not verify; a node's files are checked (key of another
 * certificate, a missing file, a half-given set); nothing is overwritten;
 * bad names and hosts are refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "cluster/tls.h"
#include "runtime/err.h"

struct fixture {
	char root[64];
	char a[128], b[128]; /* two CAs */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/ls-tls-XXXXXX");
	if (f == NULL || mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->a, sizeof(f->a), "%s/a", f->root);
	snprintf(f->b, sizeof(f->b), "%s/b", f->root);
	char err[512];
	if (ls_tls_ca_init(f->a, err, sizeof(err)) != 0 ||
	    ls_tls_ca_init(f->b, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
path(char *buf, size_t cap, const char *dir, const char *file)
{
	snprintf(buf, cap, "%s/%s", dir, file);
}

static void
test_issue_verifies(void **state)
{
	struct fixture *f = *state;
	const char *hosts[] = { "127.0.0.1", "node1.example", "::1" };
	char err[512] = "", ca[160], crt[160], key[160];
	assert_int_equal(ls_tls_issue(f->a, "n1", hosts, 3, err, sizeof(err)),
	    0);
	path(ca, sizeof(ca), f->a, "ca.crt");
	path(crt, sizeof(crt), f->a, "n1.crt");
	path(key, sizeof(key), f->a, "n1.key");
	assert_int_equal(ls_tls_verify(ca, crt, err, sizeof(err)), 0);
	ls_tls_files tf = { ca, crt, key };
	assert_int_equal(ls_tls_check(&tf, err, sizeof(err)), 0);

	/* keys are private */
	struct stat st;
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* CN and subjectAltName as asked, and no CA bit */
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	assert_int_equal(mbedtls_x509_crt_parse_file(&c, crt), 0);
	char dn[256];
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &c.subject) > 0);
	assert_non_null(strstr(dn, "CN=n1"));
	assert_int_equal(c.ca_istrue, 0);
	int dns = 0;
	for (const mbedtls_x509_sequence *s = &c.subject_alt_names; s != NULL;
	     s = s->next) {
		if (s->buf.p == NULL)
			continue;
		if (s->buf.len == strlen("127.0.0.1") &&
		    memcmp(s->buf.p, "127.0.0.1", s->buf.len) == 0)
			dns |= 1;
		if (s->buf.len == strlen("node1.example") &&
		    memcmp(s->buf.p, "node1.example", s->buf.len) == 0)
			dns |= 2;
	}
	assert_int_equal(dns, 3);
	/* mbedtls (the nodes' TLS) matches the names as a server name */
	uint32_t flags = 0;
	mbedtls_x509_crt cac;
	mbedtls_x509_crt_init(&cac);
	assert_int_equal(mbedtls_x509_crt_parse_file(&cac, ca), 0);
	assert_int_equal(mbedtls_x509_crt_verify(&c, &cac, NULL, "127.0.0.1",
	    &flags, NULL, NULL), 0);
	assert_int_equal(mbedtls_x509_crt_verify(&c, &cac, NULL,
	    "node1.example", &flags, NULL, NULL), 0);
	assert_int_not_equal(mbedtls_x509_crt_verify(&c, &cac, NULL,
	    "10.9.9.9", &flags, NULL, NULL), 0);
	assert_true(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);
	mbedtls_x509_crt_free(&cac);
	mbedtls_x509_crt_free(&c);
}

static void
test_other_ca_refused(void **state)
{
	struct fixture *f = *state;
	const char *hosts[] = { "127.0.0.1" };
	char err[512] = "", ca_a[160], crt_b[160], key_b[160], crt_a[160];
	assert_int_equal(ls_tls_issue(f->b, "rogue", hosts, 1, err,
	    sizeof(err)), 0);
	path(ca_a, sizeof(ca_a), f->a, "ca.crt");
	path(crt_b, sizeof(crt_b), f->b, "rogue.crt");
	path(key_b, sizeof(key_b), f->b, "rogue.key");
	assert_int_equal(ls_tls_verify(ca_a, crt_b, err, sizeof(err)),
	    LS_ECORRUPT);
	assert_non_null(strstr(err, crt_b));
	assert_non_null(strstr(err, "does not verify"));
	ls_tls_files tf = { ca_a, crt_b, key_b };
	assert_int_equal(ls_tls_check(&tf, err, sizeof(err)), LS_ECORRUPT);

	/* the key of another certificate */
	assert_int_equal(ls_tls_issue(f->a, "n2", hosts, 1, err, sizeof(err)),
	    0);
	path(crt_a, sizeof(crt_a), f->a, "n2.crt");
	ls_tls_files mix = { ca_a, crt_a, key_b };
	assert_int_equal(ls_tls_check(&mix, err, sizeof(err)), LS_ECORRUPT);
	assert_non_null(strstr(err, "not the private key"));
}

static void
test_bad_input(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", ca[160];
	const char *bad_host[] = { "a b" };
	assert_int_equal(ls_tls_issue(f->a, "", NULL, 0, err, sizeof(err)),
	    LS_EINVAL);
	assert_int_equal(ls_tls_issue(f->a, "x/y", NULL, 0, err, sizeof(err)),
	    LS_EINVAL);
	assert_int_equal(ls_tls_issue(f->a, "n3", bad_host, 1, err,
	    sizeof(err)), LS_EINVAL);
	assert_non_null(strstr(err, "a b"));
	/* nothing is overwritten */
	assert_int_equal(ls_tls_ca_init(f->a, err, sizeof(err)), LS_EEXIST);
	assert_int_equal(ls_tls_issue(f->a, "n4", NULL, 0, err, sizeof(err)),
	    0);
	assert_int_equal(ls_tls_issue(f->a, "n4", NULL, 0, err, sizeof(err)),
	    LS_EEXIST);
	/* no CA in the directory */
	char empty[160];
	path(empty, sizeof(empty), f->root, "empty");
	assert_int_equal(mkdir(empty, 0700), 0);
	assert_int_equal(ls_tls_issue(empty, "n1", NULL, 0, err, sizeof(err)),
	    LS_EIO);
	assert_non_null(strstr(err, "ca.crt"));
	/* missing and half-given files */
	path(ca, sizeof(ca), f->a, "ca.crt");
	ls_tls_files half = { ca, NULL, NULL };
	assert_int_equal(ls_tls_check(&half, err, sizeof(err)), LS_EINVAL);
	assert_non_null(strstr(err, "--tls-cert"));
	ls_tls_files none = { NULL, NULL, NULL };
	assert_int_equal(ls_tls_check(&none, err, sizeof(err)), 0);
	ls_tls_files gone = { ca, "/nonexistent/n1.crt", "/nonexistent/k" };
	assert_int_equal(ls_tls_check(&gone, err, sizeof(err)), LS_EIO);
	assert_non_null(strstr(err, "/nonexistent/n1.crt"));
	/* a key file that is not a key */
	char n4c[160];
	path(n4c, sizeof(n4c), f->a, "n4.crt");
	ls_tls_files notkey = { ca, n4c, n4c };
	assert_int_equal(ls_tls_check(&notkey, err, sizeof(err)),
	    LS_ECORRUPT);
	assert_non_null(strstr(err, n4c));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_issue_verifies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_ca_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
