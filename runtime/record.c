/*
 * record.c -- schemas and rows of typed records (see record.h).
 */
#include "runtime/record.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

void
ls_rec_schema_init(ls_rec_schema *s)
{
	memset(s, 0, sizeof(*s));
	ls_arena_init(&s->names, 1024);
}

void
ls_rec_schema_fini(ls_rec_schema *s)
{
	ls_arena_fini(&s->names);
	s->n = 0;
}

int
ls_rec_schema_find(const ls_rec_schema *s, const char *name)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (strcmp(s->f[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
ls_rec_schema_add(ls_rec_schema *s, const char *name, ls_rec_type type,
    unsigned flags)
{
	size_t len = name != NULL ? strlen(name) : 0;

	if (len == 0 || len > LS_REC_NAME_MAX || type < LS_REC_STRING ||
	    type > LS_REC_BOOL || (flags & ~LS_REC_FLAGS) != 0)
		return LS_EINVAL;
	if (s->n == LS_REC_MAX_FIELDS)
		return LS_ERANGE;
	if (flags & LS_REC_KEY) {
		/* keys follow each other: the previous field is a key, or
		 * this is the first key */
		int first = !s->keyed;
		if (!first && !(s->n > 0 && (s->f[s->n - 1].flags & LS_REC_KEY)))
			return LS_EINVAL;
		if (first) {
			s->keyed = 1;
			s->key_at = s->n;
		}
	}
	char *c = ls_arena_strndup(&s->names, name, len);
	if (c == NULL)
		return LS_ENOMEM;
	s->f[s->n].name = c;
	s->f[s->n].type = (uint8_t)type;
	s->f[s->n].flags = (uint8_t)flags;
	s->n++;
	return 0;
}

const char *
ls_rec_type_name(ls_rec_type t)
{
	switch (t) {
	case LS_REC_STRING:
		return "string";
	case LS_REC_INT:
		return "int";
	case LS_REC_DOUBLE:
		return "double";
	case LS_REC_TIME:
		return "time";
	case LS_REC_BOOL:
		return "bool";
	}
	return "?";
}

ls_records *
ls_records_new(const ls_rec_schema *schema, const char *stage,
    uint32_t partition)
{
	ls_records *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->refs = 1;
	r->schema = schema;
	r->stage = stage;
	r->partition = partition;
	ls_arena_init(&r->arena, 4096);
	return r;
}

ls_rec_value *
ls_records_add(ls_records *r)
{
	uint32_t nf = r->schema->n;
	if (r->n == r->cap) {
		uint32_t nc = r->cap ? r->cap * 2 : 16;
		ls_rec_value *nv = realloc(r->v,
		    (size_t)nc * (nf ? nf : 1) * sizeof(*nv));
		if (nv == NULL)
			return NULL;
		r->v = nv;
		r->cap = nc;
	}
	ls_rec_value *row = &r->v[(size_t)r->n * nf];
	for (uint32_t i = 0; i < nf; i++) {
		memset(&row[i], 0, sizeof(row[i]));
		row[i].null = 1;
	}
	r->n++;
	return row;
}

int
ls_records_set_str(ls_records *r, ls_rec_value *v, const char *p, size_t n)
{
	char *c = ls_arena_strndup(&r->arena, p != NULL ? p : "", p ? n : 0);
	if (c == NULL)
		return LS_ENOMEM;
	v->s = ls_str_make(c, p ? n : 0);
	v->null = 0;
	return 0;
}

void
ls_records_ref(ls_records *r)
{
	__atomic_fetch_add(&r->refs, 1, __ATOMIC_RELAXED);
}

void
ls_records_unref(void *p)
{
	ls_records *r = p;
	if (r == NULL ||
	    __atomic_fetch_sub(&r->refs, 1, __ATOMIC_ACQ_REL) != 1)
		return;
	ls_arena_fini(&r->arena);
	if (r->own_schema != NULL) {
		ls_rec_schema_fini(r->own_schema);
		free(r->own_schema);
	}
	free(r->v);
	free(r);
}
