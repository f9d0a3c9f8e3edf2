// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The consumer group families against the label budget (user/metrics/model.c,
 * user/metrics/registry.c): groups past the budget are summed into "other", the
 * budget follows the groups the tracker holds (a group it forgets frees
 * its label value), counters never go down, and the tracker's evictions
 * are exported. Also the label overflow counter and the topic series cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kafkatap.h"
#include "lib/util.h"
#include "decode/observe.h"
#include "metrics/model.h"
#include "metrics/registry.h"
#include "pair/agent.h"
#include "track/groups.h"

#define SEC 1000000000ULL

static struct kt_s S(const char *s)
{
	return (struct kt_s){ s, (int)strlen(s) };
}

/* Join `n` members m0..m(n-1) to `group` at `gen` (a leader response). */
static void join_gen(struct kt_groups *g, const char *group, int32_t gen, int n, uint64_t ts)
{
	static const char *const names[] = { "m0", "m1", "m2", "m3" };
	struct kt_s ms[4];
	int i;

	for (i = 0; i < n; i++)
		ms[i] = S(names[i]);
	kt_groups_joined(g, S(group), S("m0"), gen, ms, n, ts);
}

static void join(struct kt_groups *g, const char *group, int n, uint64_t ts)
{
	join_gen(g, group, 1, n, ts);
}

/* Sum of the values of `family` lines, their count, and the value for `group`. */
struct scan {
	double sum, mine;
	int lines;
	bool found;
};

static struct scan scan(const char *text, const char *family, const char *group)
{
	struct scan r = { 0 };
	char want[128], key[512];
	const char *p = text;

	snprintf(want, sizeof(want), "%s{group=\"", family);
	snprintf(key, sizeof(key), "%s{group=\"%s\"} ", family, group);
	while ((p = strstr(p, want))) {
		const char *sp = strchr(p, ' ');

		assert_non_null(sp);
		r.sum += strtod(sp + 1, NULL);
		r.lines++;
		if (!strncmp(p, key, strlen(key))) {
			r.found = true;
			r.mine = strtod(sp + 1, NULL);
		}
		p = sp;
	}
	return r;
}

/*
 * A group tracker holding `tracked` groups, and the metrics beside it whose
 * group label admits `label_groups` values and topic label `label_topics`
 * (0: the default).
 */
struct fx {
	struct kt_groups *g;
	struct kt_kmetrics *m;
};

static struct fx fx_new(uint32_t tracked, uint32_t label_groups, uint32_t label_topics)
{
	struct kt_km_cfg kc = KT_KM_CFG_DEFAULT;
	struct kt_groups_cfg gc = { .max_groups = tracked, .max_members_per_group = 16,
				    .max_partitions = 64, .max_topic_ids = 8 };
	struct fx f;

	if (label_groups)
		kc.max_groups = label_groups;
	if (label_topics)
		kc.max_topics = label_topics;
	f.g = kt_groups_new(&gc);
	f.m = kt_km_new(&kc);
	assert_non_null(f.g);
	assert_non_null(f.m);
	return f;
}

static void fx_free(struct fx *f)
{
	kt_km_free(f->m);
	kt_groups_free(f->g);
}

static char *render(struct kt_kmetrics *m)
{
	size_t len;
	char *t = kt_km_render(m, false, &len);

	assert_non_null(t);
	return t;
}

static void test_other_sums(void **state)
{
	struct fx f = fx_new(8, 2, 0);
	struct kt_groups *g = f.g;
	struct kt_kmetrics *m = f.m;
	struct scan s, o;
	char *t;

	join(g, "gA", 1, 1 * SEC);
	join(g, "gB", 2, 2 * SEC);
	join(g, "gC", 3, 3 * SEC);
	kt_km_sync_groups(m, g, 4 * SEC);
	t = render(m);
	s = scan(t, "kafkatap_consumer_group_members", "other");
	assert_int_equal(s.lines, 3);		/* two groups and "other" */
	assert_true(s.found);
	assert_true(s.sum == 6);		/* every member, once */
	o = scan(t, "kafkatap_consumer_group_generation", "other");
	assert_false(o.found);			/* no generation for a mix of groups */
	assert_int_equal(o.lines, 2);
	free(t);

	/* Again: rebuilt, not added up across syncs. */
	kt_km_sync_groups(m, g, 5 * SEC);
	t = render(m);
	s = scan(t, "kafkatap_consumer_group_members", "other");
	assert_true(s.sum == 6);
	free(t);
	fx_free(&f);
}

