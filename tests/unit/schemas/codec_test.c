/*
 * codec_test.c -- tests of the wire codec (schemas/codec.h): round trips of
 * every message kind (the cluster control messages of cluster.fbs and the
 * data-plane payloads of dataplane.fbs too), the
 * verifier against truncated, corrupted, misaligned and hostile buffers,
 * out-of-memory handling, real Loghub events, and golden buffers that flatc
 * wrote from JSON at build time.
 *
 * Usage: codec_test GOLDEN_EVENT GOLDEN_17_ATTRS GOLDEN_LEVEL9 GOLDEN_BATCH_17
 *        GOLDEN_REPL GOLDEN_REPL_LONG
 * (the buffers flatc made from golden_*.json; meson passes them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/event.h"
#include "schemas/codec.h"
#include "schemas/codec_int.h"

#define N_GOLDEN 6
static const char *golden_path[N_GOLDEN];

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic, so every run tests the same inputs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rng() % n);
}

/* Bytes that random strings borrow from (every byte value occurs). */
static char pool[8192];

static void
pool_init(void)
{
	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (char)(rng() & 0xff);
}

static ls_str
rand_str(size_t maxlen)
{
	size_t n = rng_below(maxlen + 1);
	return ls_str_make(pool + rng_below(sizeof(pool) - n), n);
}

static void
rand_event(ls_event *ev, size_t maxlen)
{
	ls_event_clear(ev);
	if (rng() & 1)
		ev->time_ns = (int64_t)rng();
	ev->ingest_ns = (rng() & 1) ? (int64_t)rng() : 0;
	ev->offset = (rng() & 1) ? rng() : 0;
	ev->level = (uint8_t)rng_below(LS_LEVEL_COUNT);
	ev->level_text = rand_str(maxlen);
	ev->service = rand_str(maxlen);
	ev->host = rand_str(maxlen);
	ev->message = rand_str(maxlen * 4);
	ev->nattrs = (uint8_t)rng_below(LS_EVENT_MAX_ATTRS + 1);
	for (unsigned i = 0; i < ev->nattrs; i++) {
		ev->attrs[i].key = rand_str(maxlen);
		ev->attrs[i].val = rand_str(maxlen);
	}
}

/* A copy of n bytes in a block of exactly n bytes, so that a read past the
 * end is caught by ASan or valgrind.  malloc'd memory is 8-byte aligned. */
static uint8_t *
dup_exact(const void *p, size_t n)
{
	uint8_t *q = malloc(n > 0 ? n : 1);
	assert_non_null(q);
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

static void
assert_str_eq(ls_str got, ls_str want)
{
	assert_int_equal(got.len, want.len);
	if (want.len > 0)
		assert_memory_equal(got.ptr, want.ptr, want.len);
}

/* s borrows from [buf, buf + len) (or is empty), and is followed by the NUL
 * that every FlatBuffers string has. */
static void
assert_borrowed(ls_str s, const void *buf, size_t len)
{
	const char *b = buf;
	if (s.len == 0)
		return;
	assert_true(s.ptr >= b && s.ptr + s.len < b + len);
	assert_int_equal(s.ptr[s.len], 0);
}

static void
assert_event_eq(const ls_event *got, const ls_event *want)
{
	assert_int_equal(got->time_ns, want->time_ns);
	assert_int_equal(got->ingest_ns, want->ingest_ns);
	assert_int_equal(got->offset, want->offset);
	assert_int_equal(got->level, want->level);
	assert_str_eq(got->level_text, want->level_text);
	assert_str_eq(got->service, want->service);
	assert_str_eq(got->host, want->host);
	assert_str_eq(got->message, want->message);
	assert_int_equal(got->nattrs, want->nattrs);
	for (unsigned i = 0; i < want->nattrs; i++) {
		assert_str_eq(got->attrs[i].key, want->attrs[i].key);
		assert_str_eq(got->attrs[i].val, want->attrs[i].val);
	}
}

static void
assert_event_borrowed(const ls_event *ev, const void *buf, size_t len)
{
	assert_borrowed(ev->level_text, buf, len);
	assert_borrowed(ev->service, buf, len);
	assert_borrowed(ev->host, buf, len);
	assert_borrowed(ev->message, buf, len);
	assert_true(ev->nattrs <= LS_EVENT_MAX_ATTRS);
	for (unsigned i = 0; i < ev->nattrs; i++) {
		assert_borrowed(ev->attrs[i].key, buf, len);
		assert_borrowed(ev->attrs[i].val, buf, len);
	}
}

/* Decoded records equal the encoded ones: schema, stage, partition, and
 * every value (doubles bit for bit). */
static void
assert_records_eq(const ls_records *got, const ls_records *want)
{
	const ls_rec_schema *g = got->schema, *w = want->schema;
	assert_int_equal(g->n, w->n);
	assert_int_equal(g->keyed, w->keyed);
	assert_int_equal(g->key_at, w->key_at);
	for (uint32_t f = 0; f < w->n; f++) {
		assert_string_equal(g->f[f].name, w->f[f].name);
		assert_int_equal(g->f[f].type, w->f[f].type);
		assert_int_equal(g->f[f].flags, w->f[f].flags);
	}
	assert_string_equal(got->stage, want->stage != NULL ? want->stage : "");
	assert_int_equal(got->partition, want->partition);
	assert_int_equal(got->n, want->n);
	for (size_t i = 0; i < (size_t)want->n * w->n; i++) {
		const ls_rec_value *gv = &got->v[i], *wv = &want->v[i];
		uint32_t f = (uint32_t)(i % w->n);
		assert_int_equal(gv->null, wv->null);
		if (wv->null)
			continue;
		switch (w->f[f].type) {
		case LS_REC_STRING:
			assert_str_eq(gv->s, wv->s);
			break;
		case LS_REC_DOUBLE:
			/* Bit for bit: NaN, -0.0 and infinities included. */
			assert_memory_equal(&gv->d, &wv->d, sizeof(double));
			break;
		case LS_REC_BOOL:
			assert_int_equal(gv->i, wv->i != 0);
			break;
		default:
			assert_int_equal(gv->i, wv->i);
		}
	}
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;
	uint8_t *buf;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* A full event with 16 attributes, a NUL inside the message and UTF-8. */
static void
full_event(ls_event *ev)
{
	static const char msg[] = "disk \0full on /var: 99% used";
	static const char *const keys[LS_EVENT_MAX_ATTRS] = {
	    "pid",    "tid",    "user",  "path", "bytes", "latency_ms",
	    "status", "method", "url",   "ip",   "port",  "proto",
	    "region", "zone",   "empty", "utf8"};
	static const char *const vals[LS_EVENT_MAX_ATTRS] = {
	    "4242",         "7",        "root", "/var/log/syslog",
	    "1048576",      "12.5",     "503",  "GET",
	    "/v1/logs?x=1", "10.0.0.7", "7101", "tcp",
	    "eu-west",      "b",        "",     "Grüße ✓"};

	ls_event_clear(ev);
	ev->time_ns = 1226262975000000000LL;
	ev->ingest_ns = -5;
	ev->offset = UINT64_MAX;
	ev->level = LS_LEVEL_FATAL;
	ev->level_text = ls_str_c("crit");
	ev->service = ls_str_c("kernel");
	ev->host = ls_str_c("node-17.example");
	ev->message = ls_str_make(msg, sizeof(msg) - 1);
	for (unsigned i = 0; i < LS_EVENT_MAX_ATTRS; i++)
		assert_int_equal(
		    ls_event_add_attr(ev, ls_str_c(keys[i]), ls_str_c(vals[i])),
		    0);
}

/* Records of every type, with hostile values, in a schema like a window's
 * (the records own it). */
static ls_records *
full_records(uint32_t rows)
{
	static const double dv[] = {12.5, NAN, INFINITY, -INFINITY, -0.0,
	                            5e-324, 1.7976931348623157e308, -3.5};
	ls_rec_schema *sc = malloc(sizeof(*sc));
	assert_non_null(sc);
	ls_rec_schema_init(sc);
	assert_int_equal(
	    ls_rec_schema_add(sc, "window_start", LS_REC_TIME, LS_REC_ID), 0);
	assert_int_equal(
	    ls_rec_schema_add(sc, "window_end", LS_REC_TIME, LS_REC_NOTABLE),
	    0);
	assert_int_equal(
	    ls_rec_schema_add(sc, "service", LS_REC_STRING, LS_REC_KEY), 0);
	assert_int_equal(
	    ls_rec_schema_add(sc, "level", LS_REC_STRING, LS_REC_KEY), 0);
	assert_int_equal(ls_rec_schema_add(sc, "count", LS_REC_INT, 0), 0);
	assert_int_equal(
	    ls_rec_schema_add(sc, "avg(latency)", LS_REC_DOUBLE, 0), 0);
	assert_int_equal(
	    ls_rec_schema_add(sc, "final", LS_REC_BOOL, LS_REC_NOTABLE), 0);
	ls_records *r = ls_records_new(sc, "errors", 4000000000u);
	assert_non_null(r);
	r->own_schema = sc;
	for (uint32_t i = 0; i < rows; i++) {
		ls_rec_value *v = ls_records_add(r);
		assert_non_null(v);
		if (i % 4 == 3)
			continue; /* all null */
		v[0].i = 1700000000000000000LL + (int64_t)i;
		v[1].i = INT64_MIN + (int64_t)i;
		v[0].null = v[1].null = 0;
		assert_int_equal(ls_records_set_str(r, &v[2], "ss\0hd", 5), 0);
		if (i % 2 == 0)
			assert_int_equal(ls_records_set_str(r, &v[3], "", 0),
			                 0);
		v[4].i = INT64_MAX - (int64_t)i;
		v[4].null = 0;
		v[5].d = dv[i % 8];
		v[5].null = 0;
		v[6].i = (int64_t)(i % 2);
		v[6].null = 0;
	}
	return r;
}

/* ---- events ---- */

static void
test_event_roundtrip(void **state)
{
	ls_event ev, out;
	ls_buf b = {NULL, 0};

	(void)state;
	full_event(&ev);
	assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
	assert_non_null(b.data);
	assert_true(b.len > 0 && b.len <= LS_CODEC_MAX_BUF);
	assert_memory_equal(b.data + 4, "LSEV", 4);
	assert_int_equal(ls_codec_event_verify(b.data, b.len), 0);
	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(ls_codec_event_decode(b.data, b.len, &out), 0);
	assert_event_eq(&out, &ev);
	assert_event_borrowed(&out, b.data, b.len);
	/* The NUL inside the message survives. */
	assert_int_equal(out.message.ptr[5], '\0');
	ls_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	ls_buf_free(&b); /* twice is harmless */
	ls_buf_free(NULL);
}

static void
test_event_empty(void **state)
{
	ls_event ev, out;
	ls_buf b = {NULL, 0};

	(void)state;
	ls_event_clear(&ev);
	assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
	/* Defaults are not written: root offset, identifier, vtable and
	 * table header only. */
	assert_true(b.len <= 24);
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(ls_codec_event_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.time_ns, LS_TIME_UNKNOWN);
	assert_int_equal(out.ingest_ns, 0);
	assert_int_equal(out.offset, 0);
	assert_int_equal(out.level, LS_LEVEL_UNKNOWN);
	assert_int_equal(out.nattrs, 0);
	assert_int_equal(out.message.len, 0);
	assert_non_null(out.message.ptr);
	assert_int_equal(out.level_text.len, 0);
	assert_int_equal(out.service.len, 0);
	assert_int_equal(out.host.len, 0);
	ls_buf_free(&b);

	/* Empty attribute keys and values, and a zero time, round trip. */
	ev.time_ns = 0;
	ev.nattrs = 2;
	ev.attrs[0].key = ls_str_make(NULL, 0);
	ev.attrs[0].val = ls_str_c("v");
	ev.attrs[1].key = ls_str_c("k");
	ev.attrs[1].val = ls_str_make(NULL, 0);
	assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
	assert_int_equal(ls_codec_event_decode(b.data, b.len, &out), 0);
	assert_event_eq(&out, &ev);
	ls_buf_free(&b);
}

static void
test_event_bad_input(void **state)
{
	ls_event ev, out;
	ls_buf b = {(uint8_t *)&ev, 77};
	ls_buf good = {NULL, 0};

	(void)state;
	full_event(&ev);
	assert_int_equal(ls_codec_event_encode(NULL, &b), LS_EINVAL);
	assert_int_equal(ls_codec_event_encode(&ev, NULL), LS_EINVAL);
	ev.nattrs = LS_EVENT_MAX_ATTRS + 1;
	assert_int_equal(ls_codec_event_encode(&ev, &b), LS_ERANGE);
	assert_int_equal(ls_codec_batch_encode(&ev, 1, &b), LS_ERANGE);
	full_event(&ev);
	ev.level = LS_LEVEL_COUNT;
	assert_int_equal(ls_codec_event_encode(&ev, &b), LS_EINVAL);
	full_event(&ev);
	ev.host = ls_str_make(NULL, 3);
	assert_int_equal(ls_codec_event_encode(&ev, &b), LS_EINVAL);
	full_event(&ev);
	ev.attrs[15].val = ls_str_make(NULL, 1);
	assert_int_equal(ls_codec_event_encode(&ev, &b), LS_EINVAL);
	assert_int_equal(ls_codec_batch_encode(NULL, 1, &b), LS_EINVAL);
	/* *out is untouched by every failure. */
	assert_ptr_equal(b.data, (uint8_t *)&ev);
	assert_int_equal(b.len, 77);

	full_event(&ev);
	assert_int_equal(ls_codec_event_encode(&ev, &good), 0);
	assert_int_equal(ls_codec_event_decode(good.data, good.len, NULL),
	                 LS_EINVAL);
	assert_int_equal(ls_codec_event_decode(NULL, 10, &out), LS_EINVAL);
	assert_int_equal(ls_codec_event_decode(NULL, 0, &out), LS_ECORRUPT);
	assert_int_equal(ls_codec_event_verify(good.data, 0), LS_ECORRUPT);
	/* Longer than the limit: refused before a byte is read. */
	assert_int_equal(ls_codec_event_verify(good.data, LS_CODEC_MAX_BUF + 1),
	                 LS_ERANGE);
	assert_int_equal(ls_codec_event_decode(
	                     good.data, (size_t)LS_CODEC_MAX_BUF + 1, &out),
	                 LS_ERANGE);
	ls_buf_free(&good);
}

static void
test_event_level_mapping(void **state)
{
	ls_event ev, out;
	ls_buf b = {NULL, 0};

	(void)state;
	for (int l = 0; l < LS_LEVEL_COUNT; l++) {
		ls_event_clear(&ev);
		ev.level = (uint8_t)l;
		ev.level_text = ls_str_c(ls_level_name(l));
		assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
		assert_int_equal(ls_codec_event_decode(b.data, b.len, &out), 0);
		assert_int_equal(out.level, l);
		assert_true(ls_str_eq(out.level_text, ls_level_name(l)));
		ls_buf_free(&b);
	}
}

/* ---- batches ---- */

struct collect {
	const ls_event *want;
	size_t n, stop_at;
	const void *buf;
	size_t len;
};

static int
collect_event(void *arg, const ls_event *ev)
{
	struct collect *c = arg;
	assert_event_eq(ev, &c->want[c->n]);
	assert_event_borrowed(ev, c->buf, c->len);
	c->n++;
	return c->n == c->stop_at ? 1234 : 0;
}

static void
check_batch(const ls_event *evs, size_t n)
{
	ls_buf b = {NULL, 0};
	ls_event out;
	size_t count = 99;

	assert_int_equal(ls_codec_batch_encode(evs, n, &b), 0);
	assert_memory_equal(b.data + 4, "LSEB", 4);
	assert_int_equal(ls_codec_batch_verify(b.data, b.len), 0);
	assert_int_equal(ls_codec_batch_count(b.data, b.len, &count), 0);
	assert_int_equal(count, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ls_codec_batch_get(b.data, b.len, i, &out), 0);
		assert_event_eq(&out, &evs[i]);
		assert_event_borrowed(&out, b.data, b.len);
	}
	assert_int_equal(ls_codec_batch_get(b.data, b.len, n, &out), LS_ENOENT);

	struct collect c = {evs, 0, 0, b.data, b.len};
	assert_int_equal(
	    ls_codec_batch_foreach(b.data, b.len, collect_event, &c), 0);
	assert_int_equal(c.n, n);
	if (n >= 2) {
		/* fn's non-zero value stops the walk and is returned. */
		struct collect s = {evs, 0, 2, b.data, b.len};
		assert_int_equal(
		    ls_codec_batch_foreach(b.data, b.len, collect_event, &s),
		    1234);
		assert_int_equal(s.n, 2);
	}
	ls_buf_free(&b);
}

static void
test_batch_roundtrip(void **state)
{
	enum { N = 500 };
	ls_event *evs = calloc(N, sizeof(*evs));

	(void)state;
	assert_non_null(evs);
	for (size_t i = 0; i < N; i++)
		rand_event(&evs[i], 40);
	full_event(&evs[7]);
	ls_event_clear(&evs[8]);
	check_batch(evs, N);
	check_batch(evs, 1);
	check_batch(NULL, 0);
	check_batch(evs + 8, 1); /* one empty event */
	free(evs);
}

/* Split one CSV record in place (RFC 4180 quoting, "" for a quote): up to
 * max NUL-terminated fields into f[]; returns how many. */
static size_t
csv_split(char *p, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *end;
		if (*p == '"') {
			char *q = p + 1, *o = p + 1;
			f[n] = p + 1;
			while (*q != '\0' && !(*q == '"' && q[1] != '"')) {
				if (*q == '"')
					q++; /* "" stands for one quote */
				*o++ = *q++;
			}
			end = o;
			p = *q == '"' ? q + 1 : q;
		} else {
			f[n] = p;
			while (*p != ',' && *p != '\0')
				p++;
			end = p;
		}
		n++;
		int more = *p == ',';
		*end = '\0';
		if (!more)
			break;
		p++;
	}
	return n;
}

