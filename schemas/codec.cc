/*
 * codec.cc -- the C codec shim over the C++ that flatc generates from the
 * schemas/ .fbs files.
 *
 * This is the only C++ in LogStream.  It is built without exceptions and RTTI,
 * and its interface is the extern "C" functions of codec.h and codec_int.h.
 *
 * Memory.  Every encoder first walks its input once to validate it and to
 * compute an upper bound of the encoded size (the *_cost() functions below;
 * the numbers follow FlatBufferBuilder's layout rules: a string costs its
 * bytes plus length, terminator and padding, a table its fields, padding,
 * vtable and a vtable slot in the builder's scratch area).  It then makes
 * exactly one allocation of that size, in which the builder works, moves the
 * finished buffer to the start of the block and, when the bound overshot by
 * much, shrinks the block with realloc (a failure there is harmless).  So
 * out of memory is a plain LS_ENOMEM before any work, the builder never
 * allocates by itself, and no C++ exception can arise.  Should the bound ever
 * be too small, the builder grows into a second malloc (counted by
 * ls__codec_overflow_count(), which the tests keep at 0).
 *
 * Reading.  Decoders check size and alignment, run flatbuffers::Verifier with
 * bounded depth and table count and the expected file identifier, and only
 * then read, handing out pointers into the caller's buffer.
 */
#include "schemas/codec.h"
#include "schemas/codec_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

#include "changelog_generated.h"
#include "cluster_generated.h"
#include "dataplane_generated.h"
#include "envelope_generated.h"
#include "ingest_generated.h"
#include "log_event_generated.h"
#include "results_generated.h"
#include "runtime/record.h"

namespace fb = flatbuffers;
namespace w = ls::wire;

/* The C enums of event.h and codec.h mirror the schema enums. */
#define SAME(a, b) static_assert((int)(a) == (int)(b), #a " != " #b)
SAME(w::Level_UNKNOWN, LS_LEVEL_UNKNOWN);
SAME(w::Level_TRACE, LS_LEVEL_TRACE);
SAME(w::Level_DEBUG, LS_LEVEL_DEBUG);
SAME(w::Level_INFO, LS_LEVEL_INFO);
SAME(w::Level_NOTICE, LS_LEVEL_NOTICE);
SAME(w::Level_WARN, LS_LEVEL_WARN);
SAME(w::Level_ERROR, LS_LEVEL_ERROR);
SAME(w::Level_FATAL, LS_LEVEL_FATAL);
SAME(w::Level_MAX + 1, LS_LEVEL_COUNT);
SAME(w::MsgType_NONE, LS_MSG_NONE);
SAME(w::MsgType_EVENTS, LS_MSG_EVENTS);
SAME(w::MsgType_RECORDS, LS_MSG_RECORDS);
SAME(w::MsgType_DEAD_LETTER, LS_MSG_DEAD_LETTER);
SAME(w::MsgType_END_OF_STREAM, LS_MSG_END_OF_STREAM);
SAME(w::MsgType_HEARTBEAT, LS_MSG_HEARTBEAT);
SAME(w::MsgType_CONTROL, LS_MSG_CONTROL);
SAME(w::MsgType_CHECKPOINT_BARRIER, LS_MSG_CHECKPOINT_BARRIER);
SAME(w::MsgType_CHECKPOINT_ACK, LS_MSG_CHECKPOINT_ACK);
SAME(w::MsgType_REPLICATION_BATCH, LS_MSG_REPLICATION_BATCH);
SAME(w::MsgType_CREDIT, LS_MSG_CREDIT);
SAME(w::ChangeKind_PUT, LS_CHANGE_PUT);
SAME(w::ChangeKind_DELETE, LS_CHANGE_DELETE);
SAME(w::ChangeKind_SET, LS_CHANGE_SET);
SAME(w::ChangeKind_ADD, LS_CHANGE_ADD);
SAME(w::ChangeKind_MAX, LS_CHANGE_ADD);
#undef SAME
static_assert(FLATBUFFERS_LITTLEENDIAN,
              "records copy numbers as stored (little-endian)");
static_assert(sizeof(ls::wire::RecordValue) == 24,
              "RecordValue: i, d, null and padding");
static_assert(LS_CODEC_MAX_BUF < FLATBUFFERS_MAX_BUFFER_SIZE,
              "codec limit must fit flatbuffers' offsets");

namespace
{

/* File identifiers that flatc does not know (one per .fbs file). */
const char batch_id[] = "LSEB";
const char frame_id[] = "LSFR";

/* Verifier limits.  None of our schemas is recursive, so the depth of a valid
 * buffer is at most 4 (Frame > Envelope, EventBatch > LogEvent > Attr). */
const fb::uoffset_t max_depth = 16;

/* Slack for the fixed parts of a buffer: root offset, identifier, padding,
 * the root table and the builder's field-location scratch (8 bytes a field
 * while one table is open). */
const size_t buf_overhead = 256;

/* ---- test hooks (per thread) ---- */

thread_local long fail_after = -1;
thread_local unsigned long overflows;

void *
codec_malloc(size_t n)
{
	if (fail_after == 0)
		return nullptr;
	if (fail_after > 0)
		fail_after--;
	return malloc(n);
}

void *
codec_realloc(void *p, size_t n)
{
	if (fail_after == 0)
		return nullptr;
	if (fail_after > 0)
		fail_after--;
	return realloc(p, n);
}

/* ---- encoding ---- */

/* A size bound that saturates: once over LS_CODEC_MAX_BUF it stays over. */
struct bound {
	size_t n = 0;
	bool over = false;

	void add(size_t x)
	{
		if (over || x > (size_t)LS_CODEC_MAX_BUF - n)
			over = true;
		else
			n += x;
	}
};

/* The builder's only memory: the block the encoder allocated up front.  A
 * request beyond it means the size bound was wrong; it is served by malloc
 * and counted, so that the result is still correct. */
class block_allocator final : public fb::Allocator
{
      public:
	block_allocator(uint8_t *base, size_t cap) : base_(base), cap_(cap)
	{
	}

	uint8_t *allocate(size_t size) override
	{
		if (!base_used_ && size <= cap_) {
			base_used_ = true;
			return base_;
		}
		overflows++;
		uint8_t *p = static_cast<uint8_t *>(malloc(size));
		if (p == nullptr) {
			/* Broken invariant (the bound) and out of memory:
			 * the builder cannot report failure. */
			fputs("logstream: codec size bound exceeded and out "
			      "of memory\n",
			      stderr);
			abort();
		}
		return p;
	}

	void deallocate(uint8_t *p, size_t) override
	{
		if (p == base_)
			base_used_ = false;
		else
			free(p);
	}

	uint8_t *base() const
	{
		return base_;
	}

      private:
	uint8_t *base_;
	size_t cap_;
	bool base_used_ = false;
};

bool
str_ok(ls_str s)
{
	return s.ptr != nullptr || s.len == 0;
}

/* Bytes a string can take: length, bytes, terminator, padding to 4. */
size_t
str_cost(ls_str s)
{
	return s.len == 0 ? 0 : (size_t)s.len + 8;
}

/* Validate an event and add its size bound to *b. */
int
event_cost(const ls_event *ev, bound *b)
{
	if (ev->nattrs > LS_EVENT_MAX_ATTRS)
		return LS_ERANGE;
	if (ev->level >= LS_LEVEL_COUNT)
		return LS_EINVAL;
	if (!str_ok(ev->level_text) || !str_ok(ev->service) ||
	    !str_ok(ev->host) || !str_ok(ev->message))
		return LS_EINVAL;
	/* Table: 3 x 8 + 1 + 5 x 4 bytes of fields with padding, soffset,
	 * 22-byte vtable, vtable scratch slot; attrs vector: 4n + 7. */
	b->add(128);
	b->add(str_cost(ev->level_text));
	b->add(str_cost(ev->service));
	b->add(str_cost(ev->host));
	b->add(str_cost(ev->message));
	for (unsigned i = 0; i < ev->nattrs; i++) {
		const ls_attr *a = &ev->attrs[i];
		if (!str_ok(a->key) || !str_ok(a->val))
			return LS_EINVAL;
		/* Attr table (~30) + vector slot (4). */
		b->add(40);
		b->add(str_cost(a->key));
		b->add(str_cost(a->val));
	}
	return 0;
}

/* A builder and what encode() must know about its first object.  The
 * builder aligns relative to the end of the buffer, so padding that the first
 * object needs ends up as the buffer's last bytes.  encode() cuts it off: then
 * the last byte of every buffer belongs to a referenced object and the
 * verifier refuses every truncation. */
struct enc {
	fb::FlatBufferBuilder &fbb;
	size_t tail_pad = 0;

