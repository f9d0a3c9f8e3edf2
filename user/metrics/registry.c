// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/registry.h"
#include "lib/hash.h"
#include "lib/htable.h"

/* A label name and the values it may take. */
struct label {
	struct label *next;
	char *name;
	uint32_t cap;
	uint32_t count;
	uint64_t overflow;
	struct htable values;	/* struct lvalue */
	const char *other;	/* interned "other" */
	uint32_t epoch;		/* kt_reg_label_mark/sweep */
};

struct lvalue {
	struct hnode hn;
	uint32_t epoch;		/* the label's epoch when last used */
	char s[];		/* escaped for the exposition, valid UTF-8 */
};

struct kt_series {
	struct hnode hn;
	struct kt_series *next;	/* in insertion order */
	struct kt_series **pprev;
	const char *vals[KT_MAX_LABELS];
	double value;		/* counter/gauge; histogram: sum */
	uint64_t count;		/* histogram */
	uint64_t *buckets;	/* histogram, non-cumulative */
	const struct kt_family *fam;
};

struct kt_family {
	struct kt_family *next;
	struct kt_registry *reg;
	char *name, *help;
	enum kt_mtype type;
	int nlabels;
	struct label *labels[KT_MAX_LABELS];
	double *bounds;
	char (*le)[32];		/* bounds as rendered, computed once */
	int nbounds;
	struct htable series;
	struct kt_series *first, **tail;
	size_t nseries;
	struct kt_series *overflow;
};

struct kt_registry {
	struct kt_family *families, **ftail;
	struct label *labels;
	uint32_t default_cap;
	uint32_t max_series;
	uint64_t series_overflow;
	char *overflow_name, *overflow_help;
};

struct kt_registry *kt_reg_new(const struct kt_reg_cfg *cfg)
{
	struct kt_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ftail = &r->families;
	r->default_cap = cfg->default_label_cap;
	r->max_series = cfg->max_series;
	r->overflow_name = strdup(cfg->overflow_name);
	r->overflow_help = strdup(cfg->overflow_help);
	if (!r->overflow_name || !r->overflow_help) {
		kt_reg_free(r);
		return NULL;
	}
	return r;
}

/* Free the values of l not used since the mark ("other" stays), or all. */
static void drop_values(struct label *l, bool all)
{
	size_t i;

	for (i = 0; i < l->values.nbuckets; i++) {
		struct hnode *n = l->values.buckets[i], *next;

		for (; n; n = next) {
			struct lvalue *lv = container_of(n, struct lvalue, hn);
			bool is_other = lv->s == l->other;

			next = n->next;
			if (!all && (lv->epoch == l->epoch || is_other))
				continue;
			ht_remove(&l->values, n);
			free(lv);
			if (!is_other)
				l->count--;
		}
	}
	if (all)
		l->other = NULL;
}

static void free_label(struct label *l)
{
	drop_values(l, true);
	ht_free(&l->values);
	free(l->name);
	free(l);
}

static void free_family(struct kt_family *f)
{
	struct kt_series *s, *sn;

	for (s = f->first; s; s = sn) {
		sn = s->next;
		free(s->buckets);
		free(s);
	}
	ht_free(&f->series);
	free(f->bounds);
	free(f->le);
	free(f->name);
	free(f->help);
	free(f);
}

void kt_reg_free(struct kt_registry *r)
{
	struct kt_family *f, *fn;
	struct label *l, *ln;

	if (!r)
		return;
	for (f = r->families; f; f = fn) {
		fn = f->next;
		free_family(f);
	}
	for (l = r->labels; l; l = ln) {
		ln = l->next;
		free_label(l);
	}
	free(r->overflow_name);
	free(r->overflow_help);
	free(r);
}

static struct label *label_find(struct kt_registry *r, const char *name)
{
	struct label *l;

	for (l = r->labels; l && strcmp(l->name, name); l = l->next)
		;
	return l;
}

/* The label, created if new. */
static struct label *label_get(struct kt_registry *r, const char *name)
{
	struct label *l = label_find(r, name);

	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->name = strdup(name);
	if (!l->name || ht_init(&l->values, 64)) {
		free(l->name);
		free(l);
		return NULL;
	}
	l->cap = r->default_cap;
	l->next = r->labels;
	r->labels = l;
	return l;
}

int kt_reg_label_cap(struct kt_registry *r, const char *label, uint32_t cap)
{
	struct label *l = label_get(r, label);

	if (!l)
		return -ENOMEM;
	l->cap = cap;
	return 0;
}

