/*
 * codec.h -- the C API of the wire codec: encode, verify and decode the
 * FlatBuffers messages of the schemas/ .fbs files.
 *
 * Encoders write into a new malloc'd ls_buf that the caller owns.  Decoders
 * read in place without copying: the strings and payloads they return borrow
 * from the input buffer, which must outlive them.  Every decoder runs the
 * verifier first and never reads bytes the verifier has not checked, so any
 * buffer from the network may be handed to it as is.  Input buffers must be
 * 8-byte aligned (malloc'd memory is); see docs/wire-format.md for the layout,
 * the verifier rules and the limits.
 *
 * All functions are reentrant and may be called from any thread; none keeps
 * state between calls.  Errors are LS_E* codes (runtime/err.h).
 */
#ifndef LS_CODEC_H
#define LS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/change.h"
#include "runtime/event.h"
#include "runtime/record.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An encoded message.  data is malloc'd and owned by whoever holds the ls_buf;
 * release it with ls_buf_free().  An empty ls_buf is { NULL, 0 }. */
typedef struct ls_buf {
	uint8_t *data;
	size_t len;
} ls_buf;

/* Free b->data (NULL is fine) and reset *b to empty.  b may be NULL. */
void ls_buf_free(ls_buf *b);

/* Largest buffer the codec writes or reads: an encoder whose output could
 * exceed it, or a decoder given a longer input, returns LS_ERANGE. */
#define LS_CODEC_MAX_BUF (64u << 20)

/* Input buffers must start at a multiple of this (LS_EINVAL otherwise). */
#define LS_CODEC_ALIGN 8u

/* ---- LogEvent and EventBatch (log_event.fbs) ---- */

/* Encode one event into a new buffer ("LSEV").  Borrows ev; *out is set only
 * on success.  LS_EINVAL for a NULL argument, a string with a NULL pointer and
 * a non-zero length or level >= LS_LEVEL_COUNT; LS_ERANGE when nattrs >
 * LS_EVENT_MAX_ATTRS or the result could exceed LS_CODEC_MAX_BUF; LS_ENOMEM. */
int ls_codec_event_encode(const ls_event *ev, ls_buf *out);

/* Encode evs[0..n-1] as one EventBatch ("LSEB"); n may be 0.  Same errors and
 * ownership as ls_codec_event_encode(). */
int ls_codec_batch_encode(const ls_event *evs, size_t n, ls_buf *out);

/* A topology node index that is not known (the schema default). */
#define LS_WIRE_NO_NODE UINT32_MAX

/* ls_codec_batch_encode() that also records the index of the source node
 * in the sender's topology (LS_WIRE_NO_NODE: not written).  Same errors and
 * ownership. */
int ls_codec_batch_encode_node(const ls_event *evs, size_t n,
                               uint32_t source_node, ls_buf *out);

/* Verify a LogEvent buffer without decoding it.  0 when well-formed;
 * LS_ECORRUPT when malformed or of another message type; LS_ERANGE when len >
 * LS_CODEC_MAX_BUF; LS_EINVAL when buf is NULL (len > 0) or misaligned. */
int ls_codec_event_verify(const void *buf, size_t len);

/* Verify an EventBatch buffer; same results as ls_codec_event_verify(). */
int ls_codec_batch_verify(const void *buf, size_t len);

/* Verify, then decode one event into *out.  The strings of *out borrow from
 * buf (absent ones are empty).  A level this build does not know decodes as
 * LS_LEVEL_UNKNOWN.  Errors as for verify, plus LS_ERANGE when the event has
 * more than LS_EVENT_MAX_ATTRS attributes; *out is untouched on error. */
int ls_codec_event_decode(const void *buf, size_t len, ls_event *out);

/* Verify a whole EventBatch and set *n to its number of events.  Errors as for
 * ls_codec_batch_verify(); *n is untouched on error. */
int ls_codec_batch_count(const void *buf, size_t len, size_t *n);

/* Verify a whole EventBatch; set *n to its number of events and, when
 * source_node is not NULL, *source_node to the index it carries
 * (LS_WIRE_NO_NODE when absent).  Errors as for ls_codec_batch_count();
 * nothing is set on error. */
