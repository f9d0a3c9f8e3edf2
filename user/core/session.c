// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "decode/observe.h"
#include "kernel/loader.h"
#include "track/groups.h"

#define GROUP_MAX_MEMBERS	1024
#define GROUP_MAX_PARTITIONS	65536
#define TOPIC_IDS_PER_TOPIC	4	/* topic ids kept per topic label value */
#define MEMBER_TIMEOUT_NS	(60ULL * 1000000000ULL)

struct kt_session {
	struct kt_agent *agent;
	struct kt_groups *groups;	/* with decoding */
	struct kt_observer *obs;
	struct kt_kmetrics *km;		/* with metrics */
	enum kt_need need;
	struct kt_capture_ask ask;
	kt_out_fn out;
	void *out_ctx;
};

static void on_exchange(void *ctx, const struct kt_exchange *x)
{
	struct kt_session *s = ctx;
	const struct kt_annot *an = s->obs ? kt_observer_exchange(s->obs, x) : NULL;

	if (s->km)
		kt_km_exchange(s->km, x, an);
	if (s->out)
		s->out(s->out_ctx, x, an);
}

static void on_conn(void *ctx, const struct kt_conn *c, bool opened)
{
	kt_km_conn(((struct kt_session *)ctx)->km, c, opened);
}

struct kt_session *kt_session_new(const struct kt_session_cfg *cfg)
{
	const struct kt_groups_cfg gc = {
		.max_groups = cfg->km.max_groups,
		.max_members_per_group = GROUP_MAX_MEMBERS,
		.max_partitions = GROUP_MAX_PARTITIONS,
		.max_topic_ids = cfg->km.max_topics * TOPIC_IDS_PER_TOPIC,
		.member_timeout_ns = MEMBER_TIMEOUT_NS,
	};
	struct kt_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->need = cfg->need;
	s->ask = cfg->ask;
	s->out = cfg->out;
	s->out_ctx = cfg->out_ctx;
	if (cfg->decode) {
		s->groups = kt_groups_new(&gc);
		s->obs = s->groups ? kt_observer_new(s->groups) : NULL;
		if (!s->obs)
			goto fail;
	}
	if (cfg->metrics) {
		s->km = kt_km_new(&cfg->km);
		if (!s->km)
			goto fail;
	}
	s->agent = kt_agent_new(&cfg->agent, on_exchange, s);
	if (!s->agent)
		goto fail;
	if (s->km)
		kt_agent_set_conn_cb(s->agent, on_conn);
	return s;
fail:
	kt_session_free(s);
	return NULL;
}

void kt_session_free(struct kt_session *s)
{
	if (!s)
		return;
	/* The agent hands out what it still holds: before what it feeds goes. */
	kt_agent_free(s->agent);
	kt_km_free(s->km);
	kt_observer_free(s->obs);
	kt_groups_free(s->groups);
	free(s);
}

struct kt_agent *kt_session_agent(struct kt_session *s)
{
	return s->agent;
}

void kt_session_capture(const struct kt_session *s, struct kt_policy *policy)
{
	int i;

	if (s->need == KT_NEED_DECODING)
		kt_default_capture(policy);
	else
		memset(policy, 0, KT_API_MAX * sizeof(*policy));	/* KT_CAP_HEADER */
	for (i = 0; i < KT_API_MAX; i++)
		if (s->ask.set[i])
			policy[i] = s->ask.policy[i];
}

char *kt_session_render(struct kt_session *s, const uint64_t *kernel, uint64_t now_ns,
			bool openmetrics, size_t *len)
{
	if (!s->km)
		return NULL;
	kt_km_sync(s->km, kernel, kt_agent_stats(s->agent));
	kt_km_sync_groups(s->km, s->groups, now_ns);
	return kt_km_render(s->km, openmetrics, len);
}

void kt_session_print_stats(const struct kt_session *s, FILE *f, const uint64_t *k)
{
	const struct kt_agent_stats *st = kt_agent_stats(s->agent);
	int i;

	fprintf(f, "kafkatap: kernel:");
	for (i = 0; i < KT_C_MAX; i++)
		if (k[i])
			fprintf(f, " %s=%llu", kt_counter_name(i), (unsigned long long)k[i]);
	fprintf(f, "\nkafkatap: agent: requests=%llu responses=%llu paired=%llu "
		"no_response=%llu unanswered(expired=%llu closed=%llu evicted=%llu exit=%llu) "
		"unmatched_responses=%llu duplicates=%llu pending_evictions=%llu "
		"conn_evictions=%llu capture_incomplete=%llu gaps=%llu alloc_failures=%llu\n",
		(unsigned long long)st->requests, (unsigned long long)st->responses,
		(unsigned long long)st->paired, (unsigned long long)st->no_response,
		(unsigned long long)st->unanswered[KT_REASON_EXPIRED],
		(unsigned long long)st->unanswered[KT_REASON_CLOSED],
		(unsigned long long)st->unanswered[KT_REASON_EVICTED],
		(unsigned long long)st->unanswered[KT_REASON_EXIT],
		(unsigned long long)st->unmatched_responses,
		(unsigned long long)st->duplicate_requests,
		(unsigned long long)st->pending_evictions,
		(unsigned long long)st->conn_evictions,
		(unsigned long long)st->capture_incomplete, (unsigned long long)st->gaps,
		(unsigned long long)st->alloc_failures);
	if (k[KT_C_RB_FAIL])
		fprintf(f, "kafkatap: WARNING: %llu records lost: the ring buffer was full "
			"(raise --ringbuf-mb)\n", (unsigned long long)k[KT_C_RB_FAIL]);
}
