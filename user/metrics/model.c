// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto/apis.h"
#include "proto/kc.h"
#include "decode/observe.h"
#include "metrics/families.h"
#include "metrics/model.h"
#include "pair/agent.h"
#include "track/groups.h"
#include "lib/addr.h"
#include "lib/hash.h"
#include "lib/util.h"

/*
 * The series an exchange touches, per (connection, api, version,
 * client_id): most exchanges repeat one, and finding series through the
 * label tables (intern, hash, compare) cost more than everything else.
 */
struct series_key {
	struct kt_conn conn;
	int16_t api_key, api_version;
	int16_t client_id_len;
	char client_id[KT_CLIENT_ID_MAX];
};

struct series_cache {
	bool valid;
	struct series_key k;
	struct kt_series *requests, *req_bytes, *resp_bytes, *duration;
	struct kt_series *unanswered, *no_response, *empty_fetches;
};

#define SERIES_CACHE 1024

/*
 * (api, topic, client_id) -> the records and bytes series: one hash of the
 * strings instead of interning and looking up both series per partition.
 * Those families are never cleared, so the pointers stay valid.
 */
#define TOPIC_KEY_MAX 256
struct topic_cache {
	uint64_t h;
	int16_t api_key;
	uint16_t tlen, clen;
	char topic[TOPIC_KEY_MAX], cid[KT_CLIENT_ID_MAX + 1];
	struct kt_series *records, *bytes;
};

#define TOPIC_CACHE 256

struct kt_kmetrics {
	struct kt_registry *reg;
	struct series_cache *cache;
	struct topic_cache *tcache;
	struct kt_family *f[KT_F_MAX];		/* by enum kt_fam */
	struct kt_series *kseries[KT_C_MAX];	/* by enum kt_counter */
	/* The last broker formatted: consecutive exchanges share it mostly. */
	uint8_t last_addr[16];
	uint16_t last_port;
	uint8_t last_family;
	char last_broker[KT_ADDR_STRLEN];
};

/* Each kernel counter's series: those of one family and label value share it (a sum). */
static int kernel_series(struct kt_kmetrics *m)
{
	static const struct {
		const char *family, *label, *value, *help;
	} k[KT_C_MAX] = {
#define X(e, stats_name, family, label, value, help) [KT_C_##e] = { family, label, value, help },
		KT_COUNTERS(X)
#undef X
	};
	struct kt_family *fam[KT_C_MAX];
	int i, j;

	for (i = 0; i < KT_C_MAX; i++) {
		struct kt_family_def d = { .name = k[i].family, .help = k[i].help,
					   .type = KT_COUNTER, .labels = { k[i].label } };

		for (j = 0; j < i && strcmp(k[j].family, k[i].family); j++)
			;
		fam[i] = j < i ? fam[j] : kt_reg_family(m->reg, &d);
		if (!fam[i])
			return -1;
		m->kseries[i] = kt_series(fam[i], k[i].label ? (const char *const[]){ k[i].value }
							       : NULL);
		if (!m->kseries[i])
			return -1;
	}
	return 0;
}

struct kt_kmetrics *kt_km_new(const struct kt_km_cfg *cfg)
{
	const struct kt_reg_cfg rc = {
		.default_label_cap = 1024,
		.max_series = cfg->max_series,
		.overflow_name = "kafkatap_label_overflow_total",
		.overflow_help = "Label lookups that found the label's budget spent and went to "
			"\"other\" (label=\"series\": lookups of a new series past a family's "
			"cap); not distinct values nor updates: a cached series (requests, bytes, "
			"durations, records) is looked up once per cache miss, each consumer group "
			"series once per scrape, the others at every update",
	};
	struct kt_kmetrics *m = calloc(1, sizeof(*m));
	int i;

	if (!m)
		return NULL;
	m->reg = kt_reg_new(&rc);
	m->cache = calloc(SERIES_CACHE, sizeof(*m->cache));
	m->tcache = calloc(TOPIC_CACHE, sizeof(*m->tcache));
	if (!m->reg || !m->cache || !m->tcache)
		goto fail;
	if (kt_reg_label_cap(m->reg, "client_id", cfg->max_client_ids) ||
	    kt_reg_label_cap(m->reg, "broker", cfg->max_brokers) ||
	    kt_reg_label_cap(m->reg, "topic", cfg->max_topics) ||
	    kt_reg_label_cap(m->reg, "group", cfg->max_groups))
		goto fail;
	for (i = 0; i < KT_F_MAX; i++) {
		m->f[i] = kt_reg_family(m->reg, &kt_families[i]);
		if (!m->f[i])
			goto fail;
	}
	if (kernel_series(m) ||
	    !kt_series(m->f[KT_F_BUILD_INFO], (const char *const[]){ KAFKATAP_VERSION }))
		goto fail;
	return m;
fail:
	kt_km_free(m);
	return NULL;
}

