/*
 * kafka.c -- Kafka input and output over librdkafka (see kafka.h).
 *
 * Saved input state (little endian): u8 version 1, u32 n, then n x
 * { u32 partition, u64 next offset }, partitions in increasing order.
 */
#include "actors/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "runtime/err.h"
#include "runtime/le.h"

#define MAX_PARTITIONS 65536

/* librdkafka's own copy of settings: name=value pairs into conf. */
static int
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
    char *err, size_t errlen)
{
	char why[256];
	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "%s", why);
		return LS_EINVAL;
	}
	return 0;
}

/* Split "name=value" at the first '='; 0 or -1 when there is none. */
static int
split_option(const char *opt, char *name, size_t cap, const char **value)
{
	const char *eq = strchr(opt, '=');
	if (eq == NULL || eq == opt || (size_t)(eq - opt) >= cap)
		return -1;
	memcpy(name, opt, (size_t)(eq - opt));
	name[eq - opt] = '\0';
	*value = eq + 1;
	return 0;
}

static int
conf_options(rd_kafka_conf_t *conf, const ls_kafka_cfg *cfg, char *err,
    size_t errlen)
{
	int rv = conf_set(conf, "bootstrap.servers", cfg->brokers, err, errlen);
	for (size_t i = 0; rv == 0 && i < cfg->noptions; i++) {
		char name[128];
		const char *value;
		if (split_option(cfg->options[i], name, sizeof(name), &value)) {
			snprintf(err, errlen, "option %s is not name=value",
			    cfg->options[i]);
			return LS_EINVAL;
		}
		rv = conf_set(conf, name, value, err, errlen);
	}
	return rv;
}

int
ls_kafka_check_option(const char *v, char *why, size_t whylen)
{
	char name[128];
	const char *value;
	if (split_option(v, name, sizeof(name), &value) != 0) {
		snprintf(why, whylen,
		    "'%s' is not a librdkafka setting name=value", v);
		return 1;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf == NULL) {
		snprintf(why, whylen, "out of memory");
		return 1;
	}
	int rv = conf_set(conf, name, value, why, whylen);
	rd_kafka_conf_destroy(conf);
	return rv != 0;
}

/* ---- input ---- */

typedef struct kpos {
	int32_t partition;
	int64_t next; /* next offset to read */
	int64_t end;  /* high watermark at start (bounded reads stop there) */
} kpos;

struct ls_kafka_in {
	rd_kafka_t *rk;
	char *topic;
	int latest;
	int started;
	int bounded;
	kpos *pos;      /* by partition, sorted */
	size_t npos;
	kpos *saved;    /* restored positions, until start */
	size_t nsaved;
};