/* Every line of a Loghub ground-truth CSV becomes an event (Content is the
 * message, Level the level, Component the service, Node the host, every
 * column an attribute); the whole file round trips as one batch and each
 * line as one event. */
static void
loghub_system(const char *sys)
{
	char path[1024];
	size_t len, nfields, nev = 0;
	char *text, *line, *save = NULL;
	char *names[16];
	ls_event *evs = calloc(2100, sizeof(*evs));

	assert_non_null(evs);
	snprintf(path, sizeof(path), "%s/loghub/%s/%s_2k.log_structured.csv",
	         LS_DATASETS_DIR, sys, sys);
	text = (char *)read_file(path, &len);
	line = strtok_r(text, "\r\n", &save);
	assert_non_null(line);
	nfields = csv_split(line, names, 16);
	assert_true(nfields >= 4);
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		ls_event *ev = &evs[nev];
		char *start[16];
		assert_true(nev < 2100);
		size_t n = csv_split(line, start, nfields);
		assert_int_equal(n, nfields);
		ls_event_clear(ev);
		ev->offset = (uint64_t)strtoull(start[0], NULL, 10);
		ev->time_ns = (int64_t)ev->offset * 1000000000LL;
		for (size_t i = 0; i < nfields; i++) {
			ls_str v = ls_str_c(start[i]);
			if (strcmp(names[i], "Content") == 0)
				ev->message = v;
			else if (strcmp(names[i], "Level") == 0) {
				ev->level_text = v;
				ev->level =
				    (uint8_t)ls_level_parse(v.ptr, v.len);
			} else if (strcmp(names[i], "Component") == 0)
				ev->service = v;
			else if (strcmp(names[i], "Node") == 0)
				ev->host = v;
			assert_int_equal(
			    ls_event_add_attr(ev, ls_str_c(names[i]), v), 0);
		}
		nev++;
	}
	assert_int_equal(nev, 2000);
	check_batch(evs, nev);
	/* And each line on its own. */
	for (size_t i = 0; i < nev; i++) {
		ls_buf b = {NULL, 0};
		ls_event out;
		assert_int_equal(ls_codec_event_encode(&evs[i], &b), 0);
		assert_int_equal(ls_codec_event_decode(b.data, b.len, &out), 0);
		assert_event_eq(&out, &evs[i]);
		ls_buf_free(&b);
	}
	free(evs);
	free(text);
}

static void
test_batch_loghub(void **state)
{
	static const char *const systems[] = {"Apache", "BGL",      "HDFS",
	                                      "Hadoop", "Linux",    "OpenSSH",
	                                      "Spark",  "Zookeeper"};

	(void)state;
	for (size_t i = 0; i < sizeof(systems) / sizeof(systems[0]); i++)
		loghub_system(systems[i]);
}

/* ---- envelopes and frames ---- */

static void
assert_env_eq(const ls_envelope *got, const ls_envelope *want)
{
	assert_int_equal(got->type, want->type);
	assert_int_equal(got->from, want->from);
	assert_int_equal(got->to, want->to);
	assert_int_equal(got->epoch, want->epoch);
	assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->payload_len, want->payload_len);
	if (want->payload_len > 0)
		assert_memory_equal(got->payload, want->payload,
		                    want->payload_len);
	else
		assert_null(got->payload);
}

/* e's payload lies in [buf, buf + len) (or is empty). */
static void
assert_env_inside(const ls_envelope *e, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	if (e->payload_len == 0)
		return;
	assert_true(e->payload >= b && e->payload + e->payload_len <= b + len);
}

/* As above, and 8-byte aligned as our encoder lays payloads out, so that
 * nested buffers read in place. */
static void
assert_env_borrowed(const ls_envelope *e, const void *buf, size_t len)
{
	assert_env_inside(e, buf, len);
	assert_int_equal((uintptr_t)e->payload % LS_CODEC_ALIGN, 0);
}

static void
test_envelope_roundtrip(void **state)
{
	ls_event evs[3];
	ls_buf batch = {NULL, 0}, b = {NULL, 0};
	ls_envelope env, out;
	size_t n;

	(void)state;
	full_event(&evs[0]);
	rand_event(&evs[1], 30);
	ls_event_clear(&evs[2]);
	assert_int_equal(ls_codec_batch_encode(evs, 3, &batch), 0);

	env.type = LS_MSG_EVENTS;
	env.from = 0x0102030405060708ull;
	env.to = UINT64_MAX;
	env.epoch = 77;
	env.seq = 1ull << 63;
	env.payload = batch.data;
	env.payload_len = batch.len;
	assert_int_equal(ls_codec_envelope_encode(&env, &b), 0);
	assert_memory_equal(b.data + 4, "LSEN", 4);
	assert_int_equal(ls_codec_envelope_verify(b.data, b.len), 0);
	assert_int_equal(ls_codec_envelope_decode(b.data, b.len, &out), 0);
	assert_env_eq(&out, &env);
	assert_env_borrowed(&out, b.data, b.len);
	/* The payload is a batch that decodes in place. */
	assert_int_equal(ls_codec_batch_count(out.payload, out.payload_len, &n),
	                 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		ls_event ev;
		assert_int_equal(
		    ls_codec_batch_get(out.payload, out.payload_len, i, &ev),
		    0);
		assert_event_eq(&ev, &evs[i]);
	}
	ls_buf_free(&b);

	/* No payload; a type this build does not know passes through. */
	memset(&env, 0, sizeof(env));
	env.type = 4242;
	env.seq = 9;
	assert_int_equal(ls_codec_envelope_encode(&env, &b), 0);
	assert_int_equal(ls_codec_envelope_decode(b.data, b.len, &out), 0);
	assert_env_eq(&out, &env);
	ls_buf_free(&b);

	env.payload_len = 5; /* NULL payload with a length */
	assert_int_equal(ls_codec_envelope_encode(&env, &b), LS_EINVAL);
	assert_int_equal(ls_codec_envelope_encode(NULL, &b), LS_EINVAL);
	assert_null(b.data);
	ls_buf_free(&batch);
}

struct env_collect {
	const ls_envelope *want;
	size_t n, stop_at;
	const void *buf;
	size_t len;
};

static int
collect_env(void *arg, const ls_envelope *e)
{
	struct env_collect *c = arg;
	assert_env_eq(e, &c->want[c->n]);
	assert_env_borrowed(e, c->buf, c->len);
	c->n++;
	return c->n == c->stop_at ? -7 : 0;
}

static void
test_frame_roundtrip(void **state)
{
	enum { N = 300 };
	ls_envelope *envs = calloc(N, sizeof(*envs));
	ls_buf b = {NULL, 0};

	(void)state;
	assert_non_null(envs);
	for (size_t i = 0; i < N; i++) {
		envs[i].type = (uint16_t)(i % 3 == 0 ? LS_MSG_HEARTBEAT : i);
		envs[i].from = rng();
		envs[i].to = rng();
		envs[i].epoch = i;
		envs[i].seq = i * 1000;
		/* Payload lengths 0..299 hit every alignment. */
		envs[i].payload_len = i;
		envs[i].payload = i > 0 ? (const uint8_t *)pool + i : NULL;
	}
	assert_int_equal(ls_codec_frame_encode(envs, N, &b), 0);
	assert_memory_equal(b.data + 4, "LSFR", 4);
	assert_int_equal(ls_codec_frame_verify(b.data, b.len), 0);
	struct env_collect c = {envs, 0, 0, b.data, b.len};
	assert_int_equal(ls_codec_frame_decode(b.data, b.len, collect_env, &c),
	                 0);
	assert_int_equal(c.n, N);
	struct env_collect s = {envs, 0, 5, b.data, b.len};
	assert_int_equal(ls_codec_frame_decode(b.data, b.len, collect_env, &s),
	                 -7);
	assert_int_equal(s.n, 5);
	assert_int_equal(ls_codec_frame_decode(b.data, b.len, NULL, NULL),
	                 LS_EINVAL);
	ls_buf_free(&b);

	/* An empty frame. */
	assert_int_equal(ls_codec_frame_encode(NULL, 0, &b), 0);
	struct env_collect e = {envs, 0, 0, b.data, b.len};
	assert_int_equal(ls_codec_frame_decode(b.data, b.len, collect_env, &e),
	                 0);
	assert_int_equal(e.n, 0);
	ls_buf_free(&b);
	assert_int_equal(ls_codec_frame_encode(NULL, 1, &b), LS_EINVAL);
	free(envs);
}