	explicit enc(fb::FlatBufferBuilder &b) : fbb(b)
	{
	}

	/* Call after creating an object of `bytes` bytes that began at size
	 * `before`. */
	void created(size_t before, size_t bytes)
	{
		if (before == 0)
			tail_pad = fbb.GetSize() - bytes;
	}
};

/* A string that must exist (vector element), possibly empty. */
fb::Offset<fb::String>
put_str_always(enc &e, ls_str s)
{
	size_t before = e.fbb.GetSize();
	auto o = e.fbb.CreateString(s.len != 0 ? s.ptr : "", s.len);
	e.created(before, sizeof(fb::uoffset_t) + s.len + 1);
	return o;
}

/* An optional string: absent when empty. */
fb::Offset<fb::String>
put_str(enc &e, ls_str s)
{
	if (s.len == 0)
		return 0;
	return put_str_always(e, s);
}

fb::Offset<w::LogEvent>
put_event(enc &e, const ls_event *ev)
{
	fb::FlatBufferBuilder &fbb = e.fbb;
	fb::Offset<w::Attr> attrs[LS_EVENT_MAX_ATTRS];
	fb::Offset<fb::Vector<fb::Offset<w::Attr>>> attrv = 0;

	for (unsigned i = 0; i < ev->nattrs; i++) {
		auto k = put_str(e, ev->attrs[i].key);
		auto v = put_str(e, ev->attrs[i].val);
		attrs[i] = w::CreateAttr(fbb, k, v);
	}
	if (ev->nattrs > 0)
		attrv = fbb.CreateVector(attrs, ev->nattrs);
	auto lt = put_str(e, ev->level_text);
	auto svc = put_str(e, ev->service);
	auto host = put_str(e, ev->host);
	auto msg = put_str(e, ev->message);
	return w::CreateLogEvent(fbb, ev->time_ns, ev->ingest_ns, ev->offset,
	                         static_cast<w::Level>(ev->level), lt, svc,
	                         host, msg, attrv);
}

/* Run build(enc, scratch) in a single block of prefix + cap bytes, the
 * first prefix bytes of which are scratch for the caller, and finish the
 * buffer with identifier id into *out. */
template <typename F>
int
encode(const bound &b, size_t prefix, const char *id, F build, ls_buf *out)
{
	if (b.over || b.n + buf_overhead > LS_CODEC_MAX_BUF)
		return LS_ERANGE;
	/* Round up to the builder's 8-byte alignment. */
	size_t cap = (b.n + buf_overhead + 7) & ~(size_t)7;
	prefix = (prefix + 7) & ~(size_t)7;
	uint8_t *block = static_cast<uint8_t *>(codec_malloc(prefix + cap));
	if (block == nullptr)
		return LS_ENOMEM;

	block_allocator alloc(block + prefix, cap);
	size_t total = prefix + cap, size, off, tail;
	uint8_t *raw, *data;
	{
		fb::FlatBufferBuilder fbb(cap, &alloc, false, 8);
		enc e(fbb);
		fb::uoffset_t root = build(e, block);
		fbb.Finish(fb::Offset<void>(root), id);
		tail = e.tail_pad;
		raw = fbb.ReleaseRaw(size, off);
	}
	size -= off;
	if (raw == alloc.base()) {
		data = block;
	} else {
		/* The bound was too small: the result lives in the builder's
		 * own malloc'd block. */
		free(block);
		data = raw;
		total = size + off;
	}
	memmove(data, raw + off, size);
	/* Offsets and alignment count from the start: the padding at the end
	 * carries nothing. */
	size -= tail;
	if (total - size >= 1024 && total - size > total / 4) {
		void *p = codec_realloc(data, size);
		if (p != nullptr)
			data = static_cast<uint8_t *>(p);
	}
	out->data = data;
	out->len = size;
	return 0;
}

/* ---- verification ---- */

int
check_input(const void *buf, size_t len)
{
	if (len > LS_CODEC_MAX_BUF)
		return LS_ERANGE;
	if (buf == nullptr)
		return len == 0 ? LS_ECORRUPT : LS_EINVAL;
	if ((uintptr_t)buf % LS_CODEC_ALIGN != 0)
		return LS_EINVAL;
	return 0;
}

fb::Verifier::Options
verifier_options(size_t len)
{
	fb::Verifier::Options o;
	o.max_depth = max_depth;
	/* Every table needs its own 4-byte soffset and a 4-byte offset that
	 * refers to it, so a buffer from our encoders has at most len / 8
	 * tables.  More means tables shared many times over (a DAG), which
	 * would make verification cost more than linear in len. */
	o.max_tables = (fb::uoffset_t)(len / 8 + 1);
	o.check_alignment = true;
	o.check_nested_flatbuffers = false;
	return o;
}

/* Verify a whole buffer of root type T with identifier id. */
template <typename T>
int
verify_root(const void *buf, size_t len, const char *id, const T **root)
{
	int rc = check_input(buf, len);
	if (rc != 0)
		return rc;
	const uint8_t *p = static_cast<const uint8_t *>(buf);
	fb::Verifier v(p, len, verifier_options(len));
	if (!v.VerifyBuffer<T>(id))
		return LS_ECORRUPT;
	*root = fb::GetRoot<T>(p);
	return 0;
}

/* ---- decoding (only of verified buffers) ---- */

ls_str
get_str(const fb::String *s)
{
	if (s == nullptr || s->size() == 0)
		return ls_str_make("", 0);
	return ls_str_make(s->c_str(), s->size());
}

/* Refuse what an ls_event cannot hold before anything is written. */
int
event_check(const w::LogEvent *e)
{
	auto attrs = e->attrs();
	if (attrs != nullptr && attrs->size() > LS_EVENT_MAX_ATTRS)
		return LS_ERANGE;
	return 0;
}

/* Fill *out from an event that passed the verifier and event_check(). */
void
event_fill(const w::LogEvent *e, ls_event *out)
{
	auto attrs = e->attrs();
	unsigned n = attrs != nullptr ? attrs->size() : 0;
	uint8_t level = static_cast<uint8_t>(e->level());

	out->time_ns = e->time_ns();
	out->ingest_ns = e->ingest_ns();
	out->offset = e->offset();
	out->level = level < LS_LEVEL_COUNT ? level : (uint8_t)LS_LEVEL_UNKNOWN;
	out->nattrs = static_cast<uint8_t>(n);
	out->level_text = get_str(e->level_text());
	out->service = get_str(e->service());
	out->host = get_str(e->host());
	out->message = get_str(e->message());
	for (unsigned i = 0; i < n; i++) {
		const w::Attr *a = attrs->Get(i);
		out->attrs[i].key = get_str(a->key());
		out->attrs[i].val = get_str(a->value());
	}
	if (n < LS_EVENT_MAX_ATTRS)
		memset(&out->attrs[n], 0,
		       (LS_EVENT_MAX_ATTRS - n) * sizeof(out->attrs[0]));
}

void
envelope_fill(const w::Envelope *e, ls_envelope *out)
{
	auto p = e->payload();

	out->type = static_cast<uint16_t>(e->type());
	out->from = e->from();
	out->to = e->to();
	out->epoch = e->epoch();
	out->seq = e->seq();
	if (p != nullptr && p->size() > 0) {
		out->payload = p->data();
		out->payload_len = p->size();
	} else {
		out->payload = nullptr;
		out->payload_len = 0;
	}
}

/* Validate an envelope and add its size bound to *b. */
int
envelope_cost(const ls_envelope *env, bound *b)
{
	if (env->payload == nullptr && env->payload_len != 0)
		return LS_EINVAL;
	/* Table: 2 + 4 x 8 + 4 bytes of fields with padding, soffset, 16-byte
	 * vtable, scratch slot; payload: length, 8-byte alignment, padding. */
	b->add(128);
	b->add(env->payload_len);
	b->add(env->payload_len != 0 ? 24 : 0);
	return 0;
}

fb::Offset<w::Envelope>
put_envelope(enc &e, const ls_envelope *env)
{
	fb::FlatBufferBuilder &fbb = e.fbb;
	fb::Offset<fb::Vector<uint8_t>> payload = 0;

	if (env->payload_len != 0) {
		size_t before = fbb.GetSize();
		/* Land the payload 8-byte aligned so that a nested
		 * flatbuffer can be read in place. */
		fbb.ForceVectorAlignment(env->payload_len, 1, 8);
		payload = fbb.CreateVector(env->payload, env->payload_len);
		e.created(before, sizeof(fb::uoffset_t) + env->payload_len);
	}
	return w::CreateEnvelope(fbb, static_cast<w::MsgType>(env->type),
	                         env->from, env->to, env->epoch, env->seq,
	                         payload);
}

} // namespace

