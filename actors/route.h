/*
 * route.h -- the rules of a `route` stage (docs/topology.md, "route"):
 * which consumer an event goes to, decided by its content.
 *
 * A rule is one line of text:
 *
 *   TARGET when COND [and COND]...
 *
 *   COND   FIELD OP VALUE
 *   FIELD  level | service | host | message | ATTRIBUTE (a parsed field)
 *   OP     = | != | contains | starts_with | >= | > | <= | <
 *   VALUE  a word, or "a quoted string" (\" and \\ inside)
 *
 * level compares by severity (`level >= warn`: warn, error, fatal); an
 * attribute compared with >, >=, <, <= compares as numbers (an event whose
 * value is not a number does not match).  An event goes to the target of
 * the first rule whose conditions all hold, else to the stage's default.
 * Pure functions, no allocation; any thread.
 */
#ifndef LS_ACTORS_ROUTE_H
#define LS_ACTORS_ROUTE_H

#include <stddef.h>

#include "runtime/event.h"

#define LS_ROUTE_MAX_CONDS 8
#define LS_ROUTE_MAX_RULES 64
#define LS_ROUTE_MAX_NAME  64
#define LS_ROUTE_MAX_VALUE 256

enum ls_route_field {
	LS_RF_LEVEL,
	LS_RF_SERVICE,
	LS_RF_HOST,
	LS_RF_MESSAGE,
	LS_RF_ATTR
};

enum ls_route_op {
	LS_RO_EQ,
	LS_RO_NE,
	LS_RO_CONTAINS,
	LS_RO_PREFIX,
	LS_RO_GE,
	LS_RO_GT,
	LS_RO_LE,
	LS_RO_LT
};

typedef struct ls_route_cond {
	int field;  /* enum ls_route_field */
	int op;     /* enum ls_route_op */
	int level;  /* LS_RF_LEVEL: the level compared with */
	double num; /* ordering ops on an attribute: the number */
	char name[LS_ROUTE_MAX_NAME + 1];   /* LS_RF_ATTR */
	char value[LS_ROUTE_MAX_VALUE + 1];
	size_t vlen;
} ls_route_cond;

typedef struct ls_route_rule {
	char target[LS_ROUTE_MAX_NAME + 1];
	ls_route_cond cond[LS_ROUTE_MAX_CONDS];
	unsigned ncond;
} ls_route_rule;

/* Parse one rule.  0, or 1 with a reason in why (the rule is not
 * usable). */
int ls_route_parse(const char *text, ls_route_rule *out, char *why,
    size_t whylen);

/* Whether every condition of r holds for ev. */
int ls_route_match(const ls_route_rule *r, const ls_event *ev);

/* ls_topo_check_fn for the elements of a `routes` list. */
int ls_route_check(const char *v, char *why, size_t whylen);

#endif /* LS_ACTORS_ROUTE_H */
