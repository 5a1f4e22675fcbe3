/*
 * job_cmd.h -- `logstream job`: MapReduce jobs over log files
 * (actors/mr.h, docs/mapreduce.md).
 */
#ifndef LS_CMD_JOB_CMD_H
#define LS_CMD_JOB_CMD_H

/* argv[0] is the first argument after "job"; returns the exit status. */
int ls_cmd_job(int argc, char **argv);

#endif /* LS_CMD_JOB_CMD_H */
