/*
 * sink_actor.c -- the `stdout`, `jsonl`, `kafka` and `null` sinks.
 *
 * A sink writes results (LS_MSG_RESULTS: typed records of any kind, laid
 * out by their schema, actors/sinkfmt.h), events from parse/filter
 * stages (LS_MSG_BATCH) and dead-letter records (LS_MSG_DEAD):
 *   - stdout, format table: a live table (header when the stage changes
 *     or every 40 rows), events as one compact line, dead letters prefixed
 *     with "dead-letter: ";
 *   - stdout, format jsonl, and jsonl files: one JSON object per line;
 *   - kafka: one message per JSON line, through an idempotent producer
 *     (actors/kafka.h), keyed by a stable id (below);
 *   - null: counts only.
 * The output is flushed after every message so results appear live.  When
 * every upstream actor has sent end of stream the sink tells the pipeline.
 *
 * With checkpoints on (a cluster), output is transactional: what arrives
 * between two barriers is formatted into memory, kept with the sink's
 * checkpoint under the barrier's id, and written only once that checkpoint
 * completed everywhere (LS_MSG_COMMIT).  A jsonl sink then writes one part
 * file per checkpoint, PATH.d/p<partition>-<checkpoint id, 16 hex>.jsonl,
 * created under a temporary name and renamed, so a part written again
 * after a failover (from the same checkpoint) replaces itself with the
 * same bytes: the union of the parts is the effectively-once output.
 * stdout sinks print committed output.  A kafka sink produces a committed
 * part's lines with the keys SINK/PARTITION/CHECKPOINT/LINE (checkpoint in
 * 16 hex digits, line from 0) and counts the part written once the
 * brokers acknowledged all of it (else it tries again at the next
 * commit); a part produced again after a failover has the same keys and
 * values, so a consumer drops the replay by key (or a compacted topic
 * keeps one).  The sink is done when the final checkpoint is committed.
 * Without checkpoints a kafka sink produces at once, keys
 * SINK/PARTITION/run/N.
 *
 * A single-node run that checkpoints (`logstream run --data-dir`,
 * cfg->jsonl_append) keeps a jsonl sink's output in its one file PATH
 * instead: committed parts are appended in checkpoint order, and each
 * saved state records the file's length at that moment (after an fdatasync,
 * so the recorded length is on disk).  What follows that length was
 * written for checkpoints the state still holds as pending parts, so a
 * restore truncates PATH to it and the commit of the restored checkpoint
 * writes the same parts again: the file equals that of a run without a
 * crash.  A fresh start truncates PATH, as a run without checkpoints does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/kafka.h"
#include "actors/sinkfmt.h"
#include "actors/stage.h"
#include "runtime/le.h"
#include "runtime/log.h"

enum { SINK_STDOUT, SINK_JSONL, SINK_NULL, SINK_KAFKA };

/* kafka: how long a commit waits for the brokers' acknowledgements */
#define KAFKA_FLUSH_MS 30000

typedef struct sink {
	const ls_stage_cfg *cfg;
	int kind;
	int table;
	FILE *f;
	int own_f;
	uint32_t eos;
	const char *last_stage; /* stage whose header was printed last */
	uint32_t rows_since_header;
	ls_sinkfmt_table tab;
	char *buf;
	size_t cap;
	/* checkpoints */
	ls_gate gate;
	int txn;          /* transactional output (checkpoints on) */
	FILE *out;        /* the real output (stdout) in txn mode */
	const char *path; /* jsonl path */
	char *cur;        /* memstream buffer of the open interval */
	size_t curlen;
	struct part {
		uint64_t ckpt;
		char *data;
		size_t len;
	} *parts;          /* closed intervals waiting for their commit */
	uint32_t nparts, capparts;
	uint64_t final_ckpt; /* set once the end of input was saved */
	int done;
	/* jsonl_append: one file, appended to */
	int append;
	int fd;
	int stream;    /* PATH is no regular file (a pipe, /dev/stdout) */
	uint64_t flen; /* bytes of PATH written by committed parts */
	/* kafka */
	ls_kafka_out *kout;
	uint64_t kseq;   /* without checkpoints: messages produced */
} sink;

static int
open_interval(sink *s)
{
	s->cur = NULL;
	s->curlen = 0;
	s->f = open_memstream(&s->cur, &s->curlen);
	return s->f != NULL ? 0 : LS_ENOMEM;
}

