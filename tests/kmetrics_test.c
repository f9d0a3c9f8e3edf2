// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The consumer group families against the label budget (user/kmetrics.c,
 * user/metrics.c): groups past the budget are summed into "other", the
 * budget follows the groups the tracker holds (a group it forgets frees
 * its label value), and the tracker's evictions are exported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "groups.h"
#include "kmetrics.h"

#define SEC 1000000000ULL

static struct kt_s S(const char *s)
{
	return (struct kt_s){ s, (int)strlen(s) };
}

/* Join `n` members m0..m(n-1) to `group` at generation 1 (a leader response). */
static void join(struct kt_groups *g, const char *group, int n, uint64_t ts)
{
	static const char *const names[] = { "m0", "m1", "m2", "m3" };
	struct kt_s ms[4];
	int i;

	for (i = 0; i < n; i++)
		ms[i] = S(names[i]);
	kt_groups_joined(g, S(group), S("m0"), 1, ms, n, ts);
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
	char want[128], key[160];
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

static char *render(struct kt_kmetrics *m)
{
	size_t len;
	char *t = kt_km_render(m, false, &len);

	assert_non_null(t);
	return t;
}

static void test_other_sums(void **state)
{
	struct kt_km_cfg kc = KT_KM_CFG_DEFAULT;
	struct kt_groups_cfg gc = { .max_groups = 8, .max_members_per_group = 16,
				    .max_partitions = 64, .max_topic_ids = 8 };
	struct kt_groups *g = kt_groups_new(&gc);
	struct kt_kmetrics *m;
	struct scan s, o;
	char *t;

	kc.max_groups = 2;
	m = kt_km_new(&kc);
	assert_non_null(g);
	assert_non_null(m);
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
	kt_km_free(m);
	kt_groups_free(g);
}

static void test_budget_follows_tracker(void **state)
{
	struct kt_km_cfg kc = KT_KM_CFG_DEFAULT;
	struct kt_groups_cfg gc = { .max_groups = 2, .max_members_per_group = 16,
				    .max_partitions = 64, .max_topic_ids = 8 };
	struct kt_groups *g = kt_groups_new(&gc);
	struct kt_kmetrics *m;
	struct scan s;
	char *t;
	int i;

	kc.max_groups = 2;
	m = kt_km_new(&kc);
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
	kt_km_free(m);
	kt_groups_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_sums),
		cmocka_unit_test(test_budget_follows_tracker),
	};

	return cmocka_run_group_tests_name("kmetrics (group families, label budget)", tests,
					   NULL, NULL);
}