int ls_codec_batch_info(const void *buf, size_t len, size_t *n,
                        uint32_t *source_node);

/* Decode event i of a batch into *out (strings borrow from buf).  Verifies
 * the batch header and event i only, so a loop over ls_codec_batch_count()
 * events costs one pass.  LS_ENOENT when i >= the count, else as
 * ls_codec_event_decode(). */
int ls_codec_batch_get(const void *buf, size_t len, size_t i, ls_event *out);

/* Callback for one decoded event.  ev and its strings are valid only during
 * the call (the strings until buf is freed); return 0 to go on, anything else
 * to stop. */
typedef int (*ls_event_fn)(void *arg, const ls_event *ev);

/* Verify the whole batch and check every event's attribute count, then call
 * fn for each event in order.  If verification fails fn never runs (errors as
 * for ls_codec_event_decode()); otherwise returns 0, or the first non-zero
 * value fn returned. */
int ls_codec_batch_foreach(const void *buf, size_t len, ls_event_fn fn,
                           void *arg);

/* ---- Envelope and Frame (envelope.fbs) ---- */

/* Message types; the values of MsgType in envelope.fbs.  Others may appear on
 * the wire: decoders pass unknown values through unchanged. */
enum ls_wire_type {
	LS_MSG_NONE = 0,
	LS_MSG_EVENTS = 1,        /* payload: EventBatch */
	LS_MSG_RECORDS = 2,       /* payload: RecordBatch */
	LS_MSG_DEAD_LETTER = 3,   /* payload: DeadLetter */
	LS_MSG_END_OF_STREAM = 4, /* payload: EndOfStream */
	LS_MSG_REPLAY_MARK = 5,   /* payload: ReplayMark */
	LS_MSG_HEARTBEAT = 64,
	LS_MSG_CONTROL = 65,
	LS_MSG_CHECKPOINT_BARRIER = 66, /* payload: Barrier */
	LS_MSG_CHECKPOINT_ACK = 67,
	LS_MSG_REPLICATION_BATCH = 68,  /* payload: Replication */
	LS_MSG_CREDIT = 69
};

/* One actor-to-actor message.  payload borrows: from the caller when
 * encoding, from the input buffer when decoding (NULL when len is 0). */
typedef struct ls_envelope {
	uint16_t type; /* enum ls_wire_type */
	uint64_t from, to;
	uint64_t epoch, seq;
	const uint8_t *payload;
	size_t payload_len;
} ls_envelope;

/* Encode one envelope ("LSEN"); the payload is copied and lands 8-byte
 * aligned.  LS_EINVAL for NULL arguments or a NULL payload with a non-zero
 * length; LS_ERANGE when the result could exceed LS_CODEC_MAX_BUF; LS_ENOMEM.
 * *out is set only on success. */
int ls_codec_envelope_encode(const ls_envelope *env, ls_buf *out);

/* Verify an Envelope buffer; same results as ls_codec_event_verify(). */
int ls_codec_envelope_verify(const void *buf, size_t len);

/* Verify, then decode an envelope into *out; out->payload borrows from buf
 * and is not itself verified (decode it with the decoder its type names).
 * Errors as for verify; *out is untouched on error. */
int ls_codec_envelope_decode(const void *buf, size_t len, ls_envelope *out);

/* Encode envs[0..n-1] as one Frame ("LSFR"); n may be 0.  Same errors and
 * ownership as ls_codec_envelope_encode(). */
int ls_codec_frame_encode(const ls_envelope *envs, size_t n, ls_buf *out);

/* Verify a Frame buffer; same results as ls_codec_event_verify(). */
int ls_codec_frame_verify(const void *buf, size_t len);

/* Callback for one envelope of a frame; env is valid only during the call
 * (its payload until buf is freed).  Return 0 to go on, else to stop. */
typedef int (*ls_envelope_fn)(void *arg, const ls_envelope *env);