/* ---- the C API ---- */

extern "C" {

void
ls__codec_fail_alloc_after(long n)
{
	fail_after = n < 0 ? -1 : n;
}

unsigned long
ls__codec_overflow_count(void)
{
	return overflows;
}

void
ls_buf_free(ls_buf *b)
{
	if (b == nullptr)
		return;
	free(b->data);
	b->data = nullptr;
	b->len = 0;
}

int
ls_codec_event_encode(const ls_event *ev, ls_buf *out)
{
	bound b;
	int rc;

	if (ev == nullptr || out == nullptr)
		return LS_EINVAL;
	if ((rc = event_cost(ev, &b)) != 0)
		return rc;
	return encode(
	    b, 0, w::LogEventIdentifier(),
	    [ev](enc &e, uint8_t *) { return put_event(e, ev).o; }, out);
}

int
ls_codec_batch_encode(const ls_event *evs, size_t n, ls_buf *out)
{
	return ls_codec_batch_encode_node(evs, n, LS_WIRE_NO_NODE, out);
}

int
ls_codec_batch_encode_node(const ls_event *evs, size_t n,
                           uint32_t source_node, ls_buf *out)
{
	bound b;
	int rc;

	if ((evs == nullptr && n != 0) || out == nullptr)
		return LS_EINVAL;
	for (size_t i = 0; i < n && !b.over; i++) {
		if ((rc = event_cost(&evs[i], &b)) != 0)
			return rc;
		b.add(4); /* the slot in the events vector */
	}
	b.add(8); /* source_node */
	if (b.over)
		return LS_ERANGE;
	/* Scratch for the events' offsets, in front of the builder's area. */
	return encode(
	    b, n * sizeof(fb::uoffset_t), batch_id,
	    [evs, n, source_node](enc &e, uint8_t *scratch) {
		    auto offs =
		        reinterpret_cast<fb::Offset<w::LogEvent> *>(scratch);
		    for (size_t i = 0; i < n; i++)
			    offs[i] = put_event(e, &evs[i]);
		    auto v = e.fbb.CreateVector(offs, n);
		    return w::CreateEventBatch(e.fbb, v, source_node).o;
	    },
	    out);
}

int
ls_codec_event_verify(const void *buf, size_t len)
{
	const w::LogEvent *e;
	return verify_root(buf, len, w::LogEventIdentifier(), &e);
}

int
ls_codec_batch_verify(const void *buf, size_t len)
{
	const w::EventBatch *b;
	return verify_root(buf, len, batch_id, &b);
}

int
ls_codec_event_decode(const void *buf, size_t len, ls_event *out)
{
	const w::LogEvent *e;
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, w::LogEventIdentifier(), &e)) != 0 ||
	    (rc = event_check(e)) != 0)
		return rc;
	event_fill(e, out);
	return 0;
}

int
ls_codec_batch_count(const void *buf, size_t len, size_t *n)
{
	return ls_codec_batch_info(buf, len, n, nullptr);
}

int
ls_codec_batch_info(const void *buf, size_t len, size_t *n,
                    uint32_t *source_node)
{
	const w::EventBatch *b;
	int rc;

	if (n == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, batch_id, &b)) != 0)
		return rc;
	*n = b->events() != nullptr ? b->events()->size() : 0;
	if (source_node != nullptr)
		*source_node = b->source_node();
	return 0;
}

int
ls_codec_batch_get(const void *buf, size_t len, size_t i, ls_event *out)
{
	const uint8_t *p = static_cast<const uint8_t *>(buf);
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = check_input(buf, len)) != 0)
		return rc;
	/* What VerifyBuffer<EventBatch> does, except that of the events it
	 * verifies only event i. */
	fb::Verifier v(p, len, verifier_options(len));
	if (len < 2 * sizeof(fb::uoffset_t) ||
	    !fb::BufferHasIdentifier(p, batch_id))
		return LS_ECORRUPT;
	fb::uoffset_t o = v.VerifyOffset(0);
	if (o == 0)
		return LS_ECORRUPT;
	auto b = reinterpret_cast<const w::EventBatch *>(p + o);
	auto t = reinterpret_cast<const fb::Table *>(b);
	if (!v.VerifyTableStart(p + o) ||
	    !t->VerifyOffset(v, w::EventBatch::VT_EVENTS) ||
	    !v.VerifyVector(b->events()))
		return LS_ECORRUPT;
	v.EndTable();
	auto evs = b->events();
	if (evs == nullptr || i >= evs->size())
		return LS_ENOENT;
	const w::LogEvent *e = evs->Get(static_cast<fb::uoffset_t>(i));
	if (!e->Verify(v))
		return LS_ECORRUPT;
	if ((rc = event_check(e)) != 0)
		return rc;
	event_fill(e, out);
	return 0;
}

int
ls_codec_batch_foreach(const void *buf, size_t len, ls_event_fn fn, void *arg)
{
	const w::EventBatch *b;
	ls_event ev;
	int rc;

	if (fn == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, batch_id, &b)) != 0)
		return rc;
	auto evs = b->events();
	if (evs == nullptr)
		return 0;
	for (fb::uoffset_t i = 0; i < evs->size(); i++)
		if ((rc = event_check(evs->Get(i))) != 0)
			return rc;
	for (fb::uoffset_t i = 0; i < evs->size(); i++) {
		event_fill(evs->Get(i), &ev);
		if ((rc = fn(arg, &ev)) != 0)
			return rc;
	}
	return 0;
}

int
ls_codec_envelope_encode(const ls_envelope *env, ls_buf *out)
{
	bound b;
	int rc;

	if (env == nullptr || out == nullptr)
		return LS_EINVAL;
	if ((rc = envelope_cost(env, &b)) != 0)
		return rc;
	return encode(
	    b, 0, w::EnvelopeIdentifier(),
	    [env](enc &e, uint8_t *) { return put_envelope(e, env).o; }, out);
}

int
ls_codec_envelope_verify(const void *buf, size_t len)
{
	const w::Envelope *e;
	return verify_root(buf, len, w::EnvelopeIdentifier(), &e);
}

int
ls_codec_envelope_decode(const void *buf, size_t len, ls_envelope *out)
{
	const w::Envelope *e;
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, w::EnvelopeIdentifier(), &e)) != 0)
		return rc;
	envelope_fill(e, out);
	return 0;
}

int
ls_codec_frame_encode(const ls_envelope *envs, size_t n, ls_buf *out)
{
	bound b;
	int rc;

	if ((envs == nullptr && n != 0) || out == nullptr)
		return LS_EINVAL;
	for (size_t i = 0; i < n && !b.over; i++) {
		if ((rc = envelope_cost(&envs[i], &b)) != 0)
			return rc;
		b.add(4);
	}
	if (b.over)
		return LS_ERANGE;
	return encode(
	    b, n * sizeof(fb::uoffset_t), frame_id,
	    [envs, n](enc &e, uint8_t *scratch) {
		    auto offs =
		        reinterpret_cast<fb::Offset<w::Envelope> *>(scratch);
		    for (size_t i = 0; i < n; i++)
			    offs[i] = put_envelope(e, &envs[i]);
		    auto v = e.fbb.CreateVector(offs, n);
		    return w::CreateFrame(e.fbb, v).o;
	    },
	    out);
}

