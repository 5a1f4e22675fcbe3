/*
 * kind.c -- looking kinds up in a kind set, the value checks kinds use in
 * their parameter specs, and the settings every topology may carry.
 *
 * The kinds themselves are tables in their own files in actors/, listed in
 * the registry actors/kinds.c (see kind.h and docs/kinds.md).  Keep
 * docs/topology.md in step (a unit test checks that every kind, parameter
 * and setting appears there).
 */
#include "topology/kind.h"

#include "topology/topology_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "runtime/event.h"

int
ls_topo_check_level(const char *v, char *why, size_t len)
{
	if (ls_level_parse(v, strlen(v)) != LS_LEVEL_UNKNOWN)
		return 0;
	snprintf(why, len,
	    "not a level (use trace, debug, info, notice, warn, error or "
	    "fatal)");
	return 1;
}

int
ls_topo_check_field(const char *v, char *why, size_t len)
{
	const unsigned char *p = (const unsigned char *)v;

	if (*p != '\0' && (isalpha(*p) || *p == '_')) {
		while (*p != '\0' && (isalnum(*p) || *p == '_' || *p == '.'))
			p++;
		if (*p == '\0')
			return 0;
	}
	snprintf(why, len,
	    "not a field name (letters, digits, '_' and '.', not starting "
	    "with a digit or '.')");
	return 1;
}

int
ls_topo_check_aggregate(const char *v, char *why, size_t len)
{
	ls_topo_agg agg;
	const char *reason = NULL;

	if (ls_topo_aggregate(v, &agg, &reason) == 0)
		return 0;
	snprintf(why, len, "%s", reason);
	return 1;
}

int
ls_topo_check_name(const char *v, char *why, size_t len)
{
	if (ls__topo_name_ok(v))
		return 0;
	snprintf(why, len, "not a node name ([A-Za-z0-9_-]+, at most %d bytes)",
	    LS_TOPO_NAME_MAX);
	return 1;
}

int
ls_topo_check_format(const char *v, char *why, size_t len)
{
	(void)v;
	(void)why;
	(void)len;
	return 0; /* the allowed words and the declared formats decide */
}

#define ANY_INT 0, 0

const ls_topo_pspec ls__topo_settings[] = {
	{ "workers", LS_TV_INT, 0, "0", NULL, 0, 1024, NULL,
	    "scheduler threads, 0 = one per core" },
	{ "watermark_delay", LS_TV_DURATION, 0, "2s", NULL, ANY_INT, NULL,
	    "allowed out-of-orderness of event time" },
	{ "idle_timeout", LS_TV_DURATION, 0, "5s", NULL, ANY_INT, NULL,
	    "advance watermarks when a source is idle this long" },
	{ "checkpoint_interval", LS_TV_DURATION, 0, "1s", NULL, 1, INT64_MAX,
	    NULL, "time between checkpoints when run on a cluster" },
	{ "regional_restore", LS_TV_BOOL, 0, "true", NULL, ANY_INT, NULL,
	    "a placement change restarts only the moved partitions and what "
	    "they feed (docs/failure-semantics.md)" },
	{ 0 },
};

const ls_topo_pspec ls__topo_input_spec = { "input", LS_TV_LIST, 0, NULL,
	NULL, ANY_INT, ls_topo_check_name, "upstream node name(s)" };

const ls_topo_pspec ls__topo_partitions_spec = { "partitions", LS_TV_INT, 0,
	"1", NULL, 1, LS_TOPO_MAX_PARTITIONS, NULL, "number of partitions" };

const ls_kind *
ls_kind_find(const ls_kind_set *set, ls_topo_role role, const char *name)
{
	if (set == NULL)
		set = &ls_kinds;
	for (size_t i = 0; i < set->n; i++) {
		const ls_kind *k = set->kinds[i];
		if (k->role == role && strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

const ls_topo_pspec *
ls__topo_pspec_find(const ls_topo_pspec *specs, const char *name)
{
	for (; specs->name != NULL; specs++) {
		if (strcmp(specs->name, name) == 0)
			return specs;
	}
	return NULL;
}
