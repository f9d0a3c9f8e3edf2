// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The consumer group tracker (user/track/groups.c): membership, generations and
 * rebalances (classic and KIP-848), member timeout, lag in records and
 * seconds, topic IDs, caps and evictions, string copies; and large groups
 * through the decoder (user/decode/), from JoinGroup frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "decode/observe.h"
#include "pair/agent.h"
#include "proto/apis.h"
#include "proto/kc.h"
#include "track/groups.h"

#define SEC 1000000000ULL

/* A view of a C string, without its NUL. */
static struct kt_s S(const char *s)
{
	return (struct kt_s){ s, (int)strlen(s) };
}

/* What the read callbacks reported. */
#define MAX_ROWS 64

struct grow {
	char name[64];
	int members;
	int32_t gen;
	uint64_t rebalances;
};

struct lrow {
	char group[64], topic[64];
	int64_t records;
	double seconds;
};

struct rows {
	struct grow g[MAX_ROWS];
	int ng;
	struct lrow l[MAX_ROWS];
	int nl;
};

static void on_group(void *ctx, const char *group, int members, int32_t generation, uint64_t rebalances)
{
	struct rows *r = ctx;
	struct grow *w;

	assert_true(r->ng < MAX_ROWS);
	w = &r->g[r->ng++];
	snprintf(w->name, sizeof(w->name), "%s", group);
	w->members = members;
	w->gen = generation;
	w->rebalances = rebalances;
}

static void on_lag(void *ctx, const char *group, const char *topic, int64_t lag_records, double lag_seconds)
{
	struct rows *r = ctx;
	struct lrow *w;

	assert_true(r->nl < MAX_ROWS);
	w = &r->l[r->nl++];
	snprintf(w->group, sizeof(w->group), "%s", group);
	snprintf(w->topic, sizeof(w->topic), "%s", topic);
	w->records = lag_records;
	w->seconds = lag_seconds;
}

static struct rows rows;

static const struct grow *group_at(struct kt_groups *g, uint64_t now, const char *name)
{
	int i;

	rows.ng = 0;
	kt_groups_foreach_at(g, now, on_group, &rows);
	for (i = 0; i < rows.ng; i++)
		if (!strcmp(rows.g[i].name, name))
			return &rows.g[i];
	return NULL;
}

static void expect_group(struct kt_groups *g, uint64_t now, const char *name, int members, int32_t gen,
			 uint64_t rebalances)
{
	const struct grow *w = group_at(g, now, name);

	assert_non_null(w);
	assert_int_equal(w->members, members);
	assert_int_equal(w->gen, gen);
	assert_int_equal(w->rebalances, rebalances);
}

static void read_lag(struct kt_groups *g, uint64_t now)
{
	rows.nl = 0;
	kt_groups_foreach_lag(g, now, on_lag, &rows);
}

static const struct lrow *lag_of(const char *group, const char *topic)
{
	int i;

	for (i = 0; i < rows.nl; i++)
		if (!strcmp(rows.l[i].group, group) && !strcmp(rows.l[i].topic, topic))
			return &rows.l[i];
	return NULL;
}

static struct kt_groups *mk(uint32_t groups, uint32_t members, uint32_t parts, uint32_t ids,
			    uint64_t timeout)
{
	struct kt_groups_cfg c = {
		.max_groups = groups,
		.max_members_per_group = members,
		.max_partitions = parts,
		.max_topic_ids = ids,
		.member_timeout_ns = timeout,
	};
	struct kt_groups *g = kt_groups_new(&c);

	assert_non_null(g);
	return g;
}