int
ls_kafka_in_new(const ls_kafka_cfg *cfg, ls_kafka_in **out, char *err,
    size_t errlen)
{
	ls_kafka_in *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (k == NULL || conf == NULL ||
	    (k->topic = strdup(cfg->topic)) == NULL) {
		if (conf != NULL)
			rd_kafka_conf_destroy(conf);
		if (k != NULL)
			free(k->topic);
		free(k);
		snprintf(err, errlen, "out of memory");
		return LS_ENOMEM;
	}
	k->latest = cfg->latest;
	int rv = conf_options(conf, cfg, err, errlen);
	/* positions are the checkpoint's: nothing automatic */
	if (rv == 0)
		rv = conf_set(conf, "group.id", cfg->group, err, errlen);
	if (rv == 0)
		rv = conf_set(conf, "enable.auto.commit", "false", err, errlen);
	if (rv == 0)
		rv = conf_set(conf, "enable.auto.offset.store", "false", err,
		    errlen);
	if (rv == 0)
		rv = conf_set(conf, "auto.offset.reset",
		    cfg->latest ? "latest" : "earliest", err, errlen);
	char why[512];
	if (rv == 0 && (k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why,
	                    sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s", why);
		rv = LS_EINVAL;
	} else if (rv != 0) {
		rd_kafka_conf_destroy(conf);
	}
	if (rv != 0) {
		free(k->topic);
		free(k);
		return rv;
	}
	rd_kafka_poll_set_consumer(k->rk);
	*out = k;
	return 0;
}

void
ls_kafka_in_free(ls_kafka_in *k)
{
	if (k == NULL)
		return;
	rd_kafka_consumer_close(k->rk);
	rd_kafka_destroy(k->rk);
	free(k->topic);
	free(k->pos);
	free(k->saved);
	free(k);
}

static int
decode_state(const uint8_t *b, size_t len, kpos **out, size_t *n)
{
	if (len < 5 || b[0] != 1)
		return LS_ECORRUPT;
	uint32_t cnt = (uint32_t)ls_le_get(b + 1, 4);
	if (cnt > MAX_PARTITIONS || len != 5 + (size_t)cnt * 12)
		return LS_ECORRUPT;
	kpos *p = calloc(cnt ? cnt : 1, sizeof(*p));
	if (p == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < cnt; i++) {
		const uint8_t *e = b + 5 + (size_t)i * 12;
		uint64_t part = ls_le_get(e, 4), next = ls_le_get(e + 4, 8);
		if (part >= MAX_PARTITIONS || next > INT64_MAX ||
		    (i > 0 && (int32_t)part <= p[i - 1].partition)) {
			free(p);
			return LS_ECORRUPT;
		}
		p[i] = (kpos){ (int32_t)part, (int64_t)next, -1 };
	}
	*out = p;
	*n = cnt;
	return 0;
}

int
ls_kafka_in_restore(ls_kafka_in *k, const uint8_t *b, size_t len)
{
	kpos *p;
	size_t n;
	int rv = decode_state(b, len, &p, &n);
	if (rv != 0)
		return rv;
	free(k->saved);
	k->saved = p;
	k->nsaved = n;
	return 0;
}

int
ls_kafka_in_save(const ls_kafka_in *k, uint8_t **out, size_t *len)
{
	const kpos *p = k->started ? k->pos : k->saved;
	size_t n = k->started ? k->npos : k->nsaved;
	uint8_t *b = malloc(5 + n * 12);
	if (b == NULL)
		return LS_ENOMEM;
	b[0] = 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = b + 5 + i * 12;
		ls_le_put(e, (uint64_t)p[i].partition, 4);
		ls_le_put(e + 4, (uint64_t)p[i].next, 8);
	}
	ls_le_put(b + 1, n, 4);
	*out = b;
	*len = 5 + n * 12;
	return 0;
}

static const kpos *
saved_pos(const ls_kafka_in *k, int32_t part)
{
	for (size_t i = 0; i < k->nsaved; i++)
		if (k->saved[i].partition == part)
			return &k->saved[i];
	return NULL;
}

