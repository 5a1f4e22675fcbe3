/*
 * source_actor.c -- the `generator`, `file`, `stdin`, `kafka` and `syslog`
 * sources.
 *
 * A source produces batches of raw lines (ls_event with message = the line,
 * offset and ingest time set; parsing is the next stage's job) whenever it
 * receives LS_MSG_PUMP, then reminds itself with another PUMP (or a timer
 * when rate-limited or waiting for a file to grow).  Its output queue
 * pauses it when consumers are full, so PUMPs wait too: that is how
 * backpressure reaches the input.
 *
 * Offsets: generator = event index; file/stdin = byte offset of the line
 * start, so a checkpoint can resume exactly there; kafka = the message's
 * offset in its partition (the checkpoint keeps every partition's next
 * offset, actors/kafka.h, and commits it to the consumer group once the
 * checkpoint has completed everywhere).
 *
 * Checkpoints: with a checkpoint period set, the source saves its position
 * and puts barrier ckpt_base + 1, + 2, ... into its output every period
 * (checked whenever it produces; the first one first_checkpoint_ms after
 * start, so that a new or restored run soon has a completed checkpoint);
 * at the end of input it saves a final position and sends EOS carrying the
 * next id.  A source restored from a checkpoint seeks to the saved
 * position (stdin cannot: it refuses).
 *
 * http: the events of POST /v1/logs requests, read from the source's
 * ingest log (actors/ingest.h, docs/http-ingest.md); the checkpoint keeps
 * the sequence number of the next record, and a completed checkpoint lets
 * the log drop the records before it.
 *
 * The kinds share one behaviour; their tables (ls_kind_generator,
 * ls_kind_file, ls_kind_stdin, ls_kind_kafka_source, ls_kind_syslog,
 * ls_kind_http, at the end) tell them apart by variant.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/generator.h"
#include "actors/ingest.h"
#include "actors/kafka.h"
#include "actors/netin.h"
#include "actors/stage.h"
#include "actors/timefmt.h"
#include "runtime/le.h"
#include "runtime/log.h"

#define READ_CHUNK (64 * 1024)
#define LINE_MAX_BYTES (1024 * 1024)

enum { SRC_GENERATOR, SRC_FILE, SRC_STDIN, SRC_KAFKA, SRC_SYSLOG, SRC_HTTP };

/* kafka: saved positions waiting for their checkpoint's commit */
#define KAFKA_COMMITS 32

typedef struct src {
	const ls_stage_cfg *cfg;
	ls_outq q;
	int kind;
	int done;
	/* generator */
	ls_generator *gen;
	uint64_t produced;
	uint64_t limit;
	double rate;
	int64_t t0_ns;
	char line[LS_GENERATOR_LINE_MAX];
	/* file / stdin */
	int fd;
	int follow;
	const char *path;
	char *buf;       /* unconsumed bytes (a partial line) */
	size_t len, cap;
	uint64_t offset; /* byte offset of buf[0] in the input */
	int skipping;    /* inside an over-long line being discarded */
	uint64_t dev, ino; /* the file fd reads (follow: rotation) */
	int draining;    /* fd is a rotated-away file: then path anew */
	int pump_wanted; /* a PUMP to ourselves was refused */
	/* kafka */
	ls_kafka_in *kin;
	int bounded;           /* follow: false -- stop at the ends seen at
	                          start */
	int64_t warned_ns;     /* last "cannot reach" warning */
	struct kcommit {
		uint64_t ckpt;
		uint8_t *b;
		size_t len;
	} commits[KAFKA_COMMITS];
	unsigned ncommits;
	ls_batch *kb;          /* batch being filled by kafka_msg/syslog_msg */
	ls_ctx *kctx;          /* http_ev: the activation it runs in */
	int64_t kb_ns;         /* ... and its ingest time (one clock read) */
	double max_rate;       /* events/s at most, 0 = unlimited */
	int64_t k0_ns;         /* first read of this incarnation */
	uint64_t kread;        /* events read since */
	/* syslog */
	ls_netin *net;
	ls_netin_stats net_seen; /* as last reported */
	/* http */
	ls_ingest *ing;
	void *srv;             /* the listener (ls_ingest_server handle) */
	struct hpos {
		uint64_t ckpt, seq;
	} hpos[KAFKA_COMMITS]; /* positions saved, waiting for their commit */
	unsigned nhpos;
	/* checkpoints */
	uint64_t next_ckpt;
	int64_t last_barrier_ns;
	int ended_before;  /* restored from a final checkpoint */
} src;

/* Saved state: u8 version 1, u8 ended, u64 position (LE); file: u8
 * version 3, u8 ended, u64 position, u64 device, u64 inode; kafka: u8
 * version 2, u8 ended, the positions of actors/kafka.c; http: u8 version
 * 4, u8 ended, u64 next record of the ingest log, u64 events read (the
 * next event's offset). */
#define SRC_STATE_LEN 10
#define SRC_FILE_STATE_LEN 26
#define SRC_HTTP_STATE_LEN 18

static uint64_t
src_position(const src *s)
{
	return s->kind == SRC_GENERATOR || s->kind == SRC_SYSLOG ? s->produced
	                                                         : s->offset;
}