static void test_classic_leader_lists(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 30 * SEC);
	struct kt_s l1[] = { S("A"), S("B") }, l2[] = { S("A"), S("B"), S("C") }, l3[] = { S("A"), S("B") };

	/* Two consumers: the leader's JoinGroup response lists both. */
	kt_groups_joined(g, S("app"), S("A"), 1, l1, 2, 1 * SEC);
	kt_groups_joined(g, S("app"), S("B"), 1, NULL, -1, 1 * SEC);
	kt_groups_synced(g, S("app"), S("A"), 1, 1 * SEC);
	kt_groups_synced(g, S("app"), S("B"), 1, 1 * SEC);
	kt_groups_heartbeat(g, S("app"), S("A"), 1, 0, 2 * SEC);
	expect_group(g, 2 * SEC, "app", 2, 1, 0);

	/* A third joins: generation 2, one rebalance observed. */
	kt_groups_joined(g, S("app"), S("C"), 2, NULL, -1, 3 * SEC);
	kt_groups_joined(g, S("app"), S("A"), 2, l2, 3, 3 * SEC);
	kt_groups_joined(g, S("app"), S("B"), 2, NULL, -1, 3 * SEC);
	expect_group(g, 3 * SEC, "app", 3, 2, 1);
	/* A late heartbeat of generation 1 changes nothing. */
	kt_groups_heartbeat(g, S("app"), S("Z"), 1, 0, 3 * SEC);
	expect_group(g, 3 * SEC, "app", 3, 2, 1);

	/* C leaves: one fewer at once, then generation 3 of two. */
	kt_groups_left(g, S("app"), S("C"), 4 * SEC);
	expect_group(g, 4 * SEC, "app", 2, 2, 1);
	kt_groups_joined(g, S("app"), S("A"), 3, l3, 2, 5 * SEC);
	kt_groups_joined(g, S("app"), S("B"), 3, NULL, -1, 5 * SEC);
	expect_group(g, 5 * SEC, "app", 2, 3, 2);

	/* A leader's list is exact: members not in it are gone. */
	kt_groups_synced(g, S("app"), S("X"), 3, 6 * SEC);
	expect_group(g, 6 * SEC, "app", 3, 3, 2);
	kt_groups_joined(g, S("app"), S("A"), 3, l3, 2, 6 * SEC);
	expect_group(g, 6 * SEC, "app", 2, 3, 2);
	/* Leaving an unknown group creates nothing. */
	kt_groups_left(g, S("nope"), S("A"), 6 * SEC);
	assert_null(group_at(g, 6 * SEC, "nope"));
	kt_groups_free(g);
}

static void test_classic_followers(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 0);

	/* No leader response: members seen for the current generation. */
	kt_groups_joined(g, S("f"), S("X"), 7, NULL, -1, 1);
	kt_groups_synced(g, S("f"), S("Y"), 7, 2);
	kt_groups_heartbeat(g, S("f"), S("Z"), 7, 0, 3);
	kt_groups_heartbeat(g, S("f"), S("Z"), 7, 0, 4);
	expect_group(g, 4, "f", 3, 7, 0);
	/* A heartbeat of a newer generation: the older members must rejoin. */
	kt_groups_heartbeat(g, S("f"), S("X"), 8, 0, 5);
	expect_group(g, 5, "f", 1, 8, 1);
	kt_groups_synced(g, S("f"), S("Y"), 7, 6);	/* stale */
	expect_group(g, 6, "f", 1, 8, 1);
	kt_groups_free(g);
}

static void test_heartbeat_errors(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 10 * SEC);

	kt_groups_synced(g, S("h"), S("A"), 4, 0);
	kt_groups_synced(g, S("h"), S("B"), 4, 0);
	kt_groups_synced(g, S("h"), S("C"), 4, 0);
	/* REBALANCE_IN_PROGRESS: alive, refreshed (no timeout at 15 s). */
	kt_groups_heartbeat(g, S("h"), S("A"), 4, 27, 8 * SEC);
	/* ILLEGAL_GENERATION of an older generation: stale, kept. */
	kt_groups_heartbeat(g, S("h"), S("B"), 3, 22, 1 * SEC);
	expect_group(g, 1 * SEC, "h", 3, 4, 0);
	/* UNKNOWN_MEMBER_ID: gone. Other errors: ignored. */
	kt_groups_heartbeat(g, S("h"), S("B"), 4, 25, 2 * SEC);
	kt_groups_heartbeat(g, S("h"), S("C"), 4, 15, 2 * SEC);
	expect_group(g, 2 * SEC, "h", 2, 4, 0);
	expect_group(g, 15 * SEC, "h", 1, 4, 0);
	assert_int_equal(kt_groups_stats(g)->members_expired, 1);
	kt_groups_free(g);
}