void kt_km_free(struct kt_kmetrics *m)
{
	if (!m)
		return;
	kt_reg_free(m->reg);
	free(m->cache);
	free(m->tcache);
	free(m);
}

static const char *broker_of(struct kt_kmetrics *m, const struct kt_conn *c)
{
	if (m->last_family != c->family || m->last_port != c->broker_port ||
	    memcmp(m->last_addr, c->broker_addr, 16)) {
		fmt_addr(m->last_broker, sizeof(m->last_broker), c->broker_addr, c->family,
			 c->broker_port);
		memcpy(m->last_addr, c->broker_addr, 16);
		m->last_port = c->broker_port;
		m->last_family = c->family;
	}
	return m->last_broker;
}

static const char *error_name(int16_t code, char *buf, size_t len)
{
	const char *n = kc_error_name(code);

	if (n)
		return n;
	snprintf(buf, len, "UNKNOWN_%d", code);
	return buf;
}

/* cl, ch: the length and hash of cid, once per exchange. */
static struct topic_cache *topic_series(struct kt_kmetrics *m, int16_t api_key, const char *topic,
					 const char *cid, size_t cl, uint64_t ch)
{
	size_t tl = strlen(topic);
	uint64_t h = hash_bytes(topic, tl, (uint64_t)api_key) ^ ch;
	struct topic_cache *e = &m->tcache[h & (TOPIC_CACHE - 1)];
	bool fits = tl < TOPIC_KEY_MAX && cl <= KT_CLIENT_ID_MAX;
	struct kt_series *records, *bytes;

	if (fits && e->records && e->h == h && e->api_key == api_key && e->tlen == tl &&
	    e->clen == cl && !memcmp(e->topic, topic, tl) && !memcmp(e->cid, cid, cl))
		return e;
	records = kt_series(api_key == KAFKA_API_PRODUCE ? m->f[KT_F_PRODUCED_RECORDS] : m->f[KT_F_FETCHED_RECORDS],
			    (const char *const[]){ topic, cid });
	bytes = kt_series(api_key == KAFKA_API_PRODUCE ? m->f[KT_F_PRODUCED_BYTES] : m->f[KT_F_FETCHED_BYTES],
			  (const char *const[]){ topic, cid });
	if (!fits || !records) {
		/* Not kept (too long to compare): looked up again next time, and
		 * the entry in its slot stays. */
		static struct topic_cache once;

		once.records = records;
		once.bytes = bytes;
		return &once;
	}
	e->records = records;
	e->bytes = bytes;
	e->h = h;
	e->api_key = api_key;
	e->tlen = tl;
	e->clen = cl;
	memcpy(e->topic, topic, tl);
	memcpy(e->cid, cid, cl);
	return e;
}

/* Topic-level facts: records, bytes and partition errors. */
static void km_partitions(struct kt_kmetrics *m, const struct kt_exchange *x,
			  const struct kt_annot *an, const char *api, const char *cid)
{
	bool counted = x->api_key == KAFKA_API_PRODUCE || x->api_key == KAFKA_API_FETCH;
	size_t cl = counted ? strlen(cid) : 0;
	uint64_t ch = counted ? hash_bytes(cid, cl, 3) : 0;
	char ebuf[24];
	uint32_t i;

	for (i = 0; i < an->ntp; i++) {
		const struct kt_tp *t = &an->tps[i];

		if (t->error > 0)
			kt_inc(kt_series(m->f[KT_F_PARTITION_ERRORS], (const char *const[]){
				api, t->topic, error_name(t->error, ebuf, sizeof(ebuf)) }), 1);
		if (!t->has_data || t->error != 0)
			continue;
		if (counted) {
			struct topic_cache *e = topic_series(m, x->api_key, t->topic, cid, cl, ch);

			kt_inc(e->records, (double)t->records);
			kt_inc(e->bytes, (double)t->bytes);
		}
	}
}

