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

ls_rec_value *
ls_records_copy_row(ls_records *dst, const ls_records *src, uint32_t row)
{
	uint32_t nd = dst->schema->n, ns = src->schema->n;
	uint32_t n = nd < ns ? nd : ns;
	const ls_rec_value *sv = &src->v[(size_t)row * ns];
	ls_rec_value *v = ls_records_add(dst);
	if (v == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		if (dst->schema->f[i].type == LS_REC_STRING && !sv[i].null) {
			if (ls_records_set_str(dst, &v[i], sv[i].s.ptr,
			        sv[i].s.len) != 0) {
				dst->n--;
				return NULL;
			}
		} else {
			v[i] = sv[i];
			v[i].s = ls_str_make(NULL, 0);
		}
	}
	return v;
}

static int
value_cmp(uint8_t type, const ls_rec_value *a, const ls_rec_value *b)
{
	if (a->null || b->null)
		return (int)b->null - (int)a->null;
	switch (type) {
	case LS_REC_STRING: {
		size_t n = a->s.len < b->s.len ? a->s.len : b->s.len;
		int c = n > 0 ? memcmp(a->s.ptr, b->s.ptr, n) : 0;
		if (c != 0)
			return c;
		return a->s.len < b->s.len ? -1 : a->s.len > b->s.len;
	}
	case LS_REC_DOUBLE:
		return a->d < b->d ? -1 : a->d > b->d;
	default:
		return a->i < b->i ? -1 : a->i > b->i;
	}
}

static int
row_cmp(const void *pa, const void *pb, void *arg)
{
	const ls_records *r = arg;
	const ls_rec_schema *sc = r->schema;
	const ls_rec_value *a = &r->v[(size_t)*(const uint32_t *)pa * sc->n];
	const ls_rec_value *b = &r->v[(size_t)*(const uint32_t *)pb * sc->n];
	for (int pass = 0; pass < 2; pass++) {
		unsigned flag = pass == 0 ? LS_REC_ID : LS_REC_KEY;
		for (uint32_t i = 0; i < sc->n; i++) {
			if (!(sc->f[i].flags & flag))
				continue;
			int c = value_cmp(sc->f[i].type, &a[i], &b[i]);
			if (c != 0)
				return c;
		}
	}
	/* equal: keep the order they came in (qsort is not stable) */
	uint32_t ia = *(const uint32_t *)pa, ib = *(const uint32_t *)pb;
	return ia < ib ? -1 : ia > ib;
}

int
ls_records_order(ls_records *r, size_t limit)
{
	uint32_t nf = r->schema->n;
	size_t keep = limit > 0 && limit < r->n ? limit : r->n;
	if (r->n < 2) {
		r->n = (uint32_t)keep;
		return 0;
	}
	uint32_t *ix = malloc((size_t)r->n * sizeof(*ix));
	ls_rec_value *nv = malloc((keep ? keep : 1) * (nf ? nf : 1) *
	    sizeof(*nv));
	if (ix == NULL || nv == NULL) {
		free(ix);
		free(nv);
		return LS_ENOMEM;
	}
	for (uint32_t i = 0; i < r->n; i++)
		ix[i] = i;
	qsort_r(ix, r->n, sizeof(*ix), row_cmp, r);
	for (size_t k = 0; k < keep; k++)
		memcpy(&nv[k * nf], &r->v[(size_t)ix[k] * nf],
		    nf * sizeof(*nv));
	free(ix);
	free(r->v);
	r->v = nv;
	r->n = r->cap = (uint32_t)keep;
	if (r->cap == 0) {
		free(r->v);
		r->v = NULL;
	}
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