static void test_member_timeout(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 10 * SEC);

	kt_groups_heartbeat(g, S("t"), S("A"), 1, 0, 100 * SEC);
	kt_groups_heartbeat(g, S("t"), S("B"), 1, 0, 105 * SEC);
	expect_group(g, 109 * SEC, "t", 2, 1, 0);
	expect_group(g, 110 * SEC, "t", 1, 1, 0);	/* A: 10 s without a word */
	kt_groups_heartbeat(g, S("t"), S("B"), 1, 0, 112 * SEC);
	expect_group(g, 121 * SEC, "t", 1, 1, 0);
	/* kt_groups_foreach reads at the latest event seen (another group's). */
	kt_groups_heartbeat(g, S("other"), S("O"), 1, 0, 130 * SEC);
	rows.ng = 0;
	kt_groups_foreach(g, on_group, &rows);
	assert_int_equal(rows.ng, 2);
	assert_string_equal(rows.g[0].name, "t");
	assert_int_equal(rows.g[0].members, 0);
	assert_int_equal(rows.g[1].members, 1);
	assert_int_equal(kt_groups_stats(g)->members_expired, 2);

	/* A group recreated (all gone, generations restart): no rebalance. */
	kt_groups_joined(g, S("t"), S("N"), 1, NULL, -1, 131 * SEC);
	expect_group(g, 131 * SEC, "t", 1, 1, 0);
	kt_groups_left(g, S("t"), S("N"), 132 * SEC);
	kt_groups_joined(g, S("t"), S("N"), 5, NULL, -1, 133 * SEC);
	kt_groups_left(g, S("t"), S("N"), 134 * SEC);
	kt_groups_joined(g, S("t"), S("M"), 1, NULL, -1, 135 * SEC);
	expect_group(g, 135 * SEC, "t", 1, 1, 1);
	kt_groups_free(g);
}

static void test_kip848(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 45 * SEC);

	kt_groups_cg_heartbeat(g, S("k"), S("m1"), 0, 1, 0, 1 * SEC);
	expect_group(g, 1 * SEC, "k", 1, 1, 0);
	kt_groups_cg_heartbeat(g, S("k"), S("m2"), 0, 2, 0, 2 * SEC);
	/* m1 has not reconciled yet: still a member at epoch 1. */
	kt_groups_cg_heartbeat(g, S("k"), S("m1"), 1, 1, 0, 3 * SEC);
	expect_group(g, 3 * SEC, "k", 2, 2, 1);
	kt_groups_cg_heartbeat(g, S("k"), S("m1"), 1, 2, 0, 4 * SEC);
	kt_groups_cg_heartbeat(g, S("k"), S("m3"), 0, 3, 0, 5 * SEC);
	expect_group(g, 5 * SEC, "k", 3, 3, 2);
	/* Errors other than fencing change nothing. */
	kt_groups_cg_heartbeat(g, S("k"), S("m3"), 3, -1, 15, 6 * SEC);
	expect_group(g, 6 * SEC, "k", 3, 3, 2);
	/* Leave (-1), static leave (-2), fenced (110). */
	kt_groups_cg_heartbeat(g, S("k"), S("m2"), -1, -1, 0, 7 * SEC);
	expect_group(g, 7 * SEC, "k", 2, 3, 2);
	kt_groups_cg_heartbeat(g, S("k"), S("m1"), -2, -2, 0, 8 * SEC);
	expect_group(g, 8 * SEC, "k", 1, 3, 2);
	kt_groups_cg_heartbeat(g, S("k"), S("m3"), 3, -1, 110, 9 * SEC);
	expect_group(g, 9 * SEC, "k", 0, 3, 2);
	/* And the timeout applies. */
	kt_groups_cg_heartbeat(g, S("k"), S("m4"), 0, 4, 0, 10 * SEC);
	expect_group(g, 54 * SEC, "k", 1, 4, 3);
	expect_group(g, 55 * SEC, "k", 0, 4, 3);
	kt_groups_free(g);
}

