/*
 * wmark.h -- per-input watermarks of a stage with several upstream actors.
 *
 * Each upstream actor is a channel (told apart by the sender of its
 * messages) whose progress is the largest event time it has sent; the
 * stage's watermark is the minimum progress over its live channels, less
 * the watermark delay (docs/windows.md, "Per-input watermarks").  A channel
 * that has ended, or has been silent for idle_timeout, no longer holds the
 * watermark back; nor does one never heard from once the stage is
 * idle_timeout old.  Owned by one actor; reads no clock (callers pass the
 * wall time).
 */
#ifndef LS_ACTORS_WMARK_H
#define LS_ACTORS_WMARK_H

#include <stdint.h>

typedef struct ls_wmark {
	struct ls_wmark_chan {
		uint64_t id;   /* sender ref */
		int64_t max_t; /* largest event time it sent */
		int64_t heard; /* wall time of its last message */
		int eos;
	} *ch;
	uint32_t nch, capch;
	uint32_t n_upstream;
	int64_t delay_ns, idle_ns, born_ns;
} ls_wmark;

/* Start tracking n_upstream channels at wall time now_ns. */
void ls_wmark_init(ls_wmark *w, uint32_t n_upstream, int64_t delay_ns,
    int64_t idle_ns, int64_t now_ns);

/* Free what w holds. */
void ls_wmark_fini(ls_wmark *w);

/* Channel id sent events up to max_t (INT64_MIN: none with a time) at
 * now_ns.  LS_ENOMEM when a new channel cannot be tracked (it then holds
 * nothing back, as one never heard from). */
int ls_wmark_heard(ls_wmark *w, uint64_t id, int64_t max_t, int64_t now_ns);

/* Channel id ended.  LS_ENOMEM as above. */
int ls_wmark_eos(ls_wmark *w, uint64_t id, int64_t now_ns);

/* The stage's watermark at now_ns into *out: 1, or 0 when it may not move
 * yet (a live channel has sent no time, or an input may still be behind). */
int ls_wmark_get(const ls_wmark *w, int64_t now_ns, int64_t *out);

#endif /* LS_ACTORS_WMARK_H */
