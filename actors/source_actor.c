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
 * file: path is a glob(3) pattern (a plain name is the one file it
 * matches); every match is a tail -- its own descriptor, partial line and
 * offset, known by device and inode so that a rename within the pattern
 * is the same file.  With follow the pattern is looked at again every
 * SCAN_MS (and at once when a name holds another file); a file no longer
 * matched is drained to its end, then dropped.  The checkpoint keeps
 * every tail's position (version 5 below).
 *
 * Dead letters: file and stdin lines over max_line, syslog messages cut
 * at max_message or frames cut short by a close, kafka messages without
 * a value or over LINE_MAX_BYTES go to the source's dead_letter sink
 * (their first DEAD_RAW_MAX bytes and the reason) when it has one; else
 * they are cut and logged as before.  http refuses bad input with 400.
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
#include <glob.h>
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

/* file: how often a followed pattern is looked at again, and how long a
 * file no longer matched (renamed away, deleted) is still read when
 * nothing took its name */
#define SCAN_MS 1000
#define GONE_GRACE_MS 5000
/* at most this much of a rejected input goes into its dead letter */
#define DEAD_RAW_MAX 16384

/* One file of a file source (stdin: the one input).  A file is known by
 * its device and inode, not its name: a rotated file matched under a new
 * name is the same file, read on. */
typedef struct tail {
	char *path;        /* the name it was last matched under (malloc'd;
	                      stdin: NULL) */
	int fd;            /* -1 once read to its end (no follow) */
	uint64_t dev, ino;
	uint64_t offset;   /* byte offset of buf[0] in the file */
	char *buf;         /* unconsumed bytes (a partial line) or NULL */
	size_t len, cap;
	int skipping;      /* inside an over-long line being discarded */
	int drop;          /* drained: leaves the list after this pump */
	int64_t gone_ns;   /* no longer matched by the pattern since (0:
	                      matched) */
} tail;

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
	int follow;
	const char *pattern; /* file: the path or glob(3) pattern */
	struct tail *tails;  /* file: the files read (stdin: one) */
	uint32_t ntails, captails;
	uint32_t cur;        /* the tail being read */
	uint32_t max_files;
	size_t max_line;     /* longer lines are cut (or dead letters) */
	uint64_t refused;    /* matching files not read: max_files reached */
	int64_t scan_ns;     /* follow: last look at the pattern */
	int said_empty;      /* "no file matches" logged */
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

/* Saved state: u8 version 1, u8 ended, u64 position (LE); kafka: u8
 * version 2, u8 ended, the positions of actors/kafka.c; http: u8 version
 * 4, u8 ended, u64 next record of the ingest log, u64 events read (the
 * next event's offset).  A file source writes version 5, one entry per
 * file it reads (versions 1 and 3, one file, are still read):
 *
 *   offset  size  field
 *   0       1     version (5)
 *   1       1     ended
 *   2       4     number of files N (LE)
 *   6       ...   N entries:
 *                   0   8  device
 *                   8   8  inode
 *                   16  8  byte offset of the next line to read
 *                   24  2  length L of the name
 *                   26  L  the name it was last matched under
 *
 * Version 3 (one file): u8 3, u8 ended, u64 offset, u64 device, u64
 * inode. */
#define SRC_STATE_LEN 10
#define SRC_FILE_STATE_LEN 26
#define SRC_HTTP_STATE_LEN 18
#define SRC_PATH_MAX 4095

static uint64_t
src_position(const src *s)
{
	if (s->kind == SRC_STDIN)
		return s->ntails > 0 ? s->tails[0].offset : 0;
	return s->produced;
}

