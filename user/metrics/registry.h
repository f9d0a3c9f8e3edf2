/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small Prometheus registry: families of counters, gauges and histograms
 * with label sets under a cardinality budget, rendered in the text format
 * 0.0.4 or OpenMetrics 1.0. Single-threaded: the event loop owns it, and
 * renders it when a scrape asks (so a scrape sees one consistent moment).
 *
 * Budget: each label name (client_id, broker, topic ...) admits a capped
 * number of distinct values across all families; past the cap a new value
 * becomes "other" and the overflow counter (named by the caller, e.g.
 * kafkatap_label_overflow_total{label}) counts it. Each family also caps
 * its series count (label "series" in that counter).
 */
#ifndef KAFKATAP_METRICS_H
#define KAFKATAP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_MAX_LABELS 4
#define KT_LABEL_OTHER "other"

enum kt_mtype {
	KT_COUNTER,
	KT_GAUGE,
	KT_HISTOGRAM,
	KT_INFO,	/* a gauge of 1 whose labels are the information */
};

struct kt_registry;
struct kt_family;
struct kt_series;

struct kt_reg_cfg {
	uint32_t default_label_cap;	/* distinct values of a label without its own cap */
	uint32_t max_series;		/* per family; 0: no cap */
	/* The counter of label overflows, rendered last: its name (ending in _total) and help. */
	const char *overflow_name;
	const char *overflow_help;
};

struct kt_registry *kt_reg_new(const struct kt_reg_cfg *cfg);
void kt_reg_free(struct kt_registry *r);

/* Cap the distinct values of a label name (before families use it). 0 or -ENOMEM. */
int kt_reg_label_cap(struct kt_registry *r, const char *label, uint32_t cap);

/*
 * Release the values of a label that no series uses any more, so that its
 * budget follows what exists. Only for labels whose every family is
 * rebuilt from state. The order: mark; clear those families; call
 * kt_reg_label_admits for each value that still exists (the cleared
 * families no longer use it: this is what keeps it); sweep (the values not
 * used since the mark are freed, "other" stays); rebuild the families
 * (new values get the room freed, never a kept value's). Interning a value
 * (kt_series) after the mark also keeps it.
 */
void kt_reg_label_mark(struct kt_registry *r, const char *label);
void kt_reg_label_sweep(struct kt_registry *r, const char *label);
/*
 * Would this value get its own series (already admitted, or room left)?
 * Never interns or counts an overflow. A value it finds admitted counts as
 * used for kt_reg_label_sweep: calling it between mark and sweep is the way
 * to keep a value. Values of any length.
 */
bool kt_reg_label_admits(struct kt_registry *r, const char *label, const char *value);

/* A metric family, declared as data. */
struct kt_family_def {
	const char *name;	/* as rendered in 0.0.4: counters end in _total, info in _info */
	const char *help;
	enum kt_mtype type;
	const char *labels[KT_MAX_LABELS];	/* label names; the first NULL ends them */
	const double *buckets;	/* histograms only: ascending upper bounds */
	int nbuckets;
};

/* The family, rendered in the order of declaration; NULL out of memory. */
struct kt_family *kt_reg_family(struct kt_registry *r, const struct kt_family_def *d);

/*
 * The series for these label values (nlabels of them), created on first
 * use. Values are interned under the label budgets; may return the
 * family's overflow series. Never NULL unless out of memory.
 */
struct kt_series *kt_series(struct kt_family *f, const char *const *values);

void kt_inc(struct kt_series *s, double v);		/* counters, gauges */
void kt_set(struct kt_series *s, double v);		/* gauges; counters when the source is monotonic */
void kt_observe(struct kt_series *s, double v);	/* histograms */
double kt_value(const struct kt_series *s);

/* Drop a gauge series (e.g. a group that is gone); its label values stay. */
void kt_series_remove(struct kt_family *f, struct kt_series *s);
/* Drop every series of a family (gauges rebuilt from state at each scrape). */
void kt_family_clear(struct kt_family *f);

/* Exposition. Returns a malloc'd buffer of *len bytes (caller frees). */
char *kt_reg_render(struct kt_registry *r, bool openmetrics, size_t *len);

/* Overflows of a label so far ("series": of the series caps). */
uint64_t kt_reg_overflows(const struct kt_registry *r, const char *label);

#endif