int
ls_kafka_in_start(ls_kafka_in *k, int bounded, int timeout_ms, char *err,
    size_t errlen)
{
	if (k->started)
		return 0;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, k->topic, NULL);
	if (rkt == NULL) {
		snprintf(err, errlen, "%s",
		    rd_kafka_err2str(rd_kafka_last_error()));
		return LS_EAGAIN;
	}
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, rkt, &md,
	    timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "metadata: %s", rd_kafka_err2str(e));
		return LS_EAGAIN;
	}
	int rv = 0;
	if (md->topic_cnt != 1 || md->topics[0].err != 0 ||
	    md->topics[0].partition_cnt <= 0) {
		snprintf(err, errlen, "topic %s: %s", k->topic,
		    md->topic_cnt == 1 && md->topics[0].err != 0
		        ? rd_kafka_err2str(md->topics[0].err)
		        : "no partitions");
		rv = LS_EAGAIN;
	}
	int np = rv == 0 ? md->topics[0].partition_cnt : 0;
	if (np > MAX_PARTITIONS)
		np = MAX_PARTITIONS;
	kpos *pos = rv == 0 ? calloc((size_t)np, sizeof(*pos)) : NULL;
	if (rv == 0 && pos == NULL)
		rv = LS_ENOMEM;
	for (int i = 0; rv == 0 && i < np; i++)
		pos[i].partition = md->topics[0].partitions[i].id;
	rd_kafka_metadata_destroy(md);
	if (rv != 0) {
		free(pos);
		return rv;
	}
	/* by partition id, for the saved state's order */
	for (int i = 1; i < np; i++)
		for (int j = i; j > 0 && pos[j - 1].partition > pos[j].partition;
		     j--) {
			kpos t = pos[j];
			pos[j] = pos[j - 1];
			pos[j - 1] = t;
		}
	/* Every partition gets a definite position now, so that every saved
	 * state names them all: the checkpoint's, else the group's committed
	 * offset, else the start or end of the partition (the start setting).
	 * A partition the checkpoint does not know was created after it: all
	 * of it is new. */
	rd_kafka_topic_partition_list_t *tl =
	    rd_kafka_topic_partition_list_new(np);
	for (int i = 0; i < np; i++)
		rd_kafka_topic_partition_list_add(tl, k->topic,
		    pos[i].partition)->offset = RD_KAFKA_OFFSET_INVALID;
	if (k->nsaved == 0 &&
	    (e = rd_kafka_committed(k->rk, tl, timeout_ms)) != 0) {
		snprintf(err, errlen, "committed offsets: %s",
		    rd_kafka_err2str(e));
		rv = LS_EAGAIN;
	}
	for (int i = 0; rv == 0 && i < np; i++) {
		int64_t lo = 0, hi = 0;
		e = rd_kafka_query_watermark_offsets(k->rk, k->topic,
		    pos[i].partition, &lo, &hi, timeout_ms);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(err, errlen, "watermarks: %s",
			    rd_kafka_err2str(e));
			rv = LS_EAGAIN;
			break;
		}
		const kpos *sp = saved_pos(k, pos[i].partition);
		int64_t c = tl->elems[i].offset;
		pos[i].next = sp != NULL ? sp->next
		    : k->nsaved > 0 ? lo
		    : c >= 0 ? c
		    : k->latest ? hi : lo;
		pos[i].end = hi;
		tl->elems[i].offset = pos[i].next;
	}
	if (rv == 0 && (e = rd_kafka_assign(k->rk, tl)) != 0) {
		snprintf(err, errlen, "assign: %s", rd_kafka_err2str(e));
		rv = LS_EAGAIN;
	}
	rd_kafka_topic_partition_list_destroy(tl);
	if (rv != 0) {
		free(pos);
		return rv;
	}
	free(k->pos);
	k->pos = pos;
	k->npos = (size_t)np;
	k->bounded = bounded;
	k->started = 1;
	return 0;
}

static kpos *
pos_of(ls_kafka_in *k, int32_t part)
{
	size_t lo = 0, hi = k->npos;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (k->pos[mid].partition < part)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < k->npos && k->pos[lo].partition == part ? &k->pos[lo]
	                                                    : NULL;
}

long
ls_kafka_in_poll(ls_kafka_in *k, size_t max, ls_kafka_msg_fn fn, void *arg,
    char *err, size_t errlen)
{
	long got = 0;
	int failed = 0;
	while ((size_t)got < max) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
		if (m == NULL)
			break;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err != 0) {
			if (!failed)
				snprintf(err, errlen, "%s",
				    rd_kafka_message_errstr(m));
			failed = 1;
			rd_kafka_message_destroy(m);
			continue;
		}
		kpos *p = pos_of(k, m->partition);
		/* a bounded read stops at each partition's end */
		if (p != NULL && (!k->bounded || m->offset < p->end)) {
			ls_kafka_msg km = { m->partition, m->offset,
				m->payload, m->len, m->key, m->key_len };
			fn(arg, &km);
			p->next = m->offset + 1;
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	return failed && got == 0 ? -1 : got;
}

int
ls_kafka_in_at_end(const ls_kafka_in *k)
{
	if (!k->started || !k->bounded)
		return 0;
	for (size_t i = 0; i < k->npos; i++)
		if (k->pos[i].next < k->pos[i].end)
			return 0;
	return 1;
}

int
ls_kafka_in_commit(ls_kafka_in *k, const uint8_t *b, size_t len)
{
	kpos *p;
	size_t n;
	int rv = decode_state(b, len, &p, &n);
	if (rv != 0 || n == 0) {
		free(p);
		return rv;
	}
	rd_kafka_topic_partition_list_t *tl =
	    rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(tl, k->topic,
		    p[i].partition)->offset = p[i].next;
	free(p);
	rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, tl, 1);
	rd_kafka_topic_partition_list_destroy(tl);
	return e == 0 ? 0 : LS_EIO;
}

