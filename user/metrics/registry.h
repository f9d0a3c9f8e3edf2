/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small Prometheus registry: families of counters, gauges and histograms
 * with label sets under a cardinality budget, rendered in the text format
 * 0.0.4 or OpenMetrics 1.0. Single-threaded: the event loop owns it, and
 * renders it when a scrape asks (so a scrape sees one consistent moment).
 *
 * Budget: each label name (client_id, broker, topic ...) admits a capped
 * number of distinct values across all families; past the cap a new value
 * becomes "other" and kafkatap_label_overflow_total{label} counts it. Each
 * family also caps its series count (label "series" in that counter).
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

struct kt_registry *kt_reg_new(uint32_t default_label_cap, uint32_t max_series_per_family);
void kt_reg_free(struct kt_registry *r);

/* Cap the distinct values of a label name (before families use it). */
void kt_reg_label_cap(struct kt_registry *r, const char *label, uint32_t cap);

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

/*
 * name: the metric name as rendered in 0.0.4 (counters end in _total,
 * info metrics in _info). buckets (histograms only): ascending upper bounds.
 */
struct kt_family *kt_reg_family(struct kt_registry *r, const char *name, const char *help,
				enum kt_mtype type, int nlabels, const char *const *labels,
				const double *buckets, int nbuckets);

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

size_t kt_reg_series_count(const struct kt_registry *r);
uint64_t kt_reg_overflows(const struct kt_registry *r, const char *label);

#endif
