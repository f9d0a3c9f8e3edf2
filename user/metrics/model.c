// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto/apis.h"
#include "proto/kc.h"
#include "metrics/model.h"
#include "lib/addr.h"
#include "lib/hash.h"
#include "lib/util.h"

const double kt_duration_buckets[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const int kt_duration_nbuckets = ARRAY_SIZE(kt_duration_buckets);

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
	struct kt_family *requests, *duration, *req_bytes, *resp_bytes, *unanswered;
	struct kt_family *no_response, *connections, *lost, *resyncs, *gaps, *malformed;
	struct kt_family *late, *incomplete, *walk_failed, *tracker_evictions;
	struct kt_family *pending_evictions, *conn_evictions, *unmatched, *build_info;
	struct kt_family *packets, *retrans;
	/* Deep decoding (issue 4) */
	struct kt_family *produced_records, *produced_bytes, *fetched_records, *fetched_bytes;
	struct kt_family *partition_errors, *group_members, *group_generation, *group_rebalances;
	struct kt_family *lag_records, *lag_seconds, *client_info, *deprecated, *admin_ops;
	struct kt_family *sasl_mech, *invalid, *empty_fetches, *errors;
	/* The last broker formatted: consecutive exchanges share it mostly. */
	uint8_t last_addr[16];
	uint16_t last_port;
	uint8_t last_family;
	char last_broker[KT_ADDR_STRLEN];
};

static const char *const L_API_BROKER[] = { "api", "broker" };
static const char *const L_REQ[] = { "api", "api_version", "client_id", "broker" };
static const char *const L_BYTES[] = { "api", "client_id", "broker" };
static const char *const L_BROKER[] = { "broker" };
static const char *const L_REASON[] = { "reason" };
static const char *const L_VERSION[] = { "version" };
static const char *const L_TOPIC_CID[] = { "topic", "client_id" };
static const char *const L_PERR[] = { "api", "topic", "error" };
static const char *const L_GROUP[] = { "group" };
static const char *const L_GROUP_TOPIC[] = { "group", "topic" };
static const char *const L_SOFTWARE[] = { "client_id", "software_name", "software_version" };
static const char *const L_DEPRECATED[] = { "api", "api_version", "client_id" };
static const char *const L_API_CID[] = { "api", "client_id" };
static const char *const L_SASL[] = { "client_id", "mechanism" };
static const char *const L_API_ERR[] = { "api", "error" };
static const char *const L_TABLE[] = { "table" };

struct kt_kmetrics *kt_km_new(const struct kt_km_cfg *cfg)
{
	struct kt_kmetrics *m = calloc(1, sizeof(*m));
	struct kt_registry *r;