/* Verify the whole frame, then call fn for each envelope in order.  If
 * verification fails fn never runs (errors as for verify); otherwise returns
 * 0, or the first non-zero value fn returned. */
int ls_codec_frame_decode(const void *buf, size_t len, ls_envelope_fn fn,
                          void *arg);

/* ---- Heartbeat, MapEpoch, JoinRequest, MapCommand (cluster.fbs) ---- */

/* The strings of these messages are names and addresses used as C strings:
 * decoders refuse (LS_ECORRUPT) a string with a NUL byte inside, so every
 * decoded ls_str is also a NUL-terminated C string of len bytes.  Lengths
 * are left to the cluster layer, which knows its limits. */

/* One checkpoint acknowledgement.  Strings borrow: from the caller when
 * encoding, from the input buffer when decoding. */
typedef struct ls_ckpt_ack_wire {
	ls_str topology;
	ls_str partition;
	uint64_t epoch; /* run epoch */
	uint64_t ckpt;  /* checkpoint id */
	uint8_t final;  /* 1: the partition's final checkpoint */
} ls_ckpt_ack_wire;

/* A follower's heartbeat.  Strings borrow as for ls_ckpt_ack_wire.  acks:
 * when encoding, nacks entries borrowed from the caller (NULL when nacks is
 * 0); when decoding always NULL, nacks is their number (see
 * ls_codec_heartbeat_decode()). */
typedef struct ls_heartbeat_wire {
	uint64_t id;  /* Raft id of the sender */
	uint64_t inc; /* process incarnation, 0 = not given */
	ls_str name, url, http;
	uint8_t voter, restarted, leaving; /* 0 or 1 */
	const ls_ckpt_ack_wire *acks;
	size_t nacks;
} ls_heartbeat_wire;

/* Encode a heartbeat ("LSHB").  Borrows hb; *out is set only on success.
 * LS_EINVAL for NULL arguments, a string with a NULL pointer and a non-zero
 * length or with a NUL inside, NULL acks with a non-zero nacks; LS_ERANGE
 * when the result could exceed LS_CODEC_MAX_BUF; LS_ENOMEM. */
int ls_codec_heartbeat_encode(const ls_heartbeat_wire *hb, ls_buf *out);

/* Verify a Heartbeat buffer; same results as ls_codec_event_verify(). */
int ls_codec_heartbeat_verify(const void *buf, size_t len);

/* Callback for one acknowledgement of a heartbeat; ack is valid only during
 * the call (its strings until buf is freed).  Return 0 to go on, else to
 * stop. */
typedef int (*ls_ckpt_ack_fn)(void *arg, const ls_ckpt_ack_wire *ack);

/* Verify the whole heartbeat, acknowledgements included, and check its
 * strings; then fill *out (strings borrow from buf, acks NULL, nacks their
 * number) and call fn (may be NULL) for each acknowledgement in order.
 * Errors as for verify, LS_ECORRUPT also for a string with a NUL inside;
 * on error *out is untouched and fn never runs.  Otherwise returns 0, or
 * the first non-zero value fn returned. */
int ls_codec_heartbeat_decode(const void *buf, size_t len,
                              ls_heartbeat_wire *out, ls_ckpt_ack_fn fn,
                              void *arg);

/* Encode the leader's answer to a heartbeat or a join ("LSME"): its map
 * epoch.  LS_EINVAL for a NULL out; LS_ENOMEM. */
int ls_codec_map_epoch_encode(uint64_t epoch, ls_buf *out);

/* Verify, then decode a MapEpoch into *epoch.  Errors as for
 * ls_codec_event_verify(); *epoch is untouched on error. */
int ls_codec_map_epoch_decode(const void *buf, size_t len, uint64_t *epoch);

/* A join request.  Strings borrow: from the caller when encoding, from the
 * input buffer when decoding. */
typedef struct ls_join_wire {
	uint64_t id;  /* Raft id: the hash of raft */
	uint64_t inc; /* the joining process's incarnation */
	ls_str name, url, http, raft;
} ls_join_wire;