static int
part_add(sink *s, uint64_t ckpt, char *data, size_t len)
{
	for (uint32_t i = 0; i < s->nparts; i++) {
		if (s->parts[i].ckpt != ckpt)
			continue;
		char *n = realloc(s->parts[i].data, s->parts[i].len + len + 1);
		if (n == NULL)
			return LS_ENOMEM;
		memcpy(n + s->parts[i].len, data, len);
		s->parts[i].data = n;
		s->parts[i].len += len;
		free(data);
		return 0;
	}
	if (s->nparts == s->capparts) {
		uint32_t nc = s->capparts ? s->capparts * 2 : 8;
		struct part *n = realloc(s->parts, nc * sizeof(*n));
		if (n == NULL)
			return LS_ENOMEM;
		s->parts = n;
		s->capparts = nc;
	}
	s->parts[s->nparts++] = (struct part){ ckpt, data, len };
	return 0;
}

/* Close the open interval under id ckpt (nothing is kept when empty). */
static int
close_interval(sink *s, uint64_t ckpt)
{
	fclose(s->f);
	s->f = NULL;
	int rv = 0;
	if (s->curlen > 0)
		rv = part_add(s, ckpt, s->cur, s->curlen);
	else
		free(s->cur);
	if (rv != 0)
		free(s->cur);
	if (open_interval(s) != 0 && rv == 0)
		rv = LS_ENOMEM;
	return rv;
}

/* State (little endian): u8 version, u64 final_ckpt, then for version 2
 * (jsonl_append) u64 length of PATH, then u32 n, n x { u64 ckpt, u32 len,
 * bytes }.  Version 1 (part files) has no length. */

