/*
 * err.h -- LogStream error codes.
 *
 * Every call that can fail returns int: 0 on success, otherwise a positive
 * LS_E* code.  One X-macro table generates the enum, ls_strerror() and
 * ls_errname(), so the three can never disagree.
 */
#ifndef LS_ERR_H
#define LS_ERR_H

#define LS_ERRNO_MAP(X)                                                      \
	X(ENOMEM, "out of memory")                                           \
	X(EINVAL, "invalid argument")                                        \
	X(ENOENT, "no such object")                                          \
	X(EAGAIN, "resource temporarily full, try again")                    \
	X(ECLOSED, "object is closed")                                       \
	X(ETIMEDOUT, "timed out")                                            \
	X(EEXIST, "object already exists")                                   \
	X(EPARSE, "parse error")                                             \
	X(EIO, "input/output error")                                         \
	X(ERANGE, "value out of range or too large")                         \
	X(ECORRUPT, "malformed or corrupted data")                           \
	X(ESTALE, "stale epoch")                                             \
	X(ENOTSUP, "operation not supported")                                \
	X(EBUSY, "resource busy")                                            \
	X(ESTATE, "object in wrong state")                                   \
	X(EINTERNAL, "internal error")

enum ls_errno {
	LS_OK = 0,
#define LS__ERR_ENUM(name, msg) LS_##name,
	LS_ERRNO_MAP(LS__ERR_ENUM)
#undef LS__ERR_ENUM
	LS_ERRNO_MAX
};

/* Human-readable text for an error code; never NULL; any thread. */
const char *ls_strerror(int err);

/* Symbolic name ("LS_ENOMEM") for an error code; never NULL; any thread. */
const char *ls_errname(int err);

#endif /* LS_ERR_H */