int
ls_kafka_in_describe(const uint8_t *b, size_t len, char *out, size_t cap)
{
	kpos *p;
	size_t n, used = 0;
	int rv = decode_state(b, len, &p, &n);
	if (rv != 0 || cap == 0)
		return rv != 0 ? rv : LS_ERANGE;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + used, cap - used, "%s%d:%lld",
		    i > 0 ? " " : "", (int)p[i].partition,
		    (long long)p[i].next);
		if (w < 0 || (size_t)w >= cap - used) {
			if (cap >= 4)
				memcpy(out + (used + 4 <= cap ? used : cap - 4),
				    "...", 4);
			break;
		}
		used += (size_t)w;
	}
	free(p);
	return 0;
}

/* ---- output ---- */

struct ls_kafka_out {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	int failed;          /* a delivery failed since the last flush */
	char why[256];       /* ... the first one's reason */
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	ls_kafka_out *k = opaque;
	(void)rk;
	if (m->err != 0 && !k->failed) {
		k->failed = 1;
		snprintf(k->why, sizeof(k->why), "%s", rd_kafka_err2str(m->err));
	}
}

int
ls_kafka_out_new(const ls_kafka_cfg *cfg, ls_kafka_out **out, char *err,
    size_t errlen)
{
	ls_kafka_out *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (k == NULL || conf == NULL) {
		if (conf != NULL)
			rd_kafka_conf_destroy(conf);
		free(k);
		snprintf(err, errlen, "out of memory");
		return LS_ENOMEM;
	}
	int rv = conf_set(conf, "enable.idempotence", "true", err, errlen);
	if (rv == 0)
		rv = conf_options(conf, cfg, err, errlen);
	char why[512];
	if (rv == 0) {
		rd_kafka_conf_set_opaque(conf, k);
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
		if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why,
		         sizeof(why))) == NULL) {
			snprintf(err, errlen, "%s", why);
			rv = LS_EINVAL;
		}
	} else {
		rd_kafka_conf_destroy(conf);
	}
	if (rv == 0 &&
	    (k->rkt = rd_kafka_topic_new(k->rk, cfg->topic, NULL)) == NULL) {
		snprintf(err, errlen, "%s",
		    rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(k->rk);
		rv = LS_EINVAL;
	}
	if (rv != 0) {
		free(k);
		return rv;
	}
	*out = k;
	return 0;
}

void
ls_kafka_out_free(ls_kafka_out *k)
{
	if (k == NULL)
		return;
	rd_kafka_flush(k->rk, 10000);
	rd_kafka_topic_destroy(k->rkt);
	rd_kafka_destroy(k->rk);
	free(k);
}

int
ls_kafka_out_send(ls_kafka_out *k, const char *key, size_t keylen,
    const char *value, size_t len, char *err, size_t errlen)
{
	for (;;) {
		if (rd_kafka_produce(k->rkt, RD_KAFKA_PARTITION_UA,
		        RD_KAFKA_MSG_F_COPY, (void *)value, len, key, keylen,
		        NULL) == 0)
			return 0;
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			snprintf(err, errlen, "%s", rd_kafka_err2str(e));
			return LS_EIO;
		}
		rd_kafka_poll(k->rk, 100); /* room comes with deliveries */
	}
}

int
ls_kafka_out_flush(ls_kafka_out *k, int timeout_ms, char *err,
    size_t errlen)
{
	rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, timeout_ms);
	int rv = 0;
	if (k->failed) {
		snprintf(err, errlen, "delivery failed: %s", k->why);
		rv = LS_EIO;
	} else if (e != 0) {
		snprintf(err, errlen, "not delivered in %d ms", timeout_ms);
		rv = LS_ETIMEDOUT;
	}
	k->failed = 0;
	return rv;
}

void
ls_kafka_out_poll(ls_kafka_out *k)
{
	rd_kafka_poll(k->rk, 0);
}