int
ls_codec_frame_verify(const void *buf, size_t len)
{
	const w::Frame *f;
	return verify_root(buf, len, frame_id, &f);
}

int
ls_codec_frame_decode(const void *buf, size_t len, ls_envelope_fn fn, void *arg)
{
	const w::Frame *f;
	ls_envelope env;
	int rc;

	if (fn == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, frame_id, &f)) != 0)
		return rc;
	auto envs = f->envelopes();
	if (envs == nullptr)
		return 0;
	for (fb::uoffset_t i = 0; i < envs->size(); i++) {
		envelope_fill(envs->Get(i), &env);
		if ((rc = fn(arg, &env)) != 0)
			return rc;
	}
	return 0;
}

} /* extern "C" */

/* ---- Heartbeat, MapEpoch, JoinRequest, MapCommand (cluster.fbs) ---- */

namespace
{

const char map_epoch_id[] = "LSME";
const char join_id[] = "LSJR";
const char map_cmd_id[] = "LSMC";

/* A string the cluster layer uses as a C string: no NUL inside. */
bool
cstr_ok(ls_str s)
{
	return str_ok(s) &&
	       (s.len == 0 || memchr(s.ptr, '\0', s.len) == nullptr);
}

bool
cstr_ok(const fb::String *s)
{
	return s == nullptr || memchr(s->data(), '\0', s->size()) == nullptr;
}

/* Validate an acknowledgement and add its size bound to *b. */
int
ack_cost(const ls_ckpt_ack_wire *a, bound *b)
{
	if (!cstr_ok(a->topology) || !cstr_ok(a->partition))
		return LS_EINVAL;
	/* Table: 2 x 8 + 1 + 2 x 4 bytes of fields with padding, soffset,
	 * 14-byte vtable, vtable scratch slot; its slot in the vector. */
	b->add(128);
	b->add(str_cost(a->topology));
	b->add(str_cost(a->partition));
	return 0;
}

fb::Offset<w::CheckpointAck>
put_ack(enc &e, const ls_ckpt_ack_wire *a)
{
	auto topo = put_str(e, a->topology);
	auto part = put_str(e, a->partition);
	return w::CreateCheckpointAck(e.fbb, topo, a->epoch, a->ckpt,
	                              a->final != 0, part);
}

/* Refuse strings a C string cannot carry, before anything is written. */
int
heartbeat_check(const w::Heartbeat *h)
{
	if (!cstr_ok(h->name()) || !cstr_ok(h->url()) || !cstr_ok(h->http()))
		return LS_ECORRUPT;
	auto acks = h->acks();
	if (acks == nullptr)
		return 0;
	for (fb::uoffset_t i = 0; i < acks->size(); i++) {
		const w::CheckpointAck *a = acks->Get(i);
		if (!cstr_ok(a->topology()) || !cstr_ok(a->partition()))
			return LS_ECORRUPT;
	}
	return 0;
}

void
ack_fill(const w::CheckpointAck *a, ls_ckpt_ack_wire *out)
{
	out->topology = get_str(a->topology());
	out->partition = get_str(a->partition());
	out->epoch = a->epoch();
	out->ckpt = a->checkpoint();
	out->final = a->final() ? 1 : 0;
}

fb::Offset<w::JoinRequest>
put_join(enc &e, const ls_join_wire *j)
{
	auto name = put_str(e, j->name);
	auto url = put_str(e, j->url);
	auto http = put_str(e, j->http);
	auto raft = put_str(e, j->raft);
	return w::CreateJoinRequest(e.fbb, j->id, j->inc, name, url, http,
	                            raft);
}

/* Validate an assignment and add its size bound to *b. */
int
assign_cost(const ls_assign_wire *a, bound *b)
{
	if (!cstr_ok(a->partition))
		return LS_EINVAL;
	if (a->n_standbys > LS_WIRE_MAX_STANDBYS)
		return LS_ERANGE;
	/* Table: 8 + 2 x 4 bytes of fields with padding, soffset, 10-byte
	 * vtable, scratch slot, its slot in the vector; standbys: length,
	 * 8-byte alignment, elements. */
	b->add(96);
	b->add(str_cost(a->partition));
	b->add(16 + 8 * (size_t)a->n_standbys);
	return 0;
}

fb::Offset<w::Assignment>
put_assign(enc &e, const ls_assign_wire *a)
{
	fb::Offset<fb::Vector<uint64_t>> sb = 0;
	auto part = put_str(e, a->partition);
	if (a->n_standbys > 0) {
		size_t before = e.fbb.GetSize();
		sb = e.fbb.CreateVector(a->standbys, a->n_standbys);
		e.created(before, sizeof(fb::uoffset_t) + 8 * a->n_standbys);
	}
	return w::CreateAssignment(e.fbb, part, a->owner, sb);
}

/* Refuse what the C structs cannot hold, before anything is written. */
int
map_cmd_check(const w::MapCommand *c)
{
	if (!cstr_ok(c->name()) || !cstr_ok(c->url()) || !cstr_ok(c->http()) ||
	    !cstr_ok(c->yaml()))
		return LS_ECORRUPT;
	auto as = c->assignments();
	if (as == nullptr)
		return 0;
	for (fb::uoffset_t i = 0; i < as->size(); i++) {
		const w::Assignment *a = as->Get(i);
		if (!cstr_ok(a->partition()))
			return LS_ECORRUPT;
		if (a->standbys() != nullptr &&
		    a->standbys()->size() > LS_WIRE_MAX_STANDBYS)
			return LS_ERANGE;
	}
	return 0;
}

void
assign_fill(const w::Assignment *a, ls_assign_wire *out)
{
	auto sb = a->standbys();
	unsigned n = sb != nullptr ? sb->size() : 0;

	memset(out, 0, sizeof(*out));
	out->partition = get_str(a->partition());
	out->owner = a->owner();
	out->n_standbys = static_cast<uint8_t>(n);
	/* memcpy: the verifier checks a vector's length field for
	 * alignment, not its elements. */
	if (n > 0)
		memcpy(out->standbys, sb->Data(), 8 * (size_t)n);
}

} // namespace

