/*
 * store.c -- the node's RocksDB state store (see store.h, docs/state.md).
 *
 * This is the one file that speaks RocksDB's C API: its char **errptr
 * strings become LS_E* codes here (rdb_err) and are logged.
 *
 * Key layouts (bytes; names are 1..255 bytes without NUL):
 *
 *   per-partition state            checkpoint blob
 *   offset  size  field            offset    size  field
 *   0       1     's'              0         1     'c'
 *   1       1     0x00             1         1     0x00
 *   2       P     partition        2         T     topology
 *   2+P     1     0x00             2+T       1     0x00
 *   3+P     K     user key         3+T       8     checkpoint id, big-endian
 *                                  11+T      P     partition
 *
 * A counter value is 8 bytes, little-endian two's complement; the merge
 * operator "ls.int64add" adds operands to it (a missing or malformed base
 * counts as 0).
 */
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "arena.h"
#include "err.h"
#include "fs.h"
#include "hash.h"
#include "log.h"

#define MIB           ((size_t)1 << 20)
#define DEFAULT_CACHE (64 * MIB)
#define DEFAULT_WBUF  (64 * MIB)
#define MIN_WBUF      (1 * MIB)
#define MIN_CACHE     ((size_t)256 << 10)
#define VALUE_MAX     ((size_t)UINT32_MAX)
#define CKPT_KEY_MAX  (2 + LS_STORE_NAME_MAX + 1 + 8 + LS_STORE_NAME_MAX)
#define FINAL_KEY_MAX (2 + LS_STORE_NAME_MAX + 1 + LS_STORE_NAME_MAX + 1 + 8)

/* What an idle ls_state keeps for its next activation; more is freed at
 * commit. */
#define KEEP_BATCH_BYTES  4096
#define KEEP_TABLE_SLOTS  16
#define STATE_ARENA_CHUNK 1024

struct ls_store {
	rocksdb_t *db;
	rocksdb_cache_t *cache;
	rocksdb_readoptions_t *ro;  /* shared by point reads, read-only */
	rocksdb_writeoptions_t *wo; /* shared by every write, read-only */
	size_t cache_bytes;
	size_t wbuf_bytes;
};

struct ls_store_batch {
	rocksdb_writebatch_t *wb;
	size_t n;
	int err; /* first refused argument, reported at commit */
};

/* ---- errors ----------------------------------------------------------- */

/* Convert and free a RocksDB error string; log it with the operation. */
static int
rdb_err(const char *op, char *e)
{
	int rc = LS_EIO;

	if (strncmp(e, "Corruption", 10) == 0)
		rc = LS_ECORRUPT;
	ls_log(LS_LOG_ERROR, "store", "rocksdb: %s op=%s code=%s", e, op,
	       ls_errname(rc));
	rocksdb_free(e);
	return rc;
}

/* ---- keys --------------------------------------------------------------- */

/* 0xFF repeated LS_STORE_KEY_MAX + 1 times: greater than every legal key,
 * the exclusive end of a range whose prefix has no successor. */
static unsigned char ff_key[LS_STORE_KEY_MAX + 1];
static pthread_once_t ff_once = PTHREAD_ONCE_INIT;

static void
ff_init(void)
{
	memset(ff_key, 0xFF, sizeof(ff_key));
}

/* The exclusive end of the range of keys starting with p[0..pl): written
 * to out (pl bytes of room) with its length in *el, or pointed to ff_key
 * when p is empty or all 0xFF.  Returns the end key. */
static const unsigned char *
prefix_end(const void *p, size_t pl, unsigned char *out, size_t *el)
{
	const unsigned char *b = p;
	size_t n = pl;

	while (n > 0 && b[n - 1] == 0xFF)
		n--;
	if (n == 0) {
		pthread_once(&ff_once, ff_init);
		*el = sizeof(ff_key);
		return ff_key;
	}
	memcpy(out, b, n);
	out[n - 1]++;
	*el = n;
	return out;
}