static void km_annot(struct kt_kmetrics *m, const struct kt_exchange *x,
		     const struct kt_annot *an, const char *api, const char *cid)
{
	char ebuf[24], ver[8];

	if (an->invalid)
		kt_inc(kt_series(m->f[KT_F_INVALID], (const char *const[]){ an->invalid }), 1);
	if (an->has_error && an->error)
		kt_inc(kt_series(m->f[KT_F_ERRORS], (const char *const[]){
			api, error_name(an->error, ebuf, sizeof(ebuf)) }), 1);
	if (an->deprecated) {
		snprintf(ver, sizeof(ver), "%d", x->api_version);
		kt_inc(kt_series(m->f[KT_F_DEPRECATED], (const char *const[]){ api, ver, cid }), 1);
	}
	if (an->admin)
		kt_inc(kt_series(m->f[KT_F_ADMIN_OPS], (const char *const[]){ api, cid }), 1);
	if (an->sw_name)
		kt_set(kt_series(m->f[KT_F_CLIENT_INFO], (const char *const[]){ cid, an->sw_name,
								      an->sw_version }), 1);
	if (an->mechanism)
		kt_set(kt_series(m->f[KT_F_SASL_MECHANISM], (const char *const[]){ cid, an->mechanism }), 1);
	km_partitions(m, x, an, api, cid);
}

static struct series_cache *series_for(struct kt_kmetrics *m, const struct kt_exchange *x,
				       const char *api, const char *cid)
{
	struct series_key k;
	struct series_cache *e;
	const char *broker;
	char ver[8];

	memset(&k, 0, sizeof(k));
	k.conn = x->conn;
	k.api_key = x->api_key;
	k.api_version = x->api_version;
	k.client_id_len = x->client_id_len;
	memcpy(k.client_id, x->client_id, strnlen(x->client_id, KT_CLIENT_ID_MAX));
	e = &m->cache[hash_bytes(&k, sizeof(k), 11) & (SERIES_CACHE - 1)];
	if (e->valid && !memcmp(&e->k, &k, sizeof(k)))
		return e;
	memset(e, 0, sizeof(*e));
	e->k = k;
	e->valid = true;
	broker = broker_of(m, &x->conn);
	snprintf(ver, sizeof(ver), "%d", x->api_version);
	e->requests = kt_series(m->f[KT_F_REQUESTS], (const char *const[]){ api, ver, cid, broker });
	e->req_bytes = kt_series(m->f[KT_F_REQUEST_BYTES], (const char *const[]){ api, cid, broker });
	e->resp_bytes = kt_series(m->f[KT_F_RESPONSE_BYTES], (const char *const[]){ api, cid, broker });
	e->duration = kt_series(m->f[KT_F_DURATION], (const char *const[]){ api, broker });
	return e;
}

void kt_km_exchange(struct kt_kmetrics *m, const struct kt_exchange *x, const struct kt_annot *an)
{
	const char *api = kt_api_name(x->api_key);
	const char *cid = x->client_id_len < 0 ? "" : x->client_id;
	struct series_cache *e = series_for(m, x, api, cid);

	kt_inc(e->requests, 1);
	kt_inc(e->req_bytes, (double)x->req_size + 4);
	switch (x->status) {
	case KT_STATUS_OK:
		kt_inc(e->resp_bytes, (double)x->resp_size + 4);
		/* A Fetch long poll that found nothing says nothing of the broker. */
		if (an && an->empty_fetch && an->resp_decoded) {
			if (!e->empty_fetches)
				e->empty_fetches = kt_series(m->f[KT_F_EMPTY_FETCHES], (const char *const[]){
					broker_of(m, &x->conn) });
			kt_inc(e->empty_fetches, 1);
		} else {
			kt_observe(e->duration, (double)(x->resp_ts_ns - x->req_ts_ns) / 1e9);
		}
		break;
	case KT_STATUS_NO_RESPONSE:
		if (!e->no_response)
			e->no_response = kt_series(m->f[KT_F_NO_RESPONSE], (const char *const[]){
				api, broker_of(m, &x->conn) });
		kt_inc(e->no_response, 1);
		break;
	case KT_STATUS_UNANSWERED:
		if (!e->unanswered)
			e->unanswered = kt_series(m->f[KT_F_UNANSWERED], (const char *const[]){
				api, broker_of(m, &x->conn) });
		kt_inc(e->unanswered, 1);
		break;
	}
	if (an)
		km_annot(m, x, an, api, cid);
}

struct sync_ctx {
	struct kt_kmetrics *m;
};

/*
 * The group families are rebuilt from the tracker at each sync, so a series
 * starts at 0: kt_inc sums the groups past the label budget into "other"
 * (members, lag records), lag seconds take their maximum, and "other" has
 * no generation (a max over unrelated groups means nothing).
 *
 * Nor has it rebalances: a counter must never go down, and a sum over the
 * groups in "other" does whenever one of them leaves it (the tracker
 * forgets it, or a sweep gives it its own value), which Prometheus reads
 * as a reset (increase() would count the whole sum again). Keeping "other"
 * monotonic would take each folded group's last count, state per group
 * past the budget that the budget is there to avoid; a plain max would
 * hide the rebalances after a drop. So only the groups the budget admits
 * have the counter, each the tracker's own (monotonic while it tracks the
 * group; forgotten, its series goes).
 */