extern "C" {

int
ls_codec_heartbeat_encode(const ls_heartbeat_wire *hb, ls_buf *out)
{
	bound b;
	int rc;

	if (hb == nullptr || out == nullptr ||
	    (hb->acks == nullptr && hb->nacks != 0))
		return LS_EINVAL;
	if (!cstr_ok(hb->name) || !cstr_ok(hb->url) || !cstr_ok(hb->http))
		return LS_EINVAL;
	/* Table: 2 x 8 + 4 x 4 + 3 bytes of fields with padding, soffset,
	 * 22-byte vtable, scratch slot; acks vector: 4n + 7. */
	b.add(128);
	b.add(str_cost(hb->name));
	b.add(str_cost(hb->url));
	b.add(str_cost(hb->http));
	for (size_t i = 0; i < hb->nacks && !b.over; i++)
		if ((rc = ack_cost(&hb->acks[i], &b)) != 0)
			return rc;
	if (b.over)
		return LS_ERANGE;
	/* Scratch for the acknowledgements' offsets. */
	return encode(
	    b, hb->nacks * sizeof(fb::uoffset_t), w::HeartbeatIdentifier(),
	    [hb](enc &e, uint8_t *scratch) {
		    auto offs =
		        reinterpret_cast<fb::Offset<w::CheckpointAck> *>(scratch);
		    fb::Offset<fb::Vector<fb::Offset<w::CheckpointAck>>> v = 0;
		    for (size_t i = 0; i < hb->nacks; i++)
			    offs[i] = put_ack(e, &hb->acks[i]);
		    if (hb->nacks > 0)
			    v = e.fbb.CreateVector(offs, hb->nacks);
		    auto name = put_str(e, hb->name);
		    auto url = put_str(e, hb->url);
		    auto http = put_str(e, hb->http);
		    return w::CreateHeartbeat(e.fbb, hb->id, name, url, http,
		                              hb->inc, hb->voter != 0,
		                              hb->restarted != 0,
		                              hb->leaving != 0, v)
		        .o;
	    },
	    out);
}

int
ls_codec_heartbeat_verify(const void *buf, size_t len)
{
	const w::Heartbeat *h;
	return verify_root(buf, len, w::HeartbeatIdentifier(), &h);
}

int
ls_codec_heartbeat_decode(const void *buf, size_t len, ls_heartbeat_wire *out,
                          ls_ckpt_ack_fn fn, void *arg)
{
	const w::Heartbeat *h;
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, w::HeartbeatIdentifier(), &h)) != 0 ||
	    (rc = heartbeat_check(h)) != 0)
		return rc;
	auto acks = h->acks();
	out->id = h->id();
	out->inc = h->incarnation();
	out->name = get_str(h->name());
	out->url = get_str(h->url());
	out->http = get_str(h->http());
	out->voter = h->voter() ? 1 : 0;
	out->restarted = h->restarted() ? 1 : 0;
	out->leaving = h->leaving() ? 1 : 0;
	out->acks = nullptr;
	out->nacks = acks != nullptr ? acks->size() : 0;
	if (fn == nullptr || acks == nullptr)
		return 0;
	for (fb::uoffset_t i = 0; i < acks->size(); i++) {
		ls_ckpt_ack_wire a;
		ack_fill(acks->Get(i), &a);
		if ((rc = fn(arg, &a)) != 0)
			return rc;
	}
	return 0;
}

int
ls_codec_map_epoch_encode(uint64_t epoch, ls_buf *out)
{
	bound b;

	if (out == nullptr)
		return LS_EINVAL;
	/* Table: one 8-byte field with padding, soffset, vtable, scratch. */
	b.add(64);
	return encode(
	    b, 0, map_epoch_id,
	    [epoch](enc &e, uint8_t *) {
		    return w::CreateMapEpoch(e.fbb, epoch).o;
	    },
	    out);
}

int
ls_codec_map_epoch_decode(const void *buf, size_t len, uint64_t *epoch)
{
	const w::MapEpoch *m;
	int rc;

	if (epoch == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, map_epoch_id, &m)) != 0)
		return rc;
	*epoch = m->epoch();
	return 0;
}


int
ls_codec_join_encode(const ls_join_wire *j, ls_buf *out)
{
	bound b;

	if (j == nullptr || out == nullptr)
		return LS_EINVAL;
	if (!cstr_ok(j->name) || !cstr_ok(j->url) || !cstr_ok(j->http) ||
	    !cstr_ok(j->raft))
		return LS_EINVAL;
	/* Table: 2 x 8 + 4 x 4 bytes of fields with padding, soffset,
	 * 16-byte vtable, scratch slot. */
	b.add(96);
	b.add(str_cost(j->name));
	b.add(str_cost(j->url));
	b.add(str_cost(j->http));
	b.add(str_cost(j->raft));
	return encode(
	    b, 0, join_id,
	    [j](enc &e, uint8_t *) { return put_join(e, j).o; }, out);
}

int
ls_codec_join_verify(const void *buf, size_t len)
{
	const w::JoinRequest *j;
	return verify_root(buf, len, join_id, &j);
}

int
ls_codec_join_decode(const void *buf, size_t len, ls_join_wire *out)
{
	const w::JoinRequest *j;
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, join_id, &j)) != 0)
		return rc;
	if (!cstr_ok(j->name()) || !cstr_ok(j->url()) || !cstr_ok(j->http()) ||
	    !cstr_ok(j->raft()))
		return LS_ECORRUPT;
	out->id = j->id();
	out->inc = j->incarnation();
	out->name = get_str(j->name());
	out->url = get_str(j->url());
	out->http = get_str(j->http());
	out->raft = get_str(j->raft());
	return 0;
}

int
ls_codec_map_cmd_encode(const ls_map_cmd_wire *c, ls_buf *out)
{
	bound b;
	int rc;

	if (c == nullptr || out == nullptr ||
	    (c->assigns == nullptr && c->nassigns != 0))
		return LS_EINVAL;
	if (!cstr_ok(c->name) || !cstr_ok(c->url) || !cstr_ok(c->http) ||
	    !cstr_ok(c->yaml))
		return LS_EINVAL;
	/* Table: 2 x 8 + 5 x 4 + 5 bytes of fields with padding, soffset,
	 * 28-byte vtable, scratch slot; assignments vector: 4n + 7. */
	b.add(160);
	b.add(str_cost(c->name));
	b.add(str_cost(c->url));
	b.add(str_cost(c->http));
	b.add(str_cost(c->yaml));
	for (size_t i = 0; i < c->nassigns && !b.over; i++)
		if ((rc = assign_cost(&c->assigns[i], &b)) != 0)
			return rc;
	if (b.over)
		return LS_ERANGE;
	return encode(
	    b, c->nassigns * sizeof(fb::uoffset_t), map_cmd_id,
	    [c](enc &e, uint8_t *scratch) {
		    auto offs =
		        reinterpret_cast<fb::Offset<w::Assignment> *>(scratch);
		    fb::Offset<fb::Vector<fb::Offset<w::Assignment>>> v = 0;
		    for (size_t i = 0; i < c->nassigns; i++)
			    offs[i] = put_assign(e, &c->assigns[i]);
		    if (c->nassigns > 0)
			    v = e.fbb.CreateVector(offs, c->nassigns);
		    auto name = put_str(e, c->name);
		    auto url = put_str(e, c->url);
		    auto http = put_str(e, c->http);
		    auto yaml = put_str(e, c->yaml);
		    return w::CreateMapCommand(e.fbb, c->type, c->node,
		                               c->voter != 0, c->state, name,
		                               url, http, yaml, c->flags, v,
		                               c->checkpoint, c->final != 0)
		        .o;
	    },
	    out);
}

int
ls_codec_map_cmd_verify(const void *buf, size_t len)
{
	const w::MapCommand *c;
	return verify_root(buf, len, map_cmd_id, &c);
}

int
ls_codec_map_cmd_decode(const void *buf, size_t len, ls_map_cmd_wire *out,
                        ls_assign_fn fn, void *arg)
{
	const w::MapCommand *c;
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, map_cmd_id, &c)) != 0 ||
	    (rc = map_cmd_check(c)) != 0)
		return rc;
	auto as = c->assignments();
	out->type = c->type();
	out->node = c->node();
	out->voter = c->voter() ? 1 : 0;
	out->state = c->state();
	out->flags = c->flags();
	out->final = c->final() ? 1 : 0;
	out->name = get_str(c->name());
	out->url = get_str(c->url());
	out->http = get_str(c->http());
	out->yaml = get_str(c->yaml());
	out->checkpoint = c->checkpoint();
	out->assigns = nullptr;
	out->nassigns = as != nullptr ? as->size() : 0;
	if (fn == nullptr || as == nullptr)
		return 0;
	for (fb::uoffset_t i = 0; i < as->size(); i++) {
		ls_assign_wire a;
		assign_fill(as->Get(i), &a);
		if ((rc = fn(arg, i, &a)) != 0)
			return rc;
	}
	return 0;
}

int
ls_codec_records_encode(const ls_records *r, ls_buf *out)
{
	return ls_codec_records_encode_node(r, LS_WIRE_NO_NODE, out);
}