static int
name_len(const char *name, size_t *len)
{
	if (name == NULL)
		return LS_EINVAL;
	size_t n = strnlen(name, LS_STORE_NAME_MAX + 1);
	if (n == 0 || n > LS_STORE_NAME_MAX)
		return LS_EINVAL;
	*len = n;
	return 0;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t
get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A counter's value: 8 bytes LE, anything else counts as 0. */
static uint64_t
counter_of(const void *v, size_t vl)
{
	return v != NULL && vl == 8 ? get_le64(v) : 0;
}

/* 'c' 0 topology 0 into k; returns its length. */
static size_t
ckpt_prefix(unsigned char *k, const char *topo, size_t tl)
{
	k[0] = 'c';
	k[1] = 0;
	memcpy(k + 2, topo, tl);
	k[2 + tl] = 0;
	return 3 + tl;
}

/* The full checkpoint key into k (CKPT_KEY_MAX bytes); its length. */
static size_t
ckpt_key(unsigned char *k, const char *topo, size_t tl, uint64_t ckpt,
         const char *part, size_t pl)
{
	size_t n = ckpt_prefix(k, topo, tl);
	put_be64(k + n, ckpt);
	memcpy(k + n + 8, part, pl);
	return n + 8 + pl;
}

/* 'c' 1 topology 0 partition 0 into k (FINAL_KEY_MAX bytes): the prefix
 * of the partition's final marks; returns its length. */
static size_t
final_prefix(unsigned char *k, const char *topo, size_t tl, const char *part,
             size_t pl)
{
	k[0] = 'c';
	k[1] = 1;
	memcpy(k + 2, topo, tl);
	k[2 + tl] = 0;
	memcpy(k + 3 + tl, part, pl);
	k[3 + tl + pl] = 0;
	return 4 + tl + pl;
}

/* ---- the counter merge operator --------------------------------------- */

/* The C API copies a merge result right after the callback returns and
 * then calls delete_value, so a per-thread buffer avoids a malloc. */
static _Thread_local unsigned char merge_out[8];

static char *
merge_full(void *state, const char *key, size_t klen, const char *base,
           size_t base_len, const char *const *ops, const size_t *op_len, int n,
           unsigned char *success, size_t *new_len)
{
	uint64_t sum = counter_of(base, base_len);

	for (int i = 0; i < n; i++)
		sum += counter_of(ops[i], op_len[i]);
	put_le64(merge_out, sum);
	*success = 1;
	*new_len = 8;
	return (char *)merge_out;
}

static char *
merge_partial(void *state, const char *key, size_t klen, const char *const *ops,
              const size_t *op_len, int n, unsigned char *success,
              size_t *new_len)
{
	return merge_full(state, key, klen, NULL, 0, ops, op_len, n, success,
	                  new_len);
}

static void
merge_delete(void *state, const char *v, size_t vl)
{
}

static void
merge_destroy(void *state)
{
}

static const char *
merge_name(void *state)
{
	return "ls.int64add";
}

/* ---- open / close ----------------------------------------------------- */

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

int
ls_store_open(const char *dir, const ls_store_opts *opts, ls_store **out,
              char *err, size_t errlen)
{
	ls_store_opts o = {0};
	char *e = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (dir == NULL || dir[0] == '\0' || out == NULL) {
		set_err(err, errlen, "no directory given");
		return LS_EINVAL;
	}
	if (opts != NULL)
		o = *opts;
	if (o.block_cache_bytes == 0)
		o.block_cache_bytes = DEFAULT_CACHE;
	if (o.block_cache_bytes < MIN_CACHE)
		o.block_cache_bytes = MIN_CACHE;
	if (o.write_buffer_bytes == 0)
		o.write_buffer_bytes = DEFAULT_WBUF;
	if (o.write_buffer_bytes < MIN_WBUF)
		o.write_buffer_bytes = MIN_WBUF;

	rc = ls_mkdir_p(dir);
	if (rc != 0) {
		set_err(err, errlen, "cannot create the store directory");
		ls_log(LS_LOG_ERROR, "store", "cannot create directory dir=%s",
		       dir);
		return rc == LS_ERANGE ? LS_EINVAL : LS_EIO;
	}

	ls_store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		set_err(err, errlen, "out of memory");
		return LS_ENOMEM;
	}
	s->cache_bytes = o.block_cache_bytes;
	s->wbuf_bytes = o.write_buffer_bytes;
	s->cache = rocksdb_cache_create_lru(o.block_cache_bytes);
	s->ro = rocksdb_readoptions_create();
	s->wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(s->wo, o.sync ? 1 : 0);

	rocksdb_options_t *ro = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(ro, 1);
	/* Memtables: one budget for the whole DB.  With one column family,
	 * two memtables of half the budget each, and writes stalling while
	 * both are full, the memtables never exceed the budget. */
	rocksdb_options_set_db_write_buffer_size(ro, o.write_buffer_bytes);
	rocksdb_options_set_write_buffer_size(ro, o.write_buffer_bytes / 2);
	rocksdb_options_set_max_write_buffer_number(ro, 2);
	rocksdb_options_set_max_background_jobs(ro, 2);
	/* Bounded file handles (and per-file table readers). */
	rocksdb_options_set_max_open_files(ro, 1000);
	/* A torn WAL tail after a crash is cut at the last whole batch. */
	rocksdb_options_set_wal_recovery_mode(ro,
	                                      rocksdb_point_in_time_recovery);
	rocksdb_options_set_keep_log_file_num(ro, 4);
	rocksdb_options_set_max_log_file_size(ro, 8 * MIB);
	rocksdb_options_set_merge_operator(
	    ro, rocksdb_mergeoperator_create(NULL, merge_destroy, merge_full,
	                                     merge_partial, merge_delete,
	                                     merge_name));

	rocksdb_block_based_table_options_t *bb =
	    rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(bb, s->cache);
	/* Index and filter blocks live in (and are charged to) the cache,
	 * so table-reader memory does not grow with the data. */
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(bb, 1);
	rocksdb_block_based_options_set_cache_index_and_filter_blocks_with_high_priority(
	    bb, 1);
	rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(
	    bb, 1);
	rocksdb_block_based_options_set_filter_policy(
	    bb, rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_block_based_options_set_format_version(bb, 5);
	rocksdb_options_set_block_based_table_factory(ro, bb);
	rocksdb_block_based_options_destroy(bb);

	s->db = rocksdb_open(ro, dir, &e);
	rocksdb_options_destroy(ro);
	if (e != NULL) {
		set_err(err, errlen, e);
		if (strstr(e, "lock") != NULL || strstr(e, "LOCK") != NULL) {
			ls_log(LS_LOG_ERROR, "store",
			       "rocksdb: %s op=open code=LS_EBUSY", e);
			rocksdb_free(e);
			rc = LS_EBUSY;
		} else {
			rc = rdb_err("open", e);
		}
		s->db = NULL;
		ls_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void
ls_store_close(ls_store *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL)
		rocksdb_close(s->db);
	if (s->cache != NULL)
		rocksdb_cache_destroy(s->cache);
	if (s->ro != NULL)
		rocksdb_readoptions_destroy(s->ro);
	if (s->wo != NULL)
		rocksdb_writeoptions_destroy(s->wo);
	free(s);
}

static uint64_t
prop(ls_store *s, const char *name)
{
	uint64_t v = 0;
	if (rocksdb_property_int(s->db, name, &v) != 0)
		return 0;
	return v;
}

int
ls_store_stats_get(ls_store *s, ls_store_stats *out)
{
	if (s == NULL || out == NULL)
		return LS_EINVAL;
	memset(out, 0, sizeof(*out));
	out->cache_capacity = rocksdb_cache_get_capacity(s->cache);
	out->cache_usage = rocksdb_cache_get_usage(s->cache);
	out->cache_pinned = rocksdb_cache_get_pinned_usage(s->cache);
	out->memtable_budget = s->wbuf_bytes;
	out->memtable_bytes = prop(s, "rocksdb.cur-size-all-mem-tables");
	out->table_readers = prop(s, "rocksdb.estimate-table-readers-mem");
	out->sst_bytes = prop(s, "rocksdb.live-sst-files-size");
	out->estimated_keys = prop(s, "rocksdb.estimate-num-keys");
	return 0;
}

int
ls_store_sync(ls_store *s)
{
	char *e = NULL;

	if (s == NULL)
		return LS_EINVAL;
	rocksdb_flush_wal(s->db, 1, &e);
	return e != NULL ? rdb_err("sync", e) : 0;
}

int
ls_store_flush(ls_store *s)
{
	char *e = NULL;

	if (s == NULL)
		return LS_EINVAL;
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(fo, 1);
	rocksdb_flush(s->db, fo, &e);
	rocksdb_flushoptions_destroy(fo);
	return e != NULL ? rdb_err("flush", e) : 0;
}

/* ---- raw keys --------------------------------------------------------- */

static int
check_kv(const void *k, size_t kl, const void *v, size_t vl)
{
	if ((k == NULL && kl > 0) || (v == NULL && vl > 0))
		return LS_EINVAL;
	if (kl > LS_STORE_KEY_MAX || vl > VALUE_MAX)
		return LS_ERANGE;
	return 0;
}

static int
write_batch(ls_store *s, rocksdb_writebatch_t *wb, const char *op)
{
	char *e = NULL;

	rocksdb_write(s->db, s->wo, wb, &e);
	return e != NULL ? rdb_err(op, e) : 0;
}

int
ls_store_put(ls_store *s, const void *k, size_t kl, const void *v, size_t vl)
{
	char *e = NULL;
	int rc;

	if (s == NULL)
		return LS_EINVAL;
	if ((rc = check_kv(k, kl, v, vl)) != 0)
		return rc;
	rocksdb_put(s->db, s->wo, k, kl, v, vl, &e);
	return e != NULL ? rdb_err("put", e) : 0;
}

/* Point read of k into a new malloc'd, NUL-terminated copy. */
static int
get_copy(ls_store *s, const void *k, size_t kl, void **v, size_t *vl)
{
	char *e = NULL;
	size_t n = 0;

	rocksdb_pinnableslice_t *ps =
	    rocksdb_get_pinned(s->db, s->ro, k, kl, &e);
	if (e != NULL)
		return rdb_err("get", e);
	if (ps == NULL)
		return LS_ENOENT;
	const char *p = rocksdb_pinnableslice_value(ps, &n);
	char *c = malloc(n + 1);
	if (c == NULL) {
		rocksdb_pinnableslice_destroy(ps);
		return LS_ENOMEM;
	}
	if (n > 0)
		memcpy(c, p, n);
	c[n] = '\0';
	rocksdb_pinnableslice_destroy(ps);
	*v = c;
	*vl = n;
	return 0;
}

/* Point read of k as a counter: *found tells whether k exists. */
static int
get_counter(ls_store *s, const void *k, size_t kl, uint64_t *out, int *found)
{
	char *e = NULL;
	size_t n = 0;

	rocksdb_pinnableslice_t *ps =
	    rocksdb_get_pinned(s->db, s->ro, k, kl, &e);
	if (e != NULL)
		return rdb_err("get", e);
	*found = ps != NULL;
	*out = 0;
	if (ps != NULL) {
		const char *p = rocksdb_pinnableslice_value(ps, &n);
		*out = counter_of(p, n);
		rocksdb_pinnableslice_destroy(ps);
	}
	return 0;
}

int
ls_store_get(ls_store *s, const void *k, size_t kl, void **v, size_t *vl)
{
	int rc;

	if (s == NULL || v == NULL || vl == NULL)
		return LS_EINVAL;
	if ((rc = check_kv(k, kl, NULL, 0)) != 0)
		return rc;
	return get_copy(s, k, kl, v, vl);
}

int
ls_store_delete(ls_store *s, const void *k, size_t kl)
{
	char *e = NULL;
	int rc;

	if (s == NULL)
		return LS_EINVAL;
	if ((rc = check_kv(k, kl, NULL, 0)) != 0)
		return rc;
	rocksdb_delete(s->db, s->wo, k, kl, &e);
	return e != NULL ? rdb_err("delete", e) : 0;
}

int
ls_store_delete_prefix(ls_store *s, const void *prefix, size_t pl)
{
	ls_store_batch b = {0};
	int rc;

	if (s == NULL)
		return LS_EINVAL;
	if ((rc = check_kv(prefix, pl, NULL, 0)) != 0)
		return rc;
	b.wb = rocksdb_writebatch_create();
	ls_store_batch_delete_prefix(&b, prefix, pl);
	rc = write_batch(s, b.wb, "delete_prefix");
	rocksdb_writebatch_destroy(b.wb);
	return rc;
}

int
ls_store_add(ls_store *s, const void *k, size_t kl, int64_t delta)
{
	unsigned char d[8];
	char *e = NULL;
	int rc;

	if (s == NULL)
		return LS_EINVAL;
	if ((rc = check_kv(k, kl, NULL, 0)) != 0)
		return rc;
	put_le64(d, (uint64_t)delta);
	rocksdb_merge(s->db, s->wo, k, kl, (const char *)d, 8, &e);
	return e != NULL ? rdb_err("merge", e) : 0;
}

/* Iterate [from, to) (to NULL = end) calling fn with keys minus skip
 * leading bytes. */
static int
scan_range(ls_store *s, const void *from, size_t fl, const void *to, size_t tl,
           size_t skip, ls_store_scan_fn fn, void *arg)
{
	char *e = NULL;
	int rc = 0;

	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	if (to != NULL)
		rocksdb_readoptions_set_iterate_upper_bound(ro, to, tl);
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
	if (from != NULL)
		rocksdb_iter_seek(it, from, fl);
	else
		rocksdb_iter_seek_to_first(it);
	while (rocksdb_iter_valid(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v = rocksdb_iter_value(it, &vl);
		rc = fn(arg, k + skip, kl - skip, v, vl);
		if (rc != 0)
			break;
		rocksdb_iter_next(it);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &e);
		if (e != NULL)
			rc = rdb_err("scan", e);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

int
ls_store_scan(ls_store *s, const void *from, size_t fl, const void *to,
              size_t tl, ls_store_scan_fn fn, void *arg)
{
	int rc;

	if (s == NULL || fn == NULL)
		return LS_EINVAL;
	if (from != NULL && (rc = check_kv(from, fl, NULL, 0)) != 0)
		return rc;
	if (to != NULL && tl > LS_STORE_KEY_MAX + 1)
		return LS_ERANGE;
	return scan_range(s, from, fl, to, tl, 0, fn, arg);
}

int
ls_store_scan_prefix(ls_store *s, const void *prefix, size_t pl,
                     ls_store_scan_fn fn, void *arg)
{
	unsigned char *buf;
	size_t el;
	int rc;

	if (s == NULL || fn == NULL)
		return LS_EINVAL;
	if ((rc = check_kv(prefix, pl, NULL, 0)) != 0)
		return rc;
	buf = malloc(pl + 1);
	if (buf == NULL)
		return LS_ENOMEM;
	const unsigned char *end = prefix_end(prefix, pl, buf, &el);
	rc = scan_range(s, pl > 0 ? prefix : NULL, pl, end, el, 0, fn, arg);
	free(buf);
	return rc;
}

/* ---- batches ---------------------------------------------------------- */

int
ls_store_batch_new(ls_store_batch **out)
{
	if (out == NULL)
		return LS_EINVAL;
	ls_store_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return LS_ENOMEM;
	b->wb = rocksdb_writebatch_create();
	if (b->wb == NULL) {
		free(b);
		return LS_ENOMEM;
	}
	*out = b;
	return 0;
}

/* Remember the first refused argument. */
static int
batch_check(ls_store_batch *b, const void *k, size_t kl, const void *v,
            size_t vl)
{
	int rc = check_kv(k, kl, v, vl);
	if (rc != 0 && b->err == 0)
		b->err = rc;
	return rc;
}

void
ls_store_batch_put(ls_store_batch *b, const void *k, size_t kl, const void *v,
                   size_t vl)
{
	if (b == NULL || batch_check(b, k, kl, v, vl) != 0)
		return;
	rocksdb_writebatch_put(b->wb, k, kl, v, vl);
	b->n++;
}

void
ls_store_batch_delete(ls_store_batch *b, const void *k, size_t kl)
{
	if (b == NULL || batch_check(b, k, kl, NULL, 0) != 0)
		return;
	rocksdb_writebatch_delete(b->wb, k, kl);
	b->n++;
}

void
ls_store_batch_delete_range(ls_store_batch *b, const void *from, size_t fl,
                            const void *to, size_t tl)
{
	if (b == NULL || batch_check(b, from, fl, NULL, 0) != 0 ||
	    batch_check(b, to, tl, NULL, 0) != 0)
		return;
	rocksdb_writebatch_delete_range(b->wb, fl > 0 ? from : "", fl,
	                                tl > 0 ? to : "", tl);
	b->n++;
}

void
ls_store_batch_delete_prefix(ls_store_batch *b, const void *prefix, size_t pl)
{
	unsigned char small[64];
	unsigned char *buf = small;
	size_t el;

	if (b == NULL || batch_check(b, prefix, pl, NULL, 0) != 0)
		return;
	if (pl > sizeof(small)) {
		buf = malloc(pl);
		if (buf == NULL) {
			if (b->err == 0)
				b->err = LS_ENOMEM;
			return;
		}
	}
	const unsigned char *end = prefix_end(prefix, pl, buf, &el);
	rocksdb_writebatch_delete_range(b->wb, pl > 0 ? prefix : "", pl,
	                                (const char *)end, el);
	b->n++;
	if (buf != small)
		free(buf);
}

void
ls_store_batch_add(ls_store_batch *b, const void *k, size_t kl, int64_t delta)
{
	unsigned char d[8];

	if (b == NULL || batch_check(b, k, kl, NULL, 0) != 0)
		return;
	put_le64(d, (uint64_t)delta);
	rocksdb_writebatch_merge(b->wb, k, kl, (const char *)d, 8);
	b->n++;
}

void
ls_store_batch_clear(ls_store_batch *b)
{
	if (b == NULL)
		return;
	rocksdb_writebatch_clear(b->wb);
	b->n = 0;
	b->err = 0;
}

size_t
ls_store_batch_count(const ls_store_batch *b)
{
	return b != NULL ? b->n : 0;
}

int
ls_store_batch_commit(ls_store *s, ls_store_batch *b)
{
	int rc;

	if (s == NULL || b == NULL)
		return LS_EINVAL;
	if (b->err != 0)
		rc = b->err;
	else if (b->n == 0)
		rc = 0;
	else
		rc = write_batch(s, b->wb, "batch_commit");
	ls_store_batch_clear(b);
	return rc;
}

void
ls_store_batch_free(ls_store_batch *b)
{
	if (b == NULL)
		return;
	rocksdb_writebatch_destroy(b->wb);
	free(b);
}

/* ---- per-partition state ---------------------------------------------- */

/* What the pending writes say about one user key. */
enum pend_kind {
	P_EMPTY = 0, /* free slot */
	P_PUT,       /* value = val[0..vlen) */
	P_ABSENT,    /* deleted */
	P_NUM,       /* value = the 8-byte counter num */
	P_DELTA      /* value = committed counter + num */
};

struct pend {
	uint64_t hash;
	const unsigned char *key; /* arena copy of the user key */
	size_t klen;
	const unsigned char *val; /* P_PUT: arena copy */
	size_t vlen;
	uint64_t num; /* P_NUM, P_DELTA */
	int kind;
};

/* One layer of writes over the committed keys: the pending writes of a
 * handle, or a sealed generation (the writes of one checkpoint interval,
 * not yet folded into the committed keys).  At most one entry per key:
 * its net effect. */
struct layer {
	struct pend *tab; /* open addressing, power-of-two size */
	size_t cap, used;
	ls_arena arena; /* the entries' keys and values */
	int cleared;    /* the committed data (and older layers) are hidden */
	uint64_t ckpt;  /* sealed generations: the checkpoint id */
};

struct ls_state {
	ls_store *s;
	rocksdb_writebatch_t *wb; /* pending writes; NULL until needed */
	size_t nops;              /* pending operations */
	struct layer cur;         /* the pending writes */
	struct layer *gen;        /* sealed generations, oldest first */
	size_t ngen, capgen;
	uint64_t base; /* checkpoint the committed keys hold, 0 = none */
	uint64_t last; /* newest sealed (or folded) checkpoint id */
	unsigned char *k; /* prefix followed by room for a user key */
	size_t kcap;
	size_t plen; /* 's' 0 name 0 */
	char name[LS_STORE_NAME_MAX + 1];
};

/* 'b' 0 partition: the checkpoint id (8 bytes big-endian) the committed
 * keys of the partition hold; its length. */
static size_t
base_key(unsigned char *k, const char *part, size_t pl)
{
	k[0] = 'b';
	k[1] = 0;
	memcpy(k + 2, part, pl);
	return pl + 2;
}

static int
read_base(ls_store *s, const char *part, size_t pl, uint64_t *base)
{
	unsigned char k[LS_STORE_NAME_MAX + 2];
	void *v;
	size_t vl;

	*base = 0;
	int rc = get_copy(s, k, base_key(k, part, pl), &v, &vl);
	if (rc == LS_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	if (vl == 8)
		*base = get_be64(v);
	free(v);
	return vl == 8 ? 0 : LS_ECORRUPT;
}

static void
layer_fini(struct layer *L)
{
	free(L->tab);
	ls_arena_fini(&L->arena);
	memset(L, 0, sizeof(*L));
}

int
ls_state_open(ls_store *s, const char *partition, ls_state **out)
{
	size_t nl;

	if (out != NULL)
		*out = NULL;
	if (s == NULL || out == NULL || name_len(partition, &nl) != 0)
		return LS_EINVAL;
	ls_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return LS_ENOMEM;
	st->s = s;
	memcpy(st->name, partition, nl);
	st->plen = nl + 3;
	st->kcap = st->plen + 32;
	st->k = malloc(st->kcap);
	if (st->k == NULL) {
		free(st);
		return LS_ENOMEM;
	}
	st->k[0] = 's';
	st->k[1] = 0;
	memcpy(st->k + 2, partition, nl);
	st->k[2 + nl] = 0;
	ls_arena_init(&st->cur.arena, STATE_ARENA_CHUNK);
	int rc = read_base(s, partition, nl, &st->base);
	if (rc != 0) {
		ls_arena_fini(&st->cur.arena);
		free(st->k);
		free(st);
		return rc;
	}
	st->last = st->base;
	*out = st;
	return 0;
}

void
ls_state_close(ls_state *st)
{
	if (st == NULL)
		return;
	if (st->wb != NULL)
		rocksdb_writebatch_destroy(st->wb);
	ls_arena_fini(&st->cur.arena);
	free(st->cur.tab);
	for (size_t i = 0; i < st->ngen; i++)
		layer_fini(&st->gen[i]);
	free(st->gen);
	free(st->k);
	free(st);
}

const char *
ls_state_partition(const ls_state *st)
{
	return st != NULL ? st->name : NULL;
}

size_t
ls_state_pending(const ls_state *st)
{
	return st != NULL ? st->nops : 0;
}

/* The full key prefix + k in st->k; its length, or 0 on out of memory
 * (a full key is never empty). */
static size_t
full_key(ls_state *st, const void *k, size_t kl)
{
	size_t need = st->plen + kl;

	if (need > st->kcap) {
		size_t cap = st->kcap * 2 > need ? st->kcap * 2 : need;
		unsigned char *n = realloc(st->k, cap);
		if (n == NULL)
			return 0;
		st->k = n;
		st->kcap = cap;
	}
	if (kl > 0)
		memcpy(st->k + st->plen, k, kl);
	return need;
}

static struct pend *
layer_find(const struct layer *L, const void *k, size_t kl, uint64_t h)
{
	if (L->tab == NULL)
		return NULL;
	size_t mask = L->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct pend *p = &L->tab[i];
		if (p->kind == P_EMPTY)
			return NULL;
		if (p->hash == h && p->klen == kl &&
		    (kl == 0 || memcmp(p->key, k, kl) == 0))
			return p;
	}
}

static struct pend *
pend_find(const ls_state *st, const void *k, size_t kl, uint64_t h)
{
	return layer_find(&st->cur, k, kl, h);
}

/* What the pending writes and the sealed generations, newest first, say
 * about k, as one entry *r: P_PUT, P_ABSENT or P_NUM when they decide the
 * value, P_DELTA when it is the committed counter plus r->num, P_EMPTY
 * when it is the committed value. */
static void
resolve(const ls_state *st, const void *k, size_t kl, struct pend *r)
{
	uint64_t h = ls_hash64(k, kl, 0), add = 0;
	int have_add = 0;

	memset(r, 0, sizeof(*r));
	r->hash = h;
	r->key = k;
	r->klen = kl;
	for (size_t i = 0; i <= st->ngen; i++) {
		const struct layer *L =
		    i == 0 ? &st->cur : &st->gen[st->ngen - i];
		const struct pend *p = layer_find(L, k, kl, h);
		if (p != NULL) {
			switch (p->kind) {
			case P_PUT:
				if (have_add) {
					r->kind = P_NUM;
					r->num = counter_of(p->val, p->vlen) +
					         add;
				} else {
					r->kind = P_PUT;
					r->val = p->val;
					r->vlen = p->vlen;
				}
				return;
			case P_ABSENT:
				r->kind = have_add ? P_NUM : P_ABSENT;
				r->num = add;
				return;
			case P_NUM:
				r->kind = P_NUM;
				r->num = p->num + add;
				return;
			default: /* P_DELTA: look further down */
				add += p->num;
				have_add = 1;
				break;
			}
		}
		if (L->cleared) {
			r->kind = have_add ? P_NUM : P_ABSENT;
			r->num = add;
			return;
		}
	}
	r->kind = have_add ? P_DELTA : P_EMPTY;
	r->num = add;
}

/* Make room for one more entry; LS_ENOMEM leaves the table as it was. */
static int
pend_reserve(ls_state *st)
{
	if (st->cur.tab != NULL && (st->cur.used + 1) * 2 <= st->cur.cap)
		return 0;
	size_t cap = st->cur.cap == 0 ? KEEP_TABLE_SLOTS : st->cur.cap * 2;
	struct pend *t = calloc(cap, sizeof(*t));
	if (t == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < st->cur.cap; i++) {
		struct pend *p = &st->cur.tab[i];
		if (p->kind == P_EMPTY)
			continue;
		size_t j = p->hash & (cap - 1);
		while (t[j].kind != P_EMPTY)
			j = (j + 1) & (cap - 1);
		t[j] = *p;
	}
	free(st->cur.tab);
	st->cur.tab = t;
	st->cur.cap = cap;
	return 0;
}

/* The entry for k, created (kind P_EMPTY, to be set by the caller) if
 * missing.  NULL on out of memory, with nothing changed. */
static struct pend *
pend_get(ls_state *st, const void *k, size_t kl)
{
	uint64_t h = ls_hash64(k, kl, 0);
	struct pend *p = pend_find(st, k, kl, h);

	if (p != NULL)
		return p;
	if (pend_reserve(st) != 0)
		return NULL;
	unsigned char *copy = ls_arena_alloc(&st->cur.arena, kl > 0 ? kl : 1);
	if (copy == NULL)
		return NULL;
	if (kl > 0)
		memcpy(copy, k, kl);
	size_t mask = st->cur.cap - 1;
	size_t i = h & mask;
	while (st->cur.tab[i].kind != P_EMPTY)
		i = (i + 1) & mask;
	p = &st->cur.tab[i];
	memset(p, 0, sizeof(*p));
	p->hash = h;
	p->key = copy;
	p->klen = kl;
	st->cur.used++;
	return p;
}

/* Check a user key and build its full key; LS_* or 0 with *fl set. */
static int
state_key(ls_state *st, const void *k, size_t kl, size_t *fl)
{
	if (st == NULL || (k == NULL && kl > 0))
		return LS_EINVAL;
	if (kl > LS_STATE_KEY_MAX)
		return LS_ERANGE;
	*fl = full_key(st, k, kl);
	return *fl == 0 ? LS_ENOMEM : 0;
}

static int
ensure_batch(ls_state *st)
{
	if (st->wb == NULL)
		st->wb = rocksdb_writebatch_create();
	return st->wb != NULL ? 0 : LS_ENOMEM;
}

int
ls_state_put(ls_state *st, const void *k, size_t kl, const void *v, size_t vl)
{
	size_t fl;
	int rc;

	if ((rc = state_key(st, k, kl, &fl)) != 0)
		return rc;
	if (v == NULL && vl > 0)
		return LS_EINVAL;
	if (vl > VALUE_MAX)
		return LS_ERANGE;
	if ((rc = ensure_batch(st)) != 0)
		return rc;
	unsigned char *copy = ls_arena_alloc(&st->cur.arena, vl > 0 ? vl : 1);
	if (copy == NULL)
		return LS_ENOMEM;
	if (vl > 0)
		memcpy(copy, v, vl);
	struct pend *p = pend_get(st, k, kl);
	if (p == NULL)
		return LS_ENOMEM;
	p->kind = P_PUT;
	p->val = copy;
	p->vlen = vl;
	rocksdb_writebatch_put(st->wb, (const char *)st->k, fl, v, vl);
	st->nops++;
	return 0;
}

int
ls_state_delete(ls_state *st, const void *k, size_t kl)
{
	size_t fl;
	int rc;

	if ((rc = state_key(st, k, kl, &fl)) != 0)
		return rc;
	if ((rc = ensure_batch(st)) != 0)
		return rc;
	struct pend *p = pend_get(st, k, kl);
	if (p == NULL)
		return LS_ENOMEM;
	p->kind = P_ABSENT;
	rocksdb_writebatch_delete(st->wb, (const char *)st->k, fl);
	st->nops++;
	return 0;
}

int
ls_state_add(ls_state *st, const void *k, size_t kl, int64_t delta)
{
	unsigned char d[8];
	size_t fl;
	int rc;

	if ((rc = state_key(st, k, kl, &fl)) != 0)
		return rc;
	if ((rc = ensure_batch(st)) != 0)
		return rc;
	struct pend *p = pend_get(st, k, kl);
	if (p == NULL)
		return LS_ENOMEM;
	switch (p->kind) {
	case P_PUT: /* the base is known: fold it in */
		p->num = counter_of(p->val, p->vlen) + (uint64_t)delta;
		p->kind = P_NUM;
		break;
	case P_ABSENT:
		p->num = (uint64_t)delta;
		p->kind = P_NUM;
		break;
	case P_NUM:
	case P_DELTA:
		p->num += (uint64_t)delta;
		break;
	default: /* new entry: the base is committed data, unless cleared */
		p->num = (uint64_t)delta;
		p->kind = st->cur.cleared ? P_NUM : P_DELTA;
		break;
	}
	put_le64(d, (uint64_t)delta);
	rocksdb_writebatch_merge(st->wb, (const char *)st->k, fl,
	                         (const char *)d, 8);
	st->nops++;
	return 0;
}

static int
dup_out(const void *p, size_t n, void **v, size_t *vl)
{
	char *c = malloc(n + 1);
	if (c == NULL)
		return LS_ENOMEM;
	if (n > 0)
		memcpy(c, p, n);
	c[n] = '\0';
	*v = c;
	*vl = n;
	return 0;
}

int
ls_state_get(ls_state *st, const void *k, size_t kl, void **v, size_t *vl)
{
	unsigned char num[8];
	size_t fl;
	int rc;

	if (v == NULL || vl == NULL)
		return LS_EINVAL;
	if ((rc = state_key(st, k, kl, &fl)) != 0)
		return rc;
	struct pend r, *p = &r;
	resolve(st, k, kl, &r);
	if (p->kind == P_EMPTY)
		return get_copy(st->s, st->k, fl, v, vl);
	switch (p->kind) {
	case P_PUT:
		return dup_out(p->val, p->vlen, v, vl);
	case P_ABSENT:
		return LS_ENOENT;
	case P_NUM:
		put_le64(num, p->num);
		return dup_out(num, 8, v, vl);
	default: {
		uint64_t base;
		int found;
		if ((rc = get_counter(st->s, st->k, fl, &base, &found)) != 0)
			return rc;
		put_le64(num, base + p->num);
		return dup_out(num, 8, v, vl);
	}
	}
}

int
ls_state_counter(ls_state *st, const void *k, size_t kl, int64_t *out)
{
	size_t fl;
	int rc;

	if (out == NULL)
		return LS_EINVAL;
	if ((rc = state_key(st, k, kl, &fl)) != 0)
		return rc;
	struct pend r;
	uint64_t base = 0;
	int found;
	resolve(st, k, kl, &r);
	switch (r.kind) {
	case P_PUT:
		*out = (int64_t)counter_of(r.val, r.vlen);
		return 0;
	case P_ABSENT:
		*out = 0;
		return 0;
	case P_NUM:
		*out = (int64_t)r.num;
		return 0;
	default: /* P_DELTA, P_EMPTY (num 0): on the committed counter */
		if ((rc = get_counter(st->s, st->k, fl, &base, &found)) != 0)
			return rc;
		*out = (int64_t)(base + r.num);
		return 0;
	}
}

int
ls_state_clear(ls_state *st)
{
	unsigned char end[LS_STORE_NAME_MAX + 3];
	size_t el;
	int rc;

	if (st == NULL)
		return LS_EINVAL;
	if ((rc = ensure_batch(st)) != 0)
		return rc;
	/* Every earlier pending write is covered by the range delete, so the
	 * batch restarts with it and the index forgets them. */
	rocksdb_writebatch_clear(st->wb);
	if (st->cur.tab != NULL)
		memset(st->cur.tab, 0, st->cur.cap * sizeof(*st->cur.tab));
	st->cur.used = 0;
	ls_arena_reset(&st->cur.arena);
	prefix_end(st->k, st->plen, end, &el);
	rocksdb_writebatch_delete_range(st->wb, (const char *)st->k, st->plen,
	                                (const char *)end, el);
	st->nops = 1;
	st->cur.cleared = 1;
	return 0;
}

/* Forget the pending writes, keeping small buffers for the next
 * activation and freeing large ones. */
static void
state_reset(ls_state *st)
{
	if (st->wb != NULL) {
		size_t sz = 0;
		rocksdb_writebatch_data(st->wb, &sz);
		if (sz > KEEP_BATCH_BYTES) {
			rocksdb_writebatch_destroy(st->wb);
			st->wb = NULL;
		} else {
			rocksdb_writebatch_clear(st->wb);
		}
	}
	if (st->cur.cap > KEEP_TABLE_SLOTS) {
		free(st->cur.tab);
		st->cur.tab = NULL;
		st->cur.cap = 0;
	} else if (st->cur.tab != NULL) {
		memset(st->cur.tab, 0, st->cur.cap * sizeof(*st->cur.tab));
	}
	st->cur.used = 0;
	if (st->cur.arena.used > st->cur.arena.chunk_size)
		ls_arena_fini(&st->cur.arena);
	else
		ls_arena_reset(&st->cur.arena);
	if (st->kcap > st->plen + 256) {
		unsigned char *n = realloc(st->k, st->plen + 32);
		if (n != NULL) {
			st->k = n;
			st->kcap = st->plen + 32;
		}
	}
	st->nops = 0;
	st->cur.cleared = 0;
}

int
ls_state_commit(ls_state *st)
{
	int rc;

	if (st == NULL)
		return LS_EINVAL;
	if (st->nops == 0)
		return 0;
	if (st->ngen > 0)
		return LS_ESTATE; /* would overtake the sealed generations */
	if ((rc = write_batch(st->s, st->wb, "state_commit")) != 0)
		return rc;
	state_reset(st);
	return 0;
}

/* RocksDB's write batch representation, which is also its WAL record:
 * an 8-byte sequence number, a 4-byte little-endian record count, then the
 * records.  Two batches are joined by appending the second one's records
 * and adding the counts. */
#define WB_HEADER 12

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int
ls_state_commit_with(ls_state *st, ls_store_batch *extra)
{
	size_t al, bl;
	int rc;

	if (extra == NULL)
		return ls_state_commit(st);
	if (st == NULL) {
		ls_store_batch_clear(extra);
		return LS_EINVAL;
	}
	if (st->ngen > 0 && st->nops > 0) {
		ls_store_batch_clear(extra);
		return LS_ESTATE;
	}
	if (extra->err != 0 || extra->n == 0 || st->nops == 0) {
		rc = ls_store_batch_commit(st->s, extra);
		if (rc == 0)
			rc = ls_state_commit(st);
		return rc;
	}
	const char *a = rocksdb_writebatch_data(st->wb, &al);
	const char *b = rocksdb_writebatch_data(extra->wb, &bl);
	if (al < WB_HEADER || bl < WB_HEADER) {
		ls_store_batch_clear(extra);
		return LS_EINTERNAL;
	}
	unsigned char *rep = malloc(al + bl - WB_HEADER);
	if (rep == NULL) {
		ls_store_batch_clear(extra);
		return LS_ENOMEM;
	}
	memcpy(rep, a, al);
	memcpy(rep + al, b + WB_HEADER, bl - WB_HEADER);
	uint32_t n = get_le32((const unsigned char *)a + 8) +
	             get_le32((const unsigned char *)b + 8);
	for (int i = 0; i < 4; i++)
		rep[8 + i] = (unsigned char)(n >> (8 * i));
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from(
	    (const char *)rep, al + bl - WB_HEADER);
	free(rep);
	rc = write_batch(st->s, wb, "state_commit_with");
	rocksdb_writebatch_destroy(wb);
	ls_store_batch_clear(extra);
	if (rc == 0)
		state_reset(st);
	return rc;
}

static int
pend_cmp(const void *a, const void *b)
{
	const struct pend *x = *(const struct pend *const *)a;
	const struct pend *y = *(const struct pend *const *)b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = n > 0 ? memcmp(x->key, y->key, n) : 0;

	if (c != 0)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Bytewise order of two user keys. */
static int
key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

/* Emit a pending entry (db: the committed value of the same key, or
 * NULL).  Returns fn's answer, 0 when nothing is emitted. */
static int
emit_pend(const struct pend *p, const void *dv, size_t dvl, int in_db,
          ls_store_scan_fn fn, void *arg)
{
	unsigned char num[8];

	switch (p->kind) {
	case P_PUT:
		return fn(arg, p->key, p->klen, p->val, p->vlen);
	case P_NUM:
		put_le64(num, p->num);
		return fn(arg, p->key, p->klen, num, 8);
	case P_DELTA:
		put_le64(num, (in_db ? counter_of(dv, dvl) : 0) + p->num);
		return fn(arg, p->key, p->klen, num, 8);
	default:
		return 0;
	}
}

int
ls_state_scan(ls_state *st, const void *from, size_t fl, const void *to,
              size_t tl, ls_store_scan_fn fn, void *arg)
{
	struct pend **pv = NULL, *rv = NULL;
	size_t np = 0;
	unsigned char *lo = NULL, *hi = NULL;
	size_t lol, hil;
	char *e = NULL;
	int rc = 0;

	if (st == NULL || fn == NULL || (from == NULL && fl > 0) ||
	    (to == NULL && tl > 0))
		return LS_EINVAL;
	if (fl > LS_STATE_KEY_MAX || tl > LS_STATE_KEY_MAX + 1)
		return LS_ERANGE;
	if (from == NULL)
		fl = 0;

	/* The keys in range that the pending writes and the sealed
	 * generations (newest first, down to the newest clear) touch, sorted
	 * and each resolved to one entry. */
	size_t nl = 0, total = 0;
	int hidden = 0;
	while (nl <= st->ngen && !hidden) {
		const struct layer *L =
		    nl == 0 ? &st->cur : &st->gen[st->ngen - nl];
		total += L->used;
		hidden = L->cleared;
		nl++;
	}
	if (total > 0) {
		pv = malloc(total * sizeof(*pv));
		rv = malloc(total * sizeof(*rv));
		if (pv == NULL || rv == NULL) {
			free(pv);
			free(rv);
			return LS_ENOMEM;
		}
		for (size_t l = 0; l < nl; l++) {
			const struct layer *L =
			    l == 0 ? &st->cur : &st->gen[st->ngen - l];
			for (size_t i = 0; i < L->cap; i++) {
				struct pend *p = &L->tab[i];
				if (p->kind == P_EMPTY)
					continue;
				if (fl > 0 &&
				    key_cmp(p->key, p->klen, from, fl) < 0)
					continue;
				if (to != NULL &&
				    key_cmp(p->key, p->klen, to, tl) >= 0)
					continue;
				pv[np++] = p;
			}
		}
		qsort(pv, np, sizeof(*pv), pend_cmp);
		size_t u = 0;
		for (size_t i = 0; i < np; i++) {
			if (u > 0 && key_cmp(pv[i]->key, pv[i]->klen,
			                     rv[u - 1].key, rv[u - 1].klen) == 0)
				continue;
			resolve(st, pv[i]->key, pv[i]->klen, &rv[u++]);
		}
		np = u;
		for (size_t i = 0; i < np; i++)
			pv[i] = &rv[i];
	}

	/* The committed range [prefix+from, prefix+to or prefix end). */
	rocksdb_iterator_t *it = NULL;
	rocksdb_readoptions_t *ro = NULL;
	if (!hidden) {
		lol = st->plen + fl;
		hil = to != NULL ? st->plen + tl : st->plen;
		lo = malloc(lol);
		hi = malloc(hil);
		if (lo == NULL || hi == NULL) {
			rc = LS_ENOMEM;
			goto out;
		}
		memcpy(lo, st->k, st->plen);
		if (fl > 0)
			memcpy(lo + st->plen, from, fl);
		if (to != NULL) {
			memcpy(hi, st->k, st->plen);
			if (tl > 0)
				memcpy(hi + st->plen, to, tl);
		} else {
			prefix_end(st->k, st->plen, hi, &hil);
		}
		ro = rocksdb_readoptions_create();
		rocksdb_readoptions_set_iterate_upper_bound(ro, (char *)hi,
		                                            hil);
		it = rocksdb_create_iterator(st->s->db, ro);
		rocksdb_iter_seek(it, (const char *)lo, lol);
	}

	size_t i = 0;
	for (;;) {
		const char *dk = NULL, *dv = NULL;
		size_t dkl = 0, dvl = 0;
		int have_db = it != NULL && rocksdb_iter_valid(it);
		if (have_db) {
			dk = rocksdb_iter_key(it, &dkl);
			dk += st->plen;
			dkl -= st->plen;
		}
		if (!have_db && i == np)
			break;
		int c = !have_db  ? -1
		        : i == np ? 1
		                  : key_cmp(pv[i]->key, pv[i]->klen, dk, dkl);
		if (c <= 0) {
			if (c == 0)
				dv = rocksdb_iter_value(it, &dvl);
			rc = emit_pend(pv[i], dv, dvl, c == 0, fn, arg);
			i++;
			if (c == 0)
				rocksdb_iter_next(it);
		} else {
			dv = rocksdb_iter_value(it, &dvl);
			rc = fn(arg, dk, dkl, dv, dvl);
			rocksdb_iter_next(it);
		}
		if (rc != 0)
			break;
	}
	if (rc == 0 && it != NULL) {
		rocksdb_iter_get_error(it, &e);
		if (e != NULL)
			rc = rdb_err("state_scan", e);
	}
out:
	if (it != NULL)
		rocksdb_iter_destroy(it);
	if (ro != NULL)
		rocksdb_readoptions_destroy(ro);
	free(lo);
	free(hi);
	free(pv);
	free(rv);
	return rc;
}

/* ---- incremental checkpoints ------------------------------------------ */

uint64_t
ls_state_base(const ls_state *st)
{
	return st != NULL ? st->base : 0;
}

size_t
ls_state_sealed(const ls_state *st)
{
	return st != NULL ? st->ngen : 0;
}

int
ls_state_seal(ls_state *st, uint64_t ckpt)
{
	if (st == NULL || ckpt <= st->last)
		return LS_EINVAL;
	if (st->ngen == st->capgen) {
		size_t cap = st->capgen == 0 ? 4 : st->capgen * 2;
		struct layer *g = realloc(st->gen, cap * sizeof(*g));
		if (g == NULL)
			return LS_ENOMEM;
		st->gen = g;
		st->capgen = cap;
	}
	/* The pending layer becomes the generation as it is; the handle
	 * starts a new one.  The write batch is not needed: a fold writes a
	 * generation's net changes from its table. */
	struct layer *g = &st->gen[st->ngen++];
	*g = st->cur;
	g->ckpt = ckpt;
	memset(&st->cur, 0, sizeof(st->cur));
	ls_arena_init(&st->cur.arena, STATE_ARENA_CHUNK);
	state_reset(st);
	st->last = ckpt;
	return 0;
}

/* The change an entry stands for. */
static void
change_of(const struct pend *p, ls_change *c)
{
	memset(c, 0, sizeof(*c));
	c->key = p->key;
	c->klen = p->klen;
	switch (p->kind) {
	case P_PUT:
		c->kind = LS_CHANGE_PUT;
		c->val = p->val;
		c->vlen = p->vlen;
		break;
	case P_ABSENT:
		c->kind = LS_CHANGE_DELETE;
		break;
	case P_NUM:
		c->kind = LS_CHANGE_SET;
		c->num = (int64_t)p->num;
		break;
	default:
		c->kind = LS_CHANGE_ADD;
		c->num = (int64_t)p->num;
		break;
	}
}

int
ls_state_changes(ls_state *st, uint64_t ckpt, ls_changeset *info,
                 ls_change_fn fn, void *arg)
{
	size_t g;

	if (st == NULL)
		return LS_EINVAL;
	for (g = 0; g < st->ngen && st->gen[g].ckpt != ckpt; g++)
		;
	if (g == st->ngen)
		return LS_ENOENT;
	const struct layer *L = &st->gen[g];
	if (info != NULL) {
		info->prev = g > 0 ? st->gen[g - 1].ckpt : st->base;
		info->ckpt = ckpt;
		info->cleared = L->cleared;
		info->count = L->used;
	}
	if (fn == NULL || L->used == 0)
		return 0;
	struct pend **pv = malloc(L->used * sizeof(*pv));
	if (pv == NULL)
		return LS_ENOMEM;
	size_t np = 0;
	for (size_t i = 0; i < L->cap; i++)
		if (L->tab[i].kind != P_EMPTY)
			pv[np++] = &L->tab[i];
	qsort(pv, np, sizeof(*pv), pend_cmp);
	int rc = 0;
	for (size_t i = 0; i < np && rc == 0; i++) {
		ls_change c;
		change_of(pv[i], &c);
		rc = fn(arg, &c);
	}
	free(pv);
	return rc;
}

/* Record change c of partition (full-key scratch in st->k style: k holds
 * the prefix, kcap bytes) into wb.  0 or LS_EINVAL / LS_ERANGE. */
static int
wb_change(rocksdb_writebatch_t *wb, unsigned char *k, size_t plen,
          const ls_change *c)
{
	unsigned char num[8];

	if (c->klen > LS_STATE_KEY_MAX)
		return LS_ERANGE;
	if ((c->key == NULL && c->klen > 0) ||
	    (c->val == NULL && c->vlen > 0))
		return LS_EINVAL;
	if (c->vlen > VALUE_MAX)
		return LS_ERANGE;
	if (c->klen > 0)
		memcpy(k + plen, c->key, c->klen);
	const char *fk = (const char *)k;
	size_t fl = plen + c->klen;
	switch (c->kind) {
	case LS_CHANGE_PUT:
		rocksdb_writebatch_put(wb, fk, fl, c->val, c->vlen);
		return 0;
	case LS_CHANGE_DELETE:
		rocksdb_writebatch_delete(wb, fk, fl);
		return 0;
	case LS_CHANGE_SET:
		put_le64(num, (uint64_t)c->num);
		rocksdb_writebatch_put(wb, fk, fl, (const char *)num, 8);
		return 0;
	case LS_CHANGE_ADD:
		put_le64(num, (uint64_t)c->num);
		rocksdb_writebatch_merge(wb, fk, fl, (const char *)num, 8);
		return 0;
	default:
		return LS_EINVAL;
	}
}

/* A range delete of every committed key of the partition whose prefix
 * k[0..plen) holds. */
static void
wb_clear(rocksdb_writebatch_t *wb, const unsigned char *k, size_t plen)
{
	unsigned char end[LS_STORE_NAME_MAX + 3];
	size_t el;

	prefix_end(k, plen, end, &el);
	rocksdb_writebatch_delete_range(wb, (const char *)k, plen,
	                                (const char *)end, el);
}

static void
wb_base(rocksdb_writebatch_t *wb, const char *part, size_t pl, uint64_t id)
{
	unsigned char k[LS_STORE_NAME_MAX + 2], v[8];

	put_be64(v, id);
	rocksdb_writebatch_put(wb, (const char *)k, base_key(k, part, pl),
	                       (const char *)v, 8);
}

int
ls_state_fold(ls_state *st, uint64_t upto)
{
	size_t m = 0;
	int rc = 0;

	if (st == NULL)
		return LS_EINVAL;
	while (m < st->ngen && st->gen[m].ckpt <= upto)
		m++;
	if (m == 0)
		return 0;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	for (size_t g = 0; g < m && rc == 0; g++) {
		const struct layer *L = &st->gen[g];
		if (L->cleared)
			wb_clear(wb, st->k, st->plen);
		for (size_t i = 0; i < L->cap && rc == 0; i++) {
			const struct pend *p = &L->tab[i];
			ls_change c;
			if (p->kind == P_EMPTY)
				continue;
			if (full_key(st, p->key, p->klen) == 0) {
				rc = LS_ENOMEM;
				break;
			}
			change_of(p, &c);
			rc = wb_change(wb, st->k, st->plen, &c);
		}
	}
	uint64_t id = st->gen[m - 1].ckpt;
	if (rc == 0) {
		wb_base(wb, st->name, st->plen - 3, id);
		rc = write_batch(st->s, wb, "state_fold");
	}
	rocksdb_writebatch_destroy(wb);
	if (rc != 0)
		return rc;
	for (size_t g = 0; g < m; g++)
		layer_fini(&st->gen[g]);
	memmove(st->gen, st->gen + m, (st->ngen - m) * sizeof(*st->gen));
	st->ngen -= m;
	st->base = id;
	if (st->ngen == 0 && st->capgen > 8) {
		free(st->gen);
		st->gen = NULL;
		st->capgen = 0;
	}
	return 0;
}

int
ls_store_state_base(ls_store *s, const char *partition, uint64_t *base)
{
	size_t pl;

	if (s == NULL || base == NULL || name_len(partition, &pl) != 0)
		return LS_EINVAL;
	return read_base(s, partition, pl, base);
}

/* 's' 0 partition 0 into a new buffer with room for a user key. */
static unsigned char *
state_prefix(const char *part, size_t pl, size_t *plen)
{
	unsigned char *k = malloc(pl + 3 + LS_STATE_KEY_MAX);
	if (k == NULL)
		return NULL;
	k[0] = 's';
	k[1] = 0;
	memcpy(k + 2, part, pl);
	k[2 + pl] = 0;
	*plen = pl + 3;
	return k;
}

int
ls_store_state_apply(ls_store *s, const ls_changeset *cs, const char *partition,
                     const ls_change *ch, size_t n)
{
	size_t pl, plen;
	uint64_t base;
	int rc;

	if (s == NULL || cs == NULL || name_len(partition, &pl) != 0 ||
	    (ch == NULL && n > 0) || cs->ckpt <= cs->prev)
		return LS_EINVAL;
	if ((rc = read_base(s, partition, pl, &base)) != 0)
		return rc;
	if (base == cs->ckpt)
		return LS_EEXIST;
	if (!cs->cleared && base != cs->prev)
		return LS_ESTATE;
	unsigned char *k = state_prefix(partition, pl, &plen);
	if (k == NULL)
		return LS_ENOMEM;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	if (cs->cleared)
		wb_clear(wb, k, plen);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wb_change(wb, k, plen, &ch[i]);
	if (rc == 0) {
		wb_base(wb, partition, pl, cs->ckpt);
		rc = write_batch(s, wb, "state_apply");
	}
	rocksdb_writebatch_destroy(wb);
	free(k);
	return rc;
}

int
ls_store_state_drop(ls_store *s, const char *partition)
{
	unsigned char bk[LS_STORE_NAME_MAX + 2];
	size_t pl, plen;

	if (s == NULL || name_len(partition, &pl) != 0)
		return LS_EINVAL;
	unsigned char *k = state_prefix(partition, pl, &plen);
	if (k == NULL)
		return LS_ENOMEM;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	wb_clear(wb, k, plen);
	rocksdb_writebatch_delete(wb, (const char *)bk,
	                          base_key(bk, partition, pl));
	int rc = write_batch(s, wb, "state_drop");
	rocksdb_writebatch_destroy(wb);
	free(k);
	return rc;
}

int
ls_store_state_export(ls_store *s, const char *partition, ls_changeset *info,
                      ls_change_fn fn, void *arg)
{
	unsigned char bk[LS_STORE_NAME_MAX + 2], hi[LS_STORE_NAME_MAX + 3];
	size_t pl, plen, hl;
	char *e = NULL;
	int rc = 0;

	if (s == NULL || info == NULL || fn == NULL ||
	    name_len(partition, &pl) != 0)
		return LS_EINVAL;
	unsigned char *k = state_prefix(partition, pl, &plen);
	if (k == NULL)
		return LS_ENOMEM;
	/* One snapshot for the base and the keys. */
	const rocksdb_snapshot_t *snap = rocksdb_create_snapshot(s->db);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_snapshot(ro, snap);
	size_t vl = 0;
	char *v = rocksdb_get(s->db, ro, (const char *)bk,
	                      base_key(bk, partition, pl), &vl, &e);
	memset(info, 0, sizeof(*info));
	if (e != NULL) {
		rc = rdb_err("state_export", e);
	} else if (v != NULL && vl != 8) {
		rc = LS_ECORRUPT;
	} else {
		info->ckpt = v != NULL ? get_be64((unsigned char *)v) : 0;
		info->cleared = 1;
	}
	rocksdb_free(v);
	prefix_end(k, plen, hi, &hl);
	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, hl);
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
	for (rocksdb_iter_seek(it, (const char *)k, plen);
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kl;
		const char *ik = rocksdb_iter_key(it, &kl);
		ls_change c;
		memset(&c, 0, sizeof(c));
		c.kind = LS_CHANGE_PUT;
		c.key = ik + plen;
		c.klen = kl - plen;
		c.val = rocksdb_iter_value(it, &c.vlen);
		info->count++;
		rc = fn(arg, &c);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &e);
		if (e != NULL)
			rc = rdb_err("state_export", e);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(s->db, snap);
	free(k);
	return rc;
}

/* ---- checkpoint blobs ------------------------------------------------- */

int
ls_store_ckpt_put(ls_store *s, const char *topology, uint64_t ckpt,
                  const char *partition, const void *blob, size_t len)
{
	unsigned char k[CKPT_KEY_MAX];
	size_t tl, pl;

	if (s == NULL || name_len(topology, &tl) != 0 ||
	    name_len(partition, &pl) != 0)
		return LS_EINVAL;
	size_t n = ckpt_key(k, topology, tl, ckpt, partition, pl);
	return ls_store_put(s, k, n, blob, len);
}

void
ls_store_batch_ckpt_put(ls_store_batch *b, const char *topology, uint64_t ckpt,
                        const char *partition, const void *blob, size_t len)
{
	unsigned char k[CKPT_KEY_MAX];
	size_t tl, pl;

	if (b == NULL)
		return;
	if (name_len(topology, &tl) != 0 || name_len(partition, &pl) != 0) {
		if (b->err == 0)
			b->err = LS_EINVAL;
		return;
	}
	size_t n = ckpt_key(k, topology, tl, ckpt, partition, pl);
	ls_store_batch_put(b, k, n, blob, len);
}

int
ls_store_ckpt_get(ls_store *s, const char *topology, uint64_t ckpt,
                  const char *partition, void **blob, size_t *len)
{
	unsigned char k[CKPT_KEY_MAX];
	size_t tl, pl;

	if (s == NULL || blob == NULL || len == NULL ||
	    name_len(topology, &tl) != 0 || name_len(partition, &pl) != 0)
		return LS_EINVAL;
	size_t n = ckpt_key(k, topology, tl, ckpt, partition, pl);
	return get_copy(s, k, n, blob, len);
}

int
ls_store_ckpt_latest(ls_store *s, const char *topology, const char *partition,
                     uint64_t *ckpt)
{
	unsigned char k[CKPT_KEY_MAX], hi[LS_STORE_NAME_MAX + 3];
	size_t tl, pl, hl;
	char *e = NULL;
	int rc = LS_ENOENT;

	if (s == NULL || ckpt == NULL || name_len(topology, &tl) != 0 ||
	    name_len(partition, &pl) != 0)
		return LS_EINVAL;
	size_t tpl = ckpt_prefix(k, topology, tl);
	prefix_end(k, tpl, hi, &hl);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)k, tpl);
	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, hl);
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);

	/* Walk the topology's checkpoint ids from the newest down; at each
	 * one look up this partition's key.  Costs two seeks per id held.
	 * The position only ever moves back, so the walk ends even over raw
	 * keys that are not checkpoint keys. */
	uint64_t prev = 0;
	int have_prev = 0;
	rocksdb_iter_seek_to_last(it);
	while (rocksdb_iter_valid(it)) {
		size_t kl;
		const char *cur = rocksdb_iter_key(it, &kl);
		uint64_t id = kl >= tpl + 8
		                  ? get_be64((const unsigned char *)cur + tpl)
		                  : 0;
		if (kl < tpl + 8 || (have_prev && id >= prev)) {
			rocksdb_iter_prev(it); /* not a key of a new id */
			continue;
		}
		size_t n = ckpt_key(k, topology, tl, id, partition, pl);
		rocksdb_iter_seek(it, (const char *)k, n);
		if (rocksdb_iter_valid(it)) {
			cur = rocksdb_iter_key(it, &kl);
			if (kl == n && memcmp(cur, k, n) == 0) {
				*ckpt = id;
				rc = 0;
				break;
			}
		}
		prev = id;
		have_prev = 1;
		/* the last key before every key of this id */
		rocksdb_iter_seek_for_prev(it, (const char *)k, tpl + 8);
	}
	if (rc != 0) {
		rocksdb_iter_get_error(it, &e);
		if (e != NULL)
			rc = rdb_err("ckpt_latest", e);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

int
ls_store_ckpt_put_final(ls_store *s, const char *topology, uint64_t ckpt,
                        const char *partition, const void *blob, size_t len)
{
	unsigned char k[CKPT_KEY_MAX], f[FINAL_KEY_MAX];
	size_t tl, pl;
	int rc;

	if (s == NULL || name_len(topology, &tl) != 0 ||
	    name_len(partition, &pl) != 0)
		return LS_EINVAL;
	if ((rc = check_kv("", 0, blob, len)) != 0)
		return rc;
	size_t n = ckpt_key(k, topology, tl, ckpt, partition, pl);
	size_t fn = final_prefix(f, topology, tl, partition, pl);
	put_be64(f + fn, ckpt);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put(wb, (const char *)k, n, blob, len);
	rocksdb_writebatch_put(wb, (const char *)f, fn + 8, "", 0);
	rc = write_batch(s, wb, "ckpt_put_final");
	rocksdb_writebatch_destroy(wb);
	return rc;
}

int
ls_store_ckpt_find(ls_store *s, const char *topology, uint64_t from,
                   uint64_t at, const char *partition, uint64_t *ckpt,
                   int *final)
{
	unsigned char k[CKPT_KEY_MAX], f[FINAL_KEY_MAX];
	size_t tl, pl, kl;
	char *e = NULL;

	if (s == NULL || ckpt == NULL || name_len(topology, &tl) != 0 ||
	    name_len(partition, &pl) != 0)
		return LS_EINVAL;
	/* the newest final mark in [from, at] */
	size_t fn = final_prefix(f, topology, tl, partition, pl);
	put_be64(f + fn, at);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)f, fn);
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
	rocksdb_iter_seek_for_prev(it, (const char *)f, fn + 8);
	uint64_t fin = 0;
	int have_fin = 0;
	if (rocksdb_iter_valid(it)) {
		const char *cur = rocksdb_iter_key(it, &kl);
		if (kl == fn + 8 && memcmp(cur, f, fn) == 0) {
			fin = get_be64((const unsigned char *)cur + fn);
			have_fin = fin >= from;
		}
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (e != NULL)
		return rdb_err("ckpt_find", e);

	/* the blob of at itself comes first */
	size_t n = ckpt_key(k, topology, tl, at, partition, pl);
	rocksdb_pinnableslice_t *ps =
	    rocksdb_get_pinned(s->db, s->ro, (const char *)k, n, &e);
	if (e != NULL)
		return rdb_err("ckpt_find", e);
	if (ps != NULL) {
		rocksdb_pinnableslice_destroy(ps);
		*ckpt = at;
		if (final != NULL)
			*final = have_fin && fin == at;
		return 0;
	}
	if (!have_fin)
		return LS_ENOENT;
	*ckpt = fin;
	if (final != NULL)
		*final = 1;
	return 0;
}

int
ls_store_ckpt_finals(ls_store *s, const char *topology, uint64_t from,
                     ls_store_final_fn fn, void *arg)
{
	unsigned char fp[LS_STORE_NAME_MAX + 3], fe[LS_STORE_NAME_MAX + 3];
	char part[LS_STORE_NAME_MAX + 1];
	size_t tl, fel;
	char *e = NULL;

	if (s == NULL || fn == NULL || name_len(topology, &tl) != 0)
		return LS_EINVAL;
	size_t n = ckpt_prefix(fp, topology, tl);
	fp[1] = 1;
	prefix_end(fp, n, fe, &fel);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)fp, n);
	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)fe, fel);
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
	for (rocksdb_iter_seek(it, (const char *)fp, n); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl;
		const char *cur = rocksdb_iter_key(it, &kl);
		if (kl < n + 2 + 8 || kl > FINAL_KEY_MAX || cur[kl - 9] != 0)
			continue; /* not a mark */
		uint64_t id = get_be64((const unsigned char *)cur + kl - 8);
		if (id < from)
			continue;
		size_t pl = kl - 9 - n;
		memcpy(part, cur + n, pl);
		part[pl] = '\0';
		fn(arg, part, id);
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return e != NULL ? rdb_err("ckpt_finals", e) : 0;
}

