/*
 * ingest_http.h -- the HTTP listener of `http` sources: POST /v1/logs on
 * the source's own address, served by the node's HTTP server module
 * (cluster/http.h), answers in docs/http-ingest.md.
 *
 * The program installs it with ls_ingest_set_server(&ls_ingest_http)
 * (actors/ingest.h) before it runs topologies; a node gives it its TLS
 * files and tokens, so that a source on a node speaks HTTPS and needs a
 * token of scope write exactly like the node's own API.
 */
#ifndef LS_CLUSTER_INGEST_HTTP_H
#define LS_CLUSTER_INGEST_HTTP_H

#include "actors/ingest.h"
#include "cluster/auth.h"
#include "cluster/tls.h"

extern const ls_ingest_server ls_ingest_http;

/* TLS files and tokens for listeners started from now on (both borrowed:
 * they must outlive every `http` source; NULL = none).  Call before
 * topologies run, from one thread. */
void ls_ingest_http_security(const ls_tls_files *tls, const ls_auth *auth);

#endif /* LS_CLUSTER_INGEST_HTTP_H */
