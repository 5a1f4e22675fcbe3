/*
 * join_test.c -- the join request (cluster/join.h): a request encodes and
 * parses back to itself at any address, and truncated, corrupted,
 * malformed or inconsistent ones are refused;
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
#include "schemas/codec.h"

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

static ls_str
cs(const char *s)
{
	return ls_str_make(s, (uint32_t)strlen(s));
}

static ls_join_wire
wire_of(const ls_join_req *r)
{
	ls_join_wire j = { r->id, r->inc, cs(r->name), cs(r->url),
		cs(r->http), cs(r->raft) };
	return j;
}

static void
test_round_trip(void **state)
{
	(void)state;
	ls_join_req r, back;
	uint8_t buf[LS_JOIN_MAX], odd[LS_JOIN_MAX + 8];
	sample(&r);
	int len = ls_join_encode(&r, buf, sizeof(buf));
	assert_true(len > 0);
	/* a JoinRequest of schemas/cluster.fbs */
	assert_memory_equal(buf + 4, "LSJR", 4);
	assert_int_equal(ls_codec_join_verify(buf, (size_t)len), 0);
	assert_int_equal(ls_join_parse(buf, (size_t)len, &back), 0);
	assert_memory_equal(&r, &back, sizeof(r));
	/* a hello carries it at any offset */
	for (size_t off = 1; off < 8; off++) {
		memcpy(odd + off, buf, (size_t)len);
		memset(&back, 0, sizeof(back));
		assert_int_equal(ls_join_parse(odd + off, (size_t)len, &back),
		    0);
		assert_memory_equal(&r, &back, sizeof(r));
	}
	/* too small a buffer */
	assert_int_equal(ls_join_encode(&r, buf, 20), -1);
	/* longest fields: still within LS_JOIN_MAX */
	memset(r.name, 'n', LS_MAP_MAX_NAME);
	r.name[LS_MAP_MAX_NAME] = '\0';
	len = ls_join_encode(&r, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(ls_join_parse(buf, (size_t)len, &back), 0);
	assert_string_equal(back.name, r.name);
}

/* Encode j as it stands (the codec does not check fields), and expect the
 * parser to refuse it and leave *out alone. */
static void
refused(const ls_join_wire *j)
{
	ls_buf b = { NULL, 0 };
	ls_join_req out;
	assert_int_equal(ls_codec_join_encode(j, &b), 0);
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(ls_join_parse(b.data, b.len, &out), LS_EINVAL);
	assert_int_equal(out.id, 0x5a5a5a5a5a5a5a5aull);
	ls_buf_free(&b);
}

static void
test_refused(void **state)
{
	(void)state;
	ls_join_req r, out;
	ls_join_wire j;
	char longname[300];
	sample(&r);

	j = wire_of(&r);
	j.url = cs("udp://127.0.0.1:7104"); /* not a transport URL */
	refused(&j);
	j = wire_of(&r);
	j.raft = cs("127.0.0.1:7205"); /* id != hash(raft) */
	refused(&j);
	j = wire_of(&r);
	j.id = 0;
	refused(&j);
	j = wire_of(&r);
	j.name = cs(""); /* empty field */
	refused(&j);
	j = wire_of(&r);
	j.http = cs("");
	refused(&j);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	j = wire_of(&r);
	j.name = cs(longname); /* name too long */
	refused(&j);

	assert_int_equal(ls_join_parse("", 0, &out), LS_EINVAL);
	assert_int_equal(ls_join_parse(NULL, 5, &out), LS_EINVAL);
	uint8_t big[LS_JOIN_MAX + 2];
	memset(big, 0, sizeof(big));
	assert_int_equal(ls_join_parse(big, sizeof(big), &out), LS_EINVAL);
	/* the old text form */
	char text[256];
	int tl = snprintf(text, sizeof(text),
	    "LSJOIN1\n%llu\nn4\ntcp://127.0.0.1:7104\n127.0.0.1:8104\n"
	    "127.0.0.1:7204\nfeedface12345678\n",
	    (unsigned long long)r.id);
	assert_int_equal(ls_join_parse(text, (size_t)tl, &out), LS_EINVAL);

	uint8_t buf[LS_JOIN_MAX], cut[LS_JOIN_MAX];
	int len = ls_join_encode(&r, buf, sizeof(buf));
	assert_true(len > 0);
	/* every truncation */
	for (int n = 0; n < len; n++) {
		memcpy(cut, buf, (size_t)n);
		assert_int_equal(ls_join_parse(cut, (size_t)n, &out), LS_EINVAL);
	}
	/* a NUL inside a string */
	memcpy(cut, buf, (size_t)len);
	uint8_t *at = memmem(cut, (size_t)len, "127.0.0.1:8104", 14);
	assert_non_null(at);
	at[3] = '\0';
	assert_int_equal(ls_join_parse(cut, (size_t)len, &out), LS_EINVAL);
	/* another message kind */
	memcpy(cut, buf, (size_t)len);
	memcpy(cut + 4, "LSHB", 4);
	assert_int_equal(ls_join_parse(cut, (size_t)len, &out), LS_EINVAL);
	/* flipped bytes: refused or a request that passes every check */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 2000; round++) {
		memcpy(cut, buf, (size_t)len);
		for (int k = 0; k < 1 + round % 3; k++) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			cut[(x >> 8) % (uint64_t)len] = (uint8_t)x;
		}
		if (ls_join_parse(cut, (size_t)len, &out) == 0)
			assert_int_equal(out.id, ls_node_raft_id(out.raft));
	}
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