/* The kind's save hook. */
static int
src_state(void *state, uint64_t ckpt, int final, uint8_t **buf, size_t *len)
{
	const src *s = state;
	(void)ckpt;
	if (s->kind == SRC_KAFKA) {
		uint8_t *kb;
		size_t kl;
		if (ls_kafka_in_save(s->kin, &kb, &kl) != 0)
			return LS_ENOMEM;
		uint8_t *b = malloc(kl + 2);
		if (b != NULL) {
			b[0] = 2;
			b[1] = (uint8_t)final;
			memcpy(b + 2, kb, kl);
		}
		free(kb);
		if (b == NULL)
			return LS_ENOMEM;
		*buf = b;
		*len = kl + 2;
		return 0;
	}
	size_t n = s->kind == SRC_FILE   ? SRC_FILE_STATE_LEN
	    : s->kind == SRC_HTTP         ? SRC_HTTP_STATE_LEN
	                                  : SRC_STATE_LEN;
	uint8_t *b = malloc(n);
	if (b == NULL)
		return LS_ENOMEM;
	uint64_t pos = src_position(s);
	b[0] = s->kind == SRC_FILE ? 3 : s->kind == SRC_HTTP ? 4 : 1;
	b[1] = (uint8_t)final;
	ls_le_put(b + 2, pos, 8);
	if (s->kind == SRC_HTTP) {
		ls_le_put(b + 2, ls_ingest_position(s->ing), 8);
		ls_le_put(b + 10, s->produced, 8);
	}
	if (s->kind == SRC_FILE) {
		ls_le_put(b + 10, s->dev, 8);
		ls_le_put(b + 18, s->ino, 8);
	}
	*buf = b;
	*len = n;
	return 0;
}

/* kafka: keep the positions of checkpoint ckpt for its commit (the
 * oldest goes when full: a later commit covers it). */
static void
kafka_keep(src *s, uint64_t ckpt, const uint8_t *b, size_t len)
{
	uint8_t *copy = malloc(len);
	if (copy == NULL)
		return;
	memcpy(copy, b, len);
	if (s->ncommits == KAFKA_COMMITS) {
		free(s->commits[0].b);
		memmove(s->commits, s->commits + 1,
		    (KAFKA_COMMITS - 1) * sizeof(s->commits[0]));
		s->ncommits--;
	}
	s->commits[s->ncommits++] = (struct kcommit){ ckpt, copy, len };
}

/* kafka: checkpoint upto completed everywhere -- commit the newest
 * positions it covers to the group. */
static void
kafka_commit(src *s, uint64_t upto)
{
	unsigned k = 0;
	while (k < s->ncommits && s->commits[k].ckpt <= upto)
		k++;
	if (k == 0)
		return;
	const struct kcommit *c = &s->commits[k - 1];
	if (ls_kafka_in_commit(s->kin, c->b + 2, c->len - 2) != 0)
		ls_log(LS_LOG_WARN, "source",
		    "cannot commit offsets source=%s ckpt=%llu",
		    s->cfg->node->name, (unsigned long long)c->ckpt);
	for (unsigned i = 0; i < k; i++)
		free(s->commits[i].b);
	memmove(s->commits, s->commits + k,
	    (s->ncommits - k) * sizeof(s->commits[0]));
	s->ncommits -= k;
}

static void
src_save(src *s, uint64_t ckpt, int final)
{
	uint8_t *b;
	size_t len;
	if (src_state((void *)s, ckpt, final, &b, &len) != 0)
		return;
	if (s->kind == SRC_KAFKA)
		kafka_keep(s, ckpt, b, len);
	if (s->kind == SRC_HTTP) {
		/* the oldest goes when full: a later commit covers it */
		if (s->nhpos == KAFKA_COMMITS) {
			memmove(s->hpos, s->hpos + 1,
			    (KAFKA_COMMITS - 1) * sizeof(s->hpos[0]));
			s->nhpos--;
		}
		s->hpos[s->nhpos++] =
		    (struct hpos){ ckpt, ls_ingest_position(s->ing) };
	}
	ls_stage_ckpt_save(s->cfg, ckpt, final, b, len);
}

/* Note the device and inode of the file s->fd reads. */
static void
file_identity(src *s)
{
	struct stat st;
	if (fstat(s->fd, &st) == 0) {
		s->dev = (uint64_t)st.st_dev;
		s->ino = (uint64_t)st.st_ino;
	}
}

/* An open descriptor of the file with that device and inode in the
 * directory of path (a rotated copy keeps its inode), or -1. */
