/*
 * anomaly_cmd.h -- the `logstream anomaly` and `logstream nab` commands
 * (cmd/anomaly_cmd.c), called from main with the arguments after the
 * command's name.  Both return the process exit code: 0 success,
 * 1 failure (bad input, I/O), 2 usage error.
 */
#ifndef LS_CMD_ANOMALY_CMD_H
#define LS_CMD_ANOMALY_CMD_H

/* logstream anomaly --input FILE --output FILE [--set NAME=VALUE]... */
int ls_cmd_anomaly(int argc, char **argv);

/* logstream nab --data DIR [--results DIR] [--set NAME=VALUE]... */
int ls_cmd_nab(int argc, char **argv);

#endif /* LS_CMD_ANOMALY_CMD_H */
