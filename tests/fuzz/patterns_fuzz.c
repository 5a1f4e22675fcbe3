/*
 * patterns_fuzz.c -- libFuzzer driver for the template miner
 * (actors/patterns.h): its messages and its state decoders.
 *
 * Input: byte 0 chooses the mode (bit 0: 0 = messages, 1 = snapshot) and
 * the miner's size (bits 1-3: max_templates 1..8, so evictions happen);
 * bytes 1.. are newline-separated messages, or a snapshot for
 * ls_patterns_load.
 *
 * Messages: every one either fails with LS_EINVAL (blanks only) or gets a
 * template with as many tokens as the message (up to the bounds), whose
 * literal tokens are the message's and whose wildcards hold the params;
 * the miner never holds more than max_templates.  Then the state goes
 * round: save -> load into a fresh miner -> save gives the same bytes,
 * and the changes walk rebuilt through ls_patterns_load_records saves
 * them too.
 *
 * Snapshot: load returns 0 or LS_ECORRUPT and nothing else; a snapshot
 * that loads saves back to a snapshot that loads to the same bytes, and
 * the loaded miner takes messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/patterns.h"
#include "runtime/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
ntokens(const char *s, size_t n)
{
	size_t k = 0;
	if (n > LS_PATTERNS_MAX_BYTES)
		n = LS_PATTERNS_MAX_BYTES;
	for (size_t i = 0; i < n;) {
		while (i < n && memchr(" \t\r\n\v\f", s[i], 7) != NULL)
			i++;
		if (i == n)
			break;
		k++;
		while (i < n && memchr(" \t\r\n\v\f", s[i], 7) == NULL)
			i++;
	}
	return k < LS_PATTERNS_MAX_TOKENS ? k : LS_PATTERNS_MAX_TOKENS;
}

static void
check_match(const char *msg, size_t len, const ls_patterns_match *m)
{
	size_t k = ntokens(msg, len), toks = 1, wild = 0;
	FUZZ_ASSERT(m->tmpl_len > 0);
	for (size_t i = 0; i < m->tmpl_len; i++)
		toks += m->tmpl[i] == ' ';
	FUZZ_ASSERT(toks == k);
	for (size_t i = 0; i + 3 <= m->tmpl_len; i++)
		wild += memcmp(m->tmpl + i, LS_PATTERNS_WILDCARD, 3) == 0;
	FUZZ_ASSERT(m->nparams <= k && m->nparams <= wild);
	for (uint32_t i = 0; i < m->nparams; i++)
		FUZZ_ASSERT(m->params[i].len > 0 &&
		    m->params[i].ptr >= msg &&
		    m->params[i].ptr + m->params[i].len <= msg + len);
	FUZZ_ASSERT(m->count >= 1);
}

/* Records of the changes walk, kept to load them back. */
typedef struct recs {
	uint8_t *r[16];
	size_t len[16];
	size_t n;
} recs;

static int
keep(void *arg, uint64_t id, const uint8_t *rec, size_t len)
{
	recs *rs = arg;
	(void)id;
	if (rec == NULL)
		return 0;
	FUZZ_ASSERT(rs->n < 16);
	rs->r[rs->n] = malloc(len);
	FUZZ_ASSERT(rs->r[rs->n] != NULL);
	memcpy(rs->r[rs->n], rec, len);
	rs->len[rs->n++] = len;
	return 0;
}

static void
round_trip(ls_patterns *p, const ls_patterns_cfg *cfg)
{
	uint8_t *a, *b, *c;
	size_t al, bl, cl;
	ls_patterns *q, *r;
	FUZZ_ASSERT(ls_patterns_save(p, &a, &al) == 0);
	FUZZ_ASSERT(ls_patterns_new(&q, cfg) == 0);
	FUZZ_ASSERT(ls_patterns_load(q, a, al) == 0);
	FUZZ_ASSERT(ls_patterns_save(q, &b, &bl) == 0);
	FUZZ_ASSERT(al == bl && memcmp(a, b, al) == 0);

	recs rs = { .n = 0 };
	FUZZ_ASSERT(ls_patterns_changes(p, 1, keep, &rs) == 0);
	FUZZ_ASSERT(rs.n == ls_patterns_size(p));
	FUZZ_ASSERT(ls_patterns_new(&r, cfg) == 0);
	FUZZ_ASSERT(ls_patterns_load_records(r,
	    (const uint8_t *const *)rs.r, rs.len, rs.n) == 0);
	FUZZ_ASSERT(ls_patterns_save(r, &c, &cl) == 0);
	FUZZ_ASSERT(al == cl && memcmp(a, c, al) == 0);
	for (size_t i = 0; i < rs.n; i++)
		free(rs.r[i]);
	free(a);
	free(b);
	free(c);
	ls_patterns_free(q);
	ls_patterns_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	ls_patterns_cfg cfg;
	ls_patterns_cfg_default(&cfg);
	cfg.max_templates = 1 + ((data[0] >> 1) & 7);
	ls_patterns *p;
	FUZZ_ASSERT(ls_patterns_new(&p, &cfg) == 0);
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	ls_patterns_match m;

	if (data[0] & 1) {
		int rv = ls_patterns_load(p, data + 1, len);
		FUZZ_ASSERT(rv == 0 || rv == LS_ECORRUPT);
		FUZZ_ASSERT(ls_patterns_size(p) <= cfg.max_templates);
		if (rv == 0) {
			round_trip(p, &cfg);
			static const char msg[] = "user 42 logged in from host";
			FUZZ_ASSERT(ls_patterns_add(p, msg, sizeof(msg) - 1,
			    &m) == 0);
			check_match(msg, sizeof(msg) - 1, &m);
		}
		ls_patterns_free(p);
		return 0;
	}
	for (size_t i = 0; i <= len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - (text + i)) : len - i;
		int rv = ls_patterns_add(p, text + i, ll, &m);
		if (ntokens(text + i, ll) == 0)
			FUZZ_ASSERT(rv == LS_EINVAL);
		else {
			FUZZ_ASSERT(rv == 0);
			check_match(text + i, ll, &m);
		}
		FUZZ_ASSERT(ls_patterns_size(p) <= cfg.max_templates);
		i += ll + 1;
	}
	round_trip(p, &cfg);
	ls_patterns_free(p);
	return 0;
}
