/*
 * codec_fuzz.c -- fuzz driver for the wire codec (schemas/codec.h).
 *
 * The input goes, as is, to every decoder; then, so that the fuzzer gets past
 * the file identifier quickly, once more to each decoder with that decoder's
 * identifier written over bytes 4-7.  Whatever a decoder accepts is read in
 * full (so a sanitizer sees any read outside the input), encoded again and
 * decoded again, and must come back identical; a mismatch aborts.  The
 * strings of the cluster control messages (heartbeats with their checkpoint
 * acks, the leader's MapEpoch answer, join requests, map commands) and of
 * the data-plane payloads (dead letters, replication partitions, ingest
 * logs' names) must also be C strings; the node indexes of batches survive a round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "runtime/err.h"
#include "runtime/event.h"
#include "schemas/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Batches larger than this are decoded by foreach only (keeps runs fast). */
#define MAX_GETS 256

static volatile uint64_t sink;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "codec_fuzz: %s\n", what);
		abort();
	}
}

/* Read every byte of s; s must lie inside [buf, buf + len). */
static void
touch(ls_str s, const uint8_t *buf, size_t len)
{
	uint64_t h = 0;

	if (s.len == 0)
		return;
	check((const uint8_t *)s.ptr >= buf &&
	          (const uint8_t *)s.ptr + s.len < buf + len,
	      "string outside the buffer");
	for (uint32_t i = 0; i <= s.len; i++) /* the NUL too */
		h = h * 31 + (uint8_t)s.ptr[i];
	sink += h;
}