/* file: version 5, every file's position (layout above). */
static int
file_state(const src *s, int final, uint8_t **buf, size_t *len)
{
	size_t n = 6;
	for (uint32_t i = 0; i < s->ntails; i++)
		n += 26 + strlen(s->tails[i].path);
	uint8_t *b = malloc(n);
	if (b == NULL)
		return LS_ENOMEM;
	b[0] = 5;
	b[1] = (uint8_t)final;
	ls_le_put(b + 2, s->ntails, 4);
	size_t at = 6;
	for (uint32_t i = 0; i < s->ntails; i++) {
		const tail *t = &s->tails[i];
		size_t pl = strlen(t->path);
		ls_le_put(b + at, t->dev, 8);
		ls_le_put(b + at + 8, t->ino, 8);
		ls_le_put(b + at + 16, t->offset, 8);
		ls_le_put(b + at + 24, pl, 2);
		memcpy(b + at + 26, t->path, pl);
		at += 26 + pl;
	}
	*buf = b;
	*len = n;
	return 0;
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
	if (s->kind == SRC_FILE)
		return file_state(s, final, buf, len);
	size_t n = s->kind == SRC_HTTP ? SRC_HTTP_STATE_LEN : SRC_STATE_LEN;
	uint8_t *b = malloc(n);
	if (b == NULL)
		return LS_ENOMEM;
	b[0] = s->kind == SRC_HTTP ? 4 : 1;
	b[1] = (uint8_t)final;
	ls_le_put(b + 2, src_position(s), 8);
	if (s->kind == SRC_HTTP) {
		ls_le_put(b + 2, ls_ingest_position(s->ing), 8);
		ls_le_put(b + 10, s->produced, 8);
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

/* Free what tail t holds (its descriptor too, unless stdin's). */
static void
tail_free(src *s, tail *t)
{
	if (t->fd >= 0 && s->kind == SRC_FILE)
		close(t->fd);
	t->fd = -1;
	free(t->path);
	free(t->buf);
	t->path = t->buf = NULL;
}

/* A new tail for the open descriptor fd of the file at path, read from
 * its start, at index at of the list (later ones move up); NULL (fd
 * closed) when out of memory. */
static tail *
tail_add(src *s, uint32_t at, int fd, const char *path)
{
	struct stat st;
	char *p = path != NULL ? strdup(path) : NULL;
	if (s->ntails == s->captails) {
		uint32_t nc = s->captails ? s->captails * 2 : 4;
		tail *nt = realloc(s->tails, nc * sizeof(tail));
		if (nt != NULL) {
			s->tails = nt;
			s->captails = nc;
		}
	}
	if ((path != NULL && p == NULL) || s->ntails == s->captails) {
		free(p);
		if (s->kind == SRC_FILE)
			close(fd);
		return NULL;
	}
	memmove(s->tails + at + 1, s->tails + at,
	    (s->ntails - at) * sizeof(tail));
	s->ntails++;
	tail *t = &s->tails[at];
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->path = p;
	if (fstat(fd, &st) == 0) {
		t->dev = (uint64_t)st.st_dev;
		t->ino = (uint64_t)st.st_ino;
	}
	return t;
}

/* The tail reading the file dev/ino, or NULL. */
static tail *
tail_find(src *s, uint64_t dev, uint64_t ino)
{
	for (uint32_t i = 0; i < s->ntails; i++)
		if (s->tails[i].dev == dev && s->tails[i].ino == ino &&
		    !s->tails[i].drop)
			return &s->tails[i];
	return NULL;
}

/* Look at the pattern: a file matched for the first time gets a tail
 * (read from its start; max_files at most), a known one may have a new
 * name (rotated to a name the pattern matches too), and a tail whose file
 * is no longer matched is marked gone (drained, then dropped). */
static void
scan(src *s, int64_t now)
{
	glob_t g;
	memset(&g, 0, sizeof(g));
	/* GLOB_NOCHECK: a name that glob takes for a pattern ("app[1].log")
	 * but matches nothing is still tried as the name it is */
	int rv = glob(s->pattern, GLOB_NOCHECK, NULL, &g);
	if (rv != 0 && rv != GLOB_NOMATCH) {
		ls_log(LS_LOG_WARN, "source", "cannot read the pattern "
		    "source=%s path=%s err=%s", s->cfg->node->name, s->pattern,
		    rv == GLOB_NOSPACE ? "out of memory" : "read error");
		globfree(&g);
		return;
	}
	uint32_t known = s->ntails;
	char *seen = calloc(known ? known : 1, 1);
	if (seen == NULL) {
		globfree(&g);
		return;
	}
	uint64_t refused = 0;
	for (size_t k = 0; k < g.gl_pathc; k++) {
		const char *p = g.gl_pathv[k];
		struct stat st;
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		tail *t = tail_find(s, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
		if (t != NULL) {
			if ((uint32_t)(t - s->tails) < known)
				seen[t - s->tails] = 1;
			if (strcmp(t->path, p) != 0) {
				char *np = strdup(p);
				if (np != NULL) {
					free(t->path);
					t->path = np;
				}
			}
			continue;
		}
		if (strlen(p) > SRC_PATH_MAX)
			continue;
		if (s->ntails >= s->max_files) {
			refused++;
			continue;
		}
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (tail_add(s, s->ntails, fd, p) != NULL && now != 0)
			ls_log(LS_LOG_INFO, "source",
			    "new file source=%s path=%s", s->cfg->node->name, p);
	}
	for (uint32_t i = 0; i < known; i++) {
		tail *t = &s->tails[i];
		if (seen[i])
			t->gone_ns = 0;
		else if (t->gone_ns == 0)
			t->gone_ns = now != 0 ? now : 1;
	}
	free(seen);
	if (refused != s->refused)
		ls_log(LS_LOG_WARN, "source",
		    "more files match than max_files, not read source=%s "
		    "path=%s max_files=%u refused=%llu",
		    s->cfg->node->name, s->pattern, s->max_files,
		    (unsigned long long)refused);
	s->refused = refused;
	if (s->ntails == 0 && s->follow && !s->said_empty) {
		s->said_empty = 1;
		ls_log(LS_LOG_INFO, "source",
		    "no file matches yet, waiting source=%s path=%s",
		    s->cfg->node->name, s->pattern);
	}
	globfree(&g);
}

/* Restore one file of a checkpoint: the tail of the file dev/ino (dev =
 * ino = 0: the one file, a version 1 state) goes to byte pos; a file
 * rotated away while the source was down (no longer matched) is looked
 * for by its inode in the directory of its name and read on first; a
 * file that is gone cannot be read on (logged). */
static int
restore_file(src *s, const char *path, uint64_t dev, uint64_t ino,
    uint64_t pos)
{
	tail *t = dev == 0 && ino == 0
	    ? (s->ntails > 0 ? &s->tails[0] : NULL)
	    : tail_find(s, dev, ino);
	if (t == NULL) {
		int old = find_rotated(path, dev, ino);
		if (old < 0) {
			/* gone (deleted, or moved elsewhere): what it held after
			 * pos cannot be read; say so (a file now at its name is
			 * read from its start) */
			ls_log(LS_LOG_WARN, "source",
			    "the file of the checkpoint is gone, reading the "
			    "current one from its start source=%s path=%s "
			    "offset=%llu",
			    s->cfg->node->name, path, (unsigned long long)pos);
			return 0;
		}
		ls_log(LS_LOG_INFO, "source",
		    "rotated while down: reading the old file on first "
		    "source=%s path=%s offset=%llu",
		    s->cfg->node->name, path, (unsigned long long)pos);
		if ((t = tail_add(s, 0, old, path)) == NULL)
			return LS_ENOMEM;
		t->gone_ns = ls_wall_ns();
	}
	if (lseek(t->fd, (off_t)pos, SEEK_SET) < 0)
		return LS_ENOTSUP;
	t->offset = pos;
	return 0;
}

/* A file source's state: version 5 (every file), 3 or 1 (one file). */
static int
file_restore(src *s, const uint8_t *b, size_t len)
{
	if (len == SRC_STATE_LEN && b[0] == 1) {
		s->ended_before = b[1] != 0;
		return s->ended_before ? 0
		                       : restore_file(s, s->pattern, 0, 0,
		                             ls_le_get(b + 2, 8));
	}
	if (len == SRC_FILE_STATE_LEN && b[0] == 3) {
		s->ended_before = b[1] != 0;
		return s->ended_before ? 0
		                       : restore_file(s, s->pattern,
		                             ls_le_get(b + 10, 8),
		                             ls_le_get(b + 18, 8),
		                             ls_le_get(b + 2, 8));
	}
	if (len < 6 || b[0] != 5)
		return LS_ECORRUPT;
	s->ended_before = b[1] != 0;
	uint64_t n = ls_le_get(b + 2, 4);
	size_t at = 6;
	char p[SRC_PATH_MAX + 1];
	for (uint64_t i = 0; i < n; i++) {
		if (len - at < 26)
			return LS_ECORRUPT;
		size_t pl = (size_t)ls_le_get(b + at + 24, 2);
		if (pl > SRC_PATH_MAX || len - at - 26 < pl)
			return LS_ECORRUPT;
		memcpy(p, b + at + 26, pl);
		p[pl] = '\0';
		int rv = s->ended_before ? 0
		    : restore_file(s, p, ls_le_get(b + at, 8),
		          ls_le_get(b + at + 8, 8), ls_le_get(b + at + 16, 8));
		if (rv != 0)
			return rv;
		at += 26 + pl;
	}
	return at == len ? 0 : LS_ECORRUPT;
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
	if (s->kind == SRC_FILE)
		return file_restore(s, b, len);
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
	/* stdin cannot replay: fine only if it had ended */
	return s->ended_before ? 0 : LS_ENOTSUP;
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
	for (uint32_t i = 0; i < s->ntails; i++)
		tail_free(s, &s->tails[i]);
	free(s->tails);
	s->tails = NULL;
	s->ntails = 0;
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
	s->pattern = nc.listen; /* dead letters say where they came from */
	s->max_line = nc.max_message;
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
	s->max_line = (size_t)ls_topo_int(n, "max_line");
	if (s->kind == SRC_STDIN) {
		if (tail_add(s, 0, STDIN_FILENO, NULL) == NULL)
			return LS_ENOMEM;
		return restored(s, ls_stage_restore(cfg, s)); /* refuses a position */
	}
	s->pattern = ls_topo_str(n, "path");
	s->follow = ls_topo_bool(n, "follow");
	s->max_files = (uint32_t)ls_topo_int(n, "max_files");
	scan(s, 0);
	if (s->ntails == 0 && !s->follow) {
		ls_log(LS_LOG_ERROR, "source",
		    "no file matches source=%s path=%s", n->name, s->pattern);
		return LS_EIO;
	}
	s->scan_ns = ls_wall_ns();
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
	for (uint32_t i = 0; i < s->ntails; i++)
		tail_free(s, &s->tails[i]);
	free(s->tails);
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

/* Send one rejected input of this source to its dead-letter sink: raw
 * (its first DEAD_RAW_MAX bytes), at offset, from where (the file's name,
 * "stdin", a Kafka partition, a syslog listener). */
static void
src_dead(ls_ctx *ctx, src *s, const char *reason, const char *raw,
    size_t len, uint64_t offset, const char *where)
{
	ls_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.message = ls_str_make(raw != NULL ? raw : "",
	    len < DEAD_RAW_MAX ? len : DEAD_RAW_MAX);
	ev.offset = offset;
	ls_stage_dead(ctx, s->cfg, &s->q, reason, &ev, where);
}

/* A line longer than max_line at byte offset off (line[0..len), complete
 * or its first bytes): with a dead-letter sink its first bytes go there
 * with the reason and 1 is returned; else it is cut to max_line (logged)
 * and 0 is returned. */
static int
overlong(ls_ctx *ctx, src *s, const tail *t, const char *line, size_t len,
    uint64_t off)
{
	if (s->cfg->dlq != NULL) {
		char why[96];
		snprintf(why, sizeof(why), "line longer than %zu bytes",
		    s->max_line);
		ls_metric_add(s->cfg->ctr.in, 1);
		src_dead(ctx, s, why, line, len, off,
		    t->path != NULL ? t->path : "stdin");
		return 1;
	}
	ls_log(LS_LOG_WARN, "source",
	    "line longer than %zu bytes truncated source=%s offset=%llu",
	    s->max_line, s->cfg->node->name, (unsigned long long)off);
	return 0;
}

/* Turn complete lines in t->buf into a batch; keep the partial tail (all
 * of it a line at the end of input, at_eof).  A partial tail longer than
 * max_line is over-long: the rest of that line is skipped. */
static void
emit_lines(ls_ctx *ctx, src *s, tail *t, int at_eof)
{
	size_t start = 0;
	ls_batch *b = NULL;
	int64_t now = ls_wall_ns();

	for (;;) {
		char *nl = start < t->len
		    ? memchr(t->buf + start, '\n', t->len - start)
		    : NULL;
		size_t end;
		if (nl != NULL)
			end = (size_t)(nl - t->buf);
		else if (start < t->len && (at_eof || t->skipping ||
		             t->len - start > s->max_line))
			end = t->len; /* the last line, or (the rest of) an
			                 over-long one */
		else
			break;
		size_t len = end - start;
		int cut = nl == NULL && !at_eof; /* an over-long partial line */
		if (t->skipping) {
			t->skipping = nl == NULL;
		} else if (len > s->max_line &&
		    overlong(ctx, s, t, t->buf + start, len,
		        t->offset + start)) {
			t->skipping = cut;
		} else {
			t->skipping = cut;
			if (len > s->max_line)
				len = s->max_line;
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
			if (len > 0 && t->buf[start + len - 1] == '\r')
				len--;
			char *copy = ls_arena_strndup(&b->arena, t->buf + start,
			    len);
			ls_event *ev = copy != NULL ? ls_batch_add(b) : NULL;
			if (ev != NULL) {
				ev->message = ls_str_make(copy, len);
				ev->offset = t->offset + start;
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
	memmove(t->buf, t->buf + start, t->len - start);
	t->len -= start;
	t->offset += start;
}

/* Read what tail t has, up to rounds chunks, its lines emitted: 1 when
 * something was read, 0 at its end, LS_EAGAIN (try again soon), LS_EIO
 * (a read error, logged). */
static int
tail_read(ls_ctx *ctx, src *s, tail *t, int rounds)
{
	int got = 0;
	for (int k = 0; k < rounds; k++) {
		if (t->cap - t->len < READ_CHUNK) {
			size_t nc = t->cap ? t->cap * 2 : READ_CHUNK * 2;
			char *nb = realloc(t->buf, nc);
			if (nb == NULL)
				return LS_EAGAIN;
			t->buf = nb;
			t->cap = nc;
		}
		ssize_t r = read(t->fd, t->buf + t->len, READ_CHUNK);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return got ? 1 : LS_EAGAIN;
		if (r < 0) {
			ls_log(LS_LOG_ERROR, "source",
			    "read failed source=%s path=%s err=%s",
			    s->cfg->node->name,
			    t->path != NULL ? t->path : "stdin", strerror(errno));
			return LS_EIO;
		}
		if (r == 0)
			break;
		t->len += (size_t)r;
		got = 1;
		emit_lines(ctx, s, t, 0);
	}
	if (t->len == 0 && t->cap > READ_CHUNK * 2) {
		free(t->buf); /* an over-long line grew it: give it back */
		t->buf = NULL;
		t->cap = 0;
	}
	return got;
}

/* Follow: tail t is at its end.  A file cut shorter than what was read is
 * read again from its start; one that is no longer matched is complete
 * (its last line too, newline or not) once its name holds another file or
 * it has been gone for GONE_GRACE_MS: then it is dropped.  Returns 1 when
 * the pattern should be looked at now (the name holds another file). */
static int
tail_end(ls_ctx *ctx, src *s, tail *t, int64_t now)
{
	struct stat st, cur;
	if (fstat(t->fd, &cur) == 0 && (uint64_t)cur.st_size < t->offset + t->len) {
		ls_log(LS_LOG_INFO, "source",
		    "file truncated, reading it from its start source=%s path=%s",
		    s->cfg->node->name, t->path);
		lseek(t->fd, 0, SEEK_SET);
		t->offset = 0;
		t->len = 0;
		t->skipping = 0;
		return 0;
	}
	int replaced = stat(t->path, &st) == 0 &&
	    ((uint64_t)st.st_dev != t->dev || (uint64_t)st.st_ino != t->ino);
	if (t->gone_ns == 0)
		return replaced; /* still matched: the scan tells */
	if (!replaced && now - t->gone_ns < INT64_C(1000000) * GONE_GRACE_MS)
		return 0;
	emit_lines(ctx, s, t, 1);
	ls_log(LS_LOG_INFO, "source", "file rotated source=%s path=%s",
	    s->cfg->node->name, t->path);
	t->drop = 1;
	return 0;
}

/* Drop the drained tails. */
static void
tails_compact(src *s)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < s->ntails; i++) {
		if (s->tails[i].drop)
			tail_free(s, &s->tails[i]);
		else
			s->tails[k++] = s->tails[i];
	}
	s->ntails = k;
	if (s->cur >= k)
		s->cur = 0;
}

static void
stdin_pump(ls_ctx *ctx, src *s)
{
	tail *t = &s->tails[0];
	struct pollfd pfd = { t->fd, POLLIN, 0 };
	if (poll(&pfd, 1, 0) == 0) {
		pump_later(ctx, 20);
		return;
	}
	int r = tail_read(ctx, s, t, 1);
	if (r == LS_EAGAIN) {
		pump_later(ctx, 10);
		return;
	}
	if (r == 1) {
		pump_now(ctx, s);
		return;
	}
	emit_lines(ctx, s, t, 1);
	finish(ctx, s);
}

/* The files of a file source in turn: the current one is read while it
 * has data (so at start every file is read to its end in name order),
 * then the next. */
static void
file_pump(ls_ctx *ctx, src *s)
{
	maybe_barrier(ctx, s);
	if (ls__pipeline_log_full(s->cfg->pl)) {
		pump_later(ctx, 5); /* replay logs full: wait for a commit */
		return;
	}
	if (s->kind == SRC_STDIN) {
		stdin_pump(ctx, s);
		return;
	}
	int64_t now = ls_wall_ns();
	if (s->follow && now - s->scan_ns >= INT64_C(1000000) * SCAN_MS) {
		s->scan_ns = now;
		scan(s, now);
	}
	int rescan = 0, nopen = 0;
	for (uint32_t k = 0; k < s->ntails; k++) {
		uint32_t i = (s->cur + k) % s->ntails;
		tail *t = &s->tails[i];
		if (t->fd < 0 || t->drop)
			continue;
		nopen++;
		int r = tail_read(ctx, s, t, 4);
		if (r == 1) {
			s->cur = i;
			tails_compact(s);
			pump_now(ctx, s);
			return;
		}
		if (r == LS_EAGAIN) {
			tails_compact(s);
			pump_later(ctx, 10);
			return;
		}
		if (r == 0 && s->follow) {
			rescan |= tail_end(ctx, s, t, now);
			continue;
		}
		/* at its end (no follow), or unreadable: its last line, newline
		 * or not, and it is done */
		emit_lines(ctx, s, t, 1);
		close(t->fd);
		t->fd = -1;
		nopen--;
	}
	tails_compact(s);
	if (rescan && now - s->scan_ns >= INT64_C(50000000)) {
		/* a name holds another file: rotated -- look now, and drain
		 * the old one at once when it is no longer matched */
		s->scan_ns = now;
		scan(s, now);
		pump_now(ctx, s);
		return;
	}
	if (!s->follow && nopen == 0) {
		finish(ctx, s);
		return;
	}
	pump_later(ctx, 100);
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

/* ls_netin_take: one message is one event; with a dead-letter sink a cut
 * or broken one goes there instead, with the reason. */
static void
syslog_take(void *arg, const char *msg, size_t len, int flags)
{
	src *s = arg;
	if (flags == 0 || s->cfg->dlq == NULL) {
		syslog_msg(s, msg, len);
		return;
	}
	char why[96];
	if (flags & LS_NETIN_BROKEN)
		snprintf(why, sizeof(why),
		    "connection closed inside an octet-counted frame");
	else
		snprintf(why, sizeof(why),
		    "message longer than max_message (%zu bytes)",
		    s->max_line);
	ls_metric_add(s->cfg->ctr.in, 1);
	src_dead(s->kctx, s, why, msg, len, s->produced++, s->pattern);
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
	    st.dropped == s->net_seen.dropped &&
	    st.broken == s->net_seen.broken)
		return;
	s->warned_ns = now;
	ls_log(LS_LOG_WARN, "source",
	    "syslog input refused or cut source=%s truncated=%llu "
	    "refused_connections=%llu dropped_datagrams=%llu "
	    "broken_frames=%llu",
	    s->cfg->node->name,
	    (unsigned long long)(st.truncated - s->net_seen.truncated),
	    (unsigned long long)(st.refused - s->net_seen.refused),
	    (unsigned long long)(st.dropped - s->net_seen.dropped),
	    (unsigned long long)(st.broken - s->net_seen.broken));
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
	s->kctx = ctx;
	size_t got = ls_netin_take(s->net, LS_BATCH_EVENTS, syslog_take, s);
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

/* ls_kafka_in_poll: one message is one event (trailing CR/LF dropped).
 * With a dead-letter sink, a message without a value or longer than
 * LINE_MAX_BYTES goes there with the reason instead (else the one is an
 * empty event, the other cut). */
static void
kafka_msg(void *arg, const ls_kafka_msg *m)
{
	src *s = arg;
	if (s->cfg->dlq != NULL &&
	    (m->value == NULL || m->len > LINE_MAX_BYTES)) {
		char where[64];
		snprintf(where, sizeof(where), "partition %d",
		    (int)m->partition);
		ls_metric_add(s->cfg->ctr.in, 1);
		src_dead(s->kctx, s, m->value == NULL
		        ? "message without a value"
		        : "message longer than 1048576 bytes",
		    m->value, m->len, (uint64_t)m->offset, where);
		return;
	}
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
	s->kctx = ctx;
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
		for (uint32_t i = 0; i < s->ntails; i++)
			if (s->tails[i].len > 0)
				emit_lines(ctx, s, &s->tails[i], 1);
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
	        "the file to read, or a glob pattern (*, ?, [...]) for "
	        "several" },
	    { "follow", LS_TV_BOOL, 0, "false", NULL, LS_KIND_ANY_INT, NULL,
	        "keep reading as the files grow; a pattern is looked at "
	        "again every second" },
	    { "max_files", LS_TV_INT, 0, "1024", NULL, 1, 65536, NULL,
	        "files read at once at most; more matches are refused "
	        "(logged)" },
	    { "max_line", LS_TV_INT, 0, "1048576", NULL, 16, 67108864, NULL,
	        "bytes; a longer line is cut there, or is a dead letter" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name,
	        "sink that receives over-long lines (their first 16 KiB)" }),
	.help = "lines of a file, or of every file a pattern matches",
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
	.params = LS_KIND_PARAMS(
	    { "max_line", LS_TV_INT, 0, "1048576", NULL, 16, 67108864, NULL,
	        "bytes; a longer line is cut there, or is a dead letter" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name,
	        "sink that receives over-long lines (their first 16 KiB)" }),
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
	        "librdkafka settings, name=value (security.protocol=ssl, ...)" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name,
	        "sink that receives messages without a value or over 1 MiB "
	        "(their first 16 KiB)" }),
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
	        "wait and UDP datagrams are dropped" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name,
	        "sink that receives cut messages and broken frames (their "
	        "first 16 KiB) instead of the stream" }),
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