static int
find_rotated(const char *path, uint64_t dev, uint64_t ino)
{
	char dirbuf[4096];
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	const char *dir = dirname(dirbuf);
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int fd = -1;
	struct dirent *e;
	while (fd < 0 && (e = readdir(d)) != NULL) {
		if ((uint64_t)e->d_ino != ino)
			continue;
		char p[8192];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		int f = open(p, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (f >= 0 && fstat(f, &st) == 0 && (uint64_t)st.st_dev == dev &&
		    (uint64_t)st.st_ino == ino && S_ISREG(st.st_mode))
			fd = f;
		else if (f >= 0)
			close(f);
	}
	closedir(d);
	return fd;
}

/* Restore a file source at byte pos of the file dev/ino: path itself, or
 * (rotated while down) its old copy in the same directory, read to its end
 * before path is read from its start. */
static int
file_restore(src *s, uint64_t pos, uint64_t dev, uint64_t ino, int ended)
{
	s->ended_before = ended;
	if (ended)
		return 0;
	if (dev != s->dev || ino != s->ino) {
		int old = find_rotated(s->path, dev, ino);
		if (old < 0) {
			/* gone (deleted, or moved elsewhere): what it held after
			 * pos cannot be read; say so and read path from its start */
			ls_log(LS_LOG_WARN, "source",
			    "the file of the checkpoint is gone, reading the "
			    "current one from its start source=%s path=%s "
			    "offset=%llu",
			    s->cfg->node->name, s->path, (unsigned long long)pos);
			return 0;
		}
		ls_log(LS_LOG_INFO, "source",
		    "rotated while down: reading the old file on first "
		    "source=%s path=%s offset=%llu",
		    s->cfg->node->name, s->path, (unsigned long long)pos);
		close(s->fd);
		s->fd = old;
		s->dev = dev;
		s->ino = ino;
		s->draining = 1;
	}
	if (lseek(s->fd, (off_t)pos, SEEK_SET) < 0)
		return LS_ENOTSUP;
	s->offset = pos;
	return 0;
}

/* Follow: at the end of the file, has the path been rotated (another file
 * there) or the file truncated?  Switches to the new file or rewinds. */
static void
check_rotation(src *s)
{
	struct stat st, cur;
	if (fstat(s->fd, &cur) == 0 &&
	    (uint64_t)cur.st_size < s->offset + s->len) {
		/* cut shorter than what was read: start over */
		lseek(s->fd, 0, SEEK_SET);
		s->offset = 0;
		s->len = 0;
		s->skipping = 0;
		return;
	}
	if (stat(s->path, &st) != 0)
		return; /* renamed, the new one not there yet: keep the old */
	if (!s->draining && (uint64_t)st.st_dev == s->dev &&
	    (uint64_t)st.st_ino == s->ino)
		return;
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ls_log(LS_LOG_INFO, "source", "file rotated source=%s path=%s",
	    s->cfg->node->name, s->path);
	close(s->fd);
	s->fd = fd;
	s->draining = 0;
	s->offset = 0;
	s->len = 0;
	s->skipping = 0;
	file_identity(s);
}

/* The kind's restore hook.  ls_stage_restore takes only a missing state
 * for a fresh start: any other failure to read it fails the restore
 * instead of silently producing everything again. */
static int
src_restore(void *state, const uint8_t *b, size_t len)
{
	src *s = state;
	if (b == NULL)
		return 0; /* a fresh start */
	if (s->kind == SRC_KAFKA) {
		if (len < 2 || b[0] != 2)
			return LS_ECORRUPT;
		s->ended_before = b[1] != 0;
		return ls_kafka_in_restore(s->kin, b + 2, len - 2);
	}
	if (s->kind == SRC_HTTP) {
		if (len != SRC_HTTP_STATE_LEN || b[0] != 4)
			return LS_ECORRUPT;
		/* live input: it goes on listening after a final state too */
		ls_ingest_seek(s->ing, ls_le_get(b + 2, 8));
		s->produced = ls_le_get(b + 10, 8);
		return 0;
	}
	if (s->kind == SRC_FILE && len == SRC_FILE_STATE_LEN && b[0] == 3)
		return file_restore(s, ls_le_get(b + 2, 8), ls_le_get(b + 10, 8),
		    ls_le_get(b + 18, 8), b[1] != 0);
	if (len != SRC_STATE_LEN || b[0] != 1)
		return LS_ECORRUPT;
	uint64_t pos = ls_le_get(b + 2, 8);
	s->ended_before = b[1] != 0;
	if (s->kind == SRC_GENERATOR) {
		ls_generator_seek(s->gen, pos);
		s->produced = pos;
		return 0;
	}
	if (s->kind == SRC_SYSLOG) {
		/* live input: it goes on from now; what senders sent while
		 * it was down is theirs to send again */
		s->produced = pos;
		s->ended_before = 0;
		return 0;
	}
	if (s->kind == SRC_STDIN) /* cannot replay: fine only if it had ended */
		return s->ended_before ? 0 : LS_ENOTSUP;
	if (lseek(s->fd, (off_t)pos, SEEK_SET) < 0)
		return LS_ENOTSUP;
	s->offset = pos;
	return 0;
}

/* The last step of init: on a failed restore, free what init set up (stop
 * does not run for an actor whose init failed). */
static int
restored(src *s, int rv)
{
	if (rv == 0)
		return 0;
	ls_log(LS_LOG_ERROR, "source", "cannot restore source=%s err=%s",
	    s->cfg->node->name, ls_errname(rv));
	ls_generator_free(s->gen);
	s->gen = NULL;
	ls_kafka_in_free(s->kin);
	s->kin = NULL;
	ls_netin_close(s->net);
	s->net = NULL;
	ls_ingest_free(s->ing);
	s->ing = NULL;
	if (s->kind == SRC_FILE && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
	return rv;
}

static void
maybe_barrier(ls_ctx *ctx, src *s)
{
	if (s->cfg->checkpoint_ms <= 0)
		return;
	int64_t now = ls_wall_ns();
	/* restarted by a regional restore: the barriers the other sources
	 * sent since the restart point go out at once (nothing between
	 * them), so this source's checkpoints do not trail theirs */
	while (s->next_ckpt <= s->cfg->catch_up) {
		src_save(s, s->next_ckpt, 0);
		ls_stage_emit_barrier(ctx, s->cfg, &s->q, s->next_ckpt);
		ls__pipeline_barrier(s->cfg->pl, s->next_ckpt);
		s->next_ckpt++;
		s->last_barrier_ns = now;
	}
	if (s->last_barrier_ns == 0)
		s->last_barrier_ns = now; /* started */
	int64_t period = s->next_ckpt == s->cfg->ckpt_base + 1
	    ? s->cfg->first_checkpoint_ms
	    : s->cfg->checkpoint_ms;
	if (now - s->last_barrier_ns < period * 1000000)
		return;
	s->last_barrier_ns = now;
	src_save(s, s->next_ckpt, 0);
	ls_stage_emit_barrier(ctx, s->cfg, &s->q, s->next_ckpt);
	ls__pipeline_barrier(s->cfg->pl, s->next_ckpt);
	s->next_ckpt++;
}

static int
kafka_init(src *s, const ls_topo_node *n)
{
	char err[512], group[300];
	ls_kafka_cfg kc;
	memset(&kc, 0, sizeof(kc));
	kc.brokers = ls_topo_str(n, "brokers");
	kc.topic = ls_topo_str(n, "topic");
	kc.group = ls_topo_str(n, "group");
	if (kc.group == NULL || kc.group[0] == '\0') {
		/* one group per topology source by default */
		const char *tn = ls_topology_name(s->cfg->topo);
		snprintf(group, sizeof(group), "logstream.%s.%s",
		    tn != NULL ? tn : "run", n->name);
		kc.group = group;
	}
	const char *start = ls_topo_str(n, "start");
	kc.latest = start != NULL && strcmp(start, "latest") == 0;
	kc.options = ls_topo_list(n, "options", &kc.noptions);
	s->bounded = !ls_topo_bool(n, "follow");
	s->max_rate = (double)ls_topo_int(n, "max_rate");
	int rv = ls_kafka_in_new(&kc, &s->kin, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "source",
		    "cannot create kafka consumer source=%s err=%s", n->name,
		    err);
		return rv;
	}
	return restored(s, ls_stage_restore(s->cfg, s));
}

static int
syslog_init(src *s, const ls_topo_node *n)
{
	char err[512];
	ls_netin_cfg nc = {
		.listen = ls_topo_str(n, "listen"),
		.max_message = (size_t)ls_topo_int(n, "max_message"),
		.max_conns = (size_t)ls_topo_int(n, "max_connections"),
		.queue_cap = (size_t)ls_topo_int(n, "queue"),
	};
	int rv = ls_netin_open(&nc, &s->net, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "source", "cannot listen source=%s err=%s",
		    n->name, err);
		return rv;
	}
	ls_log(LS_LOG_INFO, "source", "listening source=%s listen=%s port=%d",
	    n->name, nc.listen, ls_netin_port(s->net));
	return restored(s, ls_stage_restore(s->cfg, s));
}

