/*
 * search_cmd.h -- the `logstream search` command (cmd/search_cmd.c): a
 * full-text query over a log file, indexed in memory with the index of
 * the `index` stage (actors/index.h), best hits first.
 */
#ifndef LS_CMD_SEARCH_CMD_H
#define LS_CMD_SEARCH_CMD_H

/* logstream search --file LOG [--format FMT] [--limit N] [--from T]
 * [--to T] [--json] QUERY.  Returns the exit code: 0 success (hits or
 * none), 1 failure (unreadable file), 2 usage error or malformed query. */
int ls_cmd_search(int argc, char **argv);

#endif /* LS_CMD_SEARCH_CMD_H */