void kt_reg_label_mark(struct kt_registry *r, const char *label)
{
	struct label *l = label_find(r, label);

	if (l)
		l->epoch++;
}

void kt_reg_label_sweep(struct kt_registry *r, const char *label)
{
	struct label *l = label_find(r, label);

	if (l)
		drop_values(l, false);
}

/* Escape for the exposition; bytes that are not UTF-8 become U+FFFD. */
static size_t escape(char *out, const char *in, size_t n)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			   (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t j;

		if (k == 1) {
			if (c == '\\' || c == '"') {
				out[o++] = '\\';
				out[o++] = c;
			} else if (c == '\n') {
				out[o++] = '\\';
				out[o++] = 'n';
			} else {
				out[o++] = c;
			}
			i++;
			continue;
		}
		for (j = 1; k && j < k; j++)
			if (i + j >= n || (p[i + j] & 0xc0) != 0x80)
				k = 0;
		/* Overlong two-byte forms are not valid either. */
		if (k == 2 && c < 0xc2)
			k = 0;
		if (!k) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, k);
		o += k;
		i += k;
	}
	out[o] = 0;
	return o;
}

/* A value escaped as stored, and its hash: the key of a label value. */
struct lkey {
	char *s;		/* buf, malloc'd (long values), or NULL: out of memory */
	size_t n;
	uint64_t h;
	char buf[512];
};

static void lkey_free(struct lkey *k)
{
	if (k->s != k->buf)
		free(k->s);
}

/*
 * The stored value v of label l, or NULL; found, it counts as used for
 * the sweep. The one lookup of intern and kt_reg_label_admits, for values
 * of any length. k gets the key (to insert it); lkey_free(k) after.
 */
static struct lvalue *lv_find(struct label *l, const char *v, struct lkey *k)
{
	size_t n = strlen(v);
	struct hnode *hn;

	k->s = n * 3 + 1 <= sizeof(k->buf) ? k->buf : malloc(n * 3 + 1);
	if (!k->s)
		return NULL;
	k->n = escape(k->s, v, n);
	k->h = hash_bytes(k->s, k->n, 7);
	for (hn = ht_first(&l->values, k->h); hn; hn = ht_next(hn, k->h)) {
		struct lvalue *lv = container_of(hn, struct lvalue, hn);

		if (!strcmp(lv->s, k->s)) {
			lv->epoch = l->epoch;
			return lv;
		}
	}
	return NULL;
}

bool kt_reg_label_admits(struct kt_registry *r, const char *label, const char *value)
{
	struct label *l = label_find(r, label);
	struct lkey k;
	bool found;

	if (!l)
		return true;
	found = lv_find(l, value, &k) != NULL;
	lkey_free(&k);
	return found || l->count < l->cap;
}

/* The interned, escaped value; "other" once the label's budget is spent. */
static const char *intern(struct label *l, const char *v)
{
	struct lkey k;
	struct lvalue *lv = lv_find(l, v, &k);

	if (lv) {
		lkey_free(&k);
		return lv->s;
	}
	if (!k.s)
		return l->other ? l->other : KT_LABEL_OTHER;
	if (l->count >= l->cap && strcmp(k.s, KT_LABEL_OTHER)) {
		lkey_free(&k);
		l->overflow++;
		if (!l->other)
			l->other = intern(l, KT_LABEL_OTHER);	/* never counted */
		return l->other;
	}
	lv = malloc(sizeof(*lv) + k.n + 1);
	if (!lv) {
		lkey_free(&k);
		return KT_LABEL_OTHER;
	}
	memcpy(lv->s, k.s, k.n + 1);
	lv->epoch = l->epoch;
	ht_insert(&l->values, &lv->hn, k.h);
	lkey_free(&k);
	/* "other" is always admitted and does not spend the budget. */
	if (strcmp(lv->s, KT_LABEL_OTHER))
		l->count++;
	else
		l->other = lv->s;
	return lv->s;
}

static void fmt_num(char *buf, size_t len, double v);

