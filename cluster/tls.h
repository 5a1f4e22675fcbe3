/*
 * tls.h -- the cluster's TLS material: a development certificate
 * authority and node certificates (`logstream certs`), checks of the files
 * a node is given (--tls-ca, --tls-cert, --tls-key), and the nng TLS
 * configurations the transport and the HTTP server are built with.
 *
 * Keys are EC P-256, certificates X.509 v3 signed with ECDSA-SHA256, all
 * PEM, written with mbedtls 2.28.  A node certificate has the node name as
 * its CN and every --host as a subjectAltName: a DNS name as dNSName, an
 * IP address as iPAddress and also as dNSName, because mbedtls 2.28 (the
 * nodes' own TLS) matches a server name only against dNSName and CN, while
 * OpenSSL clients (curl, Python) match an IP only against iPAddress.
 *
 * Errors come back as an LS_E* code and, when err is not NULL, a message
 * "FILE: reason" in err.  Every call is blocking and may run on any thread.
 */
#ifndef LS_CLUSTER_TLS_H
#define LS_CLUSTER_TLS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The files of a node's TLS identity; all three set, or TLS is off. */
typedef struct ls_tls_files {
	const char *ca;   /* cluster CA certificate (PEM) */
	const char *cert; /* this node's certificate, signed by the CA */
	const char *key;  /* its private key (PEM, unencrypted) */
} ls_tls_files;

/* Longest node name and number of hosts ls_tls_issue takes. */
#define LS_TLS_MAX_NAME  64
#define LS_TLS_MAX_HOSTS 16

/* Create DIR (mode 0700 when new) and write DIR/ca.key (0600) and the
 * self-signed DIR/ca.crt (CN "logstream cluster CA", 10 years).  LS_EEXIST
 * when DIR/ca.key exists (never overwritten), LS_EIO, LS_ENOMEM. */
int ls_tls_ca_init(const char *dir, char *err, size_t errlen);

/* Write DIR/NAME.key (0600) and DIR/NAME.crt, signed by DIR/ca.{crt,key},
 * CN = name, subjectAltName = hosts (IP literals or DNS names), valid 2
 * years.  LS_EINVAL for a bad name (1..64 of [A-Za-z0-9._-]) or host,
 * LS_EEXIST when DIR/NAME.key exists, LS_EIO (CA unreadable), LS_ENOMEM. */
int ls_tls_issue(const char *dir, const char *name, const char *const *hosts,
                 size_t nhosts, char *err, size_t errlen);

/* Verify that cert_file is signed by ca_file (chain, validity dates);
 * LS_OK, LS_EIO (a file unreadable or no certificate), or LS_ECORRUPT with
 * the mbedtls verification reason in err. */
int ls_tls_verify(const char *ca_file, const char *cert_file, char *err,
                  size_t errlen);

/* Check a node's files before it starts: each parses, the key is the
 * certificate's, the certificate verifies against the CA.  LS_EINVAL when
 * only some of the three are set, LS_EIO / LS_ECORRUPT as above.  A NULL
 * or all-NULL f is "TLS off" and returns LS_OK. */
int ls_tls_check(const ls_tls_files *f, char *err, size_t errlen);

/* 1 when all three files are set. */
int ls_tls_enabled(const ls_tls_files *f);

struct nng_tls_config;

/* A new nng TLS configuration from f (checked with ls_tls_check first):
 * server (listener) or client (dialer) mode, our certificate and key, the
 * CA, and the peer certificate REQUIRED and verified.  server_name (client
 * mode, may be NULL) is the name the server's certificate must carry.  The
 * caller frees it with nng_tls_config_free.  LS_EIO / LS_ENOMEM. */
int ls_tls_nng_config(const ls_tls_files *f, int server,
                      const char *server_name, struct nng_tls_config **out,
                      char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* LS_CLUSTER_TLS_H */
