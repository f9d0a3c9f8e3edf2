/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The numbers behind `kafkatap top`, kept apart from the drawing so that
 * they can be tested: exchanges are added as they complete, tm_roll()
 * closes an interval (one second in top), and tm_rows() groups what the
 * last closed interval saw into table rows, sorted.
 *
 * Internally one "cell" per (broker, client_id, api_key); a view groups
 * cells by broker or by client_id, per API or all APIs together, so that
 * switching views needs no new data. A cell that has seen no exchange for
 * `idle_ns` is dropped at the next roll (its row ages out).
 */
#ifndef KAFKATAP_TOP_MODEL_H
#define KAFKATAP_TOP_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "pair/agent.h"

/*
 * Latency histogram: 16 logarithmic buckets per octave (each 4.4% wide),
 * from 1.024 us to 2^36 ns (69 s); values outside go to the end buckets.
 * Quantiles are the geometric middle of the bucket that holds the rank,
 * clamped to the exact min and max: within 2.2% of the true sample.
 */
#define TM_HIST_PER_OCTAVE	16
#define TM_HIST_MIN_LOG2	10
#define TM_HIST_MAX_LOG2	36
#define TM_HIST_N		(TM_HIST_PER_OCTAVE * (TM_HIST_MAX_LOG2 - TM_HIST_MIN_LOG2))

struct tm_hist {
	uint64_t n;
	uint64_t min_ns;
	uint64_t max_ns;
	uint32_t b[TM_HIST_N];
};

void tm_hist_reset(struct tm_hist *h);
void tm_hist_add(struct tm_hist *h, uint64_t ns);
void tm_hist_merge(struct tm_hist *dst, const struct tm_hist *src);
/* Nearest-rank quantile q in [0, 1], in ns; 0 when empty. */
uint64_t tm_hist_quantile(const struct tm_hist *h, double q);

enum tm_view {
	TM_VIEW_BROKER = 0,	/* rows per broker address */
	TM_VIEW_CLIENT,		/* rows per client_id */
};

enum tm_sort {
	TM_SORT_RATE = 0,	/* requests/s, highest first */
	TM_SORT_P50,
	TM_SORT_P99,
	TM_SORT_IN,		/* request bytes/s */
	TM_SORT_OUT,		/* response bytes/s */
	TM_SORT_UNANS,
	TM_SORT_NAME,		/* broker or client_id, then API: ascending */
	TM_SORT_MAX,
};

/* Counts of one interval, or since start. */
struct tm_counts {
	uint64_t requests;	/* exchanges completed: paired, no_response, unanswered */
	uint64_t paired;	/* with a response: the latency samples */
	uint64_t no_response;	/* acks=0 Produce */
	uint64_t unanswered;	/* given up: expired, closed, evicted, exit */
	uint64_t bytes_in;	/* request frames' size fields */
	uint64_t bytes_out;	/* response frames' size fields */
};

#define TM_NAME_MAX	(KT_CLIENT_ID_MAX + 8)

/* One table row: the last closed interval of a group of cells. */
struct tm_row {
	char name[TM_NAME_MAX];	/* "ip:port", or client_id ("(null)" for none) */
	int api_key;		/* -1: all APIs together */
	struct tm_counts c;	/* in the interval */
	double rate;		/* requests/s */
	double unans_rate;	/* unanswered/s */
	double in_bps, out_bps;	/* bytes/s */
	uint64_t p50_ns, p99_ns;	/* 0: no paired request in the interval */
	/* grouping and name-order key */
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	int16_t cid_len;	/* -1 null */
	char cid[KT_CLIENT_ID_MAX + 1];
};

struct tm_model;

struct tm_model *tm_new(uint64_t now_ns, uint64_t idle_ns);
void tm_free(struct tm_model *m);

/* One completed exchange (any status). */
void tm_add(struct tm_model *m, const struct kt_exchange *x);

/* Close the current interval at now_ns; drop cells idle for idle_ns. */
void tm_roll(struct tm_model *m, uint64_t now_ns);

/*
 * The rows of the last closed interval, grouped per `view` (and per API
 * when per_api), sorted by `sort` (reversed when `reverse`). The array
 * belongs to the model and lives until the next tm_rows() or tm_free().
 * Returns the number of rows, or -1 (out of memory).
 */
int tm_rows(struct tm_model *m, enum tm_view view, bool per_api,
	    enum tm_sort sort, bool reverse, const struct tm_row **rows);

/* Since tm_new(). */
const struct tm_counts *tm_totals(const struct tm_model *m);
/* Cells currently kept. */
unsigned int tm_cells(const struct tm_model *m);

const char *tm_sort_name(enum tm_sort s);

#endif
