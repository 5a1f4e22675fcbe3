/*
 * nab_fuzz.c -- fuzz driver for the two decoders of the NAB tools
 * (cmd/series.h, cmd/nab.h): the `timestamp,value[,anomaly_score]` CSV
 * series and the labels file (labels_windows.json).
 *
 * Every input is parsed as a series of each layout and as a labels file.
 * What a parse accepts must hold together: a series' rows are all there
 * with finite values and their texts, windows end after they start and
 * follow each other; and an accepted series scores, with the windows of an
 * accepted labels file when they fall inside it, within NAB's bounds.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cmd/nab.h"
#include "cmd/series.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_series(const ls_series *s, int with_score)
{
	for (size_t i = 0; i < s->n; i++) {
		FUZZ_ASSERT(isfinite(s->value[i]));
		FUZZ_ASSERT(s->ts_text[i] != NULL && s->val_text[i] != NULL);
		FUZZ_ASSERT(strchr(s->ts_text[i], ',') == NULL);
		if (with_score)
			FUZZ_ASSERT(isfinite(s->score[i]));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char err[256];
	ls_series s;
	ls_nab_labels l;

	for (int with_score = 0; with_score <= 1; with_score++) {
		if (ls_series_parse("in", text, size, with_score, &s, err,
		        sizeof(err)) != 0) {
			FUZZ_ASSERT(strncmp(err, "in", 2) == 0);
			continue;
		}
		check_series(&s, with_score);
		if (with_score && s.n > 0) {
			ls_nab_window w = { s.ts[0], s.ts[0] };
			ls_nab_file f = { "in", s.n, s.ts, s.score, 1, &w };
			ls_nab_result r;
			int rc = ls_nab_score(&f, 1, &ls_nab_profiles[0], &r);
			if (rc == 0) {
				FUZZ_ASSERT(isfinite(r.raw));
				/* sums in another order: rounding apart */
				FUZZ_ASSERT(r.raw >= r.null_raw - 1e-9);
			}
		}
		ls_series_free(&s);
	}
	if (ls_nab_labels_parse("l", text, size, &l, err, sizeof(err)) == 0) {
		for (size_t f = 0; f < l.nfiles; f++) {
			FUZZ_ASSERT(l.path[f] != NULL);
			for (size_t w = 0; w < l.nwin[f]; w++) {
				FUZZ_ASSERT(l.win[f][w].start_ns <=
				    l.win[f][w].end_ns);
				if (w > 0)
					FUZZ_ASSERT(l.win[f][w].start_ns >
					    l.win[f][w - 1].end_ns);
			}
		}
		ls_nab_labels_free(&l);
	}
	return 0;
}
