/*
 * fs.h -- small file-system helpers shared by the commands and the node.
 */
#ifndef LS_FS_H
#define LS_FS_H

/* Create directory path and its missing parents (mode 0755), like
 * `mkdir -p`.  Returns 0; LS_ERANGE for an empty or over-long path;
 * LS_EIO when a mkdir fails (errno tells why).  Any thread. */
int ls_mkdir_p(const char *path);

#endif /* LS_FS_H */