/* A kept final blob's key (GC). */
typedef struct kept_key {
	size_t len;
	unsigned char k[CKPT_KEY_MAX + 1];
} kept_key;

static int
kept_cmp(const void *a, const void *b)
{
	const kept_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->k, y->k, n);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

int
ls_store_ckpt_gc(ls_store *s, const char *topology, uint64_t keep_from)
{
	unsigned char lo[CKPT_KEY_MAX + 1], hi[CKPT_KEY_MAX],
	    fp[LS_STORE_NAME_MAX + 3], fe[LS_STORE_NAME_MAX + 3];
	size_t tl, fel;
	char *e = NULL;

	if (s == NULL || name_len(topology, &tl) != 0)
		return LS_EINVAL;
	if (keep_from == 0)
		return 0;
	size_t n = ckpt_prefix(lo, topology, tl);
	memcpy(hi, lo, n);
	put_be64(hi + n, keep_from);

	/* Per partition, the newest final mark below keep_from stays with
	 * its blob (it stands for keep_from and later ids); older marks go.
	 * Marks sort by partition, then id. */
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	kept_key *kept = NULL;
	size_t nkept = 0, capkept = 0;
	int rc = 0;
	memcpy(fp, lo, n);
	fp[1] = 1;
	prefix_end(fp, n, fe, &fel);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)fp, n);
	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)fe, fel);
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, ro);
	const char *prev = NULL; /* the previous mark below keep_from */
	size_t prevl = 0;
	char prevbuf[FINAL_KEY_MAX];
	for (rocksdb_iter_seek(it, (const char *)fp, n); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl;
		const char *cur = rocksdb_iter_key(it, &kl);
		if (kl < n + 2 + 8 || kl > FINAL_KEY_MAX || cur[kl - 9] != 0)
			continue; /* not a mark */
		uint64_t id = get_be64((const unsigned char *)cur + kl - 8);
		if (id >= keep_from)
			continue;
		size_t pl = kl - 9 - n;
		if (prev != NULL && prevl == kl &&
		    memcmp(prev, cur, kl - 8) == 0) {
			/* same partition: the earlier mark is superseded */
			rocksdb_writebatch_delete(wb, prev, prevl);
			nkept--;
		}
		if (nkept == capkept) {
			size_t nc = capkept ? capkept * 2 : 16;
			kept_key *nk = realloc(kept, nc * sizeof(*nk));
			if (nk == NULL) {
				rc = LS_ENOMEM;
				break;
			}
			kept = nk;
			capkept = nc;
		}
		kept_key *kk = &kept[nkept++];
		kk->len = ckpt_key(kk->k, topology, tl, id, cur + n, pl);
		memcpy(prevbuf, cur, kl);
		prev = prevbuf;
		prevl = kl;
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &e);
		if (e != NULL)
			rc = rdb_err("ckpt_gc", e);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);

	if (rc == 0) {
		/* every blob below keep_from but the kept ones: the ranges
		 * between them (a key followed by 0x00 is its successor) */
		if (nkept > 1)
			qsort(kept, nkept, sizeof(*kept), kept_cmp);
		const unsigned char *from = lo;
		size_t froml = n;
		for (size_t i = 0; i < nkept; i++) {
			if (froml != kept[i].len ||
			    memcmp(from, kept[i].k, froml) != 0)
				rocksdb_writebatch_delete_range(
				    wb, (const char *)from, froml,
				    (const char *)kept[i].k, kept[i].len);
			kept[i].k[kept[i].len] = 0;
			from = kept[i].k;
			froml = kept[i].len + 1;
		}
		rocksdb_writebatch_delete_range(wb, (const char *)from, froml,
		                                (const char *)hi, n + 8);
		rc = write_batch(s, wb, "ckpt_gc");
	}
	rocksdb_writebatch_destroy(wb);
	free(kept);
	return rc;
}

