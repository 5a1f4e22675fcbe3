/*
 * auth.h -- bearer tokens of the HTTP API (`logstream node --token-file`).
 *
 * A token file has one token a line, `SCOPE TOKEN`, separated by blanks;
 * blank lines and lines starting with '#' are skipped:
 *
 *   # who            scope     token
 *   read   3f9a0c2e5b7d41e8a6c4f0b2d9e7a5c3
 *   write  9b1d7f3a5c8e20d4b6f8a0c2e4d6b8f0
 *   internal 5e3c1a9f7d5b3e1c9a7f5d3b1e9c7a5f
 *
 * Scopes, each one allowing what the ones before it allow:
 *   read      GET and HEAD of the API (status, metrics)
 *   write     also the mutating endpoints (deploy, undeploy)
 *   admin     also the node's own lifecycle (POST /v1/leave)
 *   internal  also everything under /v1/internal/: the token the nodes
 *             use between themselves; no other scope ever reaches it
 * A token is 16 to 256 printable ASCII characters without blanks; a token
 * appears once.  A file with tokens must hold an internal one (the node
 * sends it with its own requests).
 *
 * Tokens are kept as SHA-256 digests; a presented token is hashed and
 * compared with every digest in constant time (no early exit, the same
 * work whichever token matches), so answers do not tell how much of a
 * token was right.  Any thread once loaded; the object is immutable.
 */
#ifndef LS_CLUSTER_AUTH_H
#define LS_CLUSTER_AUTH_H

#include <stddef.h>

typedef enum ls_scope {
	LS_SCOPE_NONE = 0, /* no token needed (GET /healthz) */
	LS_SCOPE_READ,
	LS_SCOPE_WRITE,
	LS_SCOPE_ADMIN,
	LS_SCOPE_INTERNAL
} ls_scope;

typedef struct ls_auth ls_auth;

/* Limits of a token file. */
#define LS_AUTH_MAX_FILE   ((size_t)1 << 20)
#define LS_AUTH_MAX_TOKENS 1024
#define LS_AUTH_MIN_TOKEN  16
#define LS_AUTH_MAX_TOKEN  256

/* Parse a token file's text (len bytes, need not be NUL-terminated; name
 * is the file name used in messages).  On LS_EPARSE err gets
 * "NAME:LINE: reason" (an unknown scope, a short, long or repeated token,
 * a line with a third field, no internal token, ...); LS_ERANGE for a text
 * over LS_AUTH_MAX_FILE or more than LS_AUTH_MAX_TOKENS tokens; LS_ENOMEM.
 * *out is set only on success. */
int ls_auth_parse(const char *text, size_t len, const char *name,
                  ls_auth **out, char *err, size_t errlen);

/* Read and parse the file at path; LS_EIO with "PATH: reason" when it
 * cannot be read, else as ls_auth_parse. */
int ls_auth_load(const char *path, ls_auth **out, char *err, size_t errlen);

void ls_auth_free(ls_auth *a);

/* Number of tokens. */
size_t ls_auth_count(const ls_auth *a);

/* The scope of a presented token, LS_SCOPE_NONE when it is none of the
 * file's.  Constant time in the token's content. */
ls_scope ls_auth_scope(const ls_auth *a, const char *token, size_t len);

/* The first internal token of the file (for the node's own requests),
 * owned by a; NULL when there is none. */
const char *ls_auth_internal_token(const ls_auth *a);

/* The scope a request needs by the default rule: /v1/internal/ and below
 * internal, GET/HEAD read, other methods write. */
ls_scope ls_auth_required(const char *method, const char *path);

/* Decide a request that needs scope `need` and carries the Authorization
 * header value `authorization` (NULL when absent): 0 when allowed, else
 * the HTTP status (401 no or unknown token, 403 a known token whose scope
 * is not enough) with a reason in *why (static text). */
int ls_auth_check(const ls_auth *a, const char *authorization, ls_scope need,
                  const char **why);

/* "read", "write", "admin", "internal", "none". */
const char *ls_scope_name(ls_scope s);

#endif /* LS_CLUSTER_AUTH_H */
