/*
 * join_test.c -- the join request (cluster/join.h): a request formats and
 * parses back to itself, and malformed or inconsistent ones are refused;
 * --join seed entries with and without ?raft=, and bad ones with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster/join.h"
#include "cluster/node.h"
#include "runtime/err.h"

static void
sample(ls_join_req *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "n4");
	snprintf(r->url, sizeof(r->url), "tcp://127.0.0.1:7104");
	snprintf(r->http, sizeof(r->http), "127.0.0.1:8104");
	snprintf(r->raft, sizeof(r->raft), "127.0.0.1:7204");
	r->id = ls_node_raft_id(r->raft);
	r->inc = 0xfeedface12345678ull;
}

static void
test_round_trip(void **state)
{
	(void)state;
	ls_join_req r, back;
	char buf[LS_JOIN_MAX + 1];
	sample(&r);
	int len = ls_join_format(&r, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(strlen(buf), (size_t)len);
	assert_int_equal(ls_join_parse(buf, (size_t)len, &back), 0);
	assert_memory_equal(&r, &back, sizeof(r));
	/* the text form is what the docs say */
	char want[256];
	snprintf(want, sizeof(want),
	    "LSJOIN1\n%llu\nn4\ntcp://127.0.0.1:7104\n127.0.0.1:8104\n"
	    "127.0.0.1:7204\nfeedface12345678\n",
	    (unsigned long long)r.id);
	assert_string_equal(buf, want);
	/* too small a buffer */
	assert_int_equal(ls_join_format(&r, buf, 20), -1);
}

/* Format r, apply an edit, and expect the parser to refuse it. */
static void
refused(const char *from, const char *to)
{
	ls_join_req r, out;
	char buf[LS_JOIN_MAX + 1], edited[2 * LS_JOIN_MAX];
	sample(&r);
	int len = ls_join_format(&r, buf, sizeof(buf));
	assert_true(len > 0);
	char *at = strstr(buf, from);
	assert_non_null(at);
	int n = snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - buf),
	    buf, to, at + strlen(from));
	assert_int_equal(ls_join_parse(edited, (size_t)n, &out), LS_EINVAL);
}

static void
test_refused(void **state)
{
	(void)state;
	refused("LSJOIN1", "LSJOIN2");       /* unknown tag */
	refused("tcp://", "udp://");         /* not a transport URL */
	refused("127.0.0.1:7204", "127.0.0.1:7205"); /* id != hash(raft) */
	refused("\nn4\n", "\n\n");           /* empty field */
	refused("feedface12345678\n", "feedface12345678\nmore\n"); /* extra */
	refused("feedface12345678\n", "feedface12345678"); /* unterminated */
	refused("feedface12345678", "xyz");  /* not hex */
	refused("feedface12345678", "1feedface12345678"); /* over 64 bits */
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	char from[8] = "\nn4\n", to[320];
	snprintf(to, sizeof(to), "\n%s\n", longname);
	refused(from, to);                   /* name too long */

	ls_join_req out;
	assert_int_equal(ls_join_parse("", 0, &out), LS_EINVAL);
	assert_int_equal(ls_join_parse(NULL, 5, &out), LS_EINVAL);
	char big[LS_JOIN_MAX + 2];
	memset(big, '\n', sizeof(big));
	assert_int_equal(ls_join_parse(big, sizeof(big), &out), LS_EINVAL);
	/* a NUL inside the length */
	ls_join_req r;
	char buf[LS_JOIN_MAX + 1];
	sample(&r);
	int len = ls_join_format(&r, buf, sizeof(buf));
	buf[3] = '\0';
	assert_int_equal(ls_join_parse(buf, (size_t)len, &out), LS_EINVAL);
}

static void
test_seed(void **state)
{
	(void)state;
	ls_join_seed e;
	char why[256];
	/* the default Raft address: the URL's port + 100 */
	assert_int_equal(ls_join_seed_parse("tcp://127.0.0.1:7001", &e, why,
	                     sizeof(why)),
	    0);
	assert_string_equal(e.url, "tcp://127.0.0.1:7001");
	assert_string_equal(e.raft, "127.0.0.1:7101");
	assert_true(e.id == ls_node_raft_id("127.0.0.1:7101"));
	/* an explicit one */
	assert_int_equal(ls_join_seed_parse(
	                     "tcp://127.0.0.1:7001?raft=127.0.0.1:9000", &e,
	                     why, sizeof(why)),
	    0);
	assert_string_equal(e.url, "tcp://127.0.0.1:7001");
	assert_string_equal(e.raft, "127.0.0.1:9000");
	assert_true(e.id == ls_node_raft_id("127.0.0.1:9000"));
	/* a port with no room for +100 needs ?raft= */
	assert_int_equal(ls_join_seed_parse("tcp://127.0.0.1:65500", &e, why,
	                     sizeof(why)),
	    LS_EINVAL);
	assert_non_null(strstr(why, "?raft="));
	assert_int_equal(ls_join_seed_parse(
	                     "tcp://127.0.0.1:65500?raft=127.0.0.1:9", &e,
	                     why, sizeof(why)),
	    0);
	/* refused, with the entry named */
	const char *bad[] = { "", "127.0.0.1:7001", "udp://127.0.0.1:7001",
		"tcp://127.0.0.1", "tcp://:7001", "tcp://127.0.0.1:7001?",
		"tcp://127.0.0.1:7001?raft=", "tcp://127.0.0.1:7001?raft=x",
		"tcp://127.0.0.1:7001?raft=:9", "tcp://127.0.0.1:7001?raft=h:0",
		"tcp://127.0.0.1:7001?raft=h:70000",
		"tcp://127.0.0.1:7001?raft=h:9x", "tcp://127.0.0.1:7001?http=h:9",
		"tcp://127.0.0.1:7001?raft=a/b:9", "ipc:///tmp/x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(ls_join_seed_parse(bad[i], &e, why,
		                     sizeof(why)),
		    LS_EINVAL);
		assert_non_null(strstr(why, "--join entry"));
	}
	assert_int_equal(ls_join_seed_parse(NULL, &e, NULL, 0), LS_EINVAL);
	/* the Raft address check */
	assert_int_equal(ls_join_raft_check("127.0.0.1:1"), 0);
	assert_int_equal(ls_join_raft_check("[::1]:65535"), 0);
	assert_int_equal(ls_join_raft_check("127.0.0.1"), LS_EINVAL);
	assert_int_equal(ls_join_raft_check("127.0.0.1:"), LS_EINVAL);
	assert_int_equal(ls_join_raft_check(NULL), LS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_seed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