/* ---- records (results of any kind) ---- */

static void
test_records_roundtrip(void **state)
{
	ls_buf b = {NULL, 0};
	ls_records *out = NULL;

	(void)state;
	for (uint32_t rows = 0; rows <= 9; rows += 3) {
		ls_records *r = full_records(rows);
		assert_int_equal(ls_codec_records_encode(r, &b), 0);
		assert_memory_equal(b.data + 4, "LSRB", 4);
		assert_int_equal(ls_codec_records_verify(b.data, b.len), 0);
		assert_int_equal(ls_codec_records_decode(b.data, b.len, &out),
		                 0);
		assert_records_eq(out, r);
		/* the decoded records own everything: buf may go */
		ls_buf_free(&b);
		assert_records_eq(out, r);
		ls_records_unref(out);
		ls_records_unref(r);
	}

	/* A schema without key fields but with a "key" object at the end;
	 * a bool stored as 7 decodes as 1. */
	ls_rec_schema sc;
	ls_rec_schema_init(&sc);
	assert_int_equal(ls_rec_schema_add(&sc, "b", LS_REC_BOOL, 0), 0);
	sc.keyed = 1;
	sc.key_at = 1;
	ls_records *r = ls_records_new(&sc, NULL, 0);
	ls_rec_value *v = ls_records_add(r);
	v->i = 7;
	v->null = 0;
	assert_int_equal(ls_codec_records_encode(r, &b), 0);
	assert_int_equal(ls_codec_records_decode(b.data, b.len, &out), 0);
	assert_records_eq(out, r);
	ls_records_unref(out);
	ls_buf_free(&b);

	/* What a receiver would refuse is not encoded. */
	sc.key_at = 2;
	assert_int_equal(ls_codec_records_encode(r, &b), LS_EINVAL);
	sc.key_at = 1;
	ls_records_set_str(r, v, "x", 1);
	sc.f[0].type = LS_REC_STRING;
	v->s = ls_str_make(NULL, 2);
	assert_int_equal(ls_codec_records_encode(r, &b), LS_EINVAL);
	sc.f[0].type = 9;
	assert_int_equal(ls_codec_records_encode(r, &b), LS_EINVAL);
	sc.n = 0;
	assert_int_equal(ls_codec_records_encode(r, &b), LS_EINVAL);
	assert_null(b.data);
	assert_int_equal(ls_codec_records_encode(NULL, &b), LS_EINVAL);
	assert_int_equal(ls_codec_records_decode(b.data, 0, NULL), LS_EINVAL);
	ls_records_unref(r);
	ls_rec_schema_fini(&sc);
}

/* ---- the verifier ---- */

enum kind {
	K_EVENT,
	K_BATCH,
	K_ENVELOPE,
	K_FRAME,
	K_RESULT,
	K_HEARTBEAT,
	K_MAP_EPOCH,
	K_JOIN,
	K_MAP_CMD,
	K_DEAD_LETTER,
	K_EOS,
	K_BARRIER,
	K_REPLICATION,
	K_COUNT
};

static const char *const kind_name[K_COUNT] = {
    "event",     "batch",     "envelope", "frame",
    "result",    "heartbeat", "map epoch", "join request", "map command",
    "dead letter", "end of stream", "barrier", "replication"};

/* Checkpoint acks of the sample heartbeats: shared and empty strings, the
 * largest values. */
static const ls_ckpt_ack_wire sample_acks[] = {
    {{"dist", 4}, {"count/0", 7}, 12, (12ull << 32) | 1, 0},
    {{"dist", 4}, {"count/1", 7}, 12, (12ull << 32) | 1, 1},
    {{"", 0}, {"", 0}, 0, 0, 0},
    {{"x", 1}, {"p", 1}, UINT64_MAX, UINT64_MAX, 1},
};

static ls_heartbeat_wire
sample_heartbeat(size_t nacks)
{
	ls_heartbeat_wire hb = {
	    .id = 0x1234567890abcdefull,
	    .inc = 0xfeedfacecafebeefull,
	    .name = ls_str_c("n1"),
	    .url = ls_str_c("tcp://127.0.0.1:7101"),
	    .http = ls_str_c("127.0.0.1:8101"),
	    .voter = 1,
	    .restarted = 0,
	    .leaving = 1,
	    .acks = nacks > 0 ? sample_acks : NULL,
	    .nacks = nacks,
	};
	return hb;
}

static void
make_sample(enum kind k, ls_buf *b)
{
	ls_event evs[4];
	ls_envelope envs[3];
	ls_records *r;
	int rc = -1;

	full_event(&evs[0]);
	rand_event(&evs[1], 20);
	ls_event_clear(&evs[2]);
	rand_event(&evs[3], 5);
	for (int i = 0; i < 3; i++) {
		envs[i].type = (uint16_t)(i + 1);
		envs[i].from = (uint64_t)i;
		envs[i].to = (uint64_t)i + 10;
		envs[i].epoch = 3;
		envs[i].seq = (uint64_t)i * 7;
		envs[i].payload = (const uint8_t *)pool;
		envs[i].payload_len = (size_t)i * 13;
	}
	envs[0].payload = NULL;
	r = full_records(5);
	ls_heartbeat_wire hb = sample_heartbeat(4);
	ls_join_wire jr = {UINT64_MAX, 1, ls_str_c("n4"),
	                   ls_str_c("tcp://127.0.0.1:7104"),
	                   ls_str_c("127.0.0.1:8104"),
	                   ls_str_c("127.0.0.1:7204")};
	ls_assign_wire as[3] = {{ls_str_c("count/0"), 1, 2, {2, 3}},
	                        {ls_str_c("count/1"), 2, 0, {0}},
	                        {ls_str_c(""), UINT64_MAX, 7,
	                         {1, 2, 3, 4, 5, 6, UINT64_MAX}}};
	ls_map_cmd_wire mc = {.type = 6,
	                      .node = 9,
	                      .voter = 1,
	                      .state = 2,
	                      .flags = 1,
	                      .final = 1,
	                      .name = ls_str_c("web"),
	                      .url = ls_str_c("tcp://h:1"),
	                      .yaml = ls_str_c("name: web\n"),
	                      .checkpoint = 77,
	                      .assigns = as,
	                      .nassigns = 3};
	switch (k) {
	case K_EVENT:
		rc = ls_codec_event_encode(&evs[0], b);
		break;
	case K_BATCH:
		rc = ls_codec_batch_encode_node(evs, 4, 3, b);
		break;
	case K_ENVELOPE:
		rc = ls_codec_envelope_encode(&envs[1], b);
		break;
	case K_FRAME:
		rc = ls_codec_frame_encode(envs, 3, b);
		break;
	case K_RESULT:
		rc = ls_codec_records_encode_node(r, 7, b);
		break;
	case K_HEARTBEAT:
		rc = ls_codec_heartbeat_encode(&hb, b);
		break;
	case K_MAP_EPOCH:
		rc = ls_codec_map_epoch_encode(UINT64_MAX - 3, b);
		break;
	case K_JOIN:
		rc = ls_codec_join_encode(&jr, b);
		break;
	case K_MAP_CMD:
		rc = ls_codec_map_cmd_encode(&mc, b);
		break;
	case K_DEAD_LETTER:
		rc = ls_codec_dead_letter_encode(
		    ls_str_c("{\"stage\":\"parse\",\"error\":\"bad\"}"), b);
		break;
	case K_EOS:
		rc = ls_codec_mark_encode(LS_MSG_END_OF_STREAM, 41, b);
		break;
	case K_BARRIER:
		rc = ls_codec_mark_encode(LS_MSG_CHECKPOINT_BARRIER,
		                          (12ull << 32) | 5, b);
		break;
	case K_REPLICATION: {
		ls_replication_wire rw = {(12ull << 32) | 5, 1,
		                          ls_str_c("count/1"),
		                          (const uint8_t *)pool, 77, 0, 0, 0};
		rc = ls_codec_replication_encode(&rw, b);
		break;
	}
	default:
		break;
	}
	ls_records_unref(r);
	assert_int_equal(rc, 0);
}

static int
check_env_cb(void *arg, const ls_envelope *e)
{
	const ls_buf *b = arg;
	assert_env_inside(e, b->data, b->len);
	return 0;
}

static int
check_event_cb(void *arg, const ls_event *ev)
{
	const ls_buf *b = arg;
	assert_event_borrowed(ev, b->data, b->len);
	return 0;
}

/* s borrows from [buf, buf + len) and is a C string of its length. */
static void
assert_cstr_borrowed(ls_str s, const void *buf, size_t len)
{
	assert_non_null(s.ptr);
	assert_int_equal(strlen(s.ptr), s.len);
	assert_borrowed(s, buf, len);
}

static int
check_ack_cb(void *arg, const ls_ckpt_ack_wire *a)
{
	const ls_buf *b = arg;
	assert_cstr_borrowed(a->topology, b->data, b->len);
	assert_cstr_borrowed(a->partition, b->data, b->len);
	assert_true(a->final <= 1);
	return 0;
}

static int
check_assign_cb(void *arg, size_t i, const ls_assign_wire *a)
{
	const ls_buf *b = arg;
	(void)i;
	assert_cstr_borrowed(a->partition, b->data, b->len);
	assert_true(a->n_standbys <= LS_WIRE_MAX_STANDBYS);
	return 0;
}

/* Feed buf to every decoder.  Whatever it holds, nothing may crash or read
 * outside it; a decoder succeeds only where the matching verifier does, and
 * what it returns lies inside buf.  Returns how many decoders accepted. */
/* The decoders of dataplane.fbs; the number that accepted buf. */
static int
decode_dataplane(const uint8_t *buf, size_t len)
{
	int ok = 0, rc;

	ls_str dl;
	rc = ls_codec_dead_letter_decode(buf, len, &dl);
	if (rc == 0) {
		assert_cstr_borrowed(dl, buf, len);
		ok++;
	} else {
		assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);
	}

	static const uint16_t marks[] = {LS_MSG_END_OF_STREAM,
	                                 LS_MSG_CHECKPOINT_BARRIER,
	                                 LS_MSG_REPLAY_MARK};
	for (int i = 0; i < 3; i++) {
		uint64_t ckpt;
		rc = ls_codec_mark_decode(marks[i], buf, len, &ckpt);
		if (rc == 0)
			ok++;
		else
			assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);
	}

	ls_replication_wire rw;
	rc = ls_codec_replication_decode(buf, len, &rw);
	if (rc == 0) {
		assert_cstr_borrowed(rw.partition, buf, len);
		assert_true(rw.partition.len >= 1 && rw.partition.len <= 255);
		assert_true(rw.final <= 1);
		if (rw.blob_len > 0) {
			assert_true(rw.blob >= buf &&
			            rw.blob + rw.blob_len <= buf + len);
		} else {
			assert_null(rw.blob);
		}
		ok++;
	} else {
		assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);
	}

	ls_ingest_wire iw;
	rc = ls_codec_ingest_decode(buf, len, &iw, NULL, NULL);
	if (rc == 0) {
		assert_cstr_borrowed(iw.topology, buf, len);
		assert_cstr_borrowed(iw.partition, buf, len);
		ok++;
	} else {
		assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);
	}
	return ok;
}