int
ls_codec_records_encode_node(const ls_records *r, uint32_t stage_node,
                             ls_buf *out)
{
	bound b;

	if (r == nullptr || out == nullptr || r->schema == nullptr)
		return LS_EINVAL;
	const ls_rec_schema *sc = r->schema;
	uint32_t nf = sc->n;
	if (nf == 0 || nf > LS_REC_MAX_FIELDS || (r->n > 0 && r->v == nullptr))
		return LS_EINVAL;
	/* The schema must be one ls_rec_schema_add builds, or the receiver
	 * refuses it. */
	ls_rec_schema chk;
	ls_rec_schema_init(&chk);
	int rc = 0;
	for (uint32_t f = 0; f < nf && rc == 0; f++)
		rc = ls_rec_schema_add(&chk, sc->f[f].name,
		                       (ls_rec_type)sc->f[f].type, sc->f[f].flags);
	bool same = rc == 0 && (!sc->keyed || sc->key_at <= nf) &&
	            (!chk.keyed || (sc->keyed && chk.key_at == sc->key_at));
	ls_rec_schema_fini(&chk);
	if (rc == LS_ENOMEM)
		return rc;
	if (!same)
		return LS_EINVAL;
	ls_str stage = ls_str_c(r->stage);
	/* Root table: 7 fields, vtable, scratch. */
	b.add(264);
	b.add(str_cost(stage));
	for (uint32_t f = 0; f < nf; f++)
		/* RecordField table (~40) + vector slot + its name. */
		b.add(48 + 8 + strlen(sc->f[f].name));
	for (uint32_t i = 0; i < r->n; i++) {
		/* Record table (~32) + vector slot; values: 24 a value plus
		 * length and alignment; strings: slot and at least 8 bytes
		 * (length, terminator, padding) each. */
		b.add(48 + 16 + (size_t)nf * (24 + 12));
		const ls_rec_value *row = &r->v[(size_t)i * nf];
		for (uint32_t f = 0; f < nf; f++) {
			if (sc->f[f].type != LS_REC_STRING || row[f].null)
				continue;
			if (!str_ok(row[f].s))
				return LS_EINVAL;
			b.add(row[f].s.len);
		}
	}
	size_t prefix = (size_t)r->n * sizeof(fb::Offset<w::Record>);
	return encode(
	    b, prefix, w::RecordBatchIdentifier(),
	    [r, sc, nf, stage, stage_node](enc &e, uint8_t *scratch) {
		    fb::FlatBufferBuilder &fbb = e.fbb;
		    fb::Offset<w::RecordField> fo[LS_REC_MAX_FIELDS];
		    fb::Offset<fb::String> so[LS_REC_MAX_FIELDS];
		    w::RecordValue vals[LS_REC_MAX_FIELDS];
		    auto *recs =
		        reinterpret_cast<fb::Offset<w::Record> *>(scratch);

		    for (uint32_t f = 0; f < nf; f++) {
			    auto name = put_str_always(e, ls_str_c(sc->f[f].name));
			    fo[f] = w::CreateRecordField(fbb, name, sc->f[f].type,
			                                 sc->f[f].flags);
		    }
		    auto fields = fbb.CreateVector(fo, nf);
		    for (uint32_t i = 0; i < r->n; i++) {
			    const ls_rec_value *row = &r->v[(size_t)i * nf];
			    for (uint32_t f = 0; f < nf; f++) {
				    bool str = sc->f[f].type == LS_REC_STRING &&
				               !row[f].null;
				    so[f] = put_str_always(
				        e, str ? row[f].s : ls_str_make("", 0));
				    vals[f] = w::RecordValue(
				        row[f].i, row[f].d, row[f].null != 0);
			    }
			    auto sv = fbb.CreateVector(so, nf);
			    auto vv = fbb.CreateVectorOfStructs(vals, nf);
			    recs[i] = w::CreateRecord(fbb, vv, sv);
		    }
		    auto rv = fbb.CreateVector(recs, r->n);
		    auto st = put_str(e, stage);
		    return w::CreateRecordBatch(fbb, st, r->partition,
		                                sc->keyed != 0, sc->key_at,
		                                fields, rv, stage_node)
		        .o;
	    },
	    out);
}

int
ls_codec_records_verify(const void *buf, size_t len)
{
	const w::RecordBatch *r;
	return verify_root(buf, len, w::RecordBatchIdentifier(), &r);
}

int
ls_codec_records_decode(const void *buf, size_t len, ls_records **out)
{
	uint32_t node;
	return ls_codec_records_decode_node(buf, len, out, &node);
}

int
ls_codec_records_decode_node(const void *buf, size_t len, ls_records **out,
                             uint32_t *stage_node)
{
	const w::RecordBatch *rb;
	int rc;

	if (out == nullptr || stage_node == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, w::RecordBatchIdentifier(), &rb)) != 0)
		return rc;
	auto fields = rb->fields();
	auto recs = rb->records();
	uint32_t nf = fields != nullptr ? fields->size() : 0;
	uint32_t nr = recs != nullptr ? recs->size() : 0;
	if (nf == 0)
		return LS_ECORRUPT;
	if (nf > LS_REC_MAX_FIELDS)
		return LS_ERANGE;
	for (uint32_t i = 0; i < nr; i++) {
		auto rec = recs->Get(i);
		if (rec->values() == nullptr || rec->values()->size() != nf ||
		    rec->strings() == nullptr || rec->strings()->size() != nf)
			return LS_ECORRUPT;
	}

	ls_rec_schema *sc =
	    static_cast<ls_rec_schema *>(malloc(sizeof(ls_rec_schema)));
	if (sc == nullptr)
		return LS_ENOMEM;
	ls_rec_schema_init(sc);
	char name[LS_REC_NAME_MAX + 1];
	rc = 0;
	for (uint32_t f = 0; f < nf && rc == 0; f++) {
		auto fl = fields->Get(f);
		ls_str n = get_str(fl->name());
		if (n.len > LS_REC_NAME_MAX || memchr(n.ptr, 0, n.len) != nullptr) {
			rc = LS_ECORRUPT;
			break;
		}
		memcpy(name, n.ptr, n.len);
		name[n.len] = '\0';
		rc = ls_rec_schema_add(sc, name, (ls_rec_type)fl->type(),
		                       fl->flags());
		if (rc == LS_EINVAL)
			rc = LS_ECORRUPT;
	}
	if (rc == 0) {
		/* key_at: where the first key field is, or (no key fields)
		 * anywhere up to the end */
		bool keyed = rb->keyed();
		if ((sc->keyed && (!keyed || rb->key_at() != sc->key_at)) ||
		    (!sc->keyed && keyed && rb->key_at() > nf))
			rc = LS_ECORRUPT;
		sc->keyed = keyed ? 1 : 0;
		sc->key_at = keyed ? rb->key_at() : 0;
	}
	ls_records *r = nullptr;
	if (rc == 0 && (r = ls_records_new(sc, nullptr, rb->partition())) ==
	                   nullptr)
		rc = LS_ENOMEM;
	if (rc != 0) {
		ls_rec_schema_fini(sc);
		free(sc);
		return rc;
	}
	r->own_schema = sc;
	ls_str stage = get_str(rb->stage());
	ls_rec_value sv{};
	if (ls_records_set_str(r, &sv, stage.ptr, stage.len) != 0)
		rc = LS_ENOMEM;
	else
		r->stage = sv.s.ptr;
	for (uint32_t i = 0; i < nr && rc == 0; i++) {
		auto rec = recs->Get(i);
		ls_rec_value *row = ls_records_add(r);
		if (row == nullptr) {
			rc = LS_ENOMEM;
			break;
		}
		/* memcpy: the verifier checks a vector's length field for
		 * alignment, not its elements. */
		const uint8_t *raw =
		    reinterpret_cast<const uint8_t *>(rec->values()->Data());
		for (uint32_t f = 0; f < nf && rc == 0; f++) {
			const uint8_t *p = raw + (size_t)f * 24;
			memcpy(&row[f].i, p, 8);
			memcpy(&row[f].d, p + 8, 8);
			row[f].null = p[16] != 0;
			if (sc->f[f].type == LS_REC_STRING && !row[f].null) {
				ls_str s = get_str(rec->strings()->Get(f));
				if (ls_records_set_str(r, &row[f], s.ptr, s.len) !=
				    0)
					rc = LS_ENOMEM;
			} else if (sc->f[f].type == LS_REC_BOOL) {
				row[f].i = row[f].i != 0;
			}
		}
	}
	if (rc != 0) {
		ls_records_unref(r);
		return rc;
	}
	*out = r;
	*stage_node = rb->stage_node();
	return 0;
}