static void on_group(void *ctx, const char *group, int members, int32_t generation,
		     uint64_t rebalances)
{
	struct kt_kmetrics *m = ((struct sync_ctx *)ctx)->m;
	const char *const v[] = { group };

	kt_inc(kt_series(m->f[KT_F_GROUP_MEMBERS], v), members);
	if (kt_reg_label_admits(m->reg, "group", group)) {
		kt_set(kt_series(m->f[KT_F_GROUP_GENERATION], v), generation);
		kt_inc(kt_series(m->f[KT_F_GROUP_REBALANCES], v), rebalances);
	}
}

static void on_lag(void *ctx, const char *group, const char *topic, int64_t records,
		   double seconds)
{
	struct kt_kmetrics *m = ((struct sync_ctx *)ctx)->m;
	const char *const v[] = { group, topic };
	struct kt_series *s;

	kt_inc(kt_series(m->f[KT_F_LAG_RECORDS], v), records);
	if (!isnan(seconds)) {
		s = kt_series(m->f[KT_F_LAG_SECONDS], v);
		if (s && seconds > kt_value(s))
			kt_set(s, seconds);
	}
}

static void touch_group(void *ctx, const char *group, int members, int32_t generation,
			uint64_t rebalances)
{
	kt_reg_label_admits(((struct sync_ctx *)ctx)->m->reg, "group", group);
}

void kt_km_sync_groups(struct kt_kmetrics *m, struct kt_groups *g, uint64_t now_ns)
{
	const struct kt_groups_stats *st;
	struct sync_ctx c = { m };
	size_t i;

	if (!g)
		return;
	/*
	 * What exists now: groups and topics that are gone disappear, and so
	 * do their group label values, which frees the budget for new groups
	 * (these five families are the label's only users).
	 */
	kt_reg_label_mark(m->reg, "group");
	kt_family_clear(m->f[KT_F_GROUP_MEMBERS]);
	kt_family_clear(m->f[KT_F_GROUP_GENERATION]);
	kt_family_clear(m->f[KT_F_GROUP_REBALANCES]);
	kt_family_clear(m->f[KT_F_LAG_RECORDS]);
	kt_family_clear(m->f[KT_F_LAG_SECONDS]);
	kt_groups_foreach_at(g, now_ns, touch_group, &c);	/* keep the admitted */
	kt_reg_label_sweep(m->reg, "group");			/* free the gone */
	kt_groups_foreach_at(g, now_ns, on_group, &c);
	kt_groups_foreach_lag(g, now_ns, on_lag, &c);
	st = kt_groups_stats(g);
	const struct { const char *table; uint64_t n; } ev[] = {
		{ "groups", st->group_evictions },
		{ "group_members", st->member_evictions },
		{ "partitions", st->partition_evictions },
		{ "topic_ids", st->topic_id_evictions },
		{ "committed_offsets", st->offset_evictions },
	};

	for (i = 0; i < ARRAY_SIZE(ev); i++)
		kt_set(kt_series(m->f[KT_F_TRACKER_EVICTIONS], (const char *const[]){ ev[i].table }),
		       ev[i].n);
}

void kt_km_conn(struct kt_kmetrics *m, const struct kt_conn *c, bool opened)
{
	struct kt_series *s = kt_series(m->f[KT_F_CONNECTIONS],
					(const char *const[]){ broker_of(m, c) });

	kt_inc(s, opened ? 1 : -1);
}

void kt_km_sync(struct kt_kmetrics *m, const uint64_t *k, const struct kt_agent_stats *st)
{
	int i;

	if (k) {
		for (i = 0; i < KT_C_MAX; i++)
			kt_set(m->kseries[i], 0);
		for (i = 0; i < KT_C_MAX; i++)
			kt_inc(m->kseries[i], k[i]);
	}
	if (st) {
		kt_set(kt_series(m->f[KT_F_PENDING_EVICTIONS], NULL), st->pending_evictions);
		kt_set(kt_series(m->f[KT_F_CONN_EVICTIONS], NULL), st->conn_evictions);
		kt_set(kt_series(m->f[KT_F_UNMATCHED], NULL), st->unmatched_responses);
		kt_set(kt_series(m->f[KT_F_INCOMPLETE_CAPTURES], NULL), st->capture_incomplete);
		kt_set(kt_series(m->f[KT_F_ALLOC_FAILURES], NULL), st->alloc_failures);
	}
}

char *kt_km_render(struct kt_kmetrics *m, bool openmetrics, size_t *len)
{
	return kt_reg_render(m->reg, openmetrics, len);
}

struct kt_registry *kt_km_registry(struct kt_kmetrics *m)
{
	return m->reg;
}