	if (!m)
		return NULL;
	r = m->reg = kt_reg_new(1024, cfg->max_series);
	m->cache = calloc(SERIES_CACHE, sizeof(*m->cache));
	m->tcache = calloc(TOPIC_CACHE, sizeof(*m->tcache));
	if (!r || !m->cache || !m->tcache) {
		kt_reg_free(r);
		free(m->cache);
		free(m->tcache);
		free(m);
		return NULL;
	}
	kt_reg_label_cap(r, "client_id", cfg->max_client_ids);
	kt_reg_label_cap(r, "broker", cfg->max_brokers);
	kt_reg_label_cap(r, "topic", cfg->max_topics);
	kt_reg_label_cap(r, "group", cfg->max_groups);
	m->requests = kt_reg_family(r, "kafkatap_requests_total",
		"Kafka requests seen on the wire, counted when answered, known to get no "
		"response (acks=0) or given up", KT_COUNTER, 4, L_REQ, NULL, 0);
	m->duration = kt_reg_family(r, "kafkatap_request_duration_seconds",
		"Time from a request's first byte to its response's first byte, as seen "
		"at the TC hook; paired requests only", KT_HISTOGRAM, 2, L_API_BROKER,
		kt_duration_buckets, kt_duration_nbuckets);
	m->req_bytes = kt_reg_family(r, "kafkatap_request_bytes_total",
		"Bytes of Kafka request frames (the size field plus its 4 bytes)",
		KT_COUNTER, 3, L_BYTES, NULL, 0);
	m->resp_bytes = kt_reg_family(r, "kafkatap_response_bytes_total",
		"Bytes of Kafka response frames (the size field plus its 4 bytes)",
		KT_COUNTER, 3, L_BYTES, NULL, 0);
	m->unanswered = kt_reg_family(r, "kafkatap_unanswered_requests_total",
		"Requests that expected a response and got none: expired, or the "
		"connection closed first", KT_COUNTER, 2, L_API_BROKER, NULL, 0);
	m->no_response = kt_reg_family(r, "kafkatap_no_response_requests_total",
		"Requests that expect no response (Produce with acks=0) and got none",
		KT_COUNTER, 2, L_API_BROKER, NULL, 0);
	m->connections = kt_reg_family(r, "kafkatap_connections",
		"Client connections to each broker that kafkatap tracks", KT_GAUGE, 1,
		L_BROKER, NULL, 0);
	m->lost = kt_reg_family(r, "kafkatap_lost_events_total",
		"Records the kernel could not hand over: the ring buffer was full",
		KT_COUNTER, 0, NULL, NULL, 0);
	m->resyncs = kt_reg_family(r, "kafkatap_stream_resyncs_total",
		"Streams whose frame boundaries were found again mid-stream (no SYN seen, "
		"or after a gap)", KT_COUNTER, 0, NULL, NULL, 0);
	m->gaps = kt_reg_family(r, "kafkatap_stream_gaps_total",
		"Sequence gaps (lost segments): the stream's state was dropped", KT_COUNTER,
		0, NULL, NULL, 0);
	m->tracker_evictions = kt_reg_family(r, "kafkatap_tracker_evictions_total",
		"Entries the consumer group tracker dropped, its tables full (groups: the "
		"least recently active group past --max-groups)", KT_COUNTER, 1, L_TABLE,
		NULL, 0);
	m->late = kt_reg_family(r, "kafkatap_late_frames_total",
		"Frames found in a retransmission that filled a sequence gap, reported "
		"late and header-only", KT_COUNTER, 0, NULL, NULL, 0);
	m->incomplete = kt_reg_family(r, "kafkatap_incomplete_captures_total",
		"Frame captures that did not all arrive (ring buffer full, a gap, a walk off "
		"schema): decoded from what came", KT_COUNTER, 0, NULL, NULL, 0);
	m->walk_failed = kt_reg_family(r, "kafkatap_structure_walk_failures_total",
		"Produce requests and Fetch responses the kernel found off their schema "
		"(STRUCTURE capture stopped; no record byte sent)", KT_COUNTER, 0, NULL, NULL, 0);
	m->malformed = kt_reg_family(r, "kafkatap_malformed_frames_total",
		"Frames on a broker port that are not Kafka, by the check that failed",
		KT_COUNTER, 1, L_REASON, NULL, 0);
	m->pending_evictions = kt_reg_family(r, "kafkatap_pending_evictions_total",
		"Requests dropped from the full pending table", KT_COUNTER, 0, NULL, NULL, 0);
	m->conn_evictions = kt_reg_family(r, "kafkatap_connection_evictions_total",
		"Connections dropped from the full connection table", KT_COUNTER, 0, NULL,
		NULL, 0);
	m->unmatched = kt_reg_family(r, "kafkatap_unmatched_responses_total",
		"Responses with no request waiting for them", KT_COUNTER, 0, NULL, NULL, 0);
	m->packets = kt_reg_family(r, "kafkatap_packets_total",
		"TCP packets on broker ports that the kernel program looked at", KT_COUNTER,
		0, NULL, NULL, 0);
	m->retrans = kt_reg_family(r, "kafkatap_duplicate_segments_total",
		"Segments seen before (retransmissions, or one packet seen at two hooks)",
		KT_COUNTER, 0, NULL, NULL, 0);
	m->build_info = kt_reg_family(r, "kafkatap_build_info",
		"kafkatap's version", KT_INFO, 1, L_VERSION, NULL, 0);
	m->produced_records = kt_reg_family(r, "kafkatap_produced_records_total",
		"Records produced, in partitions the broker acknowledged without error "
		"(acks=0: every record sent)", KT_COUNTER, 2, L_TOPIC_CID, NULL, 0);
	m->produced_bytes = kt_reg_family(r, "kafkatap_produced_bytes_total",
		"Record batch bytes produced as sent (compressed), as for "
		"kafkatap_produced_records_total", KT_COUNTER, 2, L_TOPIC_CID, NULL, 0);
	m->fetched_records = kt_reg_family(r, "kafkatap_fetched_records_total",
		"Records in complete record batches of Fetch responses", KT_COUNTER, 2,
		L_TOPIC_CID, NULL, 0);
	m->fetched_bytes = kt_reg_family(r, "kafkatap_fetched_bytes_total",
		"Bytes of complete record batches in Fetch responses (compressed)",
		KT_COUNTER, 2, L_TOPIC_CID, NULL, 0);
	m->partition_errors = kt_reg_family(r, "kafkatap_partition_errors_total",
		"Partitions answered with an error, by Kafka's error name", KT_COUNTER, 3,
		L_PERR, NULL, 0);
	m->group_members = kt_reg_family(r, "kafkatap_consumer_group_members",
		"Members of each consumer group (JoinGroup/SyncGroup/Heartbeat/LeaveGroup, "
		"ConsumerGroupHeartbeat)", KT_GAUGE, 1, L_GROUP, NULL, 0);
	m->group_generation = kt_reg_family(r, "kafkatap_consumer_group_generation",
		"Each consumer group's generation (or KIP-848 member epoch)", KT_GAUGE, 1,
		L_GROUP, NULL, 0);
	m->group_rebalances = kt_reg_family(r, "kafkatap_consumer_group_rebalances_total",
		"New generations observed for each consumer group", KT_COUNTER, 1, L_GROUP,
		NULL, 0);
	m->lag_records = kt_reg_family(r, "kafkatap_consumer_group_lag_records",
		"Sum over the topic's partitions of high watermark (latest Fetch or ListOffsets "
		"response) minus the group's committed offset (latest OffsetCommit or "
		"OffsetFetch)", KT_GAUGE, 2, L_GROUP_TOPIC, NULL, 0);
	m->lag_seconds = kt_reg_family(r, "kafkatap_consumer_group_lag_seconds",
		"Best-effort time lag: max over partitions of the newest batch timestamp seen "
		"minus the timestamp of the batch holding the committed offset",
		KT_GAUGE, 2, L_GROUP_TOPIC, NULL, 0);
	m->client_info = kt_reg_family(r, "kafkatap_client_info",
		"Client software announced in ApiVersions v3+ requests", KT_INFO, 3,
		L_SOFTWARE, NULL, 0);
	m->deprecated = kt_reg_family(r, "kafkatap_deprecated_requests_total",
		"Requests in versions the specs mark deprecated", KT_COUNTER, 3,
		L_DEPRECATED, NULL, 0);
	m->admin_ops = kt_reg_family(r, "kafkatap_admin_operations_total",
		"Admin requests (topics, configs, ACLs, groups, partitions, records)",
		KT_COUNTER, 2, L_API_CID, NULL, 0);
	m->sasl_mech = kt_reg_family(r, "kafkatap_sasl_mechanism_info",
		"SASL mechanism each client asked for (SaslHandshake)", KT_INFO, 2, L_SASL,
		NULL, 0);
	m->invalid = kt_reg_family(r, "kafkatap_invalid_requests_total",
		"Requests that fail validation against the specs", KT_COUNTER, 1, L_REASON,
		NULL, 0);
	m->empty_fetches = kt_reg_family(r, "kafkatap_empty_fetches_total",
		"Fetch responses with no records (long polls): kept out of the Fetch latency "
		"histogram", KT_COUNTER, 1, L_BROKER, NULL, 0);
	m->errors = kt_reg_family(r, "kafkatap_errors_total",
		"Responses whose top-level error code is not NONE, by Kafka's error name",
		KT_COUNTER, 2, L_API_ERR, NULL, 0);
	kt_series(m->build_info, (const char *const[]){ KAFKATAP_VERSION });
	if (!m->requests || !m->build_info) {
		kt_km_free(m);
		return NULL;
	}
	return m;
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
	records = kt_series(api_key == KAFKA_API_PRODUCE ? m->produced_records : m->fetched_records,
			    (const char *const[]){ topic, cid });
	bytes = kt_series(api_key == KAFKA_API_PRODUCE ? m->produced_bytes : m->fetched_bytes,
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
			kt_inc(kt_series(m->partition_errors, (const char *const[]){
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
		kt_inc(kt_series(m->invalid, (const char *const[]){ an->invalid }), 1);
	if (an->has_error && an->error)
		kt_inc(kt_series(m->errors, (const char *const[]){
			api, error_name(an->error, ebuf, sizeof(ebuf)) }), 1);
	if (an->deprecated) {
		snprintf(ver, sizeof(ver), "%d", x->api_version);
		kt_inc(kt_series(m->deprecated, (const char *const[]){ api, ver, cid }), 1);
	}
	if (an->admin)
		kt_inc(kt_series(m->admin_ops, (const char *const[]){ api, cid }), 1);
	if (an->sw_name)
		kt_set(kt_series(m->client_info, (const char *const[]){ cid, an->sw_name,
								      an->sw_version }), 1);
	if (an->mechanism)
		kt_set(kt_series(m->sasl_mech, (const char *const[]){ cid, an->mechanism }), 1);
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
	e->requests = kt_series(m->requests, (const char *const[]){ api, ver, cid, broker });
	e->req_bytes = kt_series(m->req_bytes, (const char *const[]){ api, cid, broker });
	e->resp_bytes = kt_series(m->resp_bytes, (const char *const[]){ api, cid, broker });
	e->duration = kt_series(m->duration, (const char *const[]){ api, broker });
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
				e->empty_fetches = kt_series(m->empty_fetches, (const char *const[]){
					broker_of(m, &x->conn) });
			kt_inc(e->empty_fetches, 1);
		} else {
			kt_observe(e->duration, (double)(x->resp_ts_ns - x->req_ts_ns) / 1e9);
		}
		break;
	case KT_STATUS_NO_RESPONSE:
		if (!e->no_response)
			e->no_response = kt_series(m->no_response, (const char *const[]){
				api, broker_of(m, &x->conn) });
		kt_inc(e->no_response, 1);
		break;
	case KT_STATUS_UNANSWERED:
		if (!e->unanswered)
			e->unanswered = kt_series(m->unanswered, (const char *const[]){
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

	kt_inc(kt_series(m->group_members, v), members);
	if (kt_reg_label_admits(m->reg, "group", group)) {
		kt_set(kt_series(m->group_generation, v), generation);
		kt_inc(kt_series(m->group_rebalances, v), rebalances);
	}
}

static void on_lag(void *ctx, const char *group, const char *topic, int64_t records,
		   double seconds)
{
	struct kt_kmetrics *m = ((struct sync_ctx *)ctx)->m;
	const char *const v[] = { group, topic };
	struct kt_series *s;

	kt_inc(kt_series(m->lag_records, v), records);
	if (!isnan(seconds)) {
		s = kt_series(m->lag_seconds, v);
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
	kt_family_clear(m->group_members);
	kt_family_clear(m->group_generation);
	kt_family_clear(m->group_rebalances);
	kt_family_clear(m->lag_records);
	kt_family_clear(m->lag_seconds);
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
		kt_set(kt_series(m->tracker_evictions, (const char *const[]){ ev[i].table }),
		       ev[i].n);
}

void kt_km_conn(struct kt_kmetrics *m, const struct kt_conn *c, bool opened)
{
	struct kt_series *s = kt_series(m->connections,
					(const char *const[]){ broker_of(m, c) });

	kt_inc(s, opened ? 1 : -1);
}

void kt_km_sync(struct kt_kmetrics *m, const uint64_t *k, const struct kt_agent_stats *st)
{
	static const struct { int idx; const char *reason; } mal[] = {
		{ KT_C_MAL_SIZE, "size" },
		{ KT_C_MAL_API_KEY, "api_key" },
		{ KT_C_MAL_VERSION, "api_version" },
		{ KT_C_MAL_CORR_ID, "correlation_id" },
		{ KT_C_MAL_CLIENT_ID, "client_id" },
	};
	size_t i;

	if (k) {
		kt_set(kt_series(m->lost, NULL), k[KT_C_RB_FAIL]);
		kt_set(kt_series(m->resyncs, NULL), k[KT_C_RESYNCS]);
		kt_set(kt_series(m->gaps, NULL), k[KT_C_GAPS]);
		kt_set(kt_series(m->late, NULL), k[KT_C_LATE_FRAMES]);
		kt_set(kt_series(m->walk_failed, NULL), k[KT_C_WALK_FAILED]);
		kt_set(kt_series(m->packets, NULL), k[KT_C_PACKETS]);
		kt_set(kt_series(m->retrans, NULL), k[KT_C_RETRANS] + k[KT_C_OVERLAPS]);
		for (i = 0; i < ARRAY_SIZE(mal); i++)
			kt_set(kt_series(m->malformed, (const char *const[]){ mal[i].reason }),
			       k[mal[i].idx]);
	}
	if (st) {
		kt_set(kt_series(m->pending_evictions, NULL), st->pending_evictions);
		kt_set(kt_series(m->conn_evictions, NULL), st->conn_evictions);
		kt_set(kt_series(m->unmatched, NULL), st->unmatched_responses);
		kt_set(kt_series(m->incomplete, NULL), st->capture_incomplete);
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