size_t
ls_codec_change_bound(const ls_change *c)
{
	/* Change table: soffset, kind, two offsets and a long with padding,
	 * a 12-byte vtable and the scratch slots; two byte vectors: length,
	 * padding and alignment each; one slot in the changes vector. */
	size_t n = 112;
	if (c != nullptr)
		n += c->klen + (c->kind == LS_CHANGE_PUT ? c->vlen : 0);
	return n;
}

int
ls_codec_changelog_encode(const ls_changelog_wire *h, const ls_change *ch,
                          size_t n, ls_buf *out)
{
	bound b;

	if (h == nullptr || out == nullptr || (ch == nullptr && n > 0))
		return LS_EINVAL;
	if (!str_ok(h->partition) || h->partition.len == 0 ||
	    h->partition.len > 255)
		return LS_EINVAL;
	if (n > LS_CODEC_MAX_BUF / 16)
		return LS_ERANGE;
	b.add(256);
	b.add(str_cost(h->partition));
	b.add(4 * n + 8);
	for (size_t i = 0; i < n; i++) {
		const ls_change *c = &ch[i];
		if (c->kind < LS_CHANGE_PUT || c->kind > LS_CHANGE_ADD ||
		    (c->key == nullptr && c->klen > 0) ||
		    (c->kind == LS_CHANGE_PUT && c->val == nullptr &&
		     c->vlen > 0))
			return LS_EINVAL;
		if (c->klen > LS_CODEC_MAX_BUF || c->vlen > LS_CODEC_MAX_BUF)
			return LS_ERANGE;
		b.add(ls_codec_change_bound(c));
	}
	size_t scratch = n * sizeof(fb::Offset<w::Change>);
	return encode(
	    b, scratch, w::ChangelogIdentifier(),
	    [h, ch, n](enc &e, uint8_t *block) {
		    fb::FlatBufferBuilder &fbb = e.fbb;
		    auto *offs = reinterpret_cast<fb::Offset<w::Change> *>(block);
		    for (size_t i = 0; i < n; i++) {
			    const ls_change *c = &ch[i];
			    size_t before = fbb.GetSize();
			    auto key = fbb.CreateVector(
			        static_cast<const uint8_t *>(c->key), c->klen);
			    e.created(before, sizeof(fb::uoffset_t) + c->klen);
			    fb::Offset<fb::Vector<uint8_t>> val = 0;
			    if (c->kind == LS_CHANGE_PUT)
				    val = fbb.CreateVector(
				        static_cast<const uint8_t *>(c->val),
				        c->vlen);
			    int64_t num = c->kind == LS_CHANGE_SET ||
			                          c->kind == LS_CHANGE_ADD
			                      ? c->num
			                      : 0;
			    offs[i] = w::CreateChange(
			        fbb, static_cast<w::ChangeKind>(c->kind), key,
			        val, num);
		    }
		    auto changes = fbb.CreateVector(offs, n);
		    auto part = put_str(e, h->partition);
		    return w::CreateChangelog(fbb, part, h->set.prev,
		                              h->set.ckpt, h->set.cleared != 0,
		                              h->part, h->last != 0, changes)
		        .o;
	    },
	    out);
}

int
ls_codec_changelog_verify(const void *buf, size_t len)
{
	const w::Changelog *r;
	return verify_root(buf, len, w::ChangelogIdentifier(), &r);
}

int
ls_codec_changelog_decode(const void *buf, size_t len, ls_changelog_wire *out,
                          ls_change_fn fn, void *arg)
{
	const w::Changelog *r;
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, w::ChangelogIdentifier(), &r)) != 0)
		return rc;
	auto part = r->partition();
	if (part == nullptr || part->size() == 0 || part->size() > 255 ||
	    memchr(part->c_str(), 0, part->size()) != nullptr)
		return LS_ECORRUPT;
	auto changes = r->changes();
	size_t n = changes != nullptr ? changes->size() : 0;
	for (size_t i = 0; i < n; i++) {
		int k = static_cast<int>(changes->Get(i)->kind());
		if (k < LS_CHANGE_PUT || k > LS_CHANGE_ADD)
			return LS_ECORRUPT;
	}
	memset(out, 0, sizeof(*out));
	out->partition = get_str(part);
	out->set.prev = r->prev();
	out->set.ckpt = r->ckpt();
	out->set.cleared = r->cleared() ? 1 : 0;
	out->set.count = n;
	out->part = r->part();
	out->last = r->last() ? 1 : 0;
	if (fn == nullptr)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const w::Change *c = changes->Get(i);
		ls_change lc;
		memset(&lc, 0, sizeof(lc));
		lc.kind = static_cast<int>(c->kind());
		auto k = c->key();
		if (k != nullptr && k->size() > 0) {
			lc.key = k->data();
			lc.klen = k->size();
		} else {
			lc.key = "";
		}
		auto v = c->value();
		if (lc.kind == LS_CHANGE_PUT && v != nullptr && v->size() > 0) {
			lc.val = v->data();
			lc.vlen = v->size();
		} else if (lc.kind == LS_CHANGE_PUT) {
			lc.val = "";
		}
		if (lc.kind == LS_CHANGE_SET || lc.kind == LS_CHANGE_ADD)
			lc.num = c->num();
		if ((rc = fn(arg, &lc)) != 0)
			return rc;
	}
	return 0;
}

} /* extern "C" */

/* ---- DeadLetter, EndOfStream, Barrier, Replication (dataplane.fbs) ---- */

namespace
{

const char dead_letter_id[] = "LSDL";
const char eos_id[] = "LSES";
const char barrier_id[] = "LSCB";
const char replay_mark_id[] = "LSRM";

/* The partition names of a Replication: 1..255 bytes, no NUL. */
const size_t max_partition = 255;

} // namespace

extern "C" {

int
ls_codec_dead_letter_encode(ls_str record, ls_buf *out)
{
	bound b;

	if (out == nullptr || !cstr_ok(record))
		return LS_EINVAL;
	b.add(64);
	b.add(str_cost(record));
	return encode(
	    b, 0, dead_letter_id,
	    [record](enc &e, uint8_t *) {
		    auto rec = put_str(e, record);
		    return w::CreateDeadLetter(e.fbb, rec).o;
	    },
	    out);
}

int
ls_codec_dead_letter_decode(const void *buf, size_t len, ls_str *record)
{
	const w::DeadLetter *d;
	int rc;

	if (record == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, dead_letter_id, &d)) != 0)
		return rc;
	if (!cstr_ok(d->record()))
		return LS_ECORRUPT;
	*record = get_str(d->record());
	return 0;
}

int
ls_codec_mark_encode(uint16_t type, uint64_t ckpt, ls_buf *out)
{
	bound b;

	if (out == nullptr)
		return LS_EINVAL;
	/* Table: one 8-byte field with padding, soffset, vtable, scratch. */
	b.add(64);
	if (type == LS_MSG_END_OF_STREAM)
		return encode(
		    b, 0, eos_id,
		    [ckpt](enc &e, uint8_t *) {
			    return w::CreateEndOfStream(e.fbb, ckpt).o;
		    },
		    out);
	if (type == LS_MSG_CHECKPOINT_BARRIER)
		return encode(
		    b, 0, barrier_id,
		    [ckpt](enc &e, uint8_t *) {
			    return w::CreateBarrier(e.fbb, ckpt).o;
		    },
		    out);
	if (type == LS_MSG_REPLAY_MARK)
		return encode(
		    b, 0, replay_mark_id,
		    [ckpt](enc &e, uint8_t *) {
			    return w::CreateReplayMark(e.fbb, ckpt).o;
		    },
		    out);
	return LS_EINVAL;
}