static void test_budget_follows_tracker(void **state)
{
	struct fx f = fx_new(2, 2, 0);
	struct kt_groups *g = f.g;
	struct kt_kmetrics *m = f.m;
	struct scan s;
	char *t;
	int i;

	join(g, "gA", 1, 1 * SEC);
	join(g, "gB", 2, 2 * SEC);
	kt_km_sync_groups(m, g, 3 * SEC);
	/* Groups come and go (kcat -G, console consumers): each new one takes
	 * the label value of the one the tracker forgot, never "other". */
	for (i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "tmp%d", i);
		join(g, name, 1, (4 + i) * SEC);
		kt_km_sync_groups(m, g, (4 + i) * SEC);
		t = render(m);
		s = scan(t, "kafkatap_consumer_group_members", name);
		assert_true(s.found);
		assert_int_equal(s.lines, 2);
		assert_false(scan(t, "kafkatap_consumer_group_members", "other").found);
		free(t);
	}
	t = render(m);
	assert_non_null(strstr(t, "kafkatap_tracker_evictions_total{table=\"groups\"} 20\n"));
	assert_non_null(strstr(t, "kafkatap_label_overflow_total{label=\"group\"} 0\n"));
	free(t);
	fx_free(&f);
}

/*
 * A counter never goes down between scrapes (Prometheus would read a
 * reset). gB (2 rebalances) is past the budget at the first scrape, then
 * gets the label value of gA, which the tracker forgot: a sum of the
 * groups in "other" would drop from 2 to 0.
 */
static void test_rebalances_never_decrease(void **state)
{
	static const char *const names[] = { "gA", "gB", "gC", "other" };
	struct fx f = fx_new(2, 1, 0);
	struct kt_groups *g = f.g;
	struct kt_kmetrics *m = f.m;
	char *t1, *t2;
	size_t i;

	join_gen(g, "gA", 1, 1, 1 * SEC);
	join_gen(g, "gB", 1, 1, 2 * SEC);
	join_gen(g, "gB", 2, 1, 3 * SEC);
	join_gen(g, "gB", 3, 1, 4 * SEC);	/* 2 rebalances */
	kt_km_sync_groups(m, g, 5 * SEC);
	t1 = render(m);
	join_gen(g, "gC", 1, 1, 6 * SEC);	/* the tracker forgets gA */
	kt_km_sync_groups(m, g, 7 * SEC);
	t2 = render(m);
	assert_true(scan(t2, "kafkatap_consumer_group_members", "gB").found);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct scan a = scan(t1, "kafkatap_consumer_group_rebalances_total", names[i]);
		struct scan b = scan(t2, "kafkatap_consumer_group_rebalances_total", names[i]);

		if (a.found && b.found && b.mine < a.mine)
			fail_msg("rebalances{group=\"%s\"} went down: %g -> %g", names[i], a.mine,
				 b.mine);
	}
	assert_true(scan(t2, "kafkatap_consumer_group_rebalances_total", "gB").mine == 2);
	free(t1);
	free(t2);
	fx_free(&f);
}

/*
 * A group id longer than the lookup's old stack buffer (~170 bytes): once
 * admitted it has its generation, and it keeps its label value at the next
 * sync even when another group is read first.
 */