static int
http_init(src *s, const ls_topo_node *n)
{
	char err[512], part[256];
	const ls_ingest_server *srv = ls_ingest_get_server();
	if (srv == NULL) {
		ls_log(LS_LOG_ERROR, "source",
		    "cannot listen source=%s err=\"this program serves no "
		    "HTTP\"",
		    n->name);
		return LS_ENOTSUP;
	}
	snprintf(part, sizeof(part), "%s/%u", n->name, s->cfg->partition);
	ls_ingest_cfg ic = {
		.store = s->cfg->store,
		.topology = s->cfg->ckpt_ns,
		.partition = part,
		.queue = (size_t)ls_topo_int(n, "queue"),
		.sync = ls_topo_bool(n, "sync"),
		.epoch = s->cfg->view,
		.repl = s->cfg->ingest_repl,
	};
	int rv = ls_ingest_open(&ic, &s->ing);
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "source",
		    "cannot open the ingest log source=%s err=%s", n->name,
		    ls_errname(rv));
		return rv;
	}
	if ((rv = restored(s, ls_stage_restore(s->cfg, s))) != 0)
		return rv;
	const char *listen = ls_topo_str(n, "listen");
	int port = 0;
	rv = srv->start(listen, (size_t)ls_topo_int(n, "max_body"), s->ing,
	    &s->srv, &port, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "source", "cannot listen source=%s err=%s",
		    n->name, err);
		return restored(s, rv);
	}
	ls_log(LS_LOG_INFO, "source",
	    "listening source=%s listen=%s port=%d durable=%s", n->name,
	    listen, port,
	    s->cfg->store == NULL ? "no" : ic.sync ? "fsync" : "write");
	return 0;
}

static int
src_init(ls_ctx *ctx, void *state, const void *arg)
{
	src *s = state;
	const ls_stage_cfg *cfg = arg;
	const ls_topo_node *n = cfg->node;
	(void)ctx;

	s->cfg = cfg;
	s->fd = -1;
	s->kind = cfg->kind->variant;
	if (s->kind == SRC_GENERATOR) {
		ls_generator_cfg gc;
		memset(&gc, 0, sizeof(gc));
		s->rate = (double)ls_topo_int(n, "rate");
		s->limit = (uint64_t)ls_topo_int(n, "count");
		gc.seed = (uint64_t)ls_topo_int(n, "seed");
		gc.events_per_sec = s->rate > 0 ? s->rate : 10000;
		/* Event times start now (so year-less syslog lines, which a
		 * parser dates in the current year, agree with the rest), or
		 * at a fixed instant for replayable runs. */
		const char *start = ls_topo_str(n, "start");
		if (start == NULL || strcmp(start, "now") == 0)
			gc.start_time_ns = ls_wall_ns() / 1000000000 * 1000000000;
		else {
			size_t used = 0;
			if (ls_timefmt_iso8601(start, strlen(start),
			        &gc.start_time_ns, &used) != 0 ||
			    used != strlen(start))
				return LS_EINVAL;
		}
		const char *fmt = ls_topo_str(n, "format");
		if (fmt != NULL && ls_generator_format_parse(fmt, &gc.format) != 0)
			return LS_EINVAL;
		size_t ns = 0;
		const char **services = ls_topo_list(n, "services", &ns);
		if (ns > 0) {
			gc.services = services;
			gc.nservices = ns;
		}
		s->next_ckpt = cfg->ckpt_base + 1;
		s->gen = ls_generator_new(&gc);
		if (s->gen == NULL)
			return LS_ENOMEM;
		return restored(s, ls_stage_restore(cfg, s));
	}
	s->next_ckpt = cfg->ckpt_base + 1;
	if (s->kind == SRC_KAFKA)
		return kafka_init(s, n);
	if (s->kind == SRC_SYSLOG)
		return syslog_init(s, n);
	if (s->kind == SRC_HTTP)
		return http_init(s, n);
	s->cap = READ_CHUNK * 2;
	if ((s->buf = malloc(s->cap)) == NULL)
		return LS_ENOMEM;
	if (s->kind == SRC_STDIN) {
		s->fd = STDIN_FILENO;
		return restored(s, ls_stage_restore(cfg, s)); /* refuses a position */
	}
	s->path = ls_topo_str(n, "path");
	s->follow = ls_topo_bool(n, "follow");
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		ls_log(LS_LOG_ERROR, "source", "cannot open file path=%s err=%s",
		    s->path, strerror(errno));
		free(s->buf);
		s->buf = NULL;
		return LS_EIO;
	}
	file_identity(s);
	return restored(s, ls_stage_restore(cfg, s));
}

static void
src_stop(ls_ctx *ctx, void *state)
{
	src *s = state;
	ls_outq_fini(ls_ctx_runtime(ctx), &s->q);
	ls_generator_free(s->gen);
	ls_kafka_in_free(s->kin);
	ls_netin_close(s->net);
	if (s->srv != NULL)
		ls_ingest_get_server()->stop(s->srv);
	ls_ingest_free(s->ing);
	for (unsigned i = 0; i < s->ncommits; i++)
		free(s->commits[i].b);
	if (s->kind == SRC_FILE && s->fd >= 0)
		close(s->fd);
	free(s->buf);
}

