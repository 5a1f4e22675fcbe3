/*
 * resume.h -- checkpoints of a single-node run in its data directory, and
 * the restore from them (`logstream run FILE --data-dir DIR`).
 *
 * The run's pipeline takes checkpoints (docs/failure-semantics.md) every
 * settings.checkpoint_interval; this module is its coordinator on one node:
 * it stores every actor's state in DIR/state (runtime/store.h), declares a
 * checkpoint complete once every actor saved it (or had ended before it),
 * records that in a run record, and has the sinks write the checkpoint's
 * output.  A later run of the same topology file in the same directory
 * restores every actor from the last complete checkpoint, so the committed
 * output of a run killed at any moment and rerun equals that of a run
 * without the crash.  docs/state.md has the key layout, docs/operations.md
 * the operator's view.
 *
 * Threads: open, opts, started, poll, finish and close belong to the
 * thread that runs the pipeline (the command's main thread); the pipeline
 * hooks this module installs run on actor threads.
 */
#ifndef LS_ACTORS_RESUME_H
#define LS_ACTORS_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "actors/pipeline.h"
#include "topology/plan.h"
#include "topology/topology.h"

typedef struct ls_resume ls_resume;

/* Open the state of data_dir for topology t (loaded from its file, whose
 * bytes identify it) and plan p (both borrowed; they must outlive the
 * handle).  fresh: discard whatever state the directory holds.
 * 0: *out is a new handle; notice (msglen bytes) is a line for the
 * operator when the saved state was discarded, else "".
 * Errors (*out NULL, notice says why): LS_ENOTSUP a source reads stdin,
 * which cannot be replayed (run without checkpoints); LS_ESTATE the
 * directory holds the state of another topology (or not a run's state);
 * LS_EBUSY another process uses the directory; LS_ECORRUPT, LS_EIO,
 * LS_ENOMEM. */
int ls_resume_open(const char *data_dir, const ls_topology *t, const ls_plan *p,
                   int fresh, ls_resume **out, char *notice, size_t msglen);

/* Fill the checkpoint fields of *po (interval, id base, save/load hooks,
 * jsonl_append); the other fields are left alone. */
void ls_resume_opts(ls_resume *r, ls_pipeline_opts *po);

/* The complete checkpoint this run restores from; 0 for a fresh start. */
uint64_t ls_resume_from(const ls_resume *r);

/* One line (no newline) saying what the run resumes from: the checkpoint,
 * when it was taken, where the sources continue.  buf is always
 * NUL-terminated. */
void ls_resume_describe(const ls_resume *r, char *buf, size_t len);

/* The pipeline started with ls_resume_opts is running (borrowed until
 * close): restored sinks write the output of the restored checkpoint. */
void ls_resume_started(ls_resume *r, ls_pipeline *pl);

/* Let the sinks write the output of checkpoints completed since the last
 * call.  Call it often (every few tens of ms) while the pipeline runs. */
void ls_resume_poll(ls_resume *r);

/* The pipeline is done (every sink wrote its final output): record that
 * the run finished, so the next run in the directory starts over.
 * LS_EIO. */
int ls_resume_finish(ls_resume *r);

/* Close the store and free r; NULL is fine.  Call after the runtime that
 * ran the pipeline was destroyed (no hook may run any more). */
void ls_resume_close(ls_resume *r);

#endif /* LS_ACTORS_RESUME_H */