int
ls_store_ckpt_delete(ls_store *s, const char *topology, uint64_t ckpt,
                     const char *partition)
{
	unsigned char k[CKPT_KEY_MAX], f[FINAL_KEY_MAX];
	size_t tl, pl;

	if (s == NULL || name_len(topology, &tl) != 0 ||
	    name_len(partition, &pl) != 0)
		return LS_EINVAL;
	size_t n = ckpt_key(k, topology, tl, ckpt, partition, pl);
	size_t fn = final_prefix(f, topology, tl, partition, pl);
	put_be64(f + fn, ckpt);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_writebatch_delete(wb, (const char *)k, n);
	rocksdb_writebatch_delete(wb, (const char *)f, fn + 8);
	int rc = write_batch(s, wb, "ckpt_delete");
	rocksdb_writebatch_destroy(wb);
	return rc;
}

int
ls_store_ckpt_drop(ls_store *s, const char *topology)
{
	unsigned char k[CKPT_KEY_MAX];
	size_t tl;

	if (s == NULL || name_len(topology, &tl) != 0)
		return LS_EINVAL;
	size_t n = ckpt_prefix(k, topology, tl);
	ls_store_batch b = {0};
	b.wb = rocksdb_writebatch_create();
	ls_store_batch_delete_prefix(&b, k, n); /* blobs */
	k[1] = 1;
	ls_store_batch_delete_prefix(&b, k, n); /* final marks */
	int rc = b.err != 0 ? b.err : write_batch(s, b.wb, "ckpt_drop");
	rocksdb_writebatch_destroy(b.wb);
	return rc;
}