/* Encode a join request ("LSJR").  Borrows j; *out is set only on success.
 * LS_EINVAL for NULL arguments, a string with a NULL pointer and a non-zero
 * length or with a NUL inside; LS_ERANGE when the result could exceed
 * LS_CODEC_MAX_BUF; LS_ENOMEM. */
int ls_codec_join_encode(const ls_join_wire *j, ls_buf *out);

/* Verify a JoinRequest buffer; same results as ls_codec_event_verify(). */
int ls_codec_join_verify(const void *buf, size_t len);

/* Verify, then decode a join request into *out (strings borrow from buf).
 * Errors as for verify, LS_ECORRUPT also for a string with a NUL inside;
 * *out is untouched on error. */
int ls_codec_join_decode(const void *buf, size_t len, ls_join_wire *out);

/* Standbys per assignment of a map command. */
#define LS_WIRE_MAX_STANDBYS 7

/* One placement of an ASSIGN map command; partition borrows as above. */
typedef struct ls_assign_wire {
	ls_str partition;
	uint64_t owner;
	uint8_t n_standbys;
	uint64_t standbys[LS_WIRE_MAX_STANDBYS];
} ls_assign_wire;

/* A cluster-map command (cluster/map.h says which fields each type uses).
 * Strings borrow as above.  assigns: when encoding, nassigns entries
 * borrowed from the caller (NULL when nassigns is 0); when decoding always
 * NULL, nassigns is their number. */
typedef struct ls_map_cmd_wire {
	uint8_t type; /* enum ls_map_cmd_type */
	uint64_t node;
	uint8_t voter, state, flags, final;
	ls_str name, url, http, yaml;
	uint64_t checkpoint;
	const ls_assign_wire *assigns;
	size_t nassigns;
} ls_map_cmd_wire;

/* Encode a map command ("LSMC").  Borrows c; *out is set only on success.
 * LS_EINVAL for NULL arguments, a string with a NULL pointer and a non-zero
 * length or a NUL inside, NULL assigns with a non-zero nassigns;
 * LS_ERANGE for more than LS_WIRE_MAX_STANDBYS standbys or a result that
 * could exceed LS_CODEC_MAX_BUF; LS_ENOMEM. */
int ls_codec_map_cmd_encode(const ls_map_cmd_wire *c, ls_buf *out);

/* Verify a MapCommand buffer; same results as ls_codec_event_verify(). */
int ls_codec_map_cmd_verify(const void *buf, size_t len);

/* Callback for assignment i of a map command; a and its strings as for
 * ls_ckpt_ack_fn.  Return 0 to go on, else to stop. */
typedef int (*ls_assign_fn)(void *arg, size_t i, const ls_assign_wire *a);

/* Verify the whole command and check its strings and standby counts; then
 * fill *out (strings borrow from buf) and call fn (may be NULL) for each
 * assignment in order.  Errors as for verify, LS_ECORRUPT also for a string
 * with a NUL inside, LS_ERANGE for an assignment with more than
 * LS_WIRE_MAX_STANDBYS standbys; on error *out is untouched and fn never
 * runs.  Otherwise 0, or the first non-zero value fn returned. */
int ls_codec_map_cmd_decode(const void *buf, size_t len,
                            ls_map_cmd_wire *out, ls_assign_fn fn, void *arg);

/* ---- RecordBatch (results.fbs) ---- */

/* Encode rows of typed records with their schema ("LSRB").  Borrows r.
 * LS_EINVAL for NULL arguments, a schema without fields or one that
 * ls_rec_schema_add would refuse, or a string value with a NULL pointer and
 * non-zero length; LS_ERANGE when the result could exceed LS_CODEC_MAX_BUF;
 * LS_ENOMEM.  *out is set only on success. */
int ls_codec_records_encode(const ls_records *r, ls_buf *out);

/* ls_codec_records_encode() that also records the index of the stage node
 * in the sender's topology (LS_WIRE_NO_NODE: not written).  Same errors and
 * ownership. */
int ls_codec_records_encode_node(const ls_records *r, uint32_t stage_node,
                                 ls_buf *out);

