/*
 * query_cmd.h -- the `logstream query` command (cmd/query_cmd.c): an
 * interactive query of a window or session stage through any node's HTTP
 * API (docs/queries.md).
 */
#ifndef LS_CMD_QUERY_CMD_H
#define LS_CMD_QUERY_CMD_H

/* logstream query [--node HOST:PORT] windows|sessions STAGE [options]
 * default_node is used without --node (and without LOGSTREAM_NODE).
 * Returns the exit code: 0 success, 1 failure (the node's error on
 * stderr), 2 usage error. */
int ls_cmd_query(int argc, char **argv, const char *default_node);

#endif /* LS_CMD_QUERY_CMD_H */
