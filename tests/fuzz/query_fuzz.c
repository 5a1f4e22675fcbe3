/*
 * query_fuzz.c -- libFuzzer driver for the query-string parser of the
 * interactive query routes (ls_query_parse in cluster/query.h).
 *
 * Input: byte 0 chooses the route (bit 0: public, else internal); bytes 1..
 * are the query string as it comes after '?'.  Checks the contract: the
 * parser returns 0 or LS_EINVAL and nothing else; an error always comes with
 * a reason; a success gives a time range with from < to, a limit within
 * 1..LS_QUERY_LIMIT_MAX, at most LS_KIND_QUERY_MAX_KEYS key values of at
 * most LS_QUERY_VALUE_MAX bytes without a NUL, not both key and prefix,
 * and, internal, the three required parameters.  Re-encoding what was
 * parsed (every byte percent-encoded) parses back to the same values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/query.h"
#include "runtime/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
enc(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[k++] = '%';
		out[k++] = hex[c >> 4];
		out[k++] = hex[c & 15];
	}
	return k;
}

/* Re-encode p (its values percent-encoded byte by byte) into a new string. */
static char *
reencode(const ls_query_params *p, unsigned route, size_t *len)
{
	size_t cap = 64 * 1024 + 3 * (LS_KIND_QUERY_MAX_KEYS + 2) *
	    (LS_QUERY_VALUE_MAX + 16);
	char *b = malloc(cap);
	size_t k = 0;
	FUZZ_ASSERT(b != NULL);
	if (p->topology[0] != '\0') {
		k += (size_t)sprintf(b + k, "topology=");
		k += enc(b + k, p->topology, strlen(p->topology));
	}
	if (route == LS_QUERY_INTERNAL) {
		k += (size_t)sprintf(b + k, "&stage=");
		k += enc(b + k, p->stage, strlen(p->stage));
		k += (size_t)sprintf(b + k, "&partition=%u", p->partition);
		if (p->from_ns != INT64_MIN)
			k += (size_t)sprintf(b + k, "&from_ns=%lld",
			    (long long)p->from_ns);
		if (p->to_ns != INT64_MAX)
			k += (size_t)sprintf(b + k, "&to_ns=%lld",
			    (long long)p->to_ns);
	}
	for (uint32_t i = 0; i < p->nkey; i++) {
		k += (size_t)sprintf(b + k, "&key=");
		k += enc(b + k, p->key[i], p->key_len[i]);
	}
	if (p->prefix_len > 0) {
		k += (size_t)sprintf(b + k, "&prefix=");
		k += enc(b + k, p->prefix, p->prefix_len);
	}
	if (p->open >= 0)
		k += (size_t)sprintf(b + k, "&open=%d", p->open);
	if (p->qtext_len > 0) {
		k += (size_t)sprintf(b + k, "&q=");
		k += enc(b + k, p->qtext, p->qtext_len);
	}
	k += (size_t)sprintf(b + k, "&limit=%u", p->limit);
	*len = k;
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ls_query_params p, back;
	char err[256];
	if (size < 1)
		return 0;
	unsigned route = (data[0] & 1) ? LS_QUERY_PUBLIC : LS_QUERY_INTERNAL;
	const char *qs = (const char *)data + 1;
	int rv = ls_query_parse(qs, size - 1, route, &p, err, sizeof(err));
	FUZZ_ASSERT(rv == 0 || rv == LS_EINVAL);
	if (rv != 0) {
		FUZZ_ASSERT(err[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(p.from_ns < p.to_ns);
	FUZZ_ASSERT(p.limit >= 1 && p.limit <= LS_QUERY_LIMIT_MAX);
	FUZZ_ASSERT(p.nkey <= LS_KIND_QUERY_MAX_KEYS);
	FUZZ_ASSERT(!(p.nkey > 0 && p.prefix_len > 0));
	for (uint32_t i = 0; i < p.nkey; i++) {
		FUZZ_ASSERT(p.key_len[i] <= LS_QUERY_VALUE_MAX);
		FUZZ_ASSERT(memchr(p.key[i], '\0', p.key_len[i]) == NULL);
	}
	if (route == LS_QUERY_INTERNAL)
		FUZZ_ASSERT(p.stage[0] != '\0' && p.topology[0] != '\0');
	/* public times may be RFC 3339: compare through the internal route,
	 * which takes them in ns */
	if (route == LS_QUERY_PUBLIC && (p.from_ns != INT64_MIN ||
	                                    p.to_ns != INT64_MAX))
		return 0;
	size_t len;
	char *again = reencode(&p, route, &len);
	rv = ls_query_parse(again, len, route, &back, err, sizeof(err));
	free(again);
	FUZZ_ASSERT(rv == 0);
	FUZZ_ASSERT(back.nkey == p.nkey && back.limit == p.limit &&
	    back.open == p.open && back.partition == p.partition &&
	    back.from_ns == p.from_ns && back.to_ns == p.to_ns &&
	    back.prefix_len == p.prefix_len);
	FUZZ_ASSERT(strcmp(back.topology, p.topology) == 0 &&
	    strcmp(back.stage, p.stage) == 0);
	for (uint32_t i = 0; i < p.nkey; i++)
		FUZZ_ASSERT(back.key_len[i] == p.key_len[i] &&
		    memcmp(back.key[i], p.key[i], p.key_len[i]) == 0);
	FUZZ_ASSERT(memcmp(back.prefix, p.prefix, p.prefix_len) == 0);
	FUZZ_ASSERT(back.qtext_len == p.qtext_len &&
	    memcmp(back.qtext, p.qtext, p.qtext_len) == 0);
	return 0;
}