int
ls_codec_mark_decode(uint16_t type, const void *buf, size_t len,
                     uint64_t *ckpt)
{
	int rc;

	if (ckpt == nullptr)
		return LS_EINVAL;
	if (type == LS_MSG_END_OF_STREAM) {
		const w::EndOfStream *m;
		if ((rc = verify_root(buf, len, eos_id, &m)) != 0)
			return rc;
		*ckpt = m->ckpt();
		return 0;
	}
	if (type == LS_MSG_CHECKPOINT_BARRIER) {
		const w::Barrier *m;
		if ((rc = verify_root(buf, len, barrier_id, &m)) != 0)
			return rc;
		*ckpt = m->ckpt();
		return 0;
	}
	if (type == LS_MSG_REPLAY_MARK) {
		const w::ReplayMark *m;
		if ((rc = verify_root(buf, len, replay_mark_id, &m)) != 0)
			return rc;
		*ckpt = m->ckpt();
		return 0;
	}
	return LS_EINVAL;
}

int
ls_codec_replication_encode(const ls_replication_wire *r, ls_buf *out)
{
	bound b;

	if (r == nullptr || out == nullptr)
		return LS_EINVAL;
	if (!cstr_ok(r->partition) || r->partition.len == 0 ||
	    r->partition.len > max_partition ||
	    (r->blob == nullptr && r->blob_len != 0) ||
	    (r->parts > 1 && (r->part >= r->parts || r->blob_len > r->total)))
		return LS_EINVAL;
	if (r->blob_len > LS_CODEC_MAX_BUF)
		return LS_ERANGE;
	/* Table: 8 + 1 + 2 x 4 bytes of fields with padding, soffset, vtable,
	 * scratch; the blob: length, 8-byte alignment, padding. */
	b.add(128);
	b.add(str_cost(r->partition));
	b.add(r->blob_len);
	b.add(24);
	return encode(
	    b, 0, w::ReplicationIdentifier(),
	    [r](enc &e, uint8_t *) {
		    fb::FlatBufferBuilder &fbb = e.fbb;
		    fb::Offset<fb::Vector<uint8_t>> blob = 0;
		    if (r->blob_len != 0) {
			    size_t before = fbb.GetSize();
			    /* 8-byte aligned, so that a blob that is a
			     * flatbuffer can be read in place. */
			    fbb.ForceVectorAlignment(r->blob_len, 1, 8);
			    blob = fbb.CreateVector(r->blob, r->blob_len);
			    e.created(before,
			              sizeof(fb::uoffset_t) + r->blob_len);
		    }
		    auto part = put_str(e, r->partition);
		    int sliced = r->parts > 1;
		    return w::CreateReplication(fbb, r->ckpt, r->final != 0,
		                                part, blob, sliced ? r->part : 0,
		                                sliced ? r->parts : 0,
		                                sliced ? r->total : 0)
		        .o;
	    },
	    out);
}

int
ls_codec_replication_decode(const void *buf, size_t len,
                            ls_replication_wire *out)
{
	const w::Replication *r;
	int rc;

	if (out == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, w::ReplicationIdentifier(), &r)) != 0)
		return rc;
	auto part = r->partition();
	if (part == nullptr || part->size() == 0 ||
	    part->size() > max_partition || !cstr_ok(part))
		return LS_ECORRUPT;
	auto blob = r->blob();
	size_t blen = blob != nullptr ? blob->size() : 0;
	uint32_t parts = r->parts();
	if (parts > 1 && (r->part() >= parts || blen > r->total()))
		return LS_ECORRUPT;
	if (parts <= 1 && (r->part() != 0 || r->total() != 0))
		return LS_ECORRUPT;
	out->part = parts > 1 ? r->part() : 0;
	out->parts = parts > 1 ? parts : 1;
	out->total = parts > 1 ? r->total() : blen;
	out->ckpt = r->ckpt();
	out->final = r->final() ? 1 : 0;
	out->partition = get_str(part);
	if (blob != nullptr && blob->size() > 0) {
		out->blob = blob->data();
		out->blob_len = blob->size();
	} else {
		out->blob = nullptr;
		out->blob_len = 0;
	}
	return 0;
}

} /* extern "C" */

/* ---- IngestLog (ingest.fbs) ---- */

namespace
{

bool
name_ok(ls_str s)
{
	return cstr_ok(s) && s.len > 0 && s.len <= max_partition;
}

template <typename S>
bool
fb_name_ok(const S *s)
{
	return s != nullptr && s->size() > 0 && s->size() <= max_partition &&
	       cstr_ok(s);
}

} // namespace

extern "C" {

int
ls_codec_ingest_encode(const ls_ingest_wire *h, const ls_ingest_rec_wire *recs,
                       size_t n, ls_buf *out)
{
	bound b;

	if (h == nullptr || out == nullptr || (recs == nullptr && n > 0))
		return LS_EINVAL;
	if (!name_ok(h->topology) || !name_ok(h->partition))
		return LS_EINVAL;
	if (n > LS_CODEC_MAX_BUF / 16)
		return LS_ERANGE;
	/* Table: 2 x 8 + 1 + 3 x 4 bytes of fields with padding, soffset,
	 * vtable, scratch; the records vector: 4n + 8. */
	b.add(256);
	b.add(str_cost(h->topology));
	b.add(str_cost(h->partition));
	b.add(4 * n + 8);
	for (size_t i = 0; i < n; i++) {
		if (recs[i].seq == 0 ||
		    (recs[i].value == nullptr && recs[i].len > 0))
			return LS_EINVAL;
		if (recs[i].len > LS_CODEC_MAX_BUF)
			return LS_ERANGE;
		/* Record table: soffset, a long and an offset with padding,
		 * vtable, scratch; the value: length, padding. */
		b.add(64);
		b.add(recs[i].len + 8);
	}
	size_t scratch = n * sizeof(fb::Offset<w::IngestRecord>);
	return encode(
	    b, scratch, w::IngestLogIdentifier(),
	    [h, recs, n](enc &e, uint8_t *block) {
		    fb::FlatBufferBuilder &fbb = e.fbb;
		    auto *offs =
		        reinterpret_cast<fb::Offset<w::IngestRecord> *>(block);
		    for (size_t i = 0; i < n; i++) {
			    size_t before = fbb.GetSize();
			    auto v = fbb.CreateVector(recs[i].value, recs[i].len);
			    e.created(before,
			              sizeof(fb::uoffset_t) + recs[i].len);
			    offs[i] = w::CreateIngestRecord(fbb, recs[i].seq, v);
		    }
		    auto rv = fbb.CreateVector(offs, n);
		    auto topo = put_str(e, h->topology);
		    auto part = put_str(e, h->partition);
		    return w::CreateIngestLog(fbb, topo, part, h->epoch,
		                              h->trim, h->sync != 0, rv,
		                              h->node)
		        .o;
	    },
	    out);
}

int
ls_codec_ingest_decode(const void *buf, size_t len, ls_ingest_wire *h,
                       int (*fn)(void *arg, const ls_ingest_rec_wire *r),
                       void *arg)
{
	const w::IngestLog *l;
	int rc;

	if (h == nullptr)
		return LS_EINVAL;
	if ((rc = verify_root(buf, len, w::IngestLogIdentifier(), &l)) != 0)
		return rc;
	if (!fb_name_ok(l->topology()) || !fb_name_ok(l->partition()))
		return LS_ECORRUPT;
	auto recs = l->records();
	size_t n = recs != nullptr ? recs->size() : 0;
	for (size_t i = 0; i < n; i++)
		if (recs->Get(i)->seq() == 0)
			return LS_ECORRUPT;
	memset(h, 0, sizeof(*h));
	h->topology = get_str(l->topology());
	h->partition = get_str(l->partition());
	h->epoch = l->epoch();
	h->trim = l->trim();
	h->sync = l->sync() ? 1 : 0;
	h->node = l->node();
	if (fn == nullptr)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const w::IngestRecord *r = recs->Get(i);
		ls_ingest_rec_wire lr;
		lr.seq = r->seq();
		auto v = r->value();
		if (v != nullptr && v->size() > 0) {
			lr.value = v->data();
			lr.len = v->size();
		} else {
			lr.value = reinterpret_cast<const uint8_t *>("");
			lr.len = 0;
		}
		if ((rc = fn(arg, &lr)) != 0)
			return rc;
	}
	return 0;
}

} /* extern "C" */