static int
decode_all(const uint8_t *buf, size_t len)
{
	ls_buf view = {(uint8_t *)buf, len};
	ls_event ev;
	ls_envelope env;
	ls_records *r = NULL;
	size_t n;
	int ok = 0, rc;

	rc = ls_codec_event_decode(buf, len, &ev);
	if (rc == 0) {
		assert_int_equal(ls_codec_event_verify(buf, len), 0);
		assert_event_borrowed(&ev, buf, len);
		ok++;
	} else if (rc != LS_ERANGE) {
		assert_int_equal(rc, LS_ECORRUPT);
		assert_int_equal(ls_codec_event_verify(buf, len), LS_ECORRUPT);
	}

	rc = ls_codec_batch_count(buf, len, &n);
	assert_int_equal(rc, ls_codec_batch_verify(buf, len));
	if (rc == 0) {
		ok++;
		for (size_t i = 0; i < n; i++) {
			if (ls_codec_batch_get(buf, len, i, &ev) == 0)
				assert_event_borrowed(&ev, buf, len);
		}
		rc = ls_codec_batch_foreach(buf, len, check_event_cb, &view);
		assert_true(rc == 0 || rc == LS_ERANGE);
	} else {
		assert_int_equal(rc, LS_ECORRUPT);
		assert_int_not_equal(
		    ls_codec_batch_foreach(buf, len, check_event_cb, &view), 0);
	}
	/* batch_get verifies only what it reads: it may accept event 0 of a
	 * batch whose other events are broken, never a broken event 0. */
	if (ls_codec_batch_get(buf, len, 0, &ev) == 0)
		assert_event_borrowed(&ev, buf, len);

	rc = ls_codec_envelope_decode(buf, len, &env);
	assert_int_equal(rc, ls_codec_envelope_verify(buf, len));
	if (rc == 0) {
		assert_env_inside(&env, buf, len);
		ok++;
	}

	rc = ls_codec_frame_decode(buf, len, check_env_cb, &view);
	assert_int_equal(rc, ls_codec_frame_verify(buf, len));
	if (rc == 0)
		ok++;

	rc = ls_codec_records_decode(buf, len, &r);
	if (rc == 0) {
		assert_int_equal(ls_codec_records_verify(buf, len), 0);
		assert_true(r->schema->n >= 1 &&
		            r->schema->n <= LS_REC_MAX_FIELDS);
		ls_records_unref(r);
		ok++;
	} else if (rc != LS_ERANGE) {
		assert_true(rc == LS_ECORRUPT || rc == LS_EINVAL);
		assert_null(r);
	}

	ls_heartbeat_wire hb;
	rc = ls_codec_heartbeat_decode(buf, len, &hb, check_ack_cb, &view);
	if (rc == 0) {
		assert_int_equal(ls_codec_heartbeat_verify(buf, len), 0);
		assert_cstr_borrowed(hb.name, buf, len);
		assert_cstr_borrowed(hb.url, buf, len);
		assert_cstr_borrowed(hb.http, buf, len);
		assert_null(hb.acks);
		ok++;
	} else {
		assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);
	}

	uint64_t epoch;
	rc = ls_codec_map_epoch_decode(buf, len, &epoch);
	if (rc == 0)
		ok++;
	else
		assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);

	ls_map_cmd_wire mc;
	rc = ls_codec_map_cmd_decode(buf, len, &mc, check_assign_cb, &view);
	if (rc == 0) {
		assert_int_equal(ls_codec_map_cmd_verify(buf, len), 0);
		assert_cstr_borrowed(mc.name, buf, len);
		assert_cstr_borrowed(mc.url, buf, len);
		assert_cstr_borrowed(mc.http, buf, len);
		assert_cstr_borrowed(mc.yaml, buf, len);
		assert_null(mc.assigns);
		ok++;
	} else {
		assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);
	}

	ls_join_wire jr;
	rc = ls_codec_join_decode(buf, len, &jr);
	if (rc == 0) {
		assert_int_equal(ls_codec_join_verify(buf, len), 0);
		assert_cstr_borrowed(jr.name, buf, len);
		assert_cstr_borrowed(jr.url, buf, len);
		assert_cstr_borrowed(jr.http, buf, len);
		assert_cstr_borrowed(jr.raft, buf, len);
		ok++;
	} else {
		assert_true(rc == LS_ECORRUPT || rc == LS_ERANGE);
	}
	return ok + decode_dataplane(buf, len);
}

static void
test_identifiers(void **state)
{
	(void)state;
	for (int k = 0; k < K_COUNT; k++) {
		ls_buf b = {NULL, 0};
		make_sample((enum kind)k, &b);
		/* Exactly one decoder accepts each kind. */
		assert_int_equal(decode_all(b.data, b.len), 1);
		/* A wrong identifier is refused by all of them. */
		b.data[5] ^= 0x20;
		assert_int_equal(decode_all(b.data, b.len), 0);
		assert_int_equal(ls_codec_event_verify(b.data, b.len),
		                 LS_ECORRUPT);
		ls_buf_free(&b);
	}
}

/* Every proper prefix of b is refused by every decoder; b itself by all but
 * one. */
static void
check_truncations(const ls_buf *b, const char *what)
{
	for (size_t n = 0; n < b->len; n++) {
		uint8_t *p = dup_exact(b->data, n);
		if (decode_all(p, n) != 0)
			fail_msg("%s truncated to %zu of %zu bytes accepted",
			         what, n, b->len);
		free(p);
	}
	uint8_t *p = dup_exact(b->data, b->len);
	assert_int_equal(decode_all(p, b->len), 1);
	free(p);
}

static void
test_truncation(void **state)
{
	ls_buf b = {NULL, 0};
	ls_event ev;
	ls_envelope env;
	ls_records *r;

	(void)state;
	for (int k = 0; k < K_COUNT; k++) {
		make_sample((enum kind)k, &b);
		check_truncations(&b, kind_name[k]);
		ls_buf_free(&b);
	}
	/* Shapes whose first object needs padding, or has no strings. */
	for (size_t len = 0; len < 10; len++) {
		ls_event_clear(&ev);
		ev.host = ls_str_make(pool, len);
		assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
		check_truncations(&b, "event with one string");
		ls_buf_free(&b);
		assert_int_equal(ls_codec_batch_encode(&ev, 1, &b), 0);
		check_truncations(&b, "batch of one string");
		ls_buf_free(&b);
	}
	ls_event_clear(&ev);
	ev.level = LS_LEVEL_WARN;
	assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
	check_truncations(&b, "event with a level only");
	ls_buf_free(&b);
	ls_event_clear(&ev);
	assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
	check_truncations(&b, "empty event");
	ls_buf_free(&b);
	for (int i = 0; i < 40; i++) {
		rand_event(&ev, 12);
		assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
		check_truncations(&b, "random event");
		ls_buf_free(&b);
	}
	memset(&env, 0, sizeof(env));
	env.type = LS_MSG_CREDIT;
	assert_int_equal(ls_codec_envelope_encode(&env, &b), 0);
	check_truncations(&b, "envelope with a type only");
	ls_buf_free(&b);
	for (size_t len = 1; len < 18; len++) {
		env.payload = (const uint8_t *)pool;
		env.payload_len = len;
		assert_int_equal(ls_codec_envelope_encode(&env, &b), 0);
		check_truncations(&b, "envelope");
		ls_buf_free(&b);
		assert_int_equal(ls_codec_frame_encode(&env, 1, &b), 0);
		check_truncations(&b, "frame");
		ls_buf_free(&b);
	}
	for (uint32_t rows = 0; rows <= 4; rows++) {
		r = full_records(rows);
		assert_int_equal(ls_codec_records_encode(r, &b), 0);
		check_truncations(&b, "records");
		ls_buf_free(&b);
		ls_records_unref(r);
	}
}

static void
test_corruption(void **state)
{
	(void)state;
	for (int k = 0; k < K_COUNT; k++) {
		ls_buf b = {NULL, 0};
		int accepted = 0;
		make_sample((enum kind)k, &b);
		for (int iter = 0; iter < 4000; iter++) {
			uint8_t *p = dup_exact(b.data, b.len);
			int nmut = 1 + (int)rng_below(4);
			for (int m = 0; m < nmut; m++) {
				size_t at = rng_below(b.len);
				switch (rng_below(4)) {
				case 0:
					p[at] = (uint8_t)rng();
					break;
				case 1:
					p[at] = (rng() & 1) ? 0xff : 0;
					break;
				case 2:
					p[at] += (rng() & 1) ? 1 : 0xff;
					break;
				default:
					p[at] ^= (uint8_t)(1u << rng_below(8));
					break;
				}
			}
			accepted += decode_all(p, b.len) > 0;
			free(p);
		}
		/* Many mutations hit string bytes or scalars and stay valid:
		 * the test exercises both outcomes. */
		assert_true(accepted > 0 && accepted < 4000);
		ls_buf_free(&b);
	}
}

static void
test_misaligned(void **state)
{
	(void)state;
	for (int k = 0; k < K_COUNT; k++) {
		ls_buf b = {NULL, 0};
		make_sample((enum kind)k, &b);
		uint8_t *p = malloc(b.len + 8);
		assert_non_null(p);
		for (size_t shift = 1; shift < 8; shift++) {
			ls_event ev;
			ls_envelope env;
			ls_records *r = NULL;
			size_t n;
			memcpy(p + shift, b.data, b.len);
			assert_int_equal(
			    ls_codec_event_verify(p + shift, b.len), LS_EINVAL);
			assert_int_equal(
			    ls_codec_event_decode(p + shift, b.len, &ev),
			    LS_EINVAL);
			assert_int_equal(
			    ls_codec_batch_count(p + shift, b.len, &n),
			    LS_EINVAL);
			assert_int_equal(
			    ls_codec_batch_get(p + shift, b.len, 0, &ev),
			    LS_EINVAL);
			assert_int_equal(
			    ls_codec_envelope_decode(p + shift, b.len, &env),
			    LS_EINVAL);
			assert_int_equal(
			    ls_codec_frame_verify(p + shift, b.len), LS_EINVAL);
			assert_int_equal(
			    ls_codec_records_decode(p + shift, b.len, &r),
			    LS_EINVAL);
			assert_null(r);
			ls_heartbeat_wire hb;
			uint64_t epoch;
			assert_int_equal(ls_codec_heartbeat_decode(p + shift,
			                     b.len, &hb, NULL, NULL),
			                 LS_EINVAL);
			assert_int_equal(
			    ls_codec_map_epoch_decode(p + shift, b.len, &epoch),
			    LS_EINVAL);
			ls_join_wire jr;
			assert_int_equal(
			    ls_codec_join_decode(p + shift, b.len, &jr),
			    LS_EINVAL);
			ls_map_cmd_wire mc;
			assert_int_equal(ls_codec_map_cmd_decode(p + shift,
			                     b.len, &mc, NULL, NULL),
			                 LS_EINVAL);
		}
		free(p);
		ls_buf_free(&b);
	}
}

/* An EventBatch whose n vector entries all point at one (empty) LogEvent
 * table: well-formed FlatBuffers, but verifying it costs n tables for 4n
 * bytes.  Laid out by hand, little-endian:
 *
 *   0  root offset -> 16          4  "LSEB"
 *   8  batch vtable: size 6, table size 8, events at +4, 2 bytes padding
 *  16  batch table: soffset 8 (vtable at 16 - 8), events offset -> 24
 *  24  vector length n, then n offsets, each -> the event table E
 *  E-4 event vtable: size 4, table size 4 (no fields)
 *  E   event table: soffset 4
 */
static size_t
make_dag(uint8_t *p, uint32_t n)
{
	uint32_t vend = 28 + 4 * n, e = vend + 4;
	uint32_t u;
	uint16_t h;
	int32_t s;

#define PUT(off, v) memcpy(p + (off), &(v), sizeof(v))
	u = 16;
	PUT(0, u);
	memcpy(p + 4, "LSEB", 4);
	h = 6;
	PUT(8, h);
	h = 8;
	PUT(10, h);
	h = 4;
	PUT(12, h);
	h = 0;
	PUT(14, h);
	s = 8;
	PUT(16, s);
	u = 4;
	PUT(20, u);
	PUT(24, n);
	for (uint32_t i = 0; i < n; i++) {
		u = e - (28 + 4 * i);
		PUT(28 + 4 * i, u);
	}
	h = 4;
	PUT(vend, h);
	PUT(vend + 2, h);
	s = 4;
	PUT(e, s);
#undef PUT
	return e + 4;
}

static void
test_dag_refused(void **state)
{
	uint64_t store[1100];
	uint8_t *p = (uint8_t *)store;
	size_t len, n;
	ls_event ev;

	(void)state;
	/* One reference: a valid batch of one empty event. */
	len = make_dag(p, 1);
	assert_int_equal(ls_codec_batch_count(p, len, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ls_codec_batch_get(p, len, 0, &ev), 0);
	assert_int_equal(ev.time_ns, LS_TIME_UNKNOWN);
	/* Two references to one table still fit the table budget. */
	len = make_dag(p, 2);
	assert_int_equal(ls_codec_batch_verify(p, len), 0);
	/* A thousand do not. */
	len = make_dag(p, 1000);
	assert_true(len <= sizeof(store));
	assert_int_equal(ls_codec_batch_verify(p, len), LS_ECORRUPT);
	assert_int_equal(ls_codec_batch_count(p, len, &n), LS_ECORRUPT);
}

/* ---- limits and memory ---- */

static void
test_large(void **state)
{
	const size_t big = 32u << 20;
	char *text = malloc(LS_CODEC_MAX_BUF);
	ls_event ev, out;
	ls_envelope env, eout;
	ls_buf b = {NULL, 0};

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < LS_CODEC_MAX_BUF; i++)
		text[i] = (char)('a' + i % 26);

	/* A 32 MiB message round trips. */
	ls_event_clear(&ev);
	ev.message = ls_str_make(text, big);
	assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
	assert_true(b.len > big && b.len < big + 64);
	assert_int_equal(ls_codec_event_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.message.len, big);
	assert_memory_equal(out.message.ptr, text, big);
	ls_buf_free(&b);

	/* A 32 MiB payload too. */
	memset(&env, 0, sizeof(env));
	env.type = LS_MSG_REPLICATION_BATCH;
	env.payload = (const uint8_t *)text;
	env.payload_len = big;
	assert_int_equal(ls_codec_envelope_encode(&env, &b), 0);
	assert_int_equal(ls_codec_envelope_decode(b.data, b.len, &eout), 0);
	assert_env_eq(&eout, &env);
	ls_buf_free(&b);

	/* What could exceed the limit is refused without allocating. */
	ev.message = ls_str_make(text, LS_CODEC_MAX_BUF);
	assert_int_equal(ls_codec_event_encode(&ev, &b), LS_ERANGE);
	ev.message = ls_str_make(text, LS_CODEC_MAX_BUF / 2);
	ev.host = ls_str_make(text, LS_CODEC_MAX_BUF / 2);
	assert_int_equal(ls_codec_event_encode(&ev, &b), LS_ERANGE);
	env.payload_len = LS_CODEC_MAX_BUF;
	assert_int_equal(ls_codec_envelope_encode(&env, &b), LS_ERANGE);
	env.payload_len = SIZE_MAX; /* no overflow in the size bound */
	assert_int_equal(ls_codec_envelope_encode(&env, &b), LS_ERANGE);
	assert_int_equal(ls_codec_frame_encode(&env, 1, &b), LS_ERANGE);
	ls_event_clear(&ev);
	ev.message = ls_str_make(text, 1u << 20);
	{
		/* 64 events of 1 MiB: over the limit as a batch. */
		ls_event many[64];
		for (int i = 0; i < 64; i++)
			many[i] = ev;
		assert_int_equal(ls_codec_batch_encode(many, 64, &b),
		                 LS_ERANGE);
		assert_int_equal(ls_codec_batch_encode(many, 32, &b), 0);
		size_t n;
		assert_int_equal(ls_codec_batch_count(b.data, b.len, &n), 0);
		assert_int_equal(n, 32);
		ls_buf_free(&b);
	}
	assert_null(b.data);
	free(text);

	/* A batch of 50,000 small events. */
	enum { N = 50000 };
	ls_event *evs = calloc(N, sizeof(*evs));
	assert_non_null(evs);
	for (size_t i = 0; i < N; i++)
		rand_event(&evs[i], 8);
	check_batch(evs, N);
	free(evs);
}