/* Verify a RecordBatch buffer; same results as ls_codec_event_verify(). */
int ls_codec_records_verify(const void *buf, size_t len);

/* Verify, then decode into new records (one reference, the caller's) that
 * own their schema and copies of every string: unlike the other decoders,
 * the result does not borrow buf.  stage is the decoded name (in the
 * records' arena).  LS_ECORRUPT also for a schema ls_rec_schema_add refuses
 * (no fields, bad type or flags, empty or over-long names, key fields apart
 * or key_at elsewhere) or a row whose value or string count differs from
 * the field count; LS_ERANGE for more than LS_REC_MAX_FIELDS fields;
 * LS_ENOMEM.  *out is untouched on error. */
int ls_codec_records_decode(const void *buf, size_t len, ls_records **out);

/* ls_codec_records_decode() that also sets *stage_node (not NULL) to the
 * stage node index the batch carries (LS_WIRE_NO_NODE when absent); same
 * errors, *stage_node untouched on error. */
int ls_codec_records_decode_node(const void *buf, size_t len,
                                 ls_records **out, uint32_t *stage_node);

/* ---- Changelog (changelog.fbs) ---- */

/* The header of one Changelog buffer.  set.count is the number of changes
 * in this buffer; a changeset split over several buffers has one header per
 * buffer, numbered by part from 0, the last with last = 1. */
typedef struct ls_changelog_wire {
	ls_str partition; /* 1..255 bytes */
	ls_changeset set;
	uint32_t part;
	uint8_t last;
} ls_changelog_wire;

/* The most bytes change c adds to an encoded Changelog; a buffer holds
 * about 256 bytes plus the sum of its changes' bounds.  For callers that
 * split a large changeset into buffers of bounded size. */
size_t ls_codec_change_bound(const ls_change *c);

/* Encode ch[0..n) with header h ("LSCL"; h->set.count is ignored, n is
 * written).  Borrows everything; *out is set only on success.  LS_EINVAL for
 * NULL arguments, a partition that is empty or longer than 255 bytes, a
 * change of unknown kind or with a NULL key or value of non-zero length;
 * LS_ERANGE when the result could exceed LS_CODEC_MAX_BUF; LS_ENOMEM. */
int ls_codec_changelog_encode(const ls_changelog_wire *h, const ls_change *ch,
                              size_t n, ls_buf *out);

/* Verify a Changelog buffer; same results as ls_codec_event_verify(). */
int ls_codec_changelog_verify(const void *buf, size_t len);

/* Verify the whole buffer and every change (LS_ECORRUPT also for a change
 * of unknown kind, a missing or bad partition name), then fill *out and,
 * when fn is not NULL, call fn for each change in order (keys and values
 * borrow from buf).  Errors as for verify, before any call of fn; else 0 or
 * fn's first non-zero answer.  *out is untouched on error. */
int ls_codec_changelog_decode(const void *buf, size_t len,
                              ls_changelog_wire *out, ls_change_fn fn,
                              void *arg);

/* ---- DeadLetter, EndOfStream, Barrier, Replication (dataplane.fbs) ---- */

/* Encode a dead-letter record ("LSDL"); record borrows.  LS_EINVAL for a
 * NULL out, a NULL pointer with a non-zero length or a NUL byte inside;
 * LS_ERANGE when the result could exceed LS_CODEC_MAX_BUF; LS_ENOMEM. */
int ls_codec_dead_letter_encode(ls_str record, ls_buf *out);

/* Verify, then decode a DeadLetter: *record borrows from buf (empty when
 * absent) and is a NUL-terminated C string of record->len bytes.  Errors as
 * for ls_codec_event_verify(), LS_ECORRUPT also for a NUL byte inside;
 * *record is untouched on error. */
int ls_codec_dead_letter_decode(const void *buf, size_t len, ls_str *record);

/* Encode a stream marker: type LS_MSG_END_OF_STREAM ("LSES"),
 * LS_MSG_CHECKPOINT_BARRIER ("LSCB") or LS_MSG_REPLAY_MARK ("LSRM")
 * carrying checkpoint id ckpt.
 * LS_EINVAL for another type or a NULL out; LS_ENOMEM. */
