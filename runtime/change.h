/*
 * change.h -- one change of a partition's keyed state, and a set of them:
 * what an incremental checkpoint ships (runtime/store.h writes and applies
 * them, schemas/codec.h encodes them as a Changelog, docs/state.md).
 */
#ifndef LS_CHANGE_H
#define LS_CHANGE_H

#include <stddef.h>
#include <stdint.h>

/* The values of ChangeKind in schemas/changelog.fbs. */
enum ls_change_kind {
	LS_CHANGE_PUT = 1,    /* key = val */
	LS_CHANGE_DELETE = 2, /* key is absent */
	LS_CHANGE_SET = 3,    /* key = the counter num (8 bytes LE) */
	LS_CHANGE_ADD = 4     /* key's counter += num (a merge, nothing read) */
};

/* One change; key and val borrow from whoever hands it out. */
typedef struct ls_change {
	int kind; /* enum ls_change_kind */
	const void *key;
	size_t klen;
	const void *val; /* LS_CHANGE_PUT */
	size_t vlen;
	int64_t num; /* LS_CHANGE_SET, LS_CHANGE_ADD */
} ls_change;

/* What a set of changes turns a partition's state into: the state as of
 * checkpoint prev, plus (after removing everything when cleared) the
 * changes, is its state as of checkpoint ckpt.  A set with cleared = 1
 * needs no previous state at all (a full snapshot is one). */
typedef struct ls_changeset {
	uint64_t prev, ckpt;
	int cleared;
	size_t count; /* number of changes */
} ls_changeset;

/* Called for one change (valid during the call only); non-zero stops the
 * walk, which then returns that value. */
typedef int (*ls_change_fn)(void *arg, const ls_change *c);

#endif /* LS_CHANGE_H */
