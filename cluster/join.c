/*
 * join.c -- decode and encode the join request of a joining node (a
 * JoinRequest of schemas/cluster.fbs), and parse the --join seed entries
 * (join.h).
 */
#include "cluster/join.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/node.h"
#include "cluster/transport.h"
#include "runtime/err.h"
#include "schemas/codec.h"

/* A decoded string (a C string: the codec refuses NULs inside) into
 * dst[cap]; -1 when empty or too long. */
static int
field_copy(char *dst, size_t cap, ls_str src)
{
	if (src.len == 0 || src.len >= cap)
		return -1;
	memcpy(dst, src.ptr, src.len);
	dst[src.len] = '\0';
	return 0;
}

int
ls_join_parse(const void *buf, size_t len, ls_join_req *out)
{
	/* the decoder wants 8-byte aligned input; a hello carries the
	 * request at any offset */
	_Alignas(8) uint8_t tmp[LS_JOIN_MAX];
	ls_join_wire j;
	ls_join_req r;

	if (buf == NULL || out == NULL || len == 0 || len > LS_JOIN_MAX)
		return LS_EINVAL;
	memcpy(tmp, buf, len);
	if (ls_codec_join_decode(tmp, len, &j) != 0)
		return LS_EINVAL;
	memset(&r, 0, sizeof(r));
	r.id = j.id;
	r.inc = j.inc;
	if (field_copy(r.name, sizeof(r.name), j.name) != 0 ||
	    field_copy(r.url, sizeof(r.url), j.url) != 0 ||
	    field_copy(r.http, sizeof(r.http), j.http) != 0 ||
	    field_copy(r.raft, sizeof(r.raft), j.raft) != 0)
		return LS_EINVAL;
	if (r.id == 0 || ls_node_raft_id(r.raft) != r.id ||
	    ls_transport_url_check(r.url) != 0)
		return LS_EINVAL;
	*out = r;
	return 0;
}

static ls_str
cstr(const char *s)
{
	return ls_str_make(s, (uint32_t)strlen(s));
}

int
ls_join_encode(const ls_join_req *r, void *buf, size_t cap)
{
	ls_join_wire j = { r->id, r->inc, cstr(r->name), cstr(r->url),
		cstr(r->http), cstr(r->raft) };
	ls_buf b = { NULL, 0 };
	int len = -1;

	if (cap > LS_JOIN_MAX)
		cap = LS_JOIN_MAX;
	if (ls_codec_join_encode(&j, &b) == 0 && b.len <= cap) {
		memcpy(buf, b.data, b.len);
		len = (int)b.len;
	}
	ls_buf_free(&b);
	return len;
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
	if ((strncmp(out->url, "tcp://", 6) != 0 &&
	        !ls_transport_url_is_tls(out->url)) ||
	    ls_transport_url_check(out->url) != 0) {
		SEED_WHY("--join entry '%s': want tcp://HOST:PORT or "
		         "tls+tcp://HOST:PORT (a member's --listen URL), "
		         "optionally followed by ?raft=HOST:PORT",
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
