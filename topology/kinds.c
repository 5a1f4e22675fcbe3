/*
 * kinds.c -- the kind table: every node kind a topology may use, with its
 * parameters (type, required, default, allowed values), and the settings.
 *
 * Adding a kind is adding one row to ls__topo_kinds[]; the loader, the
 * defaults seen through ls_topo_*() and the error messages all follow from
 * it.  Keep docs/topology.md in step (a unit test checks that every kind and
 * parameter named here appears there).
 */
#include "topology/topology_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "runtime/event.h"

static int
check_level(const char *v, char *why, size_t len)
{
	if (ls_level_parse(v, strlen(v)) != LS_LEVEL_UNKNOWN)
		return 0;
	snprintf(why, len,
	    "not a level (use trace, debug, info, notice, warn, error or "
	    "fatal)");
	return 1;
}

static int
check_field(const char *v, char *why, size_t len)
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

static int
check_aggregate(const char *v, char *why, size_t len)
{
	ls_topo_agg agg;
	const char *reason = NULL;

	if (ls_topo_aggregate(v, &agg, &reason) == 0)
		return 0;
	snprintf(why, len, "%s", reason);
	return 1;
}

static int
check_name(const char *v, char *why, size_t len)
{
	if (ls__topo_name_ok(v))
		return 0;
	snprintf(why, len, "not a node name ([A-Za-z0-9_-]+, at most %d bytes)",
	    LS_TOPO_NAME_MAX);
	return 1;
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define PARAMS(...) ((const ls__topo_pspec[]){ __VA_ARGS__, { 0 } })
#define NO_PARAMS ((const ls__topo_pspec[]){ { 0 } })
#define ANY_INT 0, 0

/* name, type, required, default, allowed, min, max, check, help */
const ls__topo_kind ls__topo_kinds[] = {
	{ LS_TOPO_SOURCE, "generator", 0,
	    PARAMS({ "rate", LS_TV_INT, 0, "10000", NULL, 0, 1000000000,
	               NULL, "events per second, 0 = as fast as possible" },
	        { "seed", LS_TV_INT, 0, "1", NULL, 0, INT64_MAX, NULL,
	            "seed of the pseudo-random sequence" },
	        { "format", LS_TV_STRING, 0, "json",
	            WORDS("json", "logfmt", "syslog", "clf", "mixed"), ANY_INT,
	            NULL, "format of the lines it writes" },
	        { "count", LS_TV_INT, 0, "0", NULL, 0, INT64_MAX, NULL,
	            "stop after this many events, 0 = unlimited" },
	        { "start", LS_TV_STRING, 0, "now", NULL, ANY_INT, NULL,
	            "event time of the first event: now, or RFC 3339 for "
	            "replayable runs" }),
	    "realistic synthetic log lines" },
	{ LS_TOPO_SOURCE, "file", 0,
	    PARAMS({ "path", LS_TV_STRING, 1, NULL, NULL, ANY_INT, NULL,
	               "the file to read" },
	        { "follow", LS_TV_BOOL, 0, "false", NULL, ANY_INT, NULL,
	            "keep reading as the file grows" }),
	    "lines of a file" },
	{ LS_TOPO_SOURCE, "stdin", 0, NO_PARAMS, "lines of standard input" },

	{ LS_TOPO_STAGE, "parse", 0,
	    PARAMS({ "format", LS_TV_STRING, 0, "auto",
	               WORDS("auto", "json", "logfmt", "syslog", "rfc3164",
	                   "rfc5424", "clf", "apache_error", "nginx_error",
	                   "log4j", "bgl"),
	               ANY_INT, NULL, "line format, auto = detect per line" },
	        { "dead_letter", LS_TV_STRING, 0, NULL, NULL, ANY_INT,
	            check_name, "sink that receives lines that do not parse" }),
	    "raw line -> log event" },
	{ LS_TOPO_STAGE, "filter", 0,
	    PARAMS({ "min_level", LS_TV_STRING, 0, NULL, NULL, ANY_INT,
	               check_level, "keep events at this level or above" },
	        { "service", LS_TV_STRING, 0, NULL, NULL, ANY_INT, NULL,
	            "keep events of exactly this service" },
	        { "contains", LS_TV_STRING, 0, NULL, NULL, ANY_INT, NULL,
	            "keep events whose message contains this text" }),
	    "keep the events that match every condition given" },
	{ LS_TOPO_STAGE, "window", LS__KIND_KEYED,
	    PARAMS({ "key", LS_TV_LIST, 0, NULL, NULL, ANY_INT, check_field,
	               "field(s) to group and partition by" },
	        { "window", LS_TV_STRING, 0, "tumbling", WORDS("tumbling"),
	            ANY_INT, NULL, "window kind" },
	        { "size", LS_TV_DURATION, 1, NULL, NULL, 1, INT64_MAX, NULL,
	            "window length" },
	        { "grace", LS_TV_DURATION, 0, "0s", NULL, ANY_INT, NULL,
	            "how long a window stays open for late events" },
	        { "emit", LS_TV_STRING, 0, "on_close",
	            WORDS("on_close", "on_update"), ANY_INT, NULL,
	            "when results are emitted" },
	        { "aggregates", LS_TV_LIST, 0, "count", NULL, ANY_INT,
	            check_aggregate, "count, or fn(field) with fn in count, "
	                             "sum, min, max, avg" },
	        { "dead_letter", LS_TV_STRING, 0, NULL, NULL, ANY_INT,
	            check_name, "sink that receives events too late for "
	                        "their window" }),
	    "event-time windows with aggregates, grouped by key" },

	{ LS_TOPO_SINK, "stdout", 0,
	    PARAMS({ "format", LS_TV_STRING, 0, "table",
	        WORDS("table", "jsonl"), ANY_INT, NULL, "output format" }),
	    "print results" },
	{ LS_TOPO_SINK, "jsonl", 0,
	    PARAMS({ "path", LS_TV_STRING, 1, NULL, NULL, ANY_INT, NULL,
	        "file to append JSON lines to" }),
	    "append results as JSON lines to a file" },
	{ LS_TOPO_SINK, "null", 0, NO_PARAMS, "discard results" },
};

const size_t ls__topo_nkinds = sizeof(ls__topo_kinds) / sizeof(ls__topo_kinds[0]);

const ls__topo_pspec ls__topo_settings[] = {
	{ "workers", LS_TV_INT, 0, "0", NULL, 0, 1024, NULL,
	    "scheduler threads, 0 = one per core" },
	{ "watermark_delay", LS_TV_DURATION, 0, "2s", NULL, ANY_INT, NULL,
	    "allowed out-of-orderness of event time" },
	{ "idle_timeout", LS_TV_DURATION, 0, "5s", NULL, ANY_INT, NULL,
	    "advance watermarks when a source is idle this long" },
	{ "checkpoint_interval", LS_TV_DURATION, 0, "1s", NULL, 1, INT64_MAX,
	    NULL, "time between checkpoints when run on a cluster" },
	{ 0 },
};

const ls__topo_pspec ls__topo_input_spec = { "input", LS_TV_LIST, 0, NULL,
	NULL, ANY_INT, check_name, "upstream node name(s)" };

const ls__topo_pspec ls__topo_partitions_spec = { "partitions", LS_TV_INT, 0,
	"1", NULL, 1, LS_TOPO_MAX_PARTITIONS, NULL, "number of partitions" };

const ls__topo_kind *
ls__topo_kind_find(ls_topo_role role, const char *kind)
{
	for (size_t i = 0; i < ls__topo_nkinds; i++) {
		if (ls__topo_kinds[i].role == role &&
		    strcmp(ls__topo_kinds[i].kind, kind) == 0)
			return &ls__topo_kinds[i];
	}
	return NULL;
}

const ls__topo_pspec *
ls__topo_pspec_find(const ls__topo_pspec *specs, const char *name)
{
	for (; specs->name != NULL; specs++) {
		if (strcmp(specs->name, name) == 0)
			return specs;
	}
	return NULL;
}