static void
test_out_of_memory(void **state)
{
	ls_event evs[50];
	ls_envelope env = {LS_MSG_EVENTS,         1,  2, 3, 4,
	                   (const uint8_t *)pool, 100};
	ls_records *r;

	(void)state;
	for (int i = 0; i < 50; i++)
		rand_event(&evs[i], 3);
	r = full_records(6);
	/* Each encoder makes one allocation (and perhaps a shrinking
	 * realloc): when it fails the result is LS_ENOMEM and *out is
	 * untouched; when only the shrink fails the encoding still works. */
	for (long after = 0; after < 3; after++) {
		for (int k = 0; k < 5; k++) {
			ls_buf b = {(uint8_t *)r, 99};
			int rc;
			ls__codec_fail_alloc_after(after);
			switch (k) {
			case 0:
				rc = ls_codec_event_encode(&evs[0], &b);
				break;
			case 1:
				rc = ls_codec_batch_encode(evs, 50, &b);
				break;
			case 2:
				rc = ls_codec_envelope_encode(&env, &b);
				break;
			case 3:
				rc = ls_codec_frame_encode(&env, 1, &b);
				break;
			default:
				rc = ls_codec_records_encode(r, &b);
				break;
			}
			ls__codec_fail_alloc_after(-1);
			if (after == 0) {
				assert_int_equal(rc, LS_ENOMEM);
				assert_ptr_equal(b.data, (uint8_t *)r);
				assert_int_equal(b.len, 99);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(decode_all(b.data, b.len), 1);
			if (k == 1)
				check_batch(evs, 50);
			ls_buf_free(&b);
		}
	}
	ls_records_unref(r);
}

/* ---- cluster control messages (cluster.fbs) ---- */

/* Equal strings, and got is a C string of its length as well. */
static void
assert_cstr_eq(ls_str got, ls_str want)
{
	assert_str_eq(got, want);
	assert_non_null(got.ptr);
	assert_int_equal(strlen(got.ptr), got.len);
}

/* The acks a decoder hands out, copied field by field. */
#define MAX_SEEN 64

typedef struct seen {
	size_t n;
	ls_ckpt_ack_wire acks[MAX_SEEN];
	size_t stop_at; /* return 7 from this call on (0: never) */
} seen;

static int
on_ack(void *arg, const ls_ckpt_ack_wire *a)
{
	seen *s = arg;
	if (s->n < MAX_SEEN)
		s->acks[s->n] = *a;
	s->n++;
	return s->stop_at != 0 && s->n >= s->stop_at ? 7 : 0;
}

/* ---- Heartbeat ---- */

static void
test_heartbeat_roundtrip(void **state)
{
	(void)state;
	for (size_t na = 0; na <= 4; na++) {
		ls_heartbeat_wire in = sample_heartbeat(na), out;
		ls_buf b = {NULL, 0};
		seen s = {0};

		assert_int_equal(ls_codec_heartbeat_encode(&in, &b), 0);
		assert_memory_equal(b.data + 4, "LSHB", 4);
		assert_int_equal(ls_codec_heartbeat_verify(b.data, b.len), 0);
		memset(&out, 0xa5, sizeof(out));
		assert_int_equal(
		    ls_codec_heartbeat_decode(b.data, b.len, &out, on_ack, &s),
		    0);
		assert_int_equal(out.id, in.id);
		assert_int_equal(out.inc, in.inc);
		assert_cstr_eq(out.name, in.name);
		assert_cstr_eq(out.url, in.url);
		assert_cstr_eq(out.http, in.http);
		assert_int_equal(out.voter, 1);
		assert_int_equal(out.restarted, 0);
		assert_int_equal(out.leaving, 1);
		assert_null(out.acks);
		assert_int_equal(out.nacks, na);
		assert_int_equal(s.n, na);
		for (size_t i = 0; i < na; i++) {
			const ls_ckpt_ack_wire *g = &s.acks[i];
			assert_cstr_eq(g->topology, sample_acks[i].topology);
			assert_cstr_eq(g->partition, sample_acks[i].partition);
			assert_int_equal(g->epoch, sample_acks[i].epoch);
			assert_int_equal(g->ckpt, sample_acks[i].ckpt);
			assert_int_equal(g->final, sample_acks[i].final);
			/* borrowed from the buffer */
			if (g->topology.len > 0)
				assert_true((const uint8_t *)g->topology.ptr >
				                b.data &&
				            (const uint8_t *)g->topology.ptr <
				                b.data + b.len);
		}
		/* without a callback: the same fields, the count only */
		assert_int_equal(
		    ls_codec_heartbeat_decode(b.data, b.len, &out, NULL, NULL),
		    0);
		assert_int_equal(out.nacks, na);
		/* a callback that stops: its value, no further calls */
		if (na >= 2) {
			seen st = {.stop_at = 2};
			assert_int_equal(ls_codec_heartbeat_decode(
			                     b.data, b.len, &out, on_ack, &st),
			                 7);
			assert_int_equal(st.n, 2);
		}
		ls_buf_free(&b);
	}
	/* an empty heartbeat: every field at its default */
	ls_heartbeat_wire empty = {0}, out;
	ls_buf b = {NULL, 0};
	assert_int_equal(ls_codec_heartbeat_encode(&empty, &b), 0);
	assert_int_equal(ls_codec_heartbeat_decode(b.data, b.len, &out, NULL,
	                                           NULL),
	                 0);
	assert_int_equal(out.id, 0);
	assert_int_equal(out.name.len, 0);
	assert_string_equal(out.name.ptr, "");
	assert_int_equal(out.nacks, 0);
	ls_buf_free(&b);
	assert_int_equal(ls__codec_overflow_count(), 0);
}

static void
test_heartbeat_many_acks(void **state)
{
	enum { N = 5000 };
	ls_ckpt_ack_wire *acks = calloc(N, sizeof(*acks));
	char (*parts)[16] = calloc(N, 16);
	ls_heartbeat_wire in = sample_heartbeat(0), out;
	ls_buf b = {NULL, 0};
	seen s = {0};

	(void)state;
	assert_non_null(acks);
	assert_non_null(parts);
	for (size_t i = 0; i < N; i++) {
		snprintf(parts[i], 16, "count/%zu", i);
		acks[i] = (ls_ckpt_ack_wire){ls_str_c("dist"), ls_str_c(parts[i]), i,
		                             i + 1, (uint8_t)(i & 1)};
	}
	in.acks = acks;
	in.nacks = N;
	assert_int_equal(ls_codec_heartbeat_encode(&in, &b), 0);
	assert_int_equal(
	    ls_codec_heartbeat_decode(b.data, b.len, &out, on_ack, &s), 0);
	assert_int_equal(out.nacks, N);
	assert_int_equal(s.n, N);
	for (size_t i = 0; i < MAX_SEEN; i++) {
		assert_cstr_eq(s.acks[i].partition, acks[i].partition);
		assert_int_equal(s.acks[i].ckpt, i + 1);
	}
	assert_int_equal(ls__codec_overflow_count(), 0);
	ls_buf_free(&b);
	free(acks);
	free(parts);
}

static void
test_heartbeat_bad_input(void **state)
{
	ls_heartbeat_wire hb = sample_heartbeat(2), out;
	ls_buf b = {NULL, 0};
	ls_ckpt_ack_wire bad_ack[1] = {{{"a\0b", 3}, {"p", 1}, 1, 1, 0}};

	(void)state;
	assert_int_equal(ls_codec_heartbeat_encode(NULL, &b), LS_EINVAL);
	assert_int_equal(ls_codec_heartbeat_encode(&hb, NULL), LS_EINVAL);
	hb.acks = NULL; /* with nacks 2 */
	assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), LS_EINVAL);
	hb = sample_heartbeat(0);
	hb.name = ls_str_make(NULL, 3);
	assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), LS_EINVAL);
	/* a NUL inside a string cannot be a C string */
	hb = sample_heartbeat(0);
	hb.url = ls_str_make("tcp://a\0b", 9);
	assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), LS_EINVAL);
	hb = sample_heartbeat(0);
	hb.acks = bad_ack;
	hb.nacks = 1;
	assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), LS_EINVAL);
	assert_null(b.data);

	/* ... and a decoder refuses it when a writer put one there */
	hb = sample_heartbeat(0);
	hb.name = ls_str_c("nXZ");
	assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), 0);
	uint8_t *x = memmem(b.data, b.len, "nXZ", 3);
	assert_non_null(x);
	x[1] = 0;
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(ls_codec_heartbeat_decode(b.data, b.len, &out, NULL,
	                                           NULL),
	                 LS_ECORRUPT);
	assert_int_equal(out.id, 0x5a5a5a5a5a5a5a5aull); /* untouched */
	ls_buf_free(&b);
	static const ls_ckpt_ack_wire patch[1] = {
	    {{"dist", 4}, {"cQunt/0", 7}, 1, 1, 0}};
	hb = sample_heartbeat(0);
	hb.acks = patch;
	hb.nacks = 1;
	assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), 0);
	x = memmem(b.data, b.len, "cQunt", 5);
	assert_non_null(x);
	x[1] = 0;
	seen s = {0};
	assert_int_equal(ls_codec_heartbeat_decode(b.data, b.len, &out, on_ack,
	                                           &s),
	                 LS_ECORRUPT);
	assert_int_equal(s.n, 0); /* no callback for a refused buffer */
	ls_buf_free(&b);

	assert_int_equal(ls_codec_heartbeat_decode(NULL, 8, &out, NULL, NULL),
	                 LS_EINVAL);
	assert_int_equal(ls_codec_heartbeat_decode(NULL, 0, &out, NULL, NULL),
	                 LS_ECORRUPT);
	assert_int_equal(ls_codec_heartbeat_decode("", 0, NULL, NULL, NULL),
	                 LS_EINVAL);
	assert_int_equal(
	    ls_codec_heartbeat_verify(NULL, (size_t)LS_CODEC_MAX_BUF + 1),
	    LS_ERANGE);
}

/* ---- MapEpoch ---- */

static void
test_map_epoch(void **state)
{
	static const uint64_t epochs[] = {0, 1, 255, 1ull << 40, UINT64_MAX};
	ls_buf b = {NULL, 0};
	uint64_t got;

	(void)state;
	for (size_t i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++) {
		assert_int_equal(ls_codec_map_epoch_encode(epochs[i], &b), 0);
		assert_memory_equal(b.data + 4, "LSME", 4);
		got = 42;
		assert_int_equal(ls_codec_map_epoch_decode(b.data, b.len, &got),
		                 0);
		assert_int_equal(got, epochs[i]);
		check_truncations(&b, "map epoch");
		ls_buf_free(&b);
	}
	assert_int_equal(ls_codec_map_epoch_encode(1, NULL), LS_EINVAL);
	assert_int_equal(ls_codec_map_epoch_decode("", 0, NULL), LS_EINVAL);
	/* the old JSON answer is refused */
	uint8_t *j = dup_exact("{\"epoch\":12}\n", 13);
	got = 42;
	assert_int_equal(ls_codec_map_epoch_decode(j, 13, &got), LS_ECORRUPT);
	assert_int_equal(got, 42);
	free(j);
}

/* ---- hostile input, all messages ---- */

static void
test_cluster_truncation(void **state)
{
	(void)state;
	for (size_t na = 0; na <= 4; na++) {
		ls_heartbeat_wire hb = sample_heartbeat(na);
		ls_buf b = {NULL, 0};
		assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), 0);
		check_truncations(&b, "heartbeat");
		ls_buf_free(&b);
		/* shapes whose first object is a table without strings */
		hb.name = hb.url = hb.http = ls_str_make("", 0);
		hb.acks = &sample_acks[2];
		hb.nacks = na > 0 ? 1 : 0;
		hb.id = na;
		assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), 0);
		check_truncations(&b, "heartbeat without strings");
		ls_buf_free(&b);
	}
	for (size_t len = 1; len < 10; len++) {
		static const char s[] = "abcdefghij";
		ls_heartbeat_wire hb = {.http = ls_str_make(s, len)};
		ls_buf b = {NULL, 0};
		assert_int_equal(ls_codec_heartbeat_encode(&hb, &b), 0);
		check_truncations(&b, "heartbeat with one string");
		ls_buf_free(&b);
	}
}