static void test_long_group_id(void **state)
{
	struct fx f = fx_new(4, 1, 0);
	struct kt_groups *g = f.g;
	struct kt_kmetrics *m = f.m;
	char name[301];
	char *t;

	memset(name, 'L', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	join(g, name, 1, 1 * SEC);
	kt_km_sync_groups(m, g, 2 * SEC);
	t = render(m);
	assert_true(scan(t, "kafkatap_consumer_group_members", name).found);
	assert_true(scan(t, "kafkatap_consumer_group_generation", name).found);
	free(t);
	/* gX comes, then the long group is active again: gX is read first. */
	join(g, "gX", 2, 3 * SEC);
	kt_groups_heartbeat(g, S(name), S("m0"), 1, 0, 4 * SEC);
	kt_km_sync_groups(m, g, 5 * SEC);
	t = render(m);
	assert_true(scan(t, "kafkatap_consumer_group_members", name).found);
	assert_true(scan(t, "kafkatap_consumer_group_generation", name).found);
	assert_false(scan(t, "kafkatap_consumer_group_members", "gX").found);
	assert_true(scan(t, "kafkatap_consumer_group_members", "other").mine == 2);
	free(t);
	fx_free(&f);
}

/* One Produce exchange from client "c" with one partition per topic. */
static void produce(struct kt_kmetrics *m, const char *const *topics, uint32_t n)
{
	struct kt_exchange x = { 0 };
	struct kt_annot an = { 0 };
	struct kt_tp *tps = calloc(n, sizeof(*tps));
	uint32_t i;

	assert_non_null(tps);
	x.conn.family = 4;
	x.conn.broker_port = 9092;
	x.api_key = 0;	/* Produce */
	x.api_version = 9;
	x.req_size = 100;
	x.resp_size = 50;
	x.client_id_len = 1;
	strcpy(x.client_id, "c");
	x.status = KT_STATUS_OK;
	for (i = 0; i < n; i++)
		tps[i] = (struct kt_tp){ .topic = topics[i], .has_data = true, .records = 1,
					 .bytes = 10 };
	an.req_decoded = an.resp_decoded = true;
	an.tps = tps;
	an.ntp = an.tps_cap = n;
	kt_km_exchange(m, &x, &an);
	free(tps);
}

static uint64_t overflows(struct kt_kmetrics *m, const char *label)
{
	return kt_reg_overflows(kt_km_registry(m), label);
}

/*
 * kafkatap_label_overflow_total counts lookups that found the budget spent:
 * a cached series once, the group series at every scrape. Its HELP says so.
 */
static void test_overflow_counts_lookups(void **state)
{
	struct fx f = fx_new(4, 1, 1);
	struct kt_groups *g = f.g;
	struct kt_kmetrics *m = f.m;
	const char *help;
	uint64_t before;
	char *t;
	int i;

	produce(m, (const char *const[]){ "t0" }, 1);
	assert_int_equal(overflows(m, "topic"), 0);
	produce(m, (const char *const[]){ "t1" }, 1);
	before = overflows(m, "topic");				/* one per family */
	assert_true(before > 0);
	for (i = 0; i < 3; i++)
		produce(m, (const char *const[]){ "t1" }, 1);
	assert_int_equal(overflows(m, "topic"), before);	/* cached: no lookup */
	/* The next topic past the budget counts as many: the first counted too. */
	produce(m, (const char *const[]){ "t2" }, 1);
	assert_int_equal(overflows(m, "topic"), 2 * before);

	join(g, "gA", 1, 1 * SEC);
	join(g, "gB", 1, 2 * SEC);
	kt_km_sync_groups(m, g, 3 * SEC);
	for (i = 0; i < 2; i++) {
		/* Again at every scrape: gB's one series past the budget (members). */
		before = overflows(m, "group");
		kt_km_sync_groups(m, g, (4 + i) * SEC);
		assert_int_equal(overflows(m, "group") - before, 1);
	}

	t = render(m);
	help = strstr(t, "# HELP kafkatap_label_overflow_total ");
	assert_non_null(help);
	assert_null(strstr(help, "counts updates"));
	assert_non_null(strstr(help, "lookups"));
	free(t);
	fx_free(&f);
}

/*
 * A topic too long to keep in the topic cache must not push out the entry
 * of a cached one: after many such topics (one lands in every slot), the
 * cached series is still found without a lookup (no overflow counted).
 */
static void test_long_topic_keeps_cache(void **state)
{
	struct fx f = fx_new(1, 0, 1);	/* no groups here */
	struct kt_kmetrics *m = f.m;
	enum { NLONG = 4096 };
	const char **topics = calloc(NLONG, sizeof(*topics));
	char *names = calloc(NLONG, 301);
	char *t;
	uint64_t before;
	int i;

	assert_non_null(topics);
	assert_non_null(names);
	produce(m, (const char *const[]){ "t0" }, 1);
	produce(m, (const char *const[]){ "t1" }, 1);	/* "other", cached */
	for (i = 0; i < NLONG; i++) {
		char *s = names + (size_t)i * 301;

		memset(s, 'x', 300);
		snprintf(s, 301, "%d", i);
		s[strlen(s)] = 'x';
		topics[i] = s;
	}
	produce(m, topics, NLONG);
	before = overflows(m, "topic");
	produce(m, (const char *const[]){ "t1" }, 1);
	assert_int_equal(overflows(m, "topic"), before);
	/* Every record was counted all the same. */
	t = render(m);
	assert_non_null(strstr(t, "kafkatap_produced_records_total{topic=\"other\",client_id=\"c\"} "
			       "4098\n"));
	free(t);
	free(names);
	free(topics);
	fx_free(&f);
}

/*
 * Every kernel counter of KT_COUNTERS is on /metrics: its family with a
 * HELP, its series (its label value), and the value the kernel counted,
 * summed with the counters that share the series. A counter added without
 * an export, or two counters of a family with different label names, fail.
 */
static void test_every_kernel_counter_exported(void **state)
{
	static const struct {
		const char *stats, *family, *label, *value, *help;
	} k[] = {
#define X(e, stats, family, label, value, help) { stats, family, label, value, help },
		KT_COUNTERS(X)
#undef X
	};
	struct fx f = fx_new(1, 0, 0);
	uint64_t c[KT_C_MAX];
	char want[256], *t;
	int i, j;

	assert_int_equal(ARRAY_SIZE(k), KT_C_MAX);
	for (i = 0; i < KT_C_MAX; i++)
		c[i] = 1000 + 7 * i;
	kt_km_sync(f.m, c, NULL);
	t = render(f.m);
	for (i = 0; i < KT_C_MAX; i++) {
		const char *line;
		uint64_t sum = 0;

		assert_non_null(k[i].family);
		assert_true(k[i].help && *k[i].help);
		assert_true((k[i].label == NULL) == (k[i].value == NULL));
		for (j = 0; j < KT_C_MAX; j++) {
			if (strcmp(k[j].family, k[i].family))
				continue;
			/* One family, one label name. */
			assert_true(k[j].label == k[i].label ||
				    (k[j].label && k[i].label && !strcmp(k[j].label, k[i].label)));
			if (!k[i].value || !strcmp(k[j].value, k[i].value))
				sum += c[j];
		}
		snprintf(want, sizeof(want), "# HELP %s ", k[i].family);
		if (!strstr(t, want))
			fail_msg("counter %s: no HELP for %s", k[i].stats, k[i].family);
		if (k[i].label)
			snprintf(want, sizeof(want), "\n%s{%s=\"%s\"} %llu\n", k[i].family,
				 k[i].label, k[i].value, (unsigned long long)sum);
		else
			snprintf(want, sizeof(want), "\n%s %llu\n", k[i].family,
				 (unsigned long long)sum);
		line = strstr(t, want);
		if (!line)
			fail_msg("counter %s is not on /metrics as '%s'", k[i].stats, want + 1);
	}
	free(t);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_sums),
		cmocka_unit_test(test_budget_follows_tracker),
		cmocka_unit_test(test_rebalances_never_decrease),
		cmocka_unit_test(test_long_group_id),
		cmocka_unit_test(test_overflow_counts_lookups),
		cmocka_unit_test(test_long_topic_keeps_cache),
		cmocka_unit_test(test_every_kernel_counter_exported),
	};

	return cmocka_run_group_tests_name("kmetrics (group families, label budget, kernel "
					   "counters)", tests,
					   NULL, NULL);
}
