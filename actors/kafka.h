/*
 * kafka.h -- the Kafka input and output of the `kafka` source and sink,
 * over librdkafka (docs/kafka.md).
 *
 * Input (ls_kafka_in): one consumer reads every partition of one topic.
 * Partitions are assigned by the source itself (rd_kafka_assign), not by
 * the consumer group protocol: where a source runs is the cluster's
 * placement decision, and its positions are part of the source's
 * checkpoint, so a restore seeks every partition exactly where the
 * checkpoint says.  The group id is used only to commit those positions
 * once a checkpoint has completed everywhere (for lag monitoring, and as
 * the starting point of a fresh run of the same group).
 *
 * Output (ls_kafka_out): an idempotent producer (enable.idempotence), one
 * topic; every message carries a key that the caller makes stable across
 * replays, so a consumer drops a replay after a failover by its key.
 *
 * Threads: an ls_kafka_in / ls_kafka_out is used by one thread at a time
 * (its actor); librdkafka runs its own threads behind it.
 */
#ifndef LS_ACTORS_KAFKA_H
#define LS_ACTORS_KAFKA_H

#include <stddef.h>
#include <stdint.h>

/* Settings shared by input and output; strings are borrowed. */
typedef struct ls_kafka_cfg {
	const char *brokers;  /* bootstrap.servers */
	const char *topic;
	const char *group;    /* input: group.id for commits */
	int latest;           /* input, fresh start without a committed
	                         position: 1 = end of each partition */
	const char **options; /* librdkafka settings "name=value" */
	size_t noptions;
} ls_kafka_cfg;

/* Check an option "name=value" against librdkafka's configuration
 * (ls_topo_check_fn): 0, or 1 with a reason. */
int ls_kafka_check_option(const char *v, char *why, size_t whylen);

/* ---- input ---- */

typedef struct ls_kafka_in ls_kafka_in;

/* A consumer for cfg (not connected yet: ls_kafka_in_start).  0, or
 * LS_EINVAL with librdkafka's reason in err, LS_ENOMEM. */
int ls_kafka_in_new(const ls_kafka_cfg *cfg, ls_kafka_in **out, char *err,
    size_t errlen);
void ls_kafka_in_free(ls_kafka_in *k);

/* Take the positions of a state saved by ls_kafka_in_save (before
 * ls_kafka_in_start).  0, LS_ECORRUPT. */
int ls_kafka_in_restore(ls_kafka_in *k, const uint8_t *b, size_t len);

/* The positions read so far (the next offset of every partition) as a
 * malloc'd state.  0, LS_ENOMEM. */
int ls_kafka_in_save(const ls_kafka_in *k, uint8_t **b, size_t *len);

/* Learn the topic's partitions and assign them, each at its restored
 * position, else its committed one, else the start setting; with
 * bounded != 0 also note each partition's end (high watermark) now, which
 * ls_kafka_in_at_end compares against.  Waits up to timeout_ms for the
 * brokers.  0, LS_EAGAIN (brokers not reachable yet, or the topic does
 * not exist yet: try again later) with a reason in err. */
int ls_kafka_in_start(ls_kafka_in *k, int bounded, int timeout_ms,
    char *err, size_t errlen);

/* A message read: partition, offset, payload (borrowed until the next
 * call), and its key or NULL. */
typedef struct ls_kafka_msg {
	int32_t partition;
	int64_t offset;
	const char *value;
	size_t len;
	const char *key;
	size_t keylen;
} ls_kafka_msg;

/* Read up to max messages without waiting, calling fn for each.  The
 * number read, or -1 with an error in err (logged by the caller; reading
 * goes on). */
typedef void (*ls_kafka_msg_fn)(void *arg, const ls_kafka_msg *m);
long ls_kafka_in_poll(ls_kafka_in *k, size_t max, ls_kafka_msg_fn fn,
    void *arg, char *err, size_t errlen);

/* Started bounded and every partition read up to the end it had then. */
int ls_kafka_in_at_end(const ls_kafka_in *k);

/* Commit the positions of a saved state to the group (asynchronously).
 * 0, LS_ECORRUPT, or LS_EIO. */
int ls_kafka_in_commit(ls_kafka_in *k, const uint8_t *b, size_t len);

/* The positions of a saved state as text, "0:412 1:98 ..." (at most cap
 * bytes; a state too long for it ends with "..."): 0, LS_ECORRUPT. */
int ls_kafka_in_describe(const uint8_t *b, size_t len, char *out,
    size_t cap);

/* ---- output ---- */

typedef struct ls_kafka_out ls_kafka_out;

/* An idempotent producer for cfg.  0, or LS_EINVAL with the reason. */
int ls_kafka_out_new(const ls_kafka_cfg *cfg, ls_kafka_out **out, char *err,
    size_t errlen);
/* Wait up to 10 s for what is queued, then free (NULL is fine). */
void ls_kafka_out_free(ls_kafka_out *k);

/* Queue one message (value and key copied); waits while the producer's
 * queue is full.  0, or LS_EIO with the reason. */
int ls_kafka_out_send(ls_kafka_out *k, const char *key, size_t keylen,
    const char *value, size_t len, char *err, size_t errlen);

/* Wait up to timeout_ms until everything queued is delivered.  0 when
 * every message since the last call was acknowledged by the brokers, else
 * LS_EIO (or LS_ETIMEDOUT) with the first failure's reason in err. */
int ls_kafka_out_flush(ls_kafka_out *k, int timeout_ms, char *err,
    size_t errlen);

/* Serve delivery reports without waiting. */
void ls_kafka_out_poll(ls_kafka_out *k);

#endif /* LS_ACTORS_KAFKA_H */