static void
test_foreign_and_garbage(void **state)
{
	ls_heartbeat_wire hb = sample_heartbeat(3), out;
	ls_buf a = {NULL, 0}, e = {NULL, 0}, env = {NULL, 0};
	uint64_t epoch;
	ls_envelope en = {LS_MSG_HEARTBEAT, 1, 2, 3, 4, NULL, 0};

	(void)state;
	assert_int_equal(ls_codec_heartbeat_encode(&hb, &a), 0);
	assert_int_equal(ls_codec_map_epoch_encode(77, &e), 0);
	assert_int_equal(ls_codec_envelope_encode(&en, &env), 0);
	/* each decoder refuses the other kinds */
	assert_int_equal(ls_codec_map_epoch_decode(a.data, a.len, &epoch),
	                 LS_ECORRUPT);
	assert_int_equal(
	    ls_codec_heartbeat_decode(e.data, e.len, &out, NULL, NULL),
	    LS_ECORRUPT);
	assert_int_equal(
	    ls_codec_heartbeat_decode(env.data, env.len, &out, NULL, NULL),
	    LS_ECORRUPT);
	assert_int_equal(ls_codec_envelope_verify(a.data, a.len), LS_ECORRUPT);
	/* the old text heartbeat is refused */
	static const char text[] = "1\nn1\ntcp://127.0.0.1:7101\n127.0.0.1:8101\n"
	                           "i 00000000000000ff\nv\n";
	uint8_t *t = dup_exact(text, sizeof(text) - 1);
	assert_int_equal(decode_all(t, sizeof(text) - 1), 0);
	free(t);
	/* misaligned input is refused, never read */
	uint8_t *odd = malloc(a.len + 1);
	assert_non_null(odd);
	memcpy(odd + 1, a.data, a.len);
	assert_int_equal(
	    ls_codec_heartbeat_decode(odd + 1, a.len, &out, NULL, NULL),
	    LS_EINVAL);
	assert_int_equal(ls_codec_map_epoch_decode(odd + 1, a.len, &epoch),
	                 LS_EINVAL);
	free(odd);
	/* random bytes, and real buffers with random bytes flipped: refused
	 * or decoded, never a crash or a read outside the buffer */
	for (int round = 0; round < 3000; round++) {
		const ls_buf *src = round % 3 == 0 ? &a : round % 3 == 1 ? &e
		                                                        : &env;
		size_t len = src->len;
		uint8_t *p = dup_exact(src->data, len);
		if (round % 5 == 0) {
			for (size_t i = 0; i < len; i++)
				p[i] = (uint8_t)rng();
		} else {
			for (int k = 0; k < 1 + round % 4; k++)
				p[rng() % len] = (uint8_t)rng();
		}
		(void)decode_all(p, len);
		free(p);
	}
	ls_buf_free(&a);
	ls_buf_free(&e);
	ls_buf_free(&env);
}

static void
test_cluster_out_of_memory(void **state)
{
	ls_heartbeat_wire hb = sample_heartbeat(4);

	(void)state;
	for (long after = 0; after < 3; after++) {
		for (int k = 0; k < 2; k++) {
			ls_buf b = {(uint8_t *)&hb, 99};
			int rc;
			ls__codec_fail_alloc_after(after);
			if (k == 0)
				rc = ls_codec_heartbeat_encode(&hb, &b);
			else
				rc = ls_codec_map_epoch_encode(9, &b);
			ls__codec_fail_alloc_after(-1);
			if (after == 0) {
				assert_int_equal(rc, LS_ENOMEM);
				assert_ptr_equal(b.data, (uint8_t *)&hb);
				assert_int_equal(b.len, 99);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(decode_all(b.data, b.len), 1);
			ls_buf_free(&b);
		}
	}
}

/* ---- JoinRequest ---- */

static void
test_join_request(void **state)
{
	ls_join_wire in = {0x0123456789abcdefull, 0xfeedface12345678ull,
	                   ls_str_c("n4"), ls_str_c("tcp://127.0.0.1:7104"),
	                   ls_str_c("127.0.0.1:8104"),
	                   ls_str_c("127.0.0.1:7204")},
	             out;
	ls_buf b = {NULL, 0};

	(void)state;
	assert_int_equal(ls_codec_join_encode(&in, &b), 0);
	assert_memory_equal(b.data + 4, "LSJR", 4);
	assert_int_equal(ls_codec_join_verify(b.data, b.len), 0);
	assert_int_equal(ls_codec_join_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.id, in.id);
	assert_int_equal(out.inc, in.inc);
	assert_cstr_eq(out.name, in.name);
	assert_cstr_eq(out.url, in.url);
	assert_cstr_eq(out.http, in.http);
	assert_cstr_eq(out.raft, in.raft);
	/* a NUL put inside a string by another writer is refused */
	uint8_t *x = memmem(b.data, b.len, "127.0.0.1:8104", 14);
	assert_non_null(x);
	x[2] = 0;
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(ls_codec_join_decode(b.data, b.len, &out),
	                 LS_ECORRUPT);
	assert_int_equal(out.id, 0x5a5a5a5a5a5a5a5aull);
	ls_buf_free(&b);
	/* an empty one; bad arguments */
	memset(&in, 0, sizeof(in));
	assert_int_equal(ls_codec_join_encode(&in, &b), 0);
	check_truncations(&b, "empty join request");
	ls_buf_free(&b);
	in.raft = ls_str_make("a\0b", 3);
	assert_int_equal(ls_codec_join_encode(&in, &b), LS_EINVAL);
	in.raft = ls_str_make(NULL, 1);
	assert_int_equal(ls_codec_join_encode(&in, &b), LS_EINVAL);
	assert_int_equal(ls_codec_join_encode(NULL, &b), LS_EINVAL);
	assert_int_equal(ls_codec_join_decode(b.data, b.len, NULL), LS_EINVAL);
	assert_null(b.data);
	ls__codec_fail_alloc_after(0);
	memset(&in, 0, sizeof(in));
	assert_int_equal(ls_codec_join_encode(&in, &b), LS_ENOMEM);
	ls__codec_fail_alloc_after(-1);
	assert_null(b.data);
}

/* ---- MapCommand ---- */

typedef struct assigns_seen {
	size_t n;
	ls_assign_wire a[4];
} assigns_seen;

static int
keep_assign(void *arg, size_t i, const ls_assign_wire *a)
{
	assigns_seen *s = arg;
	assert_int_equal(i, s->n);
	if (s->n < 4)
		s->a[s->n] = *a;
	s->n++;
	return 0;
}

static void
test_map_command(void **state)
{
	ls_assign_wire as[3] = {{ls_str_c("count/0"), 1, 2, {2, 3}},
	                        {ls_str_c("count/1"), 2, 0, {0}},
	                        {ls_str_c("p"), UINT64_MAX, 7,
	                         {1, 2, 3, 4, 5, 6, UINT64_MAX}}};
	ls_map_cmd_wire in = {.type = 6,
	                      .node = 5,
	                      .flags = 1,
	                      .name = ls_str_c("web"),
	                      .yaml = ls_str_c("name: web\n"),
	                      .checkpoint = 9,
	                      .final = 1,
	                      .assigns = as,
	                      .nassigns = 3},
	                out;
	ls_buf b = {NULL, 0};
	assigns_seen got = {0};

	(void)state;
	assert_int_equal(ls_codec_map_cmd_encode(&in, &b), 0);
	assert_memory_equal(b.data + 4, "LSMC", 4);
	assert_int_equal(
	    ls_codec_map_cmd_decode(b.data, b.len, &out, keep_assign, &got), 0);
	assert_int_equal(out.type, 6);
	assert_int_equal(out.node, 5);
	assert_int_equal(out.flags, 1);
	assert_int_equal(out.final, 1);
	assert_int_equal(out.checkpoint, 9);
	assert_cstr_eq(out.name, in.name);
	assert_cstr_eq(out.yaml, in.yaml);
	assert_int_equal(out.url.len, 0);
	assert_int_equal(out.nassigns, 3);
	assert_int_equal(got.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_cstr_eq(got.a[i].partition, as[i].partition);
		assert_int_equal(got.a[i].owner, as[i].owner);
		assert_int_equal(got.a[i].n_standbys, as[i].n_standbys);
		for (unsigned j = 0; j < as[i].n_standbys; j++)
			assert_int_equal(got.a[i].standbys[j],
			                 as[i].standbys[j]);
	}
	/* Raft pads entries with zeros: still the same command */
	uint8_t *pad = calloc(b.len + 8, 1);
	assert_non_null(pad);
	memcpy(pad, b.data, b.len);
	assert_int_equal(ls_codec_map_cmd_verify(pad, b.len + 8), 0);
	free(pad);
	ls_buf_free(&b);
	/* more standbys than the struct holds */
	as[2].n_standbys = LS_WIRE_MAX_STANDBYS + 1;
	assert_int_equal(ls_codec_map_cmd_encode(&in, &b), LS_ERANGE);
	as[2].n_standbys = 7;
	as[1].partition = ls_str_make("a\0b", 3);
	assert_int_equal(ls_codec_map_cmd_encode(&in, &b), LS_EINVAL);
	in.assigns = NULL;
	assert_int_equal(ls_codec_map_cmd_encode(&in, &b), LS_EINVAL);
	assert_null(b.data);
	ls__codec_fail_alloc_after(0);
	in.nassigns = 0;
	assert_int_equal(ls_codec_map_cmd_encode(&in, &b), LS_ENOMEM);
	ls__codec_fail_alloc_after(-1);
	assert_null(b.data);
	assert_int_equal(ls__codec_overflow_count(), 0);
}

/* Random shapes -- every string length modulo 8, every attribute count --
 * all round trip, and the encoders' size bound always holds. */
static void
test_random_roundtrip(void **state)
{
	ls_event evs[16], out;

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		ls_buf b = {NULL, 0};
		size_t n = 1 + rng_below(16);
		for (size_t i = 0; i < n; i++)
			rand_event(&evs[i], iter % 2 ? 17 : 200);
		assert_int_equal(ls_codec_event_encode(&evs[0], &b), 0);
		assert_int_equal(ls_codec_event_decode(b.data, b.len, &out), 0);
		assert_event_eq(&out, &evs[0]);
		ls_buf_free(&b);
		check_batch(evs, n);
	}
	assert_int_equal(ls__codec_overflow_count(), 0);
}

/* ---- golden buffers written by flatc ---- */

static void
test_golden_event(void **state)
{
	size_t len;
	uint8_t *buf = read_file(golden_path[0], &len);
	ls_event ev;

	(void)state;
	assert_int_equal(ls_codec_event_verify(buf, len), 0);
	assert_int_equal(ls_codec_event_decode(buf, len, &ev), 0);
	/* Exactly the fields of golden_event.json. */
	assert_int_equal(ev.time_ns, 1226262975000000000LL);
	assert_int_equal(ev.ingest_ns, 1700000000123456789LL);
	assert_int_equal(ev.offset, UINT64_MAX);
	assert_int_equal(ev.level, LS_LEVEL_INFO);
	assert_true(ls_str_eq(ev.level_text, "INFO"));
	assert_true(ls_str_eq(ev.service, "dfs.DataNode$PacketResponder"));
	assert_true(ls_str_eq(ev.host, "10.250.19.102"));
	assert_true(ls_str_eq(
	    ev.message,
	    "PacketResponder 1 for block blk_38865049064139660 terminating"));
	assert_int_equal(ev.nattrs, 4);
	assert_true(ls_str_eq(ev.attrs[0].key, "pid"));
	assert_true(ls_str_eq(ev.attrs[0].val, "148"));
	assert_true(ls_str_eq(ev.attrs[1].key, "event_id"));
	assert_true(ls_str_eq(ev.attrs[1].val, "E10"));
	assert_true(ls_str_eq(ev.attrs[2].key, "empty"));
	assert_true(ls_str_eq(ev.attrs[2].val, ""));
	assert_true(ls_str_eq(ev.attrs[3].key, "utf8"));
	assert_true(ls_str_eq(ev.attrs[3].val, "Gr\xc3\xbc\xc3\x9f"
	                                       "e \xe2\x9c\x93"));
	assert_event_borrowed(&ev, buf, len);
	/* It is an event, not a batch. */
	assert_int_equal(ls_codec_batch_verify(buf, len), LS_ECORRUPT);

	/* Our encoder's buffer for the same event decodes identically. */
	ls_buf b = {NULL, 0};
	ls_event again;
	assert_int_equal(ls_codec_event_encode(&ev, &b), 0);
	assert_int_equal(ls_codec_event_decode(b.data, b.len, &again), 0);
	assert_event_eq(&again, &ev);
	ls_buf_free(&b);
	free(buf);
}

