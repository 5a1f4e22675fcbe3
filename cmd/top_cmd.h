/*
 * top_cmd.h -- `logstream top`: live events per second per stage, over
 * every node of the cluster.
 */
#ifndef LS_CMD_TOP_CMD_H
#define LS_CMD_TOP_CMD_H

/* argv[0] is the first argument after "top"; returns the exit status. */
int ls_cmd_top(int argc, char **argv);

#endif /* LS_CMD_TOP_CMD_H */
