/*
 * topology_fuzz.c -- fuzz driver for the topology loader and planner.
 *
 * Feeds arbitrary bytes to ls_topology_parse() and, when they form a valid
 * topology, plans it, describes the plan and routes an event to every
 * node.  Any crash, leak or sanitizer report is a bug: bad input must only
 * ever produce diagnostics.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/event.h"
#include "topology/plan.h"
#include "topology/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ls_topology *t = NULL;
	ls_plan *p = NULL;
	ls_diag d;
	ls_event ev;

	ls_diag_init(&d);
	if (ls_topology_parse("fuzz.yaml", (const char *)data, size, &t, &d) ==
	    0) {
		if (ls_plan_build(t, &p, &d) == 0) {
			FILE *devnull = fopen("/dev/null", "w");
			char line[256];
			if (devnull != NULL) {
				ls_plan_describe(p, devnull);
				fclose(devnull);
			}
			ls_plan_summary(p, line, sizeof(line));
			ls_event_clear(&ev);
			ev.service = ls_str_c("svc");
			for (size_t i = 0; i < ls_topology_count(t); i++) {
				const ls_topo_node *n = ls_topology_node(t, i);
				if (ls_plan_route(n, &ev) >= n->partitions)
					__builtin_trap();
			}
			ls_plan_free(p);
		}
		ls_topology_free(t);
	}
	ls_diag_free(&d);
	return 0;
}
