/*
 * certs_cmd.h -- the `logstream certs` command (cmd/certs_cmd.c): a
 * development cluster CA and node certificates for mutual TLS between
 * nodes (cluster/tls.h, docs/cluster.md "Security").
 */
#ifndef LS_CMD_CERTS_CMD_H
#define LS_CMD_CERTS_CMD_H

/* logstream certs init --dir DIR
 * logstream certs issue --dir DIR --name NODE [--host IP|DNS]...
 * Returns the exit code: 0 success, 1 failure, 2 usage error. */
int ls_cmd_certs(int argc, char **argv);

#endif /* LS_CMD_CERTS_CMD_H */