static void test_lag_records(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 0);
	const struct lrow *r;

	kt_groups_committed(g, S("G"), S("t1"), 0, 40, 1);
	kt_groups_committed(g, S("G"), S("t1"), 1, 50, 1);
	kt_groups_committed(g, S("G"), S("t1"), 2, 7, 1);	/* no hwm: not counted */
	kt_groups_committed(g, S("G"), S("t1"), 3, 1, 1);
	kt_groups_committed(g, S("G"), S("t2"), 0, 20, 1);	/* beyond the hwm */
	kt_groups_committed(g, S("G"), S("t3"), 0, 5, 1);	/* no hwm at all */
	kt_groups_committed(g, S("G2"), S("t1"), 0, 90, 1);
	kt_groups_high_watermark(g, S("t1"), 0, 100, 2);
	kt_groups_high_watermark(g, S("t1"), 1, 50, 2);
	kt_groups_high_watermark(g, S("t1"), 3, 11, 2);
	kt_groups_high_watermark(g, S("t1"), 3, 1000, 1);	/* older: ignored */
	kt_groups_high_watermark(g, S("t2"), 0, 10, 2);
	kt_groups_high_watermark(g, S("t9"), 0, 10, 2);
	/* An older commit arriving late does not win. */
	kt_groups_committed(g, S("G"), S("t1"), 0, 10, 0);
	read_lag(g, 3);
	assert_int_equal(rows.nl, 3);
	r = lag_of("G", "t1");
	assert_non_null(r);
	assert_int_equal(r->records, 60 + 0 + 10);
	assert_true(isnan(r->seconds));		/* lagging, no batch seen */
	r = lag_of("G", "t2");
	assert_non_null(r);
	assert_int_equal(r->records, 0);
	assert_true(r->seconds == 0.0);
	r = lag_of("G2", "t1");
	assert_non_null(r);
	assert_int_equal(r->records, 10);
	assert_null(lag_of("G", "t3"));
	/* The consumer catches up; a hwm moves. */
	kt_groups_committed(g, S("G"), S("t1"), 0, 100, 4);
	kt_groups_high_watermark(g, S("t1"), 1, 53, 4);
	read_lag(g, 5);
	assert_int_equal(lag_of("G", "t1")->records, 3 + 10);
	/* Groups with only offsets: members 0, generation -1. */
	expect_group(g, 5, "G", 0, -1, 0);
	kt_groups_free(g);
}

static void test_lag_seconds(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 0);
	const struct lrow *r;
	int i;

	/* p0: batches of 10 records; the newest has max timestamp 9500 ms. */
	kt_groups_batch(g, S("t"), 0, 0, 9, 1000);
	kt_groups_batch(g, S("t"), 0, 20, 29, 5000);
	kt_groups_batch(g, S("t"), 0, 30, 39, 9500);
	kt_groups_batch(g, S("t"), 0, 10, 19, 2000);	/* out of order */
	kt_groups_batch(g, S("t"), 0, 10, 5, 2000);	/* inconsistent: ignored */
	kt_groups_batch(g, S("t"), 0, 40, 49, -1);	/* no timestamp: ignored */
	kt_groups_high_watermark(g, S("t"), 0, 40, 1);
	kt_groups_committed(g, S("G"), S("t"), 0, 15, 1);
	read_lag(g, 2);
	r = lag_of("G", "t");
	assert_non_null(r);
	assert_int_equal(r->records, 25);
	assert_true(r->seconds == 7.5);		/* 9500 - 2000 ms */
	/* On a batch boundary. */
	kt_groups_committed(g, S("G"), S("t"), 0, 30, 2);
	read_lag(g, 2);
	assert_true(lag_of("G", "t")->seconds == 0.0);
	kt_groups_committed(g, S("G"), S("t"), 0, 29, 3);
	read_lag(g, 3);
	assert_true(lag_of("G", "t")->seconds == 4.5);

	/* p1: a gap in the batches seen: the first batch after the offset. */
	kt_groups_batch(g, S("t"), 1, 0, 9, 100);
	kt_groups_batch(g, S("t"), 1, 20, 29, 3100);
	kt_groups_batch(g, S("t"), 1, 30, 39, 4100);
	kt_groups_high_watermark(g, S("t"), 1, 40, 3);
	kt_groups_committed(g, S("G"), S("t"), 1, 12, 3);
	read_lag(g, 4);
	r = lag_of("G", "t");
	assert_int_equal(r->records, 11 + 28);
	assert_true(r->seconds == 4.5);		/* max(p0 4.5, p1 1.0) */
	kt_groups_committed(g, S("G"), S("t"), 0, 40, 4);	/* p0 caught up */
	read_lag(g, 4);
	assert_true(lag_of("G", "t")->seconds == 1.0);

	/* Offsets after every remembered batch: unknown. */
	kt_groups_high_watermark(g, S("t"), 1, 60, 5);
	kt_groups_committed(g, S("G"), S("t"), 1, 45, 5);
	read_lag(g, 5);
	r = lag_of("G", "t");
	assert_int_equal(r->records, 15);
	assert_true(isnan(r->seconds));		/* p0 at 0 does not mask it */
	/* All caught up: 0, not NAN. */
	kt_groups_committed(g, S("G"), S("t"), 1, 60, 6);
	read_lag(g, 6);
	assert_true(lag_of("G", "t")->seconds == 0.0);

	/* The ring keeps the last 32 batches; the newest is never forgotten. */
	for (i = 0; i < 100; i++)
		kt_groups_batch(g, S("u"), 0, i * 10, i * 10 + 9, 1000 * (int64_t)i);
	kt_groups_high_watermark(g, S("u"), 0, 1000, 7);
	kt_groups_committed(g, S("G"), S("u"), 0, 685, 7);	/* batch 68, remembered */
	read_lag(g, 7);
	assert_true(lag_of("G", "u")->seconds == 31.0);
	kt_groups_committed(g, S("G"), S("u"), 0, 5, 8);	/* evicted: batch 68 is next */
	read_lag(g, 8);
	assert_true(lag_of("G", "u")->seconds == 31.0);
	/* A batch seen again is refreshed, not duplicated. */
	for (i = 0; i < 40; i++)
		kt_groups_batch(g, S("u"), 0, 990, 999, 99000);
	kt_groups_committed(g, S("G"), S("u"), 0, 685, 9);
	read_lag(g, 9);
	assert_true(lag_of("G", "u")->seconds == 31.0);
	kt_groups_free(g);
}