static void
finish(ls_ctx *ctx, src *s)
{
	if (s->done)
		return;
	s->done = 1;
	if (s->cfg->checkpoint_ms > 0) {
		/* the final checkpoint: this source has ended here */
		src_save(s, s->next_ckpt, 1);
		ls_stage_emit_eos(ctx, s->cfg, &s->q, s->next_ckpt);
		return;
	}
	ls_stage_emit_eos(ctx, s->cfg, &s->q, 0);
}

static void
pump_later(ls_ctx *ctx, int64_t ms)
{
	ls_timer_start(ls_ctx_runtime(ctx), ls_self(ctx), ms, 0, 0, NULL);
}

/* Remind ourselves to produce more.  Our own mailbox can be full (of
 * system messages, say); the refusal registered us for a WRITABLE from
 * ourselves, and its handler pumps again, so the reminder is not lost. */
static void
pump_now(ls_ctx *ctx, src *s)
{
	s->pump_wanted = ls_ctx_tell(ctx, ls_self(ctx), LS_MSG_PUMP, NULL, 0) ==
	    LS_EAGAIN;
}

static void
gen_pump(ls_ctx *ctx, src *s)
{
	int64_t now = ls_wall_ns();
	uint64_t n = LS_BATCH_EVENTS;

	if (s->t0_ns == 0) /* restored: as if it had run at rate so far */
		s->t0_ns = now - (s->rate > 0
		        ? (int64_t)((double)s->produced * 1e9 / s->rate) : 0);
	maybe_barrier(ctx, s);
	if (ls__pipeline_log_full(s->cfg->pl)) {
		pump_later(ctx, 5); /* replay logs full: wait for a commit */
		return;
	}
	if (s->rate > 0) {
		double due = s->rate * (double)(now - s->t0_ns) / 1e9;
		if (due <= (double)s->produced) {
			pump_later(ctx, 5);
			return;
		}
		double d = due - (double)s->produced;
		if (d < (double)n)
			n = (uint64_t)d + 1;
	}
	if (s->limit > 0 && s->produced + n > s->limit)
		n = s->limit - s->produced;
	if (n > 0) {
		ls_batch *b = ls_batch_new((uint32_t)n, 1, NULL);
		if (b == NULL) {
			pump_later(ctx, 10);
			return;
		}
		b->source = s->cfg->node->name;
		for (uint64_t i = 0; i < n; i++) {
			size_t len;
			int64_t t;
			uint64_t idx = ls_generator_index(s->gen);
			if (ls_generator_next(s->gen, s->line, sizeof(s->line),
			        &len, &t) != 0)
				break;
			char *copy = ls_arena_strndup(&b->arena, s->line, len);
			ls_event *ev = copy != NULL ? ls_batch_add(b) : NULL;
			if (ev == NULL)
				break;
			ev->message = ls_str_make(copy, len);
			ev->offset = idx;
			ev->ingest_ns = now;
		}
		s->produced += b->n;
		ls_metric_add(s->cfg->ctr.in, b->n);
		ls_metric_add(s->cfg->ctr.out, b->n);
		ls_stage_emit(ctx, s->cfg, &s->q, b);
		ls_batch_unref(b);
	}
	if (s->limit > 0 && s->produced >= s->limit) {
		finish(ctx, s);
		return;
	}
	pump_now(ctx, s);
}

/* Turn complete lines in s->buf into a batch; keep the partial tail. */
static void
emit_lines(ls_ctx *ctx, src *s, int at_eof)
{
	size_t start = 0;
	ls_batch *b = NULL;
	int64_t now = ls_wall_ns();

	while (start < s->len) {
		char *nl = memchr(s->buf + start, '\n', s->len - start);
		size_t end;
		if (nl != NULL)
			end = (size_t)(nl - s->buf);
		else if (at_eof)
			end = s->len;
		else
			break;
		size_t len = end - start;
		if (s->skipping) {
			s->skipping = nl == NULL;
		} else {
			if (b == NULL || b->n == b->cap) {
				if (b != NULL) {
					ls_stage_emit(ctx, s->cfg, &s->q, b);
					ls_batch_unref(b);
				}
				b = ls_batch_new(LS_BATCH_EVENTS, 1, NULL);
				if (b == NULL)
					break;
				b->source = s->cfg->node->name;
			}
			if (len > 0 && s->buf[start + len - 1] == '\r')
				len--;
			char *copy = ls_arena_strndup(&b->arena, s->buf + start,
			    len);
			ls_event *ev = copy != NULL ? ls_batch_add(b) : NULL;
			if (ev != NULL) {
				ev->message = ls_str_make(copy, len);
				ev->offset = s->offset + start;
				ev->ingest_ns = now;
				ls_metric_add(s->cfg->ctr.in, 1);
				ls_metric_add(s->cfg->ctr.out, 1);
			}
		}
		start = nl != NULL ? end + 1 : end;
	}
	if (b != NULL) {
		ls_stage_emit(ctx, s->cfg, &s->q, b);
		ls_batch_unref(b);
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
	s->offset += start;
	if (s->len >= LINE_MAX_BYTES) {
		/* An over-long line: emit its first LINE_MAX_BYTES as one
		 * event and drop the rest up to the next newline. */
		ls_log(LS_LOG_WARN, "source",
		    "line longer than %d bytes truncated source=%s offset=%llu",
		    LINE_MAX_BYTES, s->cfg->node->name,
		    (unsigned long long)s->offset);
		emit_lines(ctx, s, 1);
		s->skipping = 1;
	}
}

static void
file_pump(ls_ctx *ctx, src *s)
{
	maybe_barrier(ctx, s);
	if (ls__pipeline_log_full(s->cfg->pl)) {
		pump_later(ctx, 5); /* replay logs full: wait for a commit */
		return;
	}
	if (s->kind == SRC_STDIN) {
		struct pollfd pfd = { s->fd, POLLIN, 0 };
		int r = poll(&pfd, 1, 0);
		if (r == 0) {
			pump_later(ctx, 20);
			return;
		}
	}
	for (int rounds = 0; rounds < 4; rounds++) {
		if (s->cap - s->len < READ_CHUNK) {
			size_t nc = s->cap * 2;
			char *nb = realloc(s->buf, nc);
			if (nb == NULL) {
				pump_later(ctx, 10);
				return;
			}
			s->buf = nb;
			s->cap = nc;
		}
		ssize_t r = read(s->fd, s->buf + s->len, READ_CHUNK);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			pump_later(ctx, 10);
			return;
		}
		if (r < 0) {
			ls_log(LS_LOG_ERROR, "source", "read failed source=%s err=%s",
			    s->cfg->node->name, strerror(errno));
			emit_lines(ctx, s, 1);
			finish(ctx, s);
			return;
		}
		if (r == 0) {
			if (s->follow && s->kind == SRC_FILE) {
				uint64_t dev = s->dev, ino = s->ino;
				struct stat st;
				int moved = s->draining ||
				    (stat(s->path, &st) == 0 &&
				        ((uint64_t)st.st_dev != dev ||
				            (uint64_t)st.st_ino != ino));
				/* a rotated file is complete: its last line
				 * too, newline or not */
				emit_lines(ctx, s, moved);
				check_rotation(s);
				if (s->dev != dev || s->ino != ino)
					pump_now(ctx, s); /* the new file */
				else
					pump_later(ctx, 100);
				return;
			}
			emit_lines(ctx, s, 1);
			finish(ctx, s);
			return;
		}
		s->len += (size_t)r;
		emit_lines(ctx, s, 0);
		if (s->kind == SRC_STDIN)
			break;
	}
	pump_now(ctx, s);
}