static void
test_golden_17_attrs(void **state)
{
	size_t len;
	uint8_t *buf = read_file(golden_path[1], &len);
	ls_event ev;

	(void)state;
	/* Well-formed, but an ls_event holds 16 attributes: refused, not
	 * truncated, and *out untouched. */
	assert_int_equal(ls_codec_event_verify(buf, len), 0);
	memset(&ev, 0x3c, sizeof(ev));
	assert_int_equal(ls_codec_event_decode(buf, len, &ev), LS_ERANGE);
	assert_int_equal(ev.nattrs, 0x3c);
	assert_int_equal(ev.offset, 0x3c3c3c3c3c3c3c3cull);
	free(buf);
}

static void
test_golden_unknown_level(void **state)
{
	size_t len;
	uint8_t *buf = read_file(golden_path[2], &len);
	ls_event ev;

	(void)state;
	assert_int_equal(ls_codec_event_decode(buf, len, &ev), 0);
	assert_int_equal(ev.level, LS_LEVEL_UNKNOWN);
	assert_true(ls_str_eq(ev.level_text, "VERBOSE2"));
	assert_int_equal(ev.time_ns, -1);
	free(buf);
}

static int
count_event(void *arg, const ls_event *ev)
{
	(void)ev;
	(*(int *)arg)++;
	return 0;
}

static void
test_golden_batch_17_attrs(void **state)
{
	size_t len, n;
	uint8_t *buf = read_file(golden_path[3], &len);
	ls_event ev;
	int calls = 0;

	(void)state;
	/* A well-formed batch whose event 1 has 17 attributes. */
	assert_int_equal(ls_codec_batch_verify(buf, len), 0);
	assert_int_equal(ls_codec_batch_count(buf, len, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ls_codec_batch_get(buf, len, 0, &ev), 0);
	assert_true(ls_str_eq(ev.message, "before"));
	assert_int_equal(ev.nattrs, 1);
	memset(&ev, 0x11, sizeof(ev));
	assert_int_equal(ls_codec_batch_get(buf, len, 1, &ev), LS_ERANGE);
	assert_int_equal(ev.offset, 0x1111111111111111ull);
	assert_int_equal(ls_codec_batch_get(buf, len, 2, &ev), 0);
	assert_true(ls_str_eq(ev.message, "after"));
	assert_int_equal(ev.offset, 3);
	/* foreach is all or nothing: it refuses before the first call. */
	assert_int_equal(ls_codec_batch_foreach(buf, len, count_event, &calls),
	                 LS_ERANGE);
	assert_int_equal(calls, 0);
	free(buf);
}

/* ---- data-plane payloads (dataplane.fbs, node indexes of batches) ---- */

/* The first occurrence of the n bytes at s in b (the test fails if none). */
static uint8_t *
find_bytes(const ls_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, s, n) == 0)
			return b->data + i;
	fail_msg("'%.*s' not in the buffer", (int)n, s);
	return NULL;
}

static void
test_node_index(void **state)
{
	ls_event evs[3];
	ls_buf a = {NULL, 0}, b = {NULL, 0};
	size_t n = 0;
	uint32_t node = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		rand_event(&evs[i], 4);
	/* EventBatch.source_node */
	assert_int_equal(ls_codec_batch_encode_node(evs, 3, 5, &a), 0);
	assert_int_equal(ls_codec_batch_info(a.data, a.len, &n, &node), 0);
	assert_int_equal(n, 3);
	assert_int_equal(node, 5);
	assert_int_equal(ls_codec_batch_info(a.data, a.len, &n, NULL), 0);
	ls_buf_free(&a);
	/* absent: the default, and the same bytes as without a node */
	assert_int_equal(ls_codec_batch_encode(evs, 3, &a), 0);
	assert_int_equal(
	    ls_codec_batch_encode_node(evs, 3, LS_WIRE_NO_NODE, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_int_equal(ls_codec_batch_info(a.data, a.len, &n, &node), 0);
	assert_int_equal(node, LS_WIRE_NO_NODE);
	ls_buf_free(&a);
	ls_buf_free(&b);
	assert_int_equal(ls_codec_batch_encode_node(evs, 3, 0, &a), 0);
	assert_int_equal(ls_codec_batch_info(a.data, a.len, &n, &node), 0);
	assert_int_equal(node, 0);
	/* not a batch */
	a.data[4] ^= 1;
	node = 77;
	assert_int_equal(ls_codec_batch_info(a.data, a.len, &n, &node),
	                 LS_ECORRUPT);
	assert_int_equal(node, 77);
	ls_buf_free(&a);

	/* RecordBatch.stage_node */
	ls_records *r = full_records(3), *got = NULL;
	assert_int_equal(ls_codec_records_encode_node(r, 9, &a), 0);
	assert_int_equal(ls_codec_records_decode_node(a.data, a.len, &got,
	                                              &node),
	                 0);
	assert_int_equal(node, 9);
	assert_int_equal(got->n, r->n);
	ls_records_unref(got);
	/* the old decoder reads the new field's buffers */
	assert_int_equal(ls_codec_records_decode(a.data, a.len, &got), 0);
	ls_records_unref(got);
	assert_int_equal(ls_codec_records_decode_node(a.data, a.len, &got,
	                                              NULL),
	                 LS_EINVAL);
	ls_buf_free(&a);
	assert_int_equal(ls_codec_records_encode(r, &a), 0);
	assert_int_equal(ls_codec_records_decode_node(a.data, a.len, &got,
	                                              &node),
	                 0);
	assert_int_equal(node, LS_WIRE_NO_NODE);
	ls_records_unref(got);
	ls_buf_free(&a);
	ls_records_unref(r);
}

static void
test_dead_letter(void **state)
{
	static const char rec[] = "{\"stage\":\"parse\",\"line\":\"x\"}";
	ls_buf b = {NULL, 0};
	ls_str got = {NULL, 0};

	(void)state;
	assert_int_equal(ls_codec_dead_letter_encode(ls_str_c(rec), &b), 0);
	assert_int_equal(ls_codec_dead_letter_decode(b.data, b.len, &got), 0);
	assert_true(ls_str_eq(got, rec));
	assert_cstr_borrowed(got, b.data, b.len);
	/* a NUL inside is refused both ways */
	uint8_t *at = find_bytes(&b, "parse", 5);
	at[2] = 0;
	got = ls_str_make("keep", 4);
	assert_int_equal(ls_codec_dead_letter_decode(b.data, b.len, &got),
	                 LS_ECORRUPT);
	assert_true(ls_str_eq(got, "keep"));
	ls_buf_free(&b);
	assert_int_equal(
	    ls_codec_dead_letter_encode(ls_str_make("a\0b", 3), &b), LS_EINVAL);
	assert_int_equal(ls_codec_dead_letter_encode(ls_str_make(NULL, 1), &b),
	                 LS_EINVAL);
	assert_int_equal(ls_codec_dead_letter_encode(ls_str_c(rec), NULL),
	                 LS_EINVAL);
	assert_null(b.data);
	/* empty reads as empty */
	assert_int_equal(ls_codec_dead_letter_encode(ls_str_make(NULL, 0), &b),
	                 0);
	assert_int_equal(ls_codec_dead_letter_decode(b.data, b.len, &got), 0);
	assert_int_equal(got.len, 0);
	assert_int_equal(ls_codec_dead_letter_decode(b.data, b.len, NULL),
	                 LS_EINVAL);
	ls_buf_free(&b);
}

static void
test_marks(void **state)
{
	ls_buf eos = {NULL, 0}, bar = {NULL, 0};
	uint64_t v = 0;

	(void)state;
	assert_int_equal(ls_codec_mark_encode(LS_MSG_END_OF_STREAM, 0, &eos),
	                 0);
	assert_int_equal(
	    ls_codec_mark_encode(LS_MSG_CHECKPOINT_BARRIER, UINT64_MAX, &bar), 0);
	assert_int_equal(
	    ls_codec_mark_decode(LS_MSG_END_OF_STREAM, eos.data, eos.len, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ls_codec_mark_decode(LS_MSG_CHECKPOINT_BARRIER,
	                                      bar.data, bar.len, &v),
	                 0);
	assert_int_equal(v, UINT64_MAX);
	/* the same shape, another identifier: a barrier is no end of stream */
	v = 5;
	assert_int_equal(
	    ls_codec_mark_decode(LS_MSG_END_OF_STREAM, bar.data, bar.len, &v),
	    LS_ECORRUPT);
	assert_int_equal(ls_codec_mark_decode(LS_MSG_CHECKPOINT_BARRIER,
	                                      eos.data, eos.len, &v),
	                 LS_ECORRUPT);
	assert_int_equal(v, 5);
	/* a replay mark is neither */
	ls_buf rm = {NULL, 0};
	assert_int_equal(ls_codec_mark_encode(LS_MSG_REPLAY_MARK, 77, &rm), 0);
	assert_int_equal(
	    ls_codec_mark_decode(LS_MSG_REPLAY_MARK, rm.data, rm.len, &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(
	    ls_codec_mark_decode(LS_MSG_CHECKPOINT_BARRIER, rm.data, rm.len, &v),
	    LS_ECORRUPT);
	assert_int_equal(
	    ls_codec_mark_decode(LS_MSG_REPLAY_MARK, bar.data, bar.len, &v),
	    LS_ECORRUPT);
	ls_buf_free(&rm);
	/* other types are no markers */
	ls_buf x = {NULL, 0};
	assert_int_equal(ls_codec_mark_encode(LS_MSG_EVENTS, 1, &x), LS_EINVAL);
	assert_int_equal(ls_codec_mark_encode(LS_MSG_END_OF_STREAM, 1, NULL),
	                 LS_EINVAL);
	assert_null(x.data);
	assert_int_equal(
	    ls_codec_mark_decode(LS_MSG_DEAD_LETTER, eos.data, eos.len, &v),
	    LS_EINVAL);
	assert_int_equal(
	    ls_codec_mark_decode(LS_MSG_END_OF_STREAM, eos.data, eos.len, NULL),
	    LS_EINVAL);
	/* the old form, a bare little-endian u64, is refused */
	uint64_t *raw = malloc(8);
	assert_non_null(raw);
	*raw = 41;
	assert_int_equal(ls_codec_mark_decode(LS_MSG_END_OF_STREAM, raw, 8, &v),
	                 LS_ECORRUPT);
	assert_int_equal(decode_all((const uint8_t *)raw, 8), 0);
	free(raw);
	ls_buf_free(&eos);
	ls_buf_free(&bar);
}

/* A blob in slices: part, parts and total round-trip; a whole blob decodes
 * as one slice of itself; impossible slices are refused both ways. */
typedef struct ingest_seen {
	uint64_t seq[8];
	size_t len[8];
	const uint8_t *val[8];
	size_t n;
} ingest_seen;

static int
ingest_rec_cb(void *arg, const ls_ingest_rec_wire *r)
{
	ingest_seen *a = arg;
	if (a->n == 8)
		return LS_ERANGE;
	a->seq[a->n] = r->seq;
	a->len[a->n] = r->len;
	a->val[a->n++] = r->value;
	return 0;
}

static void
test_ingest_log(void **state)
{
	ls_buf b = {NULL, 0};
	ls_ingest_rec_wire recs[3] = {
	    {7, (const uint8_t *)pool, 300},
	    {8, (const uint8_t *)"", 0},
	    {9, (const uint8_t *)pool + 5, 17},
	};
	ls_ingest_wire h = {ls_str_c("orders"), ls_str_c("in/3"), 12, 5, 1,
	                    0x123456789abcdefull};
	ls_ingest_wire out;
	ingest_seen got = {{0}, {0}, {NULL}, 0};

	(void)state;
	assert_int_equal(ls_codec_ingest_encode(&h, recs, 3, &b), 0);
	assert_int_equal(
	    ls_codec_ingest_decode(b.data, b.len, &out, ingest_rec_cb, &got),
	    0);
	assert_true(ls_str_eq(out.topology, "orders"));
	assert_true(ls_str_eq(out.partition, "in/3"));
	assert_cstr_borrowed(out.partition, b.data, b.len);
	assert_int_equal(out.epoch, 12);
	assert_int_equal(out.trim, 5);
	assert_int_equal(out.sync, 1);
	assert_int_equal(out.node, 0x123456789abcdefull);
	assert_int_equal(got.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(got.seq[i], recs[i].seq);
		assert_int_equal(got.len[i], recs[i].len);
		if (recs[i].len > 0) {
			assert_memory_equal(got.val[i], recs[i].value,
			                    recs[i].len);
			assert_true(got.val[i] > b.data &&
			            got.val[i] + got.len[i] <= b.data + b.len);
		}
	}
	assert_int_equal(decode_all(b.data, b.len), 1);
	/* a callback's error stops the walk and comes back */
	got.n = 6;
	assert_int_equal(
	    ls_codec_ingest_decode(b.data, b.len, &out, ingest_rec_cb, &got),
	    LS_ERANGE);
	check_truncations(&b, "ingest log");
	/* a NUL inside a name is refused, *out untouched */
	uint8_t *at = find_bytes(&b, "in/3", 4);
	at[1] = 0;
	memset(&out, 0xab, sizeof(out));
	assert_int_equal(ls_codec_ingest_decode(b.data, b.len, &out, NULL, NULL),
	                 LS_ECORRUPT);
	assert_int_equal(out.epoch, 0xababababababababull);
	ls_buf_free(&b);
	/* an empty log */
	assert_int_equal(ls_codec_ingest_encode(&h, NULL, 0, &b), 0);
	got.n = 0;
	assert_int_equal(
	    ls_codec_ingest_decode(b.data, b.len, &out, ingest_rec_cb, &got),
	    0);
	assert_int_equal(got.n, 0);
	ls_buf_free(&b);
	/* what the encoder refuses */
	ls_ingest_wire bad = h;
	bad.topology = ls_str_make("", 0);
	assert_int_equal(ls_codec_ingest_encode(&bad, recs, 3, &b), LS_EINVAL);
	bad = h;
	bad.partition = ls_str_make("a\0b", 3);
	assert_int_equal(ls_codec_ingest_encode(&bad, recs, 3, &b), LS_EINVAL);
	ls_ingest_rec_wire zero = {0, (const uint8_t *)"x", 1};
	assert_int_equal(ls_codec_ingest_encode(&h, &zero, 1, &b), LS_EINVAL);
	ls_ingest_rec_wire nul = {3, NULL, 4};
	assert_int_equal(ls_codec_ingest_encode(&h, &nul, 1, &b), LS_EINVAL);
	assert_int_equal(ls_codec_ingest_encode(&h, NULL, 1, &b), LS_EINVAL);
	assert_null(b.data);
	/* another message's buffer is not an ingest log */
	ls_replication_wire rw = {9, 0, ls_str_c("in/3"), NULL, 0, 0, 0, 0};
	assert_int_equal(ls_codec_replication_encode(&rw, &b), 0);
	assert_int_equal(ls_codec_ingest_decode(b.data, b.len, &out, NULL, NULL),
	                 LS_ECORRUPT);
	ls_buf_free(&b);
}

static void
test_replication_slices(void **state)
{
	ls_buf b = {NULL, 0};
	ls_replication_wire in = {5, 0, ls_str_c("w/1"),
	                          (const uint8_t *)pool, 300, 2, 3, 900};
	ls_replication_wire out;

	(void)state;
	assert_int_equal(ls_codec_replication_encode(&in, &b), 0);
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.part, 2);
	assert_int_equal(out.parts, 3);
	assert_int_equal(out.total, 900);
	assert_int_equal(out.blob_len, 300);
	assert_memory_equal(out.blob, pool, 300);
	ls_buf_free(&b);
	/* whole: one slice of itself */
	in.part = 0;
	in.parts = 1;
	in.total = 0;
	assert_int_equal(ls_codec_replication_encode(&in, &b), 0);
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.part, 0);
	assert_int_equal(out.parts, 1);
	assert_int_equal(out.total, 300);
	ls_buf_free(&b);
	/* the encoder refuses a part past the end, a slice over the total */
	in.parts = 3;
	in.part = 3;
	in.total = 900;
	assert_int_equal(ls_codec_replication_encode(&in, &b), LS_EINVAL);
	in.part = 1;
	in.total = 299;
	assert_int_equal(ls_codec_replication_encode(&in, &b), LS_EINVAL);
	/* and the decoder too (a buffer with such fields, built directly) */
	in.total = 900;
	assert_int_equal(ls_codec_replication_encode(&in, &b), 0);
	uint8_t *at = find_bytes(&b, "\x01\x00\x00\x00\x03\x00\x00\x00", 8);
	assert_non_null(at); /* part 1, parts 3: adjacent u32 fields */
	at[0] = 3; /* part 3 of 3 */
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out),
	                 LS_ECORRUPT);
	ls_buf_free(&b);
}

static void
test_replication(void **state)
{
	ls_buf b = {NULL, 0};
	ls_replication_wire in = {(3ull << 32) | 9, 1, ls_str_c("count/0"),
	                          (const uint8_t *)pool + 1, 1000, 0, 0, 0};
	ls_replication_wire out;

	(void)state;
	assert_int_equal(ls_codec_replication_encode(&in, &b), 0);
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.ckpt, in.ckpt);
	assert_int_equal(out.final, 1);
	assert_true(ls_str_eq(out.partition, "count/0"));
	assert_cstr_borrowed(out.partition, b.data, b.len);
	assert_int_equal(out.blob_len, 1000);
	assert_memory_equal(out.blob, pool + 1, 1000);
	/* borrowed in place, 8-byte aligned */
	assert_true(out.blob > b.data && out.blob + 1000 <= b.data + b.len);
	assert_int_equal((out.blob - b.data) % 8, 0);
	assert_int_equal(decode_all(b.data, b.len), 1);
	/* a NUL inside the partition is refused */
	uint8_t *at = find_bytes(&b, "count/0", 7);
	at[5] = 0;
	memset(&out, 0xab, sizeof(out));
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out),
	                 LS_ECORRUPT);
	assert_int_equal(out.ckpt, 0xababababababababull);
	ls_buf_free(&b);
	/* no blob, not final */
	in.blob = NULL;
	in.blob_len = 0;
	in.final = 0;
	assert_int_equal(ls_codec_replication_encode(&in, &b), 0);
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.final, 0);
	assert_null(out.blob);
	assert_int_equal(out.blob_len, 0);
	check_truncations(&b, "replication without a blob");
	ls_buf_free(&b);
	/* what the encoder refuses */
	char longname[257];
	memset(longname, 'p', 256);
	longname[256] = 0;
	ls_replication_wire bad = in;
	bad.partition = ls_str_make("", 0);
	assert_int_equal(ls_codec_replication_encode(&bad, &b), LS_EINVAL);
	bad.partition = ls_str_make(longname, 256);
	assert_int_equal(ls_codec_replication_encode(&bad, &b), LS_EINVAL);
	bad.partition = ls_str_make(longname, 255);
	assert_int_equal(ls_codec_replication_encode(&bad, &b), 0);
	ls_buf_free(&b);
	bad.partition = ls_str_make("a\0b", 3);
	assert_int_equal(ls_codec_replication_encode(&bad, &b), LS_EINVAL);
	bad = in;
	bad.blob_len = 3;
	assert_int_equal(ls_codec_replication_encode(&bad, &b), LS_EINVAL);
	assert_int_equal(ls_codec_replication_encode(NULL, &b), LS_EINVAL);
	assert_int_equal(ls_codec_replication_encode(&in, NULL), LS_EINVAL);
	assert_null(b.data);
	/* the old hand-written form is refused: u64 ckpt, u8 final, u8 0,
	 * u16 partition length, partition, blob */
	uint8_t *old = calloc(1, 64);
	assert_non_null(old);
	old[0] = 9;
	old[8] = 1;
	old[10] = 7;
	memcpy(old + 12, "count/0", 7);
	assert_int_equal(ls_codec_replication_decode(old, 64, &out),
	                 LS_ECORRUPT);
	assert_int_equal(decode_all(old, 64), 0);
	free(old);
	/* longer than the codec reads: refused before anything is read */
	uint64_t word[2] = {0, 0};
	assert_int_equal(ls_codec_replication_decode(
	                     word, (size_t)LS_CODEC_MAX_BUF + 8, &out),
	                 LS_ERANGE);
}