static void test_topic_ids(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 2, 0);
	const uint8_t a[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	uint8_t b[16] = { 1 }, c[16] = { 2 }, zero[16] = { 0 };
	char buf[37];

	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(kt_topics_name(g, a, buf), buf);
	assert_string_equal(buf, "00112233-4455-6677-8899-aabbccddeeff");
	kt_topics_learn(g, a, S("orders"));
	assert_string_equal(kt_topics_name(g, a, buf), "orders");
	kt_topics_learn(g, a, S("orders2"));	/* renamed */
	assert_string_equal(kt_topics_name(g, a, buf), "orders2");
	kt_topics_learn(g, zero, S("nothing"));
	kt_topics_learn(g, b, S(""));
	assert_string_equal(kt_topics_name(g, zero, buf), "00000000-0000-0000-0000-000000000000");
	assert_string_equal(kt_topics_name(g, b, buf), "01000000-0000-0000-0000-000000000000");
	/* Cap 2: learning c evicts the least recently used (b, not a). */
	kt_topics_learn(g, b, S("beta"));
	assert_string_equal(kt_topics_name(g, a, buf), "orders2");
	kt_topics_learn(g, c, S("gamma"));
	assert_int_equal(kt_groups_stats(g)->topic_id_evictions, 1);
	assert_string_equal(kt_topics_name(g, a, buf), "orders2");
	assert_string_equal(kt_topics_name(g, c, buf), "gamma");
	assert_string_equal(kt_topics_name(g, b, buf), "01000000-0000-0000-0000-000000000000");
	kt_groups_free(g);
}