/* A new batch in s->kb for syslog_msg / kafka_msg to fill, its ingest
 * time read once.  LS_ENOMEM. */
static int
kb_start(src *s)
{
	s->kb = ls_batch_new(LS_BATCH_EVENTS, 1, NULL);
	if (s->kb == NULL)
		return LS_ENOMEM;
	s->kb->source = s->cfg->node->name;
	s->kb_ns = ls_wall_ns();
	return 0;
}

/* Emit s->kb when it holds events, and drop it; returns its events. */
static uint32_t
kb_emit(ls_ctx *ctx, src *s)
{
	uint32_t n = s->kb->n;
	if (n > 0) {
		ls_metric_add(s->cfg->ctr.in, n);
		ls_metric_add(s->cfg->ctr.out, n);
		ls_stage_emit(ctx, s->cfg, &s->q, s->kb);
	}
	ls_batch_unref(s->kb);
	s->kb = NULL;
	return n;
}

/* ls_netin_take (and ls_ingest_read): one message is one event. */
static void
syslog_msg(void *arg, const char *msg, size_t len)
{
	src *s = arg;
	char *copy = ls_arena_strndup(&s->kb->arena, msg, len);
	ls_event *ev = copy != NULL ? ls_batch_add(s->kb) : NULL;
	if (ev == NULL)
		return;
	ev->message = ls_str_make(copy, len);
	ev->offset = s->produced++;
	ev->ingest_ns = s->kb_ns;
}

/* Say (every 10 s at most) what the listener refused or cut. */
static void
syslog_report(src *s)
{
	ls_netin_stats st;
	ls_netin_stats_get(s->net, &st);
	int64_t now = ls_wall_ns();
	if (now - s->warned_ns < INT64_C(10000000000))
		return;
	if (st.truncated == s->net_seen.truncated &&
	    st.refused == s->net_seen.refused &&
	    st.dropped == s->net_seen.dropped)
		return;
	s->warned_ns = now;
	ls_log(LS_LOG_WARN, "source",
	    "syslog input refused or cut source=%s truncated=%llu "
	    "refused_connections=%llu dropped_datagrams=%llu",
	    s->cfg->node->name,
	    (unsigned long long)(st.truncated - s->net_seen.truncated),
	    (unsigned long long)(st.refused - s->net_seen.refused),
	    (unsigned long long)(st.dropped - s->net_seen.dropped));
	s->net_seen = st;
}

static void
syslog_pump(ls_ctx *ctx, src *s)
{
	maybe_barrier(ctx, s);
	if (ls__pipeline_log_full(s->cfg->pl)) {
		pump_later(ctx, 5); /* replay logs full: wait for a commit */
		return;
	}
	syslog_report(s);
	if (kb_start(s) != 0) {
		pump_later(ctx, 10);
		return;
	}
	size_t got = ls_netin_take(s->net, LS_BATCH_EVENTS, syslog_msg, s);
	kb_emit(ctx, s);
	if (got == 0)
		pump_later(ctx, 10); /* nothing new: look again soon */
	else
		pump_now(ctx, s);
}

/* ls_ingest_read: one event; a record may hold more than a batch, so a
 * full batch goes out and another one takes the rest. */
static void
http_ev(void *arg, const char *ev, size_t len)
{
	src *s = arg;
	if (s->kb != NULL && s->kb->n == s->kb->cap) {
		kb_emit(s->kctx, s);
		if (kb_start(s) != 0)
			ls_log(LS_LOG_ERROR, "source",
			    "out of memory: an event of an acknowledged request "
			    "is dropped source=%s",
			    s->cfg->node->name);
	}
	if (s->kb != NULL)
		syslog_msg(s, ev, len);
}