struct kt_family *kt_reg_family(struct kt_registry *r, const struct kt_family_def *d)
{
	struct kt_family *f;
	int i;

	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->tail = &f->first;
	if (ht_init(&f->series, 64)) {
		free(f);
		return NULL;
	}
	f->reg = r;
	f->type = d->type;
	f->name = strdup(d->name);
	f->help = strdup(d->help);
	if (!f->name || !f->help)
		goto fail;
	for (i = 0; i < KT_MAX_LABELS && d->labels[i]; i++) {
		f->labels[i] = label_get(r, d->labels[i]);
		if (!f->labels[i])
			goto fail;
	}
	f->nlabels = i;
	if (d->type == KT_HISTOGRAM && d->nbuckets > 0) {
		f->bounds = malloc(d->nbuckets * sizeof(double));
		f->le = calloc(d->nbuckets + 1, sizeof(*f->le));
		if (!f->bounds || !f->le)
			goto fail;
		memcpy(f->bounds, d->buckets, d->nbuckets * sizeof(double));
		for (i = 0; i < d->nbuckets; i++)
			fmt_num(f->le[i], sizeof(f->le[i]), d->buckets[i]);
		snprintf(f->le[d->nbuckets], sizeof(f->le[d->nbuckets]), "+Inf");
		f->nbounds = d->nbuckets;
	}
	*r->ftail = f;
	r->ftail = &f->next;
	return f;
fail:
	free_family(f);
	return NULL;
}

static uint64_t series_hash(const char *const *vals, int n)
{
	return hash_bytes(vals, n * sizeof(vals[0]), 3);
}

static struct kt_series *series_new(struct kt_family *f, const char **vals, uint64_t h)
{
	struct kt_series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	memcpy(s->vals, vals, f->nlabels * sizeof(vals[0]));
	s->fam = f;
	if (f->type == KT_HISTOGRAM) {
		s->buckets = calloc(f->nbounds + 1, sizeof(uint64_t));
		if (!s->buckets) {
			free(s);
			return NULL;
		}
	}
	ht_insert(&f->series, &s->hn, h);
	s->pprev = f->tail;
	*f->tail = s;
	f->tail = &s->next;
	f->nseries++;
	return s;
}

struct kt_series *kt_series(struct kt_family *f, const char *const *values)
{
	const char *vals[KT_MAX_LABELS] = {};
	struct hnode *n;
	uint64_t h;
	int i;

	for (i = 0; i < f->nlabels; i++)
		vals[i] = f->labels[i] ? intern(f->labels[i], values[i] ? values[i] : "")
				       : KT_LABEL_OTHER;
	h = series_hash(vals, f->nlabels);
	for (n = ht_first(&f->series, h); n; n = ht_next(n, h)) {
		struct kt_series *s = container_of(n, struct kt_series, hn);

		if (!memcmp(s->vals, vals, f->nlabels * sizeof(vals[0])))
			return s;
	}
	if (f->reg->max_series && f->nseries >= f->reg->max_series) {
		f->reg->series_overflow++;
		if (!f->overflow) {
			for (i = 0; i < f->nlabels; i++)
				vals[i] = f->labels[i] ? intern(f->labels[i], KT_LABEL_OTHER)
						       : KT_LABEL_OTHER;
			h = series_hash(vals, f->nlabels);
			for (n = ht_first(&f->series, h); n && !f->overflow; n = ht_next(n, h))
				if (!memcmp(container_of(n, struct kt_series, hn)->vals, vals,
					    f->nlabels * sizeof(vals[0])))
					f->overflow = container_of(n, struct kt_series, hn);
			if (!f->overflow)
				f->overflow = series_new(f, vals, h);
		}
		return f->overflow;
	}
	return series_new(f, vals, h);
}

void kt_series_remove(struct kt_family *f, struct kt_series *s)
{
	if (!s)
		return;
	if (s == f->overflow)
		f->overflow = NULL;
	ht_remove(&f->series, &s->hn);
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	else
		f->tail = s->pprev;
	f->nseries--;
	free(s->buckets);
	free(s);
}

void kt_family_clear(struct kt_family *f)
{
	f->overflow = NULL;
	while (f->first)
		kt_series_remove(f, f->first);
}

void kt_inc(struct kt_series *s, double v)
{
	if (s)
		s->value += v;
}

void kt_set(struct kt_series *s, double v)
{
	if (s)
		s->value = v;
}

double kt_value(const struct kt_series *s)
{
	return s ? s->value : 0;
}