static int
sink_save(void *state, uint64_t ckpt, int final, uint8_t **buf, size_t *len)
{
	sink *s = state;
	(void)final; /* the sink knows its final checkpoint by itself */
	if (s->gate.ended >= s->cfg->n_upstream && ckpt == s->gate.eos_max)
		s->final_ckpt = ckpt; /* the final checkpoint */
	int rv = close_interval(s, ckpt);
	if (rv != 0)
		return rv;
	/* the recorded length must be on disk before the state is */
	if (s->append && !s->stream && fdatasync(s->fd) != 0) {
		ls_log(LS_LOG_ERROR, "sink", "cannot sync path=%s err=%s",
		    s->path, strerror(errno));
		return LS_EIO;
	}
	size_t hdr = s->append ? 21 : 13;
	size_t n = hdr;
	for (uint32_t i = 0; i < s->nparts; i++)
		n += 12 + s->parts[i].len;
	uint8_t *b = malloc(n), *p = b;
	if (b == NULL)
		return LS_ENOMEM;
	*p = s->append ? 2 : 1;
	ls_le_put(p + 1, s->final_ckpt, 8);
	if (s->append)
		ls_le_put(p + 9, s->flen, 8);
	ls_le_put(p + hdr - 4, s->nparts, 4);
	p += hdr;
	for (uint32_t i = 0; i < s->nparts; i++) {
		ls_le_put(p, s->parts[i].ckpt, 8);
		ls_le_put(p + 8, s->parts[i].len, 4);
		memcpy(p + 12, s->parts[i].data, s->parts[i].len);
		p += 12 + s->parts[i].len;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* jsonl_append: cut PATH back to len bytes (a fresh start: 0).  A file
 * shorter than a saved state says was changed behind our back. */
static int
truncate_to(sink *s, uint64_t len)
{
	struct stat st;
	if (s->stream)
		return 0; /* cannot take back what went out: at least once */
	if (fstat(s->fd, &st) != 0)
		return LS_EIO;
	if ((uint64_t)st.st_size < len) {
		ls_log(LS_LOG_ERROR, "sink",
		    "output shorter than its checkpoint says path=%s size=%lld "
		    "saved=%llu",
		    s->path, (long long)st.st_size, (unsigned long long)len);
		return LS_ECORRUPT;
	}
	if (ftruncate(s->fd, (off_t)len) != 0) {
		ls_log(LS_LOG_ERROR, "sink", "cannot truncate path=%s err=%s",
		    s->path, strerror(errno));
		return LS_EIO;
	}
	s->flen = len;
	return 0;
}

/* Only LS_ENOENT means a fresh start: any other failure to read the state
 * fails the restore instead of silently writing everything again.  Parts
 * are saved in strictly increasing checkpoint order; anything else is
 * corrupt. */
static int
sink_restore(void *state, const uint8_t *b, size_t len)
{
	sink *s = state;
	if (b == NULL) /* a fresh start */
		return s->append ? truncate_to(s, 0) : 0;
	int rv = LS_ECORRUPT;
	size_t hdr = s->append ? 21 : 13;
	if (len < hdr || b[0] != (s->append ? 2 : 1))
		goto out;
	s->final_ckpt = ls_le_get(b + 1, 8);
	uint32_t n = (uint32_t)ls_le_get(b + hdr - 4, 4);
	size_t off = hdr;
	for (uint32_t i = 0; i < n; i++) {
		if (len - off < 12)
			goto out;
		uint64_t ck = ls_le_get(b + off, 8);
		size_t l = (size_t)ls_le_get(b + off + 8, 4);
		off += 12;
		if (len - off < l)
			goto out;
		if (s->nparts > 0 && ck <= s->parts[s->nparts - 1].ckpt)
			goto out;
		char *d = malloc(l ? l : 1);
		if (d == NULL) {
			rv = LS_ENOMEM;
			goto out;
		}
		memcpy(d, b + off, l); /* before part_add, which takes d */
		if (part_add(s, ck, d, l) != 0) {
			free(d);
			rv = LS_ENOMEM;
			goto out;
		}
		off += l;
	}
	rv = off == len ? 0 : LS_ECORRUPT;
	if (rv == 0 && s->append)
		rv = truncate_to(s, ls_le_get(b + 9, 8));
out:
	return rv;
}

static void
parts_free(sink *s)
{
	for (uint32_t i = 0; i < s->nparts; i++)
		free(s->parts[i].data);
	free(s->parts);
	s->parts = NULL;
	s->nparts = s->capparts = 0;
}

/* kafka: produce the lines of data[0..len), keyed KEYBASE/N (N from
 * *seq on); with wait, until the brokers acknowledged them all.  0 or an
 * error (logged). */
static int
kafka_produce(sink *s, const char *keybase, const char *data, size_t len,
    uint64_t *seq, int wait)
{
	char err[300], key[300];
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(data + off, '\n', len - off);
		size_t end = nl != NULL ? (size_t)(nl - data) : len;
		int kl = snprintf(key, sizeof(key), "%s/%llu", keybase,
		    (unsigned long long)(*seq)++);
		if (ls_kafka_out_send(s->kout, key, (size_t)kl, data + off,
		        end - off, err, sizeof(err)) != 0)
			goto fail;
		off = end + 1;
	}
	if (!wait) {
		ls_kafka_out_poll(s->kout);
		return 0;
	}
	if (ls_kafka_out_flush(s->kout, KAFKA_FLUSH_MS, err, sizeof(err)) == 0)
		return 0;
fail:
	ls_log(LS_LOG_ERROR, "sink", "cannot produce sink=%s err=%s",
	    s->cfg->node->name, err);
	return LS_EIO;
}

/* kafka without checkpoints: produce what the last message formatted. */
static void
kafka_drain(sink *s, int wait)
{
	fflush(s->f);
	if (s->curlen > 0) {
		char base[200];
		snprintf(base, sizeof(base), "%s/%u/run", s->cfg->node->name,
		    s->cfg->partition);
		(void)kafka_produce(s, base, s->cur, s->curlen, &s->kseq, wait);
		fclose(s->f);
		free(s->cur);
		if (open_interval(s) != 0)
			s->f = NULL;
	} else if (wait) {
		char err[300];
		if (ls_kafka_out_flush(s->kout, KAFKA_FLUSH_MS, err,
		        sizeof(err)) != 0)
			ls_log(LS_LOG_ERROR, "sink",
			    "cannot produce sink=%s err=%s", s->cfg->node->name,
			    err);
	}
}

/* Write one committed part; 0 or an error (logged). */
static int
write_part(sink *s, const struct part *pt)
{
	if (s->kind == SINK_NULL)
		return 0;
	if (s->kind == SINK_KAFKA) {
		char base[200];
		uint64_t seq = 0;
		snprintf(base, sizeof(base), "%s/%u/%016llx",
		    s->cfg->node->name, s->cfg->partition,
		    (unsigned long long)pt->ckpt);
		return kafka_produce(s, base, pt->data, pt->len, &seq, 1);
	}
	if (s->kind == SINK_STDOUT) {
		fwrite(pt->data, 1, pt->len, s->out);
		fflush(s->out);
		return 0;
	}
	if (s->append) {
		size_t off = 0;
		while (off < pt->len) {
			ssize_t w = s->stream
			    ? write(s->fd, pt->data + off, pt->len - off)
			    : pwrite(s->fd, pt->data + off, pt->len - off,
			          (off_t)(s->flen + off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				ls_log(LS_LOG_ERROR, "sink",
				    "cannot write path=%s err=%s", s->path,
				    strerror(errno));
				/* no half part: it is written again later */
				if (!s->stream &&
				    ftruncate(s->fd, (off_t)s->flen) != 0)
					ls_log(LS_LOG_ERROR, "sink",
					    "cannot truncate path=%s err=%s",
					    s->path, strerror(errno));
				return LS_EIO;
			}
			off += (size_t)w;
		}
		s->flen += pt->len;
		return 0;
	}
	char dir[4096], tmp[4200], fin[4200];
	snprintf(dir, sizeof(dir), "%s.d", s->path);
	snprintf(fin, sizeof(fin), "%s/p%u-%016llx.jsonl", dir,
	    s->cfg->partition, (unsigned long long)pt->ckpt);
	snprintf(tmp, sizeof(tmp), "%s/.p%u-%016llx.%d.tmp", dir,
	    s->cfg->partition, (unsigned long long)pt->ckpt, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	size_t off = 0;
	while (off < pt->len) {
		ssize_t w = write(fd, pt->data + off, pt->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			unlink(tmp);
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, fin) != 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	ls_log(LS_LOG_ERROR, "sink", "cannot write part path=%s err=%s", fin,
	    strerror(errno));
	return LS_EIO;
}

static void
commit(sink *s, uint64_t upto)
{
	uint32_t keep = 0;
	int failed = 0;
	for (uint32_t i = 0; i < s->nparts; i++) {
		/* appending: no part may overtake one that failed */
		if (!failed && s->parts[i].ckpt <= upto &&
		    write_part(s, &s->parts[i]) == 0) {
			free(s->parts[i].data);
			continue;
		}
		failed = failed || (s->append && s->parts[i].ckpt <= upto);
		s->parts[keep++] = s->parts[i];
	}
	s->nparts = keep;
	if (s->final_ckpt != 0 && upto >= s->final_ckpt && !s->done) {
		s->done = 1;
		ls__pipeline_sink_done(s->cfg->pl, s->cfg->actor_index);
	}
}

static int
sink_init(ls_ctx *ctx, void *state, const void *arg)
{
	sink *s = state;
	const ls_stage_cfg *cfg = arg;
	const ls_topo_node *n = cfg->node;
	(void)ctx;

	s->cfg = cfg;
	s->fd = -1;
	s->cap = 4096;
	if ((s->buf = malloc(s->cap)) == NULL)
		return LS_ENOMEM;
	s->kind = cfg->kind->variant;
	if (s->kind == SINK_NULL) {
		/* counts only */
	} else if (s->kind == SINK_KAFKA) {
		char err[512];
		ls_kafka_cfg kc;
		memset(&kc, 0, sizeof(kc));
		kc.brokers = ls_topo_str(n, "brokers");
		kc.topic = ls_topo_str(n, "topic");
		kc.options = ls_topo_list(n, "options", &kc.noptions);
		int rv = ls_kafka_out_new(&kc, &s->kout, err, sizeof(err));
		if (rv == 0 && !ls_stage_ckpt_on(cfg) && open_interval(s) != 0)
			rv = LS_ENOMEM;
		if (rv != 0) {
			ls_log(LS_LOG_ERROR, "sink",
			    "cannot create kafka producer sink=%s err=%s",
			    n->name, err);
			ls_kafka_out_free(s->kout);
			s->kout = NULL;
			free(s->buf);
			s->buf = NULL;
			return rv;
		}
	} else if (s->kind == SINK_JSONL && ls_stage_ckpt_on(cfg) &&
	    cfg->jsonl_append) {
		s->kind = SINK_JSONL;
		s->append = 1;
		s->path = ls_topo_str(n, "path");
		/* truncated by the restore: to 0 or the saved length */
		s->fd = open(s->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		struct stat st;
		if (s->fd < 0 || fstat(s->fd, &st) != 0) {
			ls_log(LS_LOG_ERROR, "sink", "cannot open path=%s err=%s",
			    s->path, strerror(errno));
			if (s->fd >= 0)
				close(s->fd);
			s->fd = -1;
			free(s->buf);
			s->buf = NULL;
			return LS_EIO;
		}
		s->stream = !S_ISREG(st.st_mode);
		if (s->stream)
			ls_log(LS_LOG_WARN, "sink",
			    "not a regular file: its output is at least once "
			    "across a restore path=%s",
			    s->path);
	} else if (s->kind == SINK_JSONL && ls_stage_ckpt_on(cfg)) {
		s->path = ls_topo_str(n, "path");
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s.d", s->path);
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			ls_log(LS_LOG_ERROR, "sink", "cannot create dir=%s err=%s",
			    dir, strerror(errno));
			free(s->buf);
			s->buf = NULL;
			return LS_EIO;
		}
	} else if (s->kind == SINK_JSONL) {
		const char *path = ls_topo_str(n, "path");
		s->f = fopen(path, "w");
		if (s->f == NULL) {
			ls_log(LS_LOG_ERROR, "sink", "cannot open path=%s err=%s",
			    path, strerror(errno));
			free(s->buf);
			s->buf = NULL;
			return LS_EIO;
		}
		s->own_f = 1;
	} else {
		const char *fmt = ls_topo_str(n, "format");
		s->table = fmt == NULL || strcmp(fmt, "table") == 0;
		s->f = cfg->out;
	}
	if (!ls_stage_ckpt_on(cfg))
		return 0;
	s->txn = 1;
	s->out = s->kind == SINK_STDOUT ? cfg->out : NULL;
	s->own_f = 0;
	int rv = open_interval(s);
	if (rv == 0)
		rv = ls_stage_restore(cfg, s);
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "sink", "cannot restore sink=%s err=%s",
		    n->name, ls_errname(rv));
		if (s->f != NULL)
			fclose(s->f);
		s->f = NULL;
		free(s->cur);
		parts_free(s);
		free(s->buf);
		s->buf = NULL;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
	}
	return rv;
}

static void
sink_stop(ls_ctx *ctx, void *state)
{
	sink *s = state;
	(void)ctx;
	if (s->txn) {
		if (s->f != NULL)
			fclose(s->f);
		free(s->cur);
		parts_free(s);
		ls_gate_fini(&s->gate);
		s->f = NULL;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
	}
	if (s->kind == SINK_KAFKA && !s->txn && s->f != NULL) {
		kafka_drain(s, 1);
		if (s->f != NULL)
			fclose(s->f);
		free(s->cur);
		s->f = NULL;
	}
	ls_kafka_out_free(s->kout);
	s->kout = NULL;
	if (s->f != NULL)
		fflush(s->f);
	if (s->own_f && s->f != NULL)
		fclose(s->f);
	s->f = NULL;
	free(s->buf);
	s->buf = NULL;
}

/* Make room for need + 1 bytes in s->buf. */
static int
reserve(sink *s, size_t need)
{
	if (need + 1 <= s->cap)
		return 0;
	size_t nc = (need + 1) * 2;
	char *nb = realloc(s->buf, nc);
	if (nb == NULL)
		return LS_ENOMEM;
	s->buf = nb;
	s->cap = nc;
	return 0;
}

/* ---- events as JSON ---- */

typedef struct jb {
	sink *s;
	size_t len;
	int oom;
} jb;

static void
jb_raw(jb *j, const char *p, size_t n)
{
	if (j->oom || reserve(j->s, j->len + n) != 0) {
		j->oom = 1;
		return;
	}
	memcpy(j->s->buf + j->len, p, n);
	j->len += n;
}

static void
jb_str(jb *j, const char *p, size_t n)
{
	jb_raw(j, "\"", 1);
	size_t need = ls_json_escape(p, n, NULL, 0);
	if (j->oom || reserve(j->s, j->len + need) != 0) {
		j->oom = 1;
		return;
	}
	ls_json_escape(p, n, j->s->buf + j->len, need + 1);
	j->len += need;
	jb_raw(j, "\"", 1);
}

static void
jb_field(jb *j, const char *key, ls_str v)
{
	jb_raw(j, ",", 1);
	jb_str(j, key, strlen(key));
	jb_raw(j, ":", 1);
	jb_str(j, v.ptr, v.len);
}

static size_t
event_json(sink *s, const char *stage, const ls_event *ev)
{
	jb j = { s, 0, 0 };
	char t[LS_SINKFMT_TIME_LEN];

	jb_raw(&j, "{\"source\":", 10);
	jb_str(&j, stage, strlen(stage));
	if (ev->time_ns != LS_TIME_UNKNOWN) {
		ls_sinkfmt_time(ev->time_ns, t);
		jb_field(&j, "ts", ls_str_c(t));
	}
	jb_field(&j, "level", ls_str_c(ls_level_name(ev->level)));
	if (ev->service.len)
		jb_field(&j, "service", ev->service);
	if (ev->host.len)
		jb_field(&j, "host", ev->host);
	jb_field(&j, "message", ev->message);
	for (unsigned i = 0; i < ev->nattrs; i++) {
		jb_raw(&j, ",", 1);
		jb_str(&j, ev->attrs[i].key.ptr, ev->attrs[i].key.len);
		jb_raw(&j, ":", 1);
		jb_str(&j, ev->attrs[i].val.ptr, ev->attrs[i].val.len);
	}
	char off[40];
	int n = snprintf(off, sizeof(off), ",\"offset\":%llu}\n",
	    (unsigned long long)ev->offset);
	jb_raw(&j, off, (size_t)n);
	return j.oom ? 0 : j.len;
}

static void
write_events(sink *s, ls_batch *b)
{
	const char *stage = b->source != NULL ? b->source : "";
	for (uint32_t i = 0; i < b->n; i++) {
		const ls_event *ev = b->items[i];
		if (s->kind == SINK_STDOUT && s->table) {
			char t[LS_SINKFMT_TIME_LEN] = "-";
			if (ev->time_ns != LS_TIME_UNKNOWN)
				ls_sinkfmt_time(ev->time_ns, t);
			fprintf(s->f, "%s %-5s %.*s: %.*s\n", t,
			    ls_level_name(ev->level), (int)ev->service.len,
			    ev->service.ptr != NULL ? ev->service.ptr : "",
			    (int)ev->message.len,
			    ev->message.ptr != NULL ? ev->message.ptr : "");
			continue;
		}
		size_t n = event_json(s, stage, ev);
		if (n > 0)
			fwrite(s->buf, 1, n, s->f);
	}
	ls_metric_add(s->cfg->ctr.results, b->n);
}

/* ---- results (typed records of any kind) ---- */

static void
write_results(sink *s, const ls_records *r)
{
	const ls_rec_schema *sc = r->schema;
	int table = s->kind == SINK_STDOUT && s->table;
	if (table)
		ls_sinkfmt_table_init(&s->tab, sc); /* this message's schema */
	for (uint32_t i = 0; i < r->n; i++) {
		const ls_rec_value *row = &r->v[(size_t)i * sc->n];
		size_t n;
		if (table) {
			if (s->last_stage != r->stage ||
			    s->rows_since_header >= 40) {
				n = ls_sinkfmt_table_header(&s->tab, s->buf,
				    s->cap);
				if (n >= s->cap && reserve(s, n) == 0)
					n = ls_sinkfmt_table_header(&s->tab,
					    s->buf, s->cap);
				if (n < s->cap)
					fprintf(s->f, "\n[%s]\n%s\n", r->stage,
					    s->buf);
				s->last_stage = r->stage;
				s->rows_since_header = 0;
			}
			n = ls_sinkfmt_table_row(&s->tab, row, s->buf, s->cap);
			if (n >= s->cap && reserve(s, n) == 0)
				n = ls_sinkfmt_table_row(&s->tab, row, s->buf,
				    s->cap);
			if (n < s->cap) {
				fwrite(s->buf, 1, n, s->f);
				fputc('\n', s->f);
			}
			s->rows_since_header++;
			continue;
		}
		n = ls_sinkfmt_record_json(r->stage, sc, row, s->buf, s->cap);
		if (n >= s->cap && reserve(s, n) == 0)
			n = ls_sinkfmt_record_json(r->stage, sc, row, s->buf,
			    s->cap);
		if (n < s->cap) {
			fwrite(s->buf, 1, n, s->f);
			fputc('\n', s->f);
		}
	}
	ls_metric_add(s->cfg->ctr.results, r->n);
}

static int
sink_handle(ls_ctx *ctx, void *state, ls_msg *m)
{
	sink *s = state;
	(void)ctx;

	switch (m->type) {
	case LS_MSG_RESULTS:
		ls_metric_add(s->cfg->ctr.in, ((ls_records *)m->ptr)->n);
		if (s->kind != SINK_NULL)
			write_results(s, m->ptr);
		break;
	case LS_MSG_BATCH:
		ls_metric_add(s->cfg->ctr.in, ((ls_batch *)m->ptr)->n);
		if (s->kind != SINK_NULL)
			write_events(s, m->ptr);
		break;
	case LS_MSG_DEAD:
		ls_metric_add(s->cfg->ctr.in, 1);
		ls_metric_add(s->cfg->ctr.results, 1);
		if (s->kind == SINK_STDOUT && s->table)
			fprintf(s->f, "dead-letter: %s\n", (char *)m->ptr);
		else if (s->kind != SINK_NULL)
			fprintf(s->f, "%s\n", (char *)m->ptr);
		break;
	case LS_MSG_EOS:
		if (++s->eos == s->cfg->n_upstream && !s->txn) {
			if (s->kind == SINK_KAFKA && s->f != NULL)
				kafka_drain(s, 1);
			if (s->f != NULL)
				fflush(s->f);
			ls__pipeline_sink_done(s->cfg->pl, s->cfg->actor_index);
		}
		return 0;
	case LS_MSG_COMMIT:
		if (s->txn)
			commit(s, ls_stage_msg_u64(m));
		return 0;
	default:
		return 0;
	}
	if (s->kind == SINK_KAFKA && s->f != NULL && !s->txn)
		kafka_drain(s, 0);
	else if (s->f != NULL && !s->txn)
		fflush(s->f);
	return 0;
}

static int
sink_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	sink *s = state;
	if (!s->txn)
		return sink_handle(ctx, state, m);
	return ls_stage_receive(ctx, &s->gate, s->cfg, NULL, m, sink_handle, s);
}

static const ls_behaviour sink_behaviour = {
	.name = "sink",
	.state_size = sizeof(sink),
	.init = sink_init,
	.receive = sink_receive,
	.stop = sink_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_stdout = {
	.name = "stdout",
	.role = LS_TOPO_SINK,
	.params = LS_KIND_PARAMS({ "format", LS_TV_STRING, 0, "table",
	    LS_KIND_WORDS("table", "jsonl"), LS_KIND_ANY_INT, NULL,
	    "output format" }),
	.help = "print results",
	.behaviour = &sink_behaviour,
	.save = sink_save,
	.restore = sink_restore,
	.variant = SINK_STDOUT,
};

const ls_kind ls_kind_jsonl = {
	.name = "jsonl",
	.role = LS_TOPO_SINK,
	.params = LS_KIND_PARAMS({ "path", LS_TV_STRING, 1, NULL, NULL,
	    LS_KIND_ANY_INT, NULL, "file to append JSON lines to" }),
	.help = "append results as JSON lines to a file",
	.behaviour = &sink_behaviour,
	.save = sink_save,
	.restore = sink_restore,
	.variant = SINK_JSONL,
};

const ls_kind ls_kind_null = {
	.name = "null",
	.role = LS_TOPO_SINK,
	.params = LS_KIND_NO_PARAMS,
	.help = "discard results",
	.behaviour = &sink_behaviour,
	.save = sink_save,
	.restore = sink_restore,
	.variant = SINK_NULL,
};

const ls_kind ls_kind_kafka_sink = {
	.name = "kafka",
	.role = LS_TOPO_SINK,
	.params = LS_KIND_PARAMS(
	    { "brokers", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT, NULL,
	        "bootstrap servers, host:port[,host:port...]" },
	    { "topic", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT, NULL,
	        "the topic to write" },
	    { "options", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_kafka_check_option,
	        "librdkafka settings, name=value (compression.type=lz4, ...)" }),
	.help = "results as JSON messages to a Kafka topic, keyed by stable ids",
	.behaviour = &sink_behaviour,
	.save = sink_save,
	.restore = sink_restore,
	.variant = SINK_KAFKA,
};