static void test_caps(void **state __attribute__((unused)))
{
	struct kt_groups_cfg bad = { .max_groups = 1, .max_members_per_group = 1, .max_partitions = 0,
				     .max_topic_ids = 1 };
	struct kt_groups *g = mk(2, 2, 2, 4, 0);
	struct kt_s l[] = { S("A"), S("B"), S("C") };

	errno = 0;
	assert_null(kt_groups_new(&bad));
	assert_int_equal(errno, EINVAL);

	/* Groups: the least recently updated goes. */
	kt_groups_synced(g, S("a"), S("m"), 1, 1);
	kt_groups_synced(g, S("b"), S("m"), 1, 2);
	kt_groups_synced(g, S("a"), S("m"), 1, 3);
	kt_groups_synced(g, S("c"), S("m"), 1, 4);
	assert_int_equal(kt_groups_stats(g)->group_evictions, 1);
	assert_null(group_at(g, 4, "b"));
	assert_non_null(group_at(g, 4, "a"));
	assert_int_equal(rows.ng, 2);

	/* Members: a leader list of 3 with a cap of 2. */
	kt_groups_joined(g, S("c"), S("A"), 2, l, 3, 5);
	assert_int_equal(kt_groups_stats(g)->member_evictions, 1);
	expect_group(g, 5, "c", 2, 2, 1);
	kt_groups_heartbeat(g, S("c"), S("D"), 2, 0, 6);
	assert_int_equal(kt_groups_stats(g)->member_evictions, 2);
	expect_group(g, 6, "c", 2, 2, 1);

	/* Partitions. */
	kt_groups_high_watermark(g, S("t"), 0, 10, 7);
	kt_groups_high_watermark(g, S("t"), 1, 10, 7);
	kt_groups_high_watermark(g, S("t"), 0, 10, 8);
	kt_groups_batch(g, S("t"), 2, 0, 1, 5);
	assert_int_equal(kt_groups_stats(g)->partition_evictions, 1);
	/* Offsets (max_offsets 0: as many as max_partitions). */
	kt_groups_committed(g, S("c"), S("t"), 0, 4, 9);
	kt_groups_committed(g, S("c"), S("u"), 0, 4, 9);
	kt_groups_committed(g, S("c"), S("t"), 1, 4, 9);	/* evicts (t, 0) */
	kt_groups_committed(g, S("c"), S("t"), 0, 5, 9);	/* evicts (u, 0), topic u */
	assert_int_equal(kt_groups_stats(g)->offset_evictions, 2);
	read_lag(g, 10);
	assert_int_equal(rows.nl, 1);
	assert_int_equal(lag_of("c", "t")->records, 5);	/* p1 has no hwm now */
	/* Evicting a group frees its offsets. */
	kt_groups_synced(g, S("d"), S("m"), 1, 11);
	kt_groups_synced(g, S("e"), S("m"), 1, 12);
	read_lag(g, 12);
	assert_int_equal(rows.nl, 0);
	assert_int_equal(kt_groups_stats(g)->group_evictions, 3);
	kt_groups_free(g);
	kt_groups_free(NULL);
}

