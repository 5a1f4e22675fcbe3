/*
 * ingestbody_fuzz.c -- fuzz driver for the body parser of POST /v1/logs
 * (ls_ingestbody_parse, actors/ingestbody.h), which reads what any HTTP
 * client sends.
 *
 * The first byte picks the form (JSON, text, auto) and, for a few values,
 * passes the rest as a Content-Type instead.  Properties: an accepted body
 * gives n events separated by n - 1 newlines, none empty, within the
 * output bound; a JSON event is an object without white space outside its
 * strings, and parsing the output again as JSON gives the same events (the
 * compaction is idempotent); a text body gives exactly its lines, each
 * without a CR at its end, those of only blanks left out; a refused body
 * always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/ingestbody.h"
#include "fuzz_check.h"
#include "runtime/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The events of a text body, as a reference: every line without a CR at
 * its end, those of only spaces and tabs left out, joined by '\n'. */
static void
check_text(const char *body, size_t len, const char *o, size_t ol)
{
	size_t at = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && body[i] != '\n')
			continue;
		size_t end = i, k = start;
		if (end > start && body[end - 1] == '\r')
			end--;
		while (k < end && (body[k] == ' ' || body[k] == '\t'))
			k++;
		if (k < end) {
			if (at > 0) {
				FUZZ_ASSERT(at < ol && o[at] == '\n');
				at++;
			}
			FUZZ_ASSERT(end - start <= ol - at &&
			    memcmp(o + at, body + start, end - start) == 0);
			at += end - start;
		}
		start = i + 1;
	}
	FUZZ_ASSERT(at == ol);
}

static void
check_events(int form, const char *o, size_t ol, uint32_t n)
{
	size_t nl = 0, start = 0;
	for (size_t i = 0; i <= ol; i++) {
		if (i < ol && o[i] != '\n')
			continue;
		FUZZ_ASSERT(i > start); /* no empty event */
		if (form == LS_INGESTBODY_JSON) {
			FUZZ_ASSERT(o[start] == '{');
			FUZZ_ASSERT(o[i - 1] == '}');
		}
		if (i < ol)
			nl++;
		start = i + 1;
	}
	FUZZ_ASSERT(nl + 1 == n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t sel = data[0];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	if (sel >= 250) {
		/* the rest as a Content-Type header value */
		char ct[256];
		size_t l = len < sizeof(ct) - 1 ? len : sizeof(ct) - 1;
		memcpy(ct, body, l);
		ct[l] = '\0';
		int f = ls_ingestbody_form(ct);
		FUZZ_ASSERT(f == -1 || f == LS_INGESTBODY_JSON ||
		    f == LS_INGESTBODY_TEXT || f == LS_INGESTBODY_AUTO);
		return 0;
	}
	int form = LS_INGESTBODY_JSON + sel % 3;
	char *o = NULL, why[200];
	size_t ol = 0;
	uint32_t n = 0;
	int rv = ls_ingestbody_parse(form, body, len, &o, &ol, &n, why,
	    sizeof(why));
	if (rv != 0) {
		FUZZ_ASSERT(rv == LS_EPARSE || rv == LS_ENOMEM);
		FUZZ_ASSERT(o == NULL && n == 0);
		FUZZ_ASSERT(rv != LS_EPARSE || why[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(ol <= len + len / 2 + 16);
	FUZZ_ASSERT((n == 0) == (o == NULL));
	if (n == 0)
		return 0;
	size_t lead = 0; /* AUTO is JSON when the first non-blank is { or [ */
	while (lead < len && strchr(" \t\r\n", body[lead]) != NULL &&
	    body[lead] != '\0')
		lead++;
	int json = form == LS_INGESTBODY_JSON ||
	    (form == LS_INGESTBODY_AUTO && lead < len &&
	        (body[lead] == '{' || body[lead] == '['));
	check_events(json ? LS_INGESTBODY_JSON : LS_INGESTBODY_TEXT, o, ol, n);
	if (!json)
		check_text(body, len, o, ol);
	if (json) {
		char *o2 = NULL;
		size_t ol2 = 0;
		uint32_t n2 = 0;
		FUZZ_ASSERT(ls_ingestbody_parse(LS_INGESTBODY_JSON, o, ol, &o2,
		                &ol2, &n2, why, sizeof(why)) == 0);
		FUZZ_ASSERT(n2 == n && ol2 == ol && memcmp(o, o2, ol) == 0);
		free(o2);
	}
	free(o);
	return 0;
}