void kt_observe(struct kt_series *s, double v)
{
	const struct kt_family *f;
	int lo = 0, hi;

	if (!s || !s->buckets)
		return;
	f = s->fam;
	hi = f->nbounds;
	/* First bucket whose upper bound is >= v (le semantics). */
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (v <= f->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	s->buckets[lo]++;
	s->value += v;
	s->count++;
}

uint64_t kt_reg_overflows(const struct kt_registry *r, const char *label)
{
	const struct label *l;

	if (!strcmp(label, "series"))
		return r->series_overflow;
	for (l = r->labels; l; l = l->next)
		if (!strcmp(l->name, label))
			return l->overflow;
	return 0;
}

/* Shortest text that reads back as the same double (Prometheus parses it). */
static void fmt_num(char *buf, size_t len, double v)
{
	int p;

	if (isinf(v)) {
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (v == (double)(int64_t)v && fabs(v) < 9007199254740992.0) {
		snprintf(buf, len, "%lld", (long long)v);
		return;
	}
	for (p = 6; p <= 17; p++) {
		snprintf(buf, len, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
}

static void put_num(FILE *o, double v)
{
	char buf[32];

	fmt_num(buf, sizeof(buf), v);
	fputs(buf, o);
}

static void put_labels(FILE *o, const struct kt_family *f, const struct kt_series *s,
		       const char *le)
{
	int i;

	if (!f->nlabels && !le)
		return;
	fputc('{', o);
	for (i = 0; i < f->nlabels; i++)
		fprintf(o, "%s%s=\"%s\"", i ? "," : "", f->labels[i]->name, s->vals[i]);
	if (le)
		fprintf(o, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	fputc('}', o);
}

static void put_help(FILE *o, const char *name, const char *help, const char *type)
{
	const char *p;

	fprintf(o, "# HELP %s ", name);
	for (p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", o);
		else if (*p == '\n')
			fputs("\\n", o);
		else
			fputc(*p, o);
	}
	fprintf(o, "\n# TYPE %s %s\n", name, type);
}

/* OpenMetrics names the family without the sample suffix. */
static void family_name(char *buf, size_t len, const struct kt_family *f, bool om)
{
	size_t n = strlen(f->name);

	snprintf(buf, len, "%s", f->name);
	if (!om)
		return;
	if (f->type == KT_COUNTER && n > 6 && !strcmp(f->name + n - 6, "_total"))
		buf[n - 6] = 0;
	else if (f->type == KT_INFO && n > 5 && !strcmp(f->name + n - 5, "_info"))
		buf[n - 5] = 0;
}

static void render_family(FILE *o, const struct kt_family *f, bool om)
{
	static const char *const tnames[] = { "counter", "gauge", "histogram", "info" };
	const struct kt_series *s;
	char fname[256];
	int i;

	family_name(fname, sizeof(fname), f, om);
	put_help(o, fname, f->help, f->type == KT_INFO && !om ? "gauge" : tnames[f->type]);
	for (s = f->first; s; s = s->next) {
		if (f->type != KT_HISTOGRAM) {
			fputs(f->name, o);
			put_labels(o, f, s, NULL);
			fputc(' ', o);
			put_num(o, f->type == KT_INFO ? 1 : s->value);
			fputc('\n', o);
			continue;
		}
		uint64_t cum = 0;

		for (i = 0; i <= f->nbounds; i++) {
			cum += s->buckets[i];
			fprintf(o, "%s_bucket", f->name);
			put_labels(o, f, s, f->le[i]);
			fprintf(o, " %llu\n", (unsigned long long)cum);
		}
		fprintf(o, "%s_sum", f->name);
		put_labels(o, f, s, NULL);
		fputc(' ', o);
		put_num(o, s->value);
		fprintf(o, "\n%s_count", f->name);
		put_labels(o, f, s, NULL);
		fprintf(o, " %llu\n", (unsigned long long)s->count);
	}
}

char *kt_reg_render(struct kt_registry *r, bool openmetrics, size_t *len)
{
	struct kt_family overflow = { .type = KT_COUNTER };
	const struct kt_family *f;
	const struct label *l;
	char fname[256];
	char *buf = NULL;
	FILE *o = open_memstream(&buf, len);

	if (!o)
		return NULL;
	for (f = r->families; f; f = f->next)
		render_family(o, f, openmetrics);
	/* The budget's own counter, one series per label with a budget. */
	overflow.name = r->overflow_name;
	overflow.help = r->overflow_help;
	family_name(fname, sizeof(fname), &overflow, openmetrics);
	put_help(o, fname, r->overflow_help, "counter");
	for (l = r->labels; l; l = l->next)
		fprintf(o, "%s{label=\"%s\"} %llu\n", r->overflow_name, l->name,
			(unsigned long long)l->overflow);
	fprintf(o, "%s{label=\"series\"} %llu\n", r->overflow_name,
		(unsigned long long)r->series_overflow);
	if (openmetrics)
		fputs("# EOF\n", o);
	if (fclose(o)) {
		free(buf);
		return NULL;
	}
	return buf;
}