/* Emit what the ingest log holds, up to about max events. */
static size_t
http_read(ls_ctx *ctx, src *s, size_t max)
{
	size_t got = 0;
	while (got < max) {
		if (kb_start(s) != 0)
			break;
		/* whole records: one may fill several batches */
		s->kctx = ctx;
		size_t n = ls_ingest_read(s->ing, LS_BATCH_EVENTS, http_ev, s);
		if (s->kb != NULL)
			kb_emit(ctx, s);
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

static void
http_pump(ls_ctx *ctx, src *s)
{
	maybe_barrier(ctx, s);
	if (ls__pipeline_log_full(s->cfg->pl)) {
		pump_later(ctx, 5); /* replay logs full: wait for a commit */
		return;
	}
	if (http_read(ctx, s, 4 * LS_BATCH_EVENTS) == 0)
		pump_later(ctx, 5); /* nothing new: look again soon */
	else
		pump_now(ctx, s);
}

/* http: checkpoint upto completed -- the log forgets what it covers. */
static void
http_commit(src *s, uint64_t upto)
{
	unsigned k = 0;
	while (k < s->nhpos && s->hpos[k].ckpt <= upto)
		k++;
	if (k == 0)
		return;
	ls_ingest_trim(s->ing, s->hpos[k - 1].seq);
	memmove(s->hpos, s->hpos + k, (s->nhpos - k) * sizeof(s->hpos[0]));
	s->nhpos -= k;
}

/* ls_kafka_in_poll: one message is one event (trailing CR/LF dropped). */
static void
kafka_msg(void *arg, const ls_kafka_msg *m)
{
	src *s = arg;
	size_t len = m->len < LINE_MAX_BYTES ? m->len : LINE_MAX_BYTES;
	while (len > 0 && (m->value[len - 1] == '\n' ||
	                      m->value[len - 1] == '\r'))
		len--;
	char *copy = ls_arena_strndup(&s->kb->arena,
	    m->value != NULL ? m->value : "", len);
	ls_event *ev = copy != NULL ? ls_batch_add(s->kb) : NULL;
	if (ev == NULL)
		return;
	ev->message = ls_str_make(copy, len);
	ev->offset = (uint64_t)m->offset;
	ev->ingest_ns = s->kb_ns;
}

static void
kafka_pump(ls_ctx *ctx, src *s)
{
	char err[512];
	maybe_barrier(ctx, s);
	if (ls__pipeline_log_full(s->cfg->pl)) {
		pump_later(ctx, 5); /* replay logs full: wait for a commit */
		return;
	}
	int rv = ls_kafka_in_start(s->kin, s->bounded, 1000, err, sizeof(err));
	if (rv != 0) {
		int64_t now = ls_wall_ns();
		if (now - s->warned_ns > INT64_C(10000000000)) {
			s->warned_ns = now;
			ls_log(LS_LOG_WARN, "source",
			    "kafka not ready, retrying source=%s err=%s",
			    s->cfg->node->name, err);
		}
		pump_later(ctx, 250);
		return;
	}
	size_t max = LS_BATCH_EVENTS;
	if (s->max_rate > 0) {
		int64_t now = ls_wall_ns();
		if (s->k0_ns == 0)
			s->k0_ns = now;
		double due = s->max_rate * (double)(now - s->k0_ns) / 1e9 + 1;
		if (due <= (double)s->kread) {
			pump_later(ctx, 5);
			return;
		}
		if (due - (double)s->kread < (double)max)
			max = (size_t)(due - (double)s->kread) + 1;
	}
	if (kb_start(s) != 0) {
		pump_later(ctx, 10);
		return;
	}
	long got = ls_kafka_in_poll(s->kin, max, kafka_msg, s, err,
	    sizeof(err));
	if (got > 0)
		s->kread += (uint64_t)got;
	if (got < 0) {
		int64_t now = ls_wall_ns();
		if (now - s->warned_ns > INT64_C(10000000000)) {
			s->warned_ns = now;
			ls_log(LS_LOG_WARN, "source",
			    "kafka read error source=%s err=%s",
			    s->cfg->node->name, err);
		}
	}
	uint32_t n = kb_emit(ctx, s);
	if (ls_kafka_in_at_end(s->kin)) {
		finish(ctx, s);
		return;
	}
	if (n == 0)
		pump_later(ctx, 10); /* nothing new: look again soon */
	else
		pump_now(ctx, s);
}

static int
src_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	src *s = state;

	switch (m->type) {
	case LS_MSG_WRITABLE:
		ls_outq_flush(ctx, &s->q);
		if (s->pump_wanted && !s->done)
			pump_now(ctx, s);
		return 0;
	case LS_MSG_TIMER:
		if (!s->done)
			pump_now(ctx, s);
		return 0;
	case LS_MSG_DRAIN:
		if (s->kind == SRC_FILE || s->kind == SRC_STDIN)
			emit_lines(ctx, s, 1);
		if (s->kind == SRC_HTTP && !s->done) {
			/* every acknowledged request is in the stream before
			 * its end: no appends from now on, then the rest */
			ls_ingest_close_input(s->ing);
			while (http_read(ctx, s, SIZE_MAX) > 0)
				;
		}
		finish(ctx, s);
		return 0;
	case LS_MSG_COMMIT:
		ls_outq_commit(&s->q, ls_stage_msg_u64(m));
		if (s->kind == SRC_KAFKA)
			kafka_commit(s, ls_stage_msg_u64(m));
		if (s->kind == SRC_HTTP)
			http_commit(s, ls_stage_msg_u64(m));
		return 0;
	case LS_MSG_REWIND:
		ls_outq_rewind(ctx, s->cfg, &s->q);
		return 0;
	case LS_MSG_PUMP:
		if (s->done)
			return 0;
		if (s->ended_before) {
			finish(ctx, s);
			return 0;
		}
		if (s->kind == SRC_GENERATOR)
			gen_pump(ctx, s);
		else if (s->kind == SRC_KAFKA)
			kafka_pump(ctx, s);
		else if (s->kind == SRC_SYSLOG)
			syslog_pump(ctx, s);
		else if (s->kind == SRC_HTTP)
			http_pump(ctx, s);
		else
			file_pump(ctx, s);
		return 0;
	default:
		return 0;
	}
}

static const ls_behaviour source_behaviour = {
	.name = "source",
	.state_size = sizeof(src),
	.init = src_init,
	.receive = src_receive,
	.stop = src_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_generator = {
	.name = "generator",
	.role = LS_TOPO_SOURCE,
	.params = LS_KIND_PARAMS(
	    { "rate", LS_TV_INT, 0, "10000", NULL, 0, 1000000000, NULL,
	        "events per second, 0 = as fast as possible" },
	    { "seed", LS_TV_INT, 0, "1", NULL, 0, INT64_MAX, NULL,
	        "seed of the pseudo-random sequence" },
	    { "format", LS_TV_STRING, 0, "json",
	        LS_KIND_WORDS("json", "logfmt", "syslog", "clf", "mixed"),
	        LS_KIND_ANY_INT, NULL, "format of the lines it writes" },
	    { "count", LS_TV_INT, 0, "0", NULL, 0, INT64_MAX, NULL,
	        "stop after this many events, 0 = unlimited" },
	    { "start", LS_TV_STRING, 0, "now", NULL, LS_KIND_ANY_INT, NULL,
	        "event time of the first event: now, or RFC 3339 for "
	        "replayable runs" }),
	.help = "realistic synthetic log lines",
	.behaviour = &source_behaviour,
	.save = src_state,
	.restore = src_restore,
	.position = "event",
	.variant = SRC_GENERATOR,
};

const ls_kind ls_kind_file = {
	.name = "file",
	.role = LS_TOPO_SOURCE,
	.params = LS_KIND_PARAMS(
	    { "path", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT, NULL,
	        "the file to read" },
	    { "follow", LS_TV_BOOL, 0, "false", NULL, LS_KIND_ANY_INT, NULL,
	        "keep reading as the file grows" }),
	.help = "lines of a file",
	.behaviour = &source_behaviour,
	.save = src_state,
	.restore = src_restore,
	.position = "byte",
	.variant = SRC_FILE,
};

const ls_kind ls_kind_stdin = {
	.name = "stdin",
	.role = LS_TOPO_SOURCE,
	.flags = LS_KIND_NO_REPLAY,
	.params = LS_KIND_NO_PARAMS,
	.help = "lines of standard input",
	.behaviour = &source_behaviour,
	.save = src_state,
	.restore = src_restore,
	.position = "byte",
	.variant = SRC_STDIN,
};

const ls_kind ls_kind_kafka_source = {
	.name = "kafka",
	.role = LS_TOPO_SOURCE,
	.flags = LS_KIND_COMMITS,
	.params = LS_KIND_PARAMS(
	    { "brokers", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT, NULL,
	        "bootstrap servers, host:port[,host:port...]" },
	    { "topic", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT, NULL,
	        "the topic to read (all its partitions)" },
	    { "group", LS_TV_STRING, 0, "", NULL, LS_KIND_ANY_INT, NULL,
	        "consumer group the positions are committed to (default "
	        "logstream.TOPOLOGY.NODE)" },
	    { "start", LS_TV_STRING, 0, "earliest",
	        LS_KIND_WORDS("earliest", "latest"), LS_KIND_ANY_INT, NULL,
	        "where a partition without a committed position starts" },
	    { "follow", LS_TV_BOOL, 0, "true", NULL, LS_KIND_ANY_INT, NULL,
	        "keep reading; false: stop at the ends the partitions had "
	        "when the source started" },
	    { "max_rate", LS_TV_INT, 0, "0", NULL, 0, 1000000000, NULL,
	        "read at most this many messages per second, 0 = no limit "
	        "(catching up after downtime without flooding the stages)" },
	    { "options", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_kafka_check_option,
	        "librdkafka settings, name=value (security.protocol=ssl, ...)" }),
	.help = "messages of a Kafka topic, one event each",
	.behaviour = &source_behaviour,
	.save = src_state,
	.restore = src_restore,
	.position = "offset",
	.variant = SRC_KAFKA,
};

const ls_kind ls_kind_syslog = {
	.name = "syslog",
	.role = LS_TOPO_SOURCE,
	.params = LS_KIND_PARAMS(
	    { "listen", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT,
	        ls_netin_check_listen,
	        "tcp://HOST:PORT (RFC 6587 octet counting or newlines) or "
	        "udp://HOST:PORT" },
	    { "max_message", LS_TV_INT, 0, "65536", NULL, 16, 16777216, NULL,
	        "longer messages are cut there (and counted)" },
	    { "max_connections", LS_TV_INT, 0, "1024", NULL, 1, 65536, NULL,
	        "TCP connections at once; more are closed at once" },
	    { "queue", LS_TV_INT, 0, "65536", NULL, 1, 16777216, NULL,
	        "messages received but not yet read; when full TCP senders "
	        "wait and UDP datagrams are dropped" }),
	.help = "syslog messages over TCP or UDP, one event each",
	.behaviour = &source_behaviour,
	.save = src_state,
	.restore = src_restore,
	.position = "message",
	.variant = SRC_SYSLOG,
};

const ls_kind ls_kind_http = {
	.name = "http",
	.role = LS_TOPO_SOURCE,
	.flags = LS_KIND_COMMITS,
	.params = LS_KIND_PARAMS(
	    { "listen", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT,
	        ls_ingest_check_listen,
	        "HOST:PORT that serves POST /v1/logs (port 0: a free one, "
	        "logged)" },
	    { "max_body", LS_TV_INT, 0, "1048576", NULL, 1024, 268435456, NULL,
	        "bytes; a larger request body is refused with 413" },
	    { "queue", LS_TV_INT, 0, "65536", NULL, 1, 16777216, NULL,
	        "events accepted but not yet read; when full, requests get "
	        "429 with Retry-After" },
	    { "sync", LS_TV_BOOL, 0, "true", NULL, LS_KIND_ANY_INT, NULL,
	        "with a data directory: fsync the accepted events before "
	        "answering 202 (false: written to the OS, which survives a "
	        "killed process, not a power loss)" }),
	.help = "events of HTTP POST /v1/logs requests (JSON, JSON lines, "
	        "text)",
	.behaviour = &source_behaviour,
	.save = src_state,
	.restore = src_restore,
	.position = "record",
	.variant = SRC_HTTP,
};