/* Exactly len bytes on the heap: ASan catches any read past them. */
static char *raw(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static void test_strings_copied(void **state __attribute__((unused)))
{
	struct kt_groups *g = mk(16, 16, 64, 16, 0);
	char *grp = raw("grp"), *mem = raw("member-1"), *top = raw("topic"), *name = raw("named");
	struct kt_s vg = { grp, 3 }, vm = { mem, 8 }, vt = { top, 5 }, list[] = { { mem, 8 } };
	const uint8_t id[16] = { 9 };
	char buf[37];

	kt_groups_joined(g, vg, vm, 1, list, 1, 1);
	kt_groups_committed(g, vg, vt, 0, 1, 1);
	kt_groups_high_watermark(g, vt, 0, 3, 1);
	kt_groups_batch(g, vt, 0, 0, 2, 10);
	kt_topics_learn(g, id, (struct kt_s){ name, 5 });
	memset(grp, 'X', 3);
	memset(mem, 'X', 8);
	memset(top, 'X', 5);
	memset(name, 'X', 5);
	expect_group(g, 1, "grp", 1, 1, 0);
	assert_null(group_at(g, 1, "XXX"));
	read_lag(g, 1);
	assert_int_equal(rows.nl, 1);
	assert_int_equal(lag_of("grp", "topic")->records, 2);
	assert_string_equal(kt_topics_name(g, id, buf), "named");
	/* The member is still known by its old id: a heartbeat adds none. */
	kt_groups_heartbeat(g, S("grp"), S("member-1"), 1, 0, 2);
	expect_group(g, 2, "grp", 1, 1, 0);
	/* Empty and NULL views are one empty string. */
	kt_groups_synced(g, (struct kt_s){ NULL, 0 }, (struct kt_s){ NULL, 0 }, 1, 3);
	kt_groups_committed(g, (struct kt_s){ NULL, -5 }, (struct kt_s){ NULL, 0 }, 0, 1, 3);
	expect_group(g, 3, "", 0, 1, 0);
	free(grp);
	free(mem);
	free(top);
	free(name);
	kt_groups_free(g);
}

/* Random events against tiny caps: no leak, no UB (ASan), caps hold. */
static void test_random_stress(void **state __attribute__((unused)))
{
	static const char *const names[] = { "a", "b", "c", "d", "e", "f" };
	struct kt_groups_cfg c = { .max_groups = 3, .max_members_per_group = 4, .max_partitions = 5,
				   .max_topic_ids = 3, .member_timeout_ns = 50, .max_offsets = 4 };
	struct kt_groups *g = kt_groups_new(&c);
	unsigned int seed = 12345;
	uint64_t ts = 0;
	char buf[37];
	int i, j;

	assert_non_null(g);
	for (i = 0; i < 20000; i++) {
		struct kt_s gr = S(names[rand_r(&seed) % 6]), m = S(names[rand_r(&seed) % 6]);
		struct kt_s list[6];
		int32_t gen = rand_r(&seed) % 8, part = rand_r(&seed) % 4;
		int64_t off = rand_r(&seed) % 200;
		uint8_t id[16] = { (uint8_t)(rand_r(&seed) % 6) };

		ts += rand_r(&seed) % 5;
		for (j = 0; j < 6; j++)
			list[j] = S(names[rand_r(&seed) % 6]);
		switch (rand_r(&seed) % 11) {
		case 0:
			kt_groups_joined(g, gr, m, gen, list, rand_r(&seed) % 7 - 1, ts);
			break;
		case 1:
			kt_groups_synced(g, gr, m, gen, ts);
			break;
		case 2:
			kt_groups_heartbeat(g, gr, m, gen, (int16_t)(rand_r(&seed) % 2 ? 0 : 25), ts);
			break;
		case 3:
			kt_groups_left(g, gr, m, ts);
			break;
		case 4:
			kt_groups_cg_heartbeat(g, gr, m, gen - 2, gen, (int16_t)(rand_r(&seed) % 3 ? 0 : 110), ts);
			break;
		case 5:
			kt_groups_committed(g, gr, m, part, off, ts);
			break;
		case 6:
			kt_groups_high_watermark(g, m, part, off, ts);
			break;
		case 7:
			kt_groups_batch(g, m, part, off, off + rand_r(&seed) % 10, (int64_t)ts);
			break;
		case 8:
			kt_topics_learn(g, id, m);
			break;
		case 9:
			kt_topics_name(g, id, buf);
			break;
		default:
			rows.ng = 0;
			kt_groups_foreach_at(g, ts, on_group, &rows);
			assert_true(rows.ng <= 3);
			for (j = 0; j < rows.ng; j++)
				assert_true(rows.g[j].members >= 0 && rows.g[j].members <= 4);
			read_lag(g, ts);
			for (j = 0; j < rows.nl; j++)
				assert_true(rows.l[j].records >= 0 &&
					    (isnan(rows.l[j].seconds) || rows.l[j].seconds >= 0));
			break;
		}
	}
	assert_true(kt_groups_stats(g)->group_evictions > 0);
	assert_true(kt_groups_stats(g)->member_evictions > 0);
	assert_true(kt_groups_stats(g)->partition_evictions > 0);
	assert_true(kt_groups_stats(g)->offset_evictions > 0);
	assert_true(kt_groups_stats(g)->topic_id_evictions > 0);
	kt_groups_free(g);
}

/*
 * A JoinGroup v5 exchange whose leader response lists `n` members m0..m(n-1),
 * as frames on the wire (header v1 / v0), through the observer.
 */
static void put_str(struct kc_writer *w, const char *s)
{
	struct kc_str v = { s, s ? (int32_t)strlen(s) : -1 };

	kc_write_str(w, 0, &v);
}

static void frame_done(struct kc_writer *w, struct kt_capture *cap)
{
	uint32_t n = (uint32_t)w->len - 4;

	assert_int_equal(w->error, 0);
	w->buf[0] = n >> 24;
	w->buf[1] = n >> 16;
	w->buf[2] = n >> 8;
	w->buf[3] = n;
	cap->buf = w->buf;
	cap->len = cap->want = (uint32_t)w->len;
	cap->complete = cap->last_seen = true;
}

static const struct kt_annot *observe_join(struct kt_observer *o, int n, int32_t gen,
					   struct kc_writer *req, struct kc_writer *resp)
{
	struct kc_bytes meta = { (const uint8_t *)"", 0 };
	struct kt_exchange x;
	char id[16];
	int i;

	memset(&x, 0, sizeof(x));
	x.api_key = KAFKA_API_JOIN_GROUP;
	x.api_version = 5;
	x.correlation_id = 7;
	x.status = KT_STATUS_OK;
	x.req_ts_ns = 1 * SEC;
	x.resp_ts_ns = 1 * SEC + 1000;
	kc_writer_init(req, 0);
	kc_write_int32(req, 0);			/* size, set below */
	kc_write_int16(req, KAFKA_API_JOIN_GROUP);
	kc_write_int16(req, 5);
	kc_write_int32(req, 7);			/* correlation_id */
	put_str(req, "c");			/* client_id */
	put_str(req, "big");			/* group_id */
	kc_write_int32(req, 10000);		/* session_timeout_ms */
	kc_write_int32(req, 30000);		/* rebalance_timeout_ms */
	put_str(req, "m0");			/* member_id */
	put_str(req, NULL);			/* group_instance_id */
	put_str(req, "consumer");		/* protocol_type */
	kc_write_int32(req, 1);			/* protocols */
	put_str(req, "range");
	kc_write_bytes(req, 0, &meta);
	frame_done(req, &x.req_cap);
	kc_writer_init(resp, 0);
	kc_write_int32(resp, 0);
	kc_write_int32(resp, 7);		/* correlation_id */
	kc_write_int32(resp, 0);		/* throttle_time_ms */
	kc_write_int16(resp, 0);		/* error_code */
	kc_write_int32(resp, gen);		/* generation_id */
	put_str(resp, "range");			/* protocol_name */
	put_str(resp, "m0");			/* leader */
	put_str(resp, "m0");			/* member_id */
	kc_write_int32(resp, n);		/* members */
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		put_str(resp, id);
		put_str(resp, NULL);		/* group_instance_id */
		kc_write_bytes(resp, 0, &meta);
	}
	frame_done(resp, &x.resp_cap);
	return kt_observer_exchange(o, &x);
}