static int
str_same(ls_str a, ls_str b)
{
	return a.len == b.len &&
	       (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int
event_same(const ls_event *a, const ls_event *b)
{
	if (a->time_ns != b->time_ns || a->ingest_ns != b->ingest_ns ||
	    a->offset != b->offset || a->level != b->level ||
	    a->nattrs != b->nattrs || !str_same(a->level_text, b->level_text) ||
	    !str_same(a->service, b->service) || !str_same(a->host, b->host) ||
	    !str_same(a->message, b->message))
		return 0;
	for (unsigned i = 0; i < a->nattrs; i++)
		if (!str_same(a->attrs[i].key, b->attrs[i].key) ||
		    !str_same(a->attrs[i].val, b->attrs[i].val))
			return 0;
	return 1;
}

static void
event_touch(const ls_event *ev, const uint8_t *buf, size_t len)
{
	check(ev->level < LS_LEVEL_COUNT, "level out of range");
	check(ev->nattrs <= LS_EVENT_MAX_ATTRS, "too many attributes");
	touch(ev->level_text, buf, len);
	touch(ev->service, buf, len);
	touch(ev->host, buf, len);
	touch(ev->message, buf, len);
	for (unsigned i = 0; i < ev->nattrs; i++) {
		touch(ev->attrs[i].key, buf, len);
		touch(ev->attrs[i].val, buf, len);
	}
}

/* Encode ev again, decode that, compare. */
static void
event_again(const ls_event *ev)
{
	ls_buf b = {NULL, 0};
	ls_event again;
	int rc = ls_codec_event_encode(ev, &b);

	if (rc == LS_ENOMEM)
		return;
	check(rc == 0, "re-encoding a decoded event failed");
	check(ls_codec_event_decode(b.data, b.len, &again) == 0,
	      "re-encoded event does not decode");
	check(event_same(ev, &again), "event changed in a round trip");
	ls_buf_free(&b);
}

struct view {
	const uint8_t *buf;
	size_t len;
	size_t n;
};

static int
on_event(void *arg, const ls_event *ev)
{
	struct view *v = arg;
	event_touch(ev, v->buf, v->len);
	if (v->n++ < 8)
		event_again(ev);
	return 0;
}

static void
fuzz_event(const uint8_t *buf, size_t len)
{
	ls_event ev;

	if (ls_codec_event_decode(buf, len, &ev) == 0) {
		check(ls_codec_event_verify(buf, len) == 0, "verify disagrees");
		event_touch(&ev, buf, len);
		event_again(&ev);
	}
}

static void
fuzz_batch(const uint8_t *buf, size_t len)
{
	struct view v = {buf, len, 0};
	ls_event ev;
	size_t n;

	if (ls_codec_batch_count(buf, len, &n) == 0) {
		for (size_t i = 0; i < n && i < MAX_GETS; i++)
			if (ls_codec_batch_get(buf, len, i, &ev) == 0)
				event_touch(&ev, buf, len);
		int rc = ls_codec_batch_foreach(buf, len, on_event, &v);
		check(rc == 0 || rc == LS_ERANGE, "foreach of a valid batch");
		check(rc != 0 || v.n == n, "foreach skipped events");
	}
	if (ls_codec_batch_get(buf, len, 0, &ev) == 0)
		event_touch(&ev, buf, len);
}

static void
payload_touch(const ls_envelope *e, const uint8_t *buf, size_t len)
{
	uint64_t h = 0;

	if (e->payload_len == 0)
		return;
	check(e->payload >= buf && e->payload + e->payload_len <= buf + len,
	      "payload outside the buffer");
	for (size_t i = 0; i < e->payload_len; i++)
		h = h * 31 + e->payload[i];
	sink += h;
}

static int
env_same(const ls_envelope *a, const ls_envelope *b)
{
	return a->type == b->type && a->from == b->from && a->to == b->to &&
	       a->epoch == b->epoch && a->seq == b->seq &&
	       a->payload_len == b->payload_len &&
	       (a->payload_len == 0 ||
	        memcmp(a->payload, b->payload, a->payload_len) == 0);
}

static void
envelope_again(const ls_envelope *e)
{
	ls_buf b = {NULL, 0};
	ls_envelope again;
	int rc = ls_codec_envelope_encode(e, &b);

	if (rc == LS_ENOMEM)
		return;
	check(rc == 0, "re-encoding a decoded envelope failed");
	check(ls_codec_envelope_decode(b.data, b.len, &again) == 0,
	      "re-encoded envelope does not decode");
	check(env_same(e, &again), "envelope changed in a round trip");
	/* Nested payloads decode in place once re-encoded (aligned). */
	fuzz_event(again.payload, again.payload_len);
	fuzz_batch(again.payload, again.payload_len);
	ls_buf_free(&b);
}

static int
on_envelope(void *arg, const ls_envelope *e)
{
	struct view *v = arg;
	payload_touch(e, v->buf, v->len);
	if (v->n++ < 8)
		envelope_again(e);
	return 0;
}

static void
fuzz_envelope(const uint8_t *buf, size_t len)
{
	ls_envelope e;

	if (ls_codec_envelope_decode(buf, len, &e) == 0) {
		check(ls_codec_envelope_verify(buf, len) == 0,
		      "verify disagrees");
		payload_touch(&e, buf, len);
		envelope_again(&e);
	}
}

static void
fuzz_frame(const uint8_t *buf, size_t len)
{
	struct view v = {buf, len, 0};
	int rc = ls_codec_frame_decode(buf, len, on_envelope, &v);

	check(rc == ls_codec_frame_verify(buf, len), "verify disagrees");
}

/* Two decoded records are the same: schema, stage, partition, values
 * (doubles bit for bit). */
static int
records_same(const ls_records *a, const ls_records *b)
{
	const ls_rec_schema *x = a->schema, *y = b->schema;
	if (x->n != y->n || x->keyed != y->keyed || x->key_at != y->key_at ||
	    a->partition != b->partition || a->n != b->n ||
	    strcmp(a->stage, b->stage) != 0)
		return 0;
	for (uint32_t f = 0; f < x->n; f++)
		if (strcmp(x->f[f].name, y->f[f].name) != 0 ||
		    x->f[f].type != y->f[f].type ||
		    x->f[f].flags != y->f[f].flags)
			return 0;
	for (size_t i = 0; i < (size_t)a->n * x->n; i++) {
		const ls_rec_value *u = &a->v[i], *v = &b->v[i];
		uint8_t t = x->f[i % x->n].type;
		if (u->null != v->null)
			return 0;
		if (u->null)
			continue;
		if (t == LS_REC_STRING ? !str_same(u->s, v->s)
		    : t == LS_REC_DOUBLE ? memcmp(&u->d, &v->d, sizeof(double)) != 0
		                         : u->i != v->i)
			return 0;
	}
	return 1;
}

static void
fuzz_records(const uint8_t *buf, size_t len)
{
	ls_records *r = NULL, *again = NULL;
	ls_buf b = {NULL, 0};

	uint32_t node = 0, node_again = 0;
	int rc = ls_codec_records_decode_node(buf, len, &r, &node);
	check(rc == 0 || r == NULL, "failed decode returned records");
	if (rc != 0) {
		check(rc == ls_codec_records_verify(buf, len) ||
		          ls_codec_records_verify(buf, len) == 0,
		      "verify disagrees");
		return;
	}
	check(ls_codec_records_verify(buf, len) == 0, "verify disagrees");
	const ls_rec_schema *sc = r->schema;
	check(sc->n >= 1 && sc->n <= LS_REC_MAX_FIELDS, "field count");
	check(!sc->keyed || sc->key_at <= sc->n, "key_at out of range");
	for (uint32_t f = 0; f < sc->n; f++)
		check(sc->f[f].type >= LS_REC_STRING &&
		          sc->f[f].type <= LS_REC_BOOL &&
		          (sc->f[f].flags & ~LS_REC_FLAGS) == 0 &&
		          sc->f[f].name[0] != '\0',
		      "bad field decoded");
	/* every string value is readable */
	for (size_t i = 0; i < (size_t)r->n * sc->n; i++) {
		const ls_rec_value *v = &r->v[i];
		if (sc->f[i % sc->n].type != LS_REC_STRING || v->null)
			continue;
		volatile unsigned sum = 0;
		for (uint32_t k = 0; k < v->s.len; k++)
			sum += (unsigned char)v->s.ptr[k];
		(void)sum;
	}
	/* what was decoded encodes, and decodes to the same */
	rc = ls_codec_records_encode_node(r, node, &b);
	if (rc != LS_ENOMEM) {
		check(rc == 0, "re-encoding decoded records failed");
		rc = ls_codec_records_decode_node(b.data, b.len, &again,
		                                  &node_again);
		check(rc == 0 || rc == LS_ENOMEM,
		      "re-encoded records do not decode");
		if (rc == 0)
			check(records_same(r, again) && node == node_again,
			      "records changed in a round trip");
	}
	ls_records_unref(again);
	ls_records_unref(r);
	ls_buf_free(&b);
}

/* ---- cluster control messages (cluster.fbs) ---- */

/* Acks compared after a round trip (the rest are only read). */
#define MAX_ACKS 64

/* Read every byte of s, which must be a C string of its length inside
 * [buf, buf + len) (absent strings decode as ""). */
static void
ctouch(ls_str s, const uint8_t *buf, size_t len)
{
	FUZZ_ASSERT(s.ptr != NULL && strlen(s.ptr) == s.len);
	touch(s, buf, len);
}

static int
ack_same(const ls_ckpt_ack_wire *a, const ls_ckpt_ack_wire *b)
{
	return str_same(a->topology, b->topology) &&
	    str_same(a->partition, b->partition) && a->epoch == b->epoch &&
	    a->ckpt == b->ckpt && a->final == b->final;
}

typedef struct acks {
	const uint8_t *buf;
	size_t len;
	size_t n;
	ls_ckpt_ack_wire a[MAX_ACKS];
} acks;

static int
on_ack(void *arg, const ls_ckpt_ack_wire *a)
{
	acks *s = arg;
	ctouch(a->topology, s->buf, s->len);
	ctouch(a->partition, s->buf, s->len);
	FUZZ_ASSERT(a->final <= 1);
	if (s->n < MAX_ACKS)
		s->a[s->n] = *a;
	s->n++;
	return 0;
}

static void
fuzz_heartbeat(const uint8_t *buf, size_t len)
{
	ls_heartbeat_wire hb, again;
	acks *s = calloc(2, sizeof(*s));
	if (s == NULL)
		return;
	s[0].buf = buf;
	s[0].len = len;
	int rc = ls_codec_heartbeat_decode(buf, len, &hb, on_ack, &s[0]);
	if (rc != 0) {
		FUZZ_ASSERT(s[0].n == 0);
		free(s);
		return;
	}
	FUZZ_ASSERT(ls_codec_heartbeat_verify(buf, len) == 0);
	FUZZ_ASSERT(s[0].n == hb.nacks && hb.acks == NULL);
	ctouch(hb.name, buf, len);
	ctouch(hb.url, buf, len);
	ctouch(hb.http, buf, len);
	FUZZ_ASSERT(hb.voter <= 1 && hb.restarted <= 1 && hb.leaving <= 1);
	if (hb.nacks <= MAX_ACKS) {
		ls_buf b = { NULL, 0 };
		hb.acks = s[0].a;
		rc = ls_codec_heartbeat_encode(&hb, &b);
		if (rc != LS_ENOMEM) {
			FUZZ_ASSERT(rc == 0);
			s[1].buf = b.data;
			s[1].len = b.len;
			FUZZ_ASSERT(ls_codec_heartbeat_decode(b.data, b.len,
			    &again, on_ack, &s[1]) == 0);
			FUZZ_ASSERT(again.id == hb.id && again.inc == hb.inc &&
			    str_same(again.name, hb.name) &&
			    str_same(again.url, hb.url) &&
			    str_same(again.http, hb.http) &&
			    again.voter == hb.voter &&
			    again.restarted == hb.restarted &&
			    again.leaving == hb.leaving &&
			    again.nacks == hb.nacks);
			for (size_t i = 0; i < hb.nacks; i++)
				FUZZ_ASSERT(ack_same(&s[0].a[i], &s[1].a[i]));
		}
		ls_buf_free(&b);
	}
	free(s);
}

static void
fuzz_map_epoch(const uint8_t *buf, size_t len)
{
	uint64_t epoch, again;
	ls_buf b = { NULL, 0 };
	if (ls_codec_map_epoch_decode(buf, len, &epoch) != 0)
		return;
	int rc = ls_codec_map_epoch_encode(epoch, &b);
	if (rc == LS_ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(ls_codec_map_epoch_decode(b.data, b.len, &again) == 0);
	FUZZ_ASSERT(again == epoch);
	ls_buf_free(&b);
}

static void
fuzz_join(const uint8_t *buf, size_t len)
{
	ls_join_wire j, again;
	ls_buf b = { NULL, 0 };
	if (ls_codec_join_decode(buf, len, &j) != 0)
		return;
	FUZZ_ASSERT(ls_codec_join_verify(buf, len) == 0);
	ctouch(j.name, buf, len);
	ctouch(j.url, buf, len);
	ctouch(j.http, buf, len);
	ctouch(j.raft, buf, len);
	int rc = ls_codec_join_encode(&j, &b);
	if (rc == LS_ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(ls_codec_join_decode(b.data, b.len, &again) == 0);
	FUZZ_ASSERT(again.id == j.id && again.inc == j.inc &&
	    str_same(again.name, j.name) && str_same(again.url, j.url) &&
	    str_same(again.http, j.http) && str_same(again.raft, j.raft));
	ls_buf_free(&b);
}

typedef struct assigns {
	const uint8_t *buf;
	size_t len;
	size_t n;
	ls_assign_wire a[MAX_ACKS];
} assigns;

static int
on_assign(void *arg, size_t i, const ls_assign_wire *a)
{
	assigns *s = arg;
	FUZZ_ASSERT(i == s->n);
	ctouch(a->partition, s->buf, s->len);
	FUZZ_ASSERT(a->n_standbys <= LS_WIRE_MAX_STANDBYS);
	if (s->n < MAX_ACKS)
		s->a[s->n] = *a;
	s->n++;
	return 0;
}

static void
fuzz_map_cmd(const uint8_t *buf, size_t len)
{
	ls_map_cmd_wire c, again;
	assigns *s = calloc(2, sizeof(*s));
	if (s == NULL)
		return;
	s[0].buf = buf;
	s[0].len = len;
	if (ls_codec_map_cmd_decode(buf, len, &c, on_assign, &s[0]) != 0) {
		FUZZ_ASSERT(s[0].n == 0);
		free(s);
		return;
	}
	FUZZ_ASSERT(ls_codec_map_cmd_verify(buf, len) == 0);
	FUZZ_ASSERT(s[0].n == c.nassigns && c.assigns == NULL);
	ctouch(c.name, buf, len);
	ctouch(c.url, buf, len);
	ctouch(c.http, buf, len);
	ctouch(c.yaml, buf, len);
	if (c.nassigns <= MAX_ACKS) {
		ls_buf b = { NULL, 0 };
		c.assigns = s[0].a;
		int rc = ls_codec_map_cmd_encode(&c, &b);
		if (rc != LS_ENOMEM) {
			FUZZ_ASSERT(rc == 0);
			s[1].buf = b.data;
			s[1].len = b.len;
			FUZZ_ASSERT(ls_codec_map_cmd_decode(b.data, b.len, &again,
			    on_assign, &s[1]) == 0);
			FUZZ_ASSERT(again.type == c.type && again.node == c.node &&
			    again.voter == c.voter && again.state == c.state &&
			    again.flags == c.flags && again.final == c.final &&
			    again.checkpoint == c.checkpoint &&
			    str_same(again.name, c.name) &&
			    str_same(again.url, c.url) &&
			    str_same(again.http, c.http) &&
			    str_same(again.yaml, c.yaml) &&
			    again.nassigns == c.nassigns);
			for (size_t i = 0; i < c.nassigns; i++) {
				const ls_assign_wire *x = &s[0].a[i], *y = &s[1].a[i];
				FUZZ_ASSERT(str_same(x->partition, y->partition) &&
				    x->owner == y->owner &&
				    x->n_standbys == y->n_standbys &&
				    memcmp(x->standbys, y->standbys,
				        x->n_standbys * sizeof(uint64_t)) == 0);
			}
		}
		ls_buf_free(&b);
	}
	free(s);
}

/* ---- data-plane payloads (dataplane.fbs) ---- */

/* The node index of a batch agrees with its count and survives a round
 * trip of the events. */
static void
fuzz_batch_node(const uint8_t *buf, size_t len)
{
	size_t n, m;
	uint32_t node;
	int rc = ls_codec_batch_info(buf, len, &n, &node);
	FUZZ_ASSERT(rc == ls_codec_batch_count(buf, len, &m));
	if (rc != 0 || n > MAX_GETS)
		return;
	FUZZ_ASSERT(n == m);
	ls_event *evs = calloc(n > 0 ? n : 1, sizeof(*evs));
	if (evs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		if (ls_codec_batch_get(buf, len, i, &evs[i]) != 0) {
			free(evs); /* too many attributes: refused */
			return;
		}
	ls_buf b = { NULL, 0 };
	rc = ls_codec_batch_encode_node(evs, n, node, &b);
	if (rc == 0) {
		uint32_t again;
		FUZZ_ASSERT(ls_codec_batch_info(b.data, b.len, &m, &again) == 0);
		FUZZ_ASSERT(m == n && again == node);
	} else {
		FUZZ_ASSERT(rc == LS_ENOMEM);
	}
	ls_buf_free(&b);
	free(evs);
}

static void
fuzz_dead_letter(const uint8_t *buf, size_t len)
{
	ls_str rec, again;
	ls_buf b = { NULL, 0 };
	if (ls_codec_dead_letter_decode(buf, len, &rec) != 0)
		return;
	ctouch(rec, buf, len);
	int rc = ls_codec_dead_letter_encode(rec, &b);
	if (rc == LS_ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(ls_codec_dead_letter_decode(b.data, b.len, &again) == 0);
	FUZZ_ASSERT(str_same(rec, again));
	ls_buf_free(&b);
}

static void
fuzz_mark_of(uint16_t type, uint16_t other, const uint8_t *buf, size_t len)
{
	uint64_t ckpt, again;
	ls_buf b = { NULL, 0 };
	if (ls_codec_mark_decode(type, buf, len, &ckpt) != 0)
		return;
	/* one identifier per kind of marker */
	FUZZ_ASSERT(ls_codec_mark_decode(other, buf, len, &again) ==
	    LS_ECORRUPT);
	int rc = ls_codec_mark_encode(type, ckpt, &b);
	if (rc == LS_ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(ls_codec_mark_decode(type, b.data, b.len, &again) == 0);
	FUZZ_ASSERT(again == ckpt);
	ls_buf_free(&b);
}

static void
fuzz_eos(const uint8_t *buf, size_t len)
{
	fuzz_mark_of(LS_MSG_END_OF_STREAM, LS_MSG_CHECKPOINT_BARRIER, buf, len);
}

static void
fuzz_barrier(const uint8_t *buf, size_t len)
{
	fuzz_mark_of(LS_MSG_CHECKPOINT_BARRIER, LS_MSG_END_OF_STREAM, buf, len);
}

static void
fuzz_replay_mark(const uint8_t *buf, size_t len)
{
	fuzz_mark_of(LS_MSG_REPLAY_MARK, LS_MSG_CHECKPOINT_BARRIER, buf, len);
}

static void
fuzz_replication(const uint8_t *buf, size_t len)
{
	ls_replication_wire r, again;
	ls_buf b = { NULL, 0 };
	if (ls_codec_replication_decode(buf, len, &r) != 0)
		return;
	ctouch(r.partition, buf, len);
	FUZZ_ASSERT(r.partition.len >= 1 && r.partition.len <= 255 &&
	    r.final <= 1);
	FUZZ_ASSERT(r.blob_len == 0
	        ? r.blob == NULL
	        : r.blob > buf && r.blob + r.blob_len <= buf + len);
	volatile unsigned sum = 0;
	for (size_t i = 0; i < r.blob_len; i++)
		sum += r.blob[i];
	(void)sum;
	int rc = ls_codec_replication_encode(&r, &b);
	if (rc == LS_ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(r.parts >= 1 && r.part < r.parts && r.blob_len <= r.total &&
	    (r.parts > 1 || r.total == r.blob_len));
	FUZZ_ASSERT(ls_codec_replication_decode(b.data, b.len, &again) == 0);
	FUZZ_ASSERT(again.part == r.part && again.parts == r.parts &&
	    again.total == r.total);
	FUZZ_ASSERT(again.ckpt == r.ckpt && again.final == r.final &&
	    str_same(again.partition, r.partition) &&
	    again.blob_len == r.blob_len &&
	    (r.blob_len == 0 || memcmp(again.blob, r.blob, r.blob_len) == 0));
	/* the blob lands 8-byte aligned */
	FUZZ_ASSERT(again.blob_len == 0 || (again.blob - b.data) % 8 == 0);
	ls_buf_free(&b);
}

#define MAX_INGEST_RECS 64

struct irecs {
	const uint8_t *buf;
	size_t len;
	ls_ingest_rec_wire r[MAX_INGEST_RECS];
	size_t n, total;
};

static int
on_ingest_rec(void *arg, const ls_ingest_rec_wire *r)
{
	struct irecs *a = arg;
	FUZZ_ASSERT(r->seq != 0);
	FUZZ_ASSERT(r->len == 0 ||
	    (r->value >= a->buf && r->value + r->len <= a->buf + a->len));
	volatile unsigned sum = 0;
	for (size_t i = 0; i < r->len; i++)
		sum += r->value[i];
	(void)sum;
	if (a->n < MAX_INGEST_RECS)
		a->r[a->n++] = *r;
	a->total++;
	return 0;
}

static int
on_ingest_again(void *arg, const ls_ingest_rec_wire *r)
{
	struct irecs *a = arg;
	size_t i = a->total++;
	FUZZ_ASSERT(i < a->n && a->r[i].seq == r->seq &&
	    a->r[i].len == r->len &&
	    (r->len == 0 || memcmp(a->r[i].value, r->value, r->len) == 0));
	return 0;
}

static void
fuzz_ingest(const uint8_t *buf, size_t len)
{
	ls_ingest_wire h, again;
	struct irecs a = { buf, len, { { 0, NULL, 0 } }, 0, 0 };
	ls_buf b = { NULL, 0 };
	if (ls_codec_ingest_decode(buf, len, &h, on_ingest_rec, &a) != 0)
		return;
	ctouch(h.topology, buf, len);
	ctouch(h.partition, buf, len);
	FUZZ_ASSERT(h.topology.len >= 1 && h.topology.len <= 255 &&
	    h.partition.len >= 1 && h.partition.len <= 255 && h.sync <= 1);
	if (a.total > MAX_INGEST_RECS)
		return; /* the round trip of a short log only */
	int rc = ls_codec_ingest_encode(&h, a.r, a.n, &b);
	if (rc == LS_ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0);
	size_t n = a.n;
	a.total = 0;
	FUZZ_ASSERT(ls_codec_ingest_decode(b.data, b.len, &again,
	    on_ingest_again, &a) == 0);
	FUZZ_ASSERT(a.total == n && again.epoch == h.epoch &&
	    again.trim == h.trim && again.sync == h.sync &&
	    again.node == h.node && str_same(again.topology, h.topology) &&
	    str_same(again.partition, h.partition));
	ls_buf_free(&b);
}

static void
fuzz_all(const uint8_t *buf, size_t len)
{
	fuzz_event(buf, len);
	fuzz_batch(buf, len);
	fuzz_envelope(buf, len);
	fuzz_frame(buf, len);
	fuzz_records(buf, len);
	fuzz_heartbeat(buf, len);
	fuzz_map_epoch(buf, len);
	fuzz_join(buf, len);
	fuzz_map_cmd(buf, len);
	fuzz_batch_node(buf, len);
	fuzz_dead_letter(buf, len);
	fuzz_eos(buf, len);
	fuzz_barrier(buf, len);
	fuzz_replay_mark(buf, len);
	fuzz_replication(buf, len);
	fuzz_ingest(buf, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *id;
		void (*fn)(const uint8_t *, size_t);
	} kinds[] = {
	    {"LSEV", fuzz_event},    {"LSEB", fuzz_batch},
	    {"LSEN", fuzz_envelope}, {"LSFR", fuzz_frame},
	    {"LSRB", fuzz_records},   {"LSHB", fuzz_heartbeat},
	    {"LSME", fuzz_map_epoch}, {"LSJR", fuzz_join},
	    {"LSMC", fuzz_map_cmd},   {"LSEB", fuzz_batch_node},
	    {"LSDL", fuzz_dead_letter}, {"LSES", fuzz_eos},
	    {"LSCB", fuzz_barrier},   {"LSRP", fuzz_replication},
	    {"LSRM", fuzz_replay_mark}, {"LSIL", fuzz_ingest},
	};
	/* An exact-size, 8-byte aligned copy: reads past the end are
	 * caught, and the alignment precondition holds. */
	uint8_t *buf = calloc(size > 0 ? size : 1, 1);

	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	fuzz_all(buf, size);
	if (size >= 8) {
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			memcpy(buf + 4, kinds[k].id, 4);
			kinds[k].fn(buf, size);
		}
	}
	/* Misaligned input is refused, never read. */
	if (size > 0 && size < 4096) {
		uint8_t *odd = malloc(size + 1);
		if (odd != NULL) {
			memcpy(odd + 1, data, size);
			check(ls_codec_event_verify(odd + 1, size) == LS_EINVAL,
			      "misaligned input accepted");
			free(odd);
		}
	}
	free(buf);
	return 0;
}
