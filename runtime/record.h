/*
 * record.h -- results as generic typed records.
 *
 * A stage kind that emits results (a window, or any kind registered in
 * actors/kinds.c) describes them with a schema: an ordered list of named,
 * typed fields.  Its results travel to sinks as an ls_records -- rows of
 * values that follow one schema -- so sinks, the data plane and the codec
 * handle any kind without knowing what produced the rows
 * (docs/kinds.md).
 *
 * Field flags say how a generic printer presents a field: KEY fields are
 * the group the row belongs to (JSON nests them in a "key" object and they
 * make up the row's id), ID fields follow the key in the id, NOTABLE fields
 * are left out of the live stdout table.  A schema is built once and then
 * read-only; records are reference counted and may be read by any thread
 * once sent.  The header is plain C11 that C++ may include too (the codec
 * shim decodes records).
 */
#ifndef LS_RECORD_H
#define LS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/arena.h"
#include "runtime/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most fields in one schema, and the longest field name in bytes. */
#define LS_REC_MAX_FIELDS 32
#define LS_REC_NAME_MAX 128

typedef enum ls_rec_type {
	LS_REC_STRING = 1, /* bytes (ls_str) */
	LS_REC_INT,        /* int64 */
	LS_REC_DOUBLE,     /* double */
	LS_REC_TIME,       /* int64 ns since the Unix epoch */
	LS_REC_BOOL        /* int64 0 / 1 */
} ls_rec_type;

#define LS_REC_KEY 0x1u     /* part of the group key */
#define LS_REC_ID 0x2u      /* part of the id after the key */
#define LS_REC_NOTABLE 0x4u /* not shown in the stdout table */
#define LS_REC_FLAGS 0x7u   /* every defined flag */

typedef struct ls_rec_field {
	const char *name; /* owned by the schema */
	uint8_t type;     /* ls_rec_type */
	uint8_t flags;    /* LS_REC_* */
} ls_rec_field;

/* An ordered list of fields.  KEY fields are contiguous; with keyed set
 * the JSON form has a "key" object (empty when there are no KEY fields) in
 * front of field key_at. */
typedef struct ls_rec_schema {
	uint32_t n;
	uint32_t key_at;
	int keyed;
	ls_rec_field f[LS_REC_MAX_FIELDS];
	ls_arena names;
} ls_rec_schema;

/* One value; only the member matching the field's type is meaningful
 * (STRING: s; DOUBLE: d; INT, TIME, BOOL: i).  null: no value. */
typedef struct ls_rec_value {
	uint8_t null;
	int64_t i;
	double d;
	ls_str s;
} ls_rec_value;

/* Rows of one schema from one stage.  Row r is v[r * schema->n ..]. */
typedef struct ls_records {
	uint32_t refs;               /* atomic (ls_records_ref / _unref) */
	const char *stage;           /* borrowed (topology node name) */
	uint32_t partition;
	const ls_rec_schema *schema; /* borrowed, or own_schema */
	ls_rec_schema *own_schema;   /* freed with the records, or NULL */
	uint32_t n, cap;             /* rows */
	ls_rec_value *v;
	ls_arena arena;              /* string values */
} ls_records;

/* Make s an empty schema (keyed 0).  Pair with ls_rec_schema_fini. */
void ls_rec_schema_init(ls_rec_schema *s);

/* Free the names of s. */
void ls_rec_schema_fini(ls_rec_schema *s);

/* Append a field (name copied; names need not be unique: KEY fields and the
 * others are apart in the JSON form).  KEY fields must follow each other;
 * the first one sets key_at and keyed.  Returns 0, LS_EINVAL (bad type,
 * flags, empty or over-long name, KEY fields not contiguous),
 * LS_ERANGE (more than LS_REC_MAX_FIELDS) or LS_ENOMEM. */
int ls_rec_schema_add(ls_rec_schema *s, const char *name, ls_rec_type type,
    unsigned flags);

/* Index of the first field called name, or -1. */
int ls_rec_schema_find(const ls_rec_schema *s, const char *name);

/* Name of a type ("string", "int", "double", "time", "bool"; "?"). */
const char *ls_rec_type_name(ls_rec_type t);

/* New empty records of schema (borrowed: it must outlive the records),
 * one reference.  NULL when out of memory. */
ls_records *ls_records_new(const ls_rec_schema *schema, const char *stage,
    uint32_t partition);

/* Append a row of schema->n null values; returns it, or NULL when out of
 * memory (the records are unchanged). */
ls_rec_value *ls_records_add(ls_records *r);

/* Set a string value of the last row, copying the bytes into the records'
 * arena.  Returns 0 or LS_ENOMEM. */
int ls_records_set_str(ls_records *r, ls_rec_value *v, const char *p,
    size_t n);

/* Append a copy of row `row` of src to dst: the first min(dst, src) field
 * count values, strings copied into dst's arena; the fields of dst beyond
 * src's stay null.  The caller makes sure that the common fields have the
 * same types.  Returns dst's new row or NULL when out of memory (dst
 * unchanged). */
ls_rec_value *ls_records_copy_row(ls_records *dst, const ls_records *src,
    uint32_t row);

/* Order the rows of r by their ID fields (in schema order), then by their
 * KEY fields (bytes; a null value first), and keep the first limit (0: all).
 * Values compare by type: strings as bytes, doubles numerically, the rest
 * as int64.  Returns 0 or LS_ENOMEM (r unchanged). */
int ls_records_order(ls_records *r, size_t limit);

/* Another reference / drop one (the last frees everything).  unref has the
 * signature of a message destructor. */
void ls_records_ref(ls_records *r);
void ls_records_unref(void *r);

#ifdef __cplusplus
}
#endif

#endif /* LS_RECORD_H */