/* The members the tracker holds for group "big". */
static int big_members(struct kt_groups *g)
{
	struct rows r = { .ng = 0 };
	int i;

	kt_groups_foreach(g, on_group, &r);
	for (i = 0; i < r.ng; i++)
		if (!strcmp(r.g[i].name, "big"))
			return r.g[i].members;
	return -1;
}

/*
 * A JoinGroup leader response is the exact member set, however long its
 * list (the decoder once kept the first 64); past the tracker's cap the
 * excess is evicted and counted.
 */
static void test_join_group_300_members(void **state)
{
	struct kt_groups_cfg cfg = { .max_groups = 4, .max_members_per_group = 1024,
				     .max_partitions = 16, .max_topic_ids = 4 };
	struct kt_groups *g = kt_groups_new(&cfg);
	struct kt_observer *o = kt_observer_new(g);
	struct kc_writer req, resp;
	const struct kt_annot *an;

	assert_non_null(g);
	assert_non_null(o);
	an = observe_join(o, 300, 1, &req, &resp);
	assert_true(an->req_decoded);
	assert_true(an->resp_decoded);
	assert_string_equal(an->group, "big");
	assert_null(an->invalid);
	assert_int_equal(big_members(g), 300);
	assert_int_equal(kt_groups_stats(g)->member_evictions, 0);
	kc_writer_free(&req);
	kc_writer_free(&resp);
	/* The next generation, 1100 members: the cap (1024) bites, counted. */
	an = observe_join(o, 1100, 2, &req, &resp);
	assert_true(an->resp_decoded);
	assert_int_equal(big_members(g), 1024);
	assert_int_equal(kt_groups_stats(g)->member_evictions, 1100 - 1024);
	kc_writer_free(&req);
	kc_writer_free(&resp);
	kt_observer_free(o);
	kt_groups_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_leader_lists),
		cmocka_unit_test(test_classic_followers),
		cmocka_unit_test(test_heartbeat_errors),
		cmocka_unit_test(test_member_timeout),
		cmocka_unit_test(test_kip848),
		cmocka_unit_test(test_lag_records),
		cmocka_unit_test(test_lag_seconds),
		cmocka_unit_test(test_topic_ids),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_strings_copied),
		cmocka_unit_test(test_random_stress),
		cmocka_unit_test(test_join_group_300_members),
	};

	return cmocka_run_group_tests_name("consumer group tracker", tests, NULL, NULL);
}
