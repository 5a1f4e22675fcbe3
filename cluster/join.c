/*
 * join.c -- parse and format the join request of a joining node, and parse
 * the --join seed entries (join.h).
 */
#include "cluster/join.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/node.h"
#include "cluster/transport.h"
#include "runtime/err.h"

static int
field_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

int
ls_join_parse(const void *buf, size_t len, ls_join_req *out)
{
	char tmp[LS_JOIN_MAX + 1];
	char *f[8];
	size_t nf = 0;

	if (buf == NULL || out == NULL || len == 0 || len > LS_JOIN_MAX)
		return LS_EINVAL;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	if (strlen(tmp) != len)
		return LS_EINVAL; /* a NUL inside */
	/* exactly seven newline-terminated fields, none empty */
	for (char *p = tmp; *p != '\0';) {
		char *nl = strchr(p, '\n');
		if (nl == NULL || nl == p || nf == 7)
			return LS_EINVAL;
		*nl = '\0';
		f[nf++] = p;
		p = nl + 1;
	}
	if (nf != 7 || strcmp(f[0], "LSJOIN1") != 0)
		return LS_EINVAL;
	memset(out, 0, sizeof(*out));
	char *end;
	errno = 0;
	if (f[1][0] < '0' || f[1][0] > '9')
		return LS_EINVAL;
	out->id = strtoull(f[1], &end, 10);
	if (errno != 0 || *end != '\0' || out->id == 0)
		return LS_EINVAL;
	if (strlen(f[6]) > 16 || strspn(f[6], "0123456789abcdef") !=
	        strlen(f[6]))
		return LS_EINVAL;
	out->inc = strtoull(f[6], &end, 16);
	if (field_copy(out->name, sizeof(out->name), f[2]) != 0 ||
	    field_copy(out->url, sizeof(out->url), f[3]) != 0 ||
	    field_copy(out->http, sizeof(out->http), f[4]) != 0 ||
	    field_copy(out->raft, sizeof(out->raft), f[5]) != 0)
		return LS_EINVAL;
	if (ls_node_raft_id(out->raft) != out->id ||
	    ls_transport_url_check(out->url) != 0)
		return LS_EINVAL;
	return 0;
}

int
ls_join_format(const ls_join_req *r, char *buf, size_t cap)
{
	if (cap > LS_JOIN_MAX + 1)
		cap = LS_JOIN_MAX + 1;
	int len = snprintf(buf, cap, "LSJOIN1\n%llu\n%s\n%s\n%s\n%s\n%llx\n",
	    (unsigned long long)r->id, r->name, r->url, r->http, r->raft,
	    (unsigned long long)r->inc);
	return len > 0 && (size_t)len < cap ? len : -1;
}

int
ls_join_raft_check(const char *addr)
{
	char url[LS_COORD_MAX_ADDRESS + 8];
	/* HOST:PORT as in a tcp:// transport URL, but port 0 means nothing
	 * here, and '?' or ',' would be a mistyped --join entry */
	if (addr == NULL || strlen(addr) > LS_COORD_MAX_ADDRESS ||
	    strpbrk(addr, "?,\t") != NULL)
		return LS_EINVAL;
	snprintf(url, sizeof(url), "tcp://%s", addr);
	if (ls_transport_url_check(url) != 0 ||
	    strtoul(strrchr(addr, ':') + 1, NULL, 10) == 0)
		return LS_EINVAL;
	return 0;
}

#define SEED_WHY(...) \
	do { \
		if (why != NULL && whylen > 0) \
			snprintf(why, whylen, __VA_ARGS__); \
	} while (0)

int
ls_join_seed_parse(const char *entry, ls_join_seed *out, char *why,
    size_t whylen)
{
	if (entry == NULL || out == NULL)
		return LS_EINVAL;
	memset(out, 0, sizeof(*out));
	const char *q = strchr(entry, '?');
	size_t ulen = q != NULL ? (size_t)(q - entry) : strlen(entry);
	if (ulen == 0 || ulen > LS_MAP_MAX_URL) {
		SEED_WHY("--join entry '%s': %s", entry,
		    ulen == 0 ? "no URL" : "URL too long");
		return LS_EINVAL;
	}
	memcpy(out->url, entry, ulen);
	out->url[ulen] = '\0';
	if (strncmp(out->url, "tcp://", 6) != 0 ||
	    ls_transport_url_check(out->url) != 0) {
		SEED_WHY("--join entry '%s': want tcp://HOST:PORT (a member's "
		         "--listen URL), optionally followed by ?raft=HOST:PORT",
		    entry);
		return LS_EINVAL;
	}
	if (q != NULL) {
		const char *v = q + 1;
		if (strncmp(v, "raft=", 5) != 0) {
			SEED_WHY("--join entry '%s': unknown option '%s' (the "
			         "only one is raft=HOST:PORT)",
			    entry, v);
			return LS_EINVAL;
		}
		v += 5;
		if (ls_join_raft_check(v) != 0) {
			SEED_WHY("--join entry '%s': bad Raft address '%s' "
			         "(want HOST:PORT)",
			    entry, v);
			return LS_EINVAL;
		}
		memcpy(out->raft, v, strlen(v) + 1);
	} else if (ls_node_raft_address(out->url, out->raft,
	               sizeof(out->raft)) != 0) {
		SEED_WHY("--join entry '%s': its port + 100 is no port; give "
		         "the member's Raft address as %s?raft=HOST:PORT",
		    entry, out->url);
		return LS_EINVAL;
	}
	out->id = ls_node_raft_id(out->raft);
	return 0;
}