/* A checkpoint blob of tens of MiB, and one that cannot fit. */
static void
test_replication_large(void **state)
{
	size_t big = 40u << 20;
	uint8_t *blob = malloc(big);
	ls_buf b = {NULL, 0};
	ls_replication_wire in = {7, 0, ls_str_c("w/3"), blob, big, 0, 0, 0},
	                    out;

	(void)state;
	assert_non_null(blob);
	for (size_t i = 0; i < big; i += 4096)
		blob[i] = (uint8_t)(i >> 12);
	memset(blob + big - 4096, 0x5a, 4096);
	unsigned long over = ls__codec_overflow_count();
	assert_int_equal(ls_codec_replication_encode(&in, &b), 0);
	assert_int_equal(ls__codec_overflow_count(), over);
	assert_true(b.len < big + 256);
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.blob_len, big);
	assert_memory_equal(out.blob, blob, big);
	ls_buf_free(&b);
	free(blob);
	/* a blob that fills the whole limit leaves no room for the rest */
	blob = calloc(1, LS_CODEC_MAX_BUF);
	assert_non_null(blob);
	in.blob = blob;
	in.blob_len = LS_CODEC_MAX_BUF;
	assert_int_equal(ls_codec_replication_encode(&in, &b), LS_ERANGE);
	in.blob_len = LS_CODEC_MAX_BUF - 4096;
	assert_int_equal(ls_codec_replication_encode(&in, &b), 0);
	assert_true(b.len <= LS_CODEC_MAX_BUF);
	assert_int_equal(ls_codec_replication_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.blob_len, LS_CODEC_MAX_BUF - 4096);
	ls_buf_free(&b);
	free(blob);
}

static void
test_dataplane_out_of_memory(void **state)
{
	ls_replication_wire rw = {1, 0, ls_str_c("p"), (const uint8_t *)pool,
	                          500, 0, 0, 0};

	(void)state;
	for (long after = 0; after < 3; after++) {
		for (int k = 0; k < 3; k++) {
			ls_buf b = {(uint8_t *)pool, 99};
			int rc;
			ls__codec_fail_alloc_after(after);
			if (k == 0)
				rc = ls_codec_dead_letter_encode(ls_str_c("{}"),
				                                 &b);
			else if (k == 1)
				rc = ls_codec_mark_encode(
				    LS_MSG_CHECKPOINT_BARRIER, 3, &b);
			else
				rc = ls_codec_replication_encode(&rw, &b);
			ls__codec_fail_alloc_after(-1);
			if (after == 0) {
				assert_int_equal(rc, LS_ENOMEM);
				assert_ptr_equal(b.data, (uint8_t *)pool);
				assert_int_equal(b.len, 99);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(decode_all(b.data, b.len), 1);
			ls_buf_free(&b);
		}
	}
}

/* Replication buffers that flatc wrote: one valid, one whose partition is
 * longer than 255 bytes. */
static void
test_golden_replication(void **state)
{
	size_t len;
	uint8_t *buf = read_file(golden_path[4], &len);
	ls_replication_wire out;

	(void)state;
	assert_int_equal(ls_codec_replication_decode(buf, len, &out), 0);
	assert_int_equal(out.ckpt, UINT64_MAX);
	assert_int_equal(out.final, 1);
	assert_true(ls_str_eq(out.partition, "count/3"));
	assert_int_equal(out.blob_len, 4);
	assert_memory_equal(out.blob, "\x00\x01\x02\xff", 4);
	assert_int_equal(decode_all(buf, len), 1);
	free(buf);
	buf = read_file(golden_path[5], &len);
	assert_int_equal(ls_codec_replication_decode(buf, len, &out),
	                 LS_ECORRUPT);
	assert_int_equal(decode_all(buf, len), 0);
	free(buf);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_roundtrip),
	    cmocka_unit_test(test_event_empty),
	    cmocka_unit_test(test_event_bad_input),
	    cmocka_unit_test(test_event_level_mapping),
	    cmocka_unit_test(test_batch_roundtrip),
	    cmocka_unit_test(test_batch_loghub),
	    cmocka_unit_test(test_envelope_roundtrip),
	    cmocka_unit_test(test_frame_roundtrip),
	    cmocka_unit_test(test_records_roundtrip),
	    cmocka_unit_test(test_identifiers),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_corruption),
	    cmocka_unit_test(test_misaligned),
	    cmocka_unit_test(test_dag_refused),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_out_of_memory),
	    cmocka_unit_test(test_golden_event),
	    cmocka_unit_test(test_golden_17_attrs),
	    cmocka_unit_test(test_golden_unknown_level),
	    cmocka_unit_test(test_golden_batch_17_attrs),
	    cmocka_unit_test(test_random_roundtrip),
	    cmocka_unit_test(test_heartbeat_roundtrip),
	    cmocka_unit_test(test_heartbeat_many_acks),
	    cmocka_unit_test(test_heartbeat_bad_input),
	    cmocka_unit_test(test_map_epoch),
	    cmocka_unit_test(test_cluster_truncation),
	    cmocka_unit_test(test_foreign_and_garbage),
	    cmocka_unit_test(test_cluster_out_of_memory),
	    cmocka_unit_test(test_join_request),
	    cmocka_unit_test(test_map_command),
	    cmocka_unit_test(test_node_index),
	    cmocka_unit_test(test_dead_letter),
	    cmocka_unit_test(test_marks),
	    cmocka_unit_test(test_replication),
	    cmocka_unit_test(test_ingest_log),
	    cmocka_unit_test(test_replication_slices),
	    cmocka_unit_test(test_replication_large),
	    cmocka_unit_test(test_dataplane_out_of_memory),
	    cmocka_unit_test(test_golden_replication),
	};

	if (argc != N_GOLDEN + 1) {
		fprintf(stderr,
		        "usage: %s GOLDEN_EVENT GOLDEN_17_ATTRS GOLDEN_LEVEL9 "
		        "GOLDEN_BATCH_17 GOLDEN_REPL GOLDEN_REPL_LONG\n",
		        argv[0]);
		return 2;
	}
	for (int i = 0; i < N_GOLDEN; i++)
		golden_path[i] = argv[i + 1];
	pool_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