int ls_codec_mark_encode(uint16_t type, uint64_t ckpt, ls_buf *out);

/* Verify a marker of the given type (its identifier: a barrier is not an
 * end of stream), then set *ckpt.  LS_EINVAL for another type or a NULL
 * ckpt, else errors as for ls_codec_event_verify(); *ckpt untouched on
 * error. */
int ls_codec_mark_decode(uint16_t type, const void *buf, size_t len,
                         uint64_t *ckpt);

/* The state of one partition as of one checkpoint, for a standby.
 * partition and blob borrow: from the caller when encoding, from the input
 * buffer when decoding (blob 8-byte aligned there, NULL when blob_len is
 * 0). */
typedef struct ls_replication_wire {
	uint64_t ckpt;
	uint8_t final; /* 0 or 1 */
	ls_str partition; /* 1..255 bytes, no NUL inside */
	const uint8_t *blob;
	size_t blob_len;
	/* A blob sent in slices: blob is slice `part` (0 .. parts - 1) of a
	 * blob of `total` bytes.  parts 0 or 1 on encode: the whole blob;
	 * decode gives parts 1, part 0, total = blob_len then. */
	uint32_t part, parts;
	uint64_t total;
} ls_replication_wire;

/* Encode a replication payload ("LSRP"); copies the blob once, into the
 * new buffer.  LS_EINVAL for NULL arguments, a partition that is empty,
 * longer than 255 bytes or with a NUL inside, a NULL blob with a non-zero
 * length, a slice (parts > 1) with part >= parts or longer than total; LS_ERANGE when the result could exceed LS_CODEC_MAX_BUF (a blob
 * of about LS_CODEC_MAX_BUF - 512 bytes at most); LS_ENOMEM. */
int ls_codec_replication_encode(const ls_replication_wire *r, ls_buf *out);

/* Verify, then decode a Replication into *out without copying.  Errors as
 * for ls_codec_event_verify(), LS_ECORRUPT also for a missing, empty,
 * over-long partition or one with a NUL inside, a part not below parts, a
 * slice longer than total; *out untouched on error. */
int ls_codec_replication_decode(const void *buf, size_t len,
                                ls_replication_wire *out);

/* ---- IngestLog (ingest.fbs) ---- */

/* One record of an ingest log: value borrows (caller / input buffer). */
typedef struct ls_ingest_rec_wire {
	uint64_t seq;
	const uint8_t *value;
	size_t len;
} ls_ingest_rec_wire;

/* The records of one `http` source partition crossing between nodes
 * (docs/http-ingest.md).  Strings borrow as in ls_replication_wire. */
typedef struct ls_ingest_wire {
	ls_str topology;  /* 1..255 bytes, no NUL inside */
	ls_str partition; /* 1..255 bytes, no NUL inside */
	uint64_t epoch, trim;
	uint8_t sync;     /* 0 or 1 */
	uint64_t node;    /* the sender */
} ls_ingest_wire;

/* Encode h and recs[0..n-1] ("LSIL").  LS_EINVAL for NULL arguments, a bad
 * name, a record with seq 0 or a NULL value of non-zero length; LS_ERANGE
 * when the result could exceed LS_CODEC_MAX_BUF; LS_ENOMEM. */
int ls_codec_ingest_encode(const ls_ingest_wire *h,
                           const ls_ingest_rec_wire *recs, size_t n,
                           ls_buf *out);

/* Verify, then decode the header into *h and call fn (may be NULL) for
 * every record in order (value borrowed from buf; a non-zero return stops
 * and is returned).  Errors as for ls_codec_event_verify(), LS_ECORRUPT
 * also for a bad name or a record with seq 0; *h untouched on error. */
int ls_codec_ingest_decode(const void *buf, size_t len, ls_ingest_wire *h,
                           int (*fn)(void *arg, const ls_ingest_rec_wire *r),
                           void *arg);

#ifdef __cplusplus
}
#endif

#endif /* LS_CODEC_H */
