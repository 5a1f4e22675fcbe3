/*
 * tls_int.h -- detail of cluster/tls.c shared with the Raft TLS transport
 * (cluster/raft_tls.c).
 */
#ifndef LS_CLUSTER_TLS_INT_H
#define LS_CLUSTER_TLS_INT_H

#include <stddef.h>

/* The whole of a small file (a PEM certificate or key, at most 32 KiB),
 * NUL-terminated, in new memory the caller frees (zeroize a key first);
 * its length without the NUL in *len when len is not NULL.  NULL with
 * errno (ENOMEM, EFBIG, or fopen's).  Any thread. */
char *ls__tls_slurp(const char *path, size_t *len);

#endif /* LS_CLUSTER_TLS_INT_H */
