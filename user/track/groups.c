// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Consumer group tracker (semantics in groups.h). Six intrusive hash tables
 * in one struct: groups by name, members by (group, id), a group's topics by
 * (group, topic), committed offsets by (group topic, partition), partitions
 * by (topic, partition) and topic names by UUID. Groups, offsets,
 * partitions and topic IDs are each on a least recently updated list for
 * eviction; a group's members are on its own list, least recently heard
 * first.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "proto/gen/kafka_ids_gen.h"
#include "track/groups.h"
#include "lib/hash.h"
#include "lib/htable.h"
#include "lib/list.h"


#define SEED_GROUP	0x67726f7570ULL
#define SEED_MEMBER	0x6d656d626572ULL
#define SEED_GTOPIC	0x67746f706963ULL
#define SEED_PART	0x70617274ULL
#define SEED_ID		0x746f70696364ULL

struct kt_group {
	struct hnode h;			/* g->groups */
	struct list_head lru;		/* g->groups_lru */
	struct list_head members;	/* kt_member.node, least recently heard first */
	uint32_t nmembers;
	struct list_head topics;	/* kt_gtopic.node */
	char *name;
	int len;
	int32_t gen;			/* -1: none seen */
	uint64_t rebalances;
};

struct kt_member {
	struct hnode h;			/* g->members */
	struct list_head node;		/* grp->members */
	struct kt_group *grp;
	char *id;
	int len;
	int32_t gen;
	bool kip848;
	bool mark;
	uint64_t last_seen;
};

/* A topic a group committed offsets for. */
struct kt_gtopic {
	struct hnode h;			/* g->gtopics */
	struct list_head node;		/* grp->topics */
	struct list_head commits;	/* kt_commit.node */
	struct kt_group *grp;
	char *name;
	int len;
};

struct kt_commit {
	struct hnode h;			/* g->commits */
	struct list_head lru;		/* g->commits_lru */
	struct list_head node;		/* t->commits */
	struct kt_gtopic *t;
	int32_t partition;
	int64_t offset;
	uint64_t ts;
};

struct kt_batch {
	int64_t base, last, ts;
	uint64_t seq;
};

struct kt_part {
	struct hnode h;			/* g->parts */
	struct list_head lru;		/* g->parts_lru */
	char *topic;
	int len;
	int32_t partition;
	int64_t hwm;			/* -1: unknown */
	uint64_t hwm_ts;
	struct kt_batch *ring;		/* KT_GROUPS_BATCHES, from the first batch */
	uint32_t nring;
	bool has_top;
	struct kt_batch top;		/* highest last offset ever seen */
};

struct kt_topic_id {
	struct hnode h;			/* g->ids */
	struct list_head lru;		/* g->ids_lru */
	uint8_t id[16];
	char *name;
	int len;
};

struct kt_groups {
	struct kt_groups_cfg cfg;
	struct kt_groups_stats st;
	struct htable groups, members, gtopics, commits, parts, ids;
	struct list_head groups_lru, commits_lru, parts_lru, ids_lru;
	uint64_t clock;			/* latest event ts or read now_ns */
	uint64_t seq;			/* batch arrival order */
};

/* Helpers */

static struct kt_s kt_groups_sv(struct kt_s s)
{
	if (s.len <= 0 || !s.p)
		return (struct kt_s){ "", 0 };
	return s;
}

static bool kt_groups_eq(const char *p, int len, struct kt_s s)
{
	return len == s.len && (!len || !memcmp(p, s.p, (size_t)len));
}

static char *kt_groups_dup(struct kt_s s)
{
	char *p = malloc((size_t)s.len + 1);

	if (!p)
		return NULL;
	if (s.len)
		memcpy(p, s.p, (size_t)s.len);
	p[s.len] = '\0';
	return p;
}

static void kt_groups_clock(struct kt_groups *g, uint64_t ts)
{
	if (ts > g->clock)
		g->clock = ts;
}

static void kt_groups_touch(struct list_head *n, struct list_head *lru)
{
	list_del(n);
	list_add_tail(n, lru);
}

/* Members */

static uint64_t kt_groups_member_hash(const struct kt_group *grp, struct kt_s id)
{
	return hash_bytes(id.p, (size_t)id.len, grp->h.hash ^ SEED_MEMBER);
}

static struct kt_member *kt_groups_member_find(struct kt_groups *g, struct kt_group *grp,
					       struct kt_s id)
{
	uint64_t h = kt_groups_member_hash(grp, id);
	struct hnode *n;

	for (n = ht_first(&g->members, h); n; n = ht_next(n, h)) {
		struct kt_member *m = container_of(n, struct kt_member, h);

		if (m->grp == grp && kt_groups_eq(m->id, m->len, id))
			return m;
	}
	return NULL;
}

static void kt_groups_member_del(struct kt_groups *g, struct kt_member *m)
{
	ht_remove(&g->members, &m->h);
	list_del(&m->node);
	m->grp->nmembers--;
	free(m->id);
	free(m);
}

/* Find or add a member, mark it heard from at ts (at generation gen). */
static struct kt_member *kt_groups_member_touch(struct kt_groups *g, struct kt_group *grp,
						struct kt_s id, int32_t gen, bool kip848,
						uint64_t ts)
{
	struct kt_member *m;

	if (!id.len)
		return NULL;
	m = kt_groups_member_find(g, grp, id);
	if (!m) {
		if (grp->nmembers >= g->cfg.max_members_per_group) {
			kt_groups_member_del(g, list_first(&grp->members, struct kt_member, node));
			g->st.member_evictions++;
		}
		m = calloc(1, sizeof(*m));
		if (!m)
			return NULL;
		m->id = kt_groups_dup(id);
		if (!m->id) {
			free(m);
			return NULL;
		}
		m->len = id.len;
		m->grp = grp;
		list_init(&m->node);
		list_add_tail(&m->node, &grp->members);
		grp->nmembers++;
		ht_insert(&g->members, &m->h, kt_groups_member_hash(grp, id));
	} else {
		kt_groups_touch(&m->node, &grp->members);
	}
	m->gen = gen;
	m->kip848 = kip848;
	if (ts > m->last_seen)
		m->last_seen = ts;
	return m;
}

static void kt_groups_member_remove(struct kt_groups *g, struct kt_group *grp, struct kt_s id)
{
	struct kt_member *m = id.len ? kt_groups_member_find(g, grp, id) : NULL;

	if (m)
		kt_groups_member_del(g, m);
}

static void kt_groups_expire_group(struct kt_groups *g, struct kt_group *grp, uint64_t now)
{
	struct list_head *n, *next;

	if (!g->cfg.member_timeout_ns)
		return;
	for (n = grp->members.next; n != &grp->members; n = next) {
		struct kt_member *m = container_of(n, struct kt_member, node);

		next = n->next;
		if (now > m->last_seen && now - m->last_seen >= g->cfg.member_timeout_ns) {
			kt_groups_member_del(g, m);
			g->st.members_expired++;
		}
	}
}

/* Groups */

static void kt_groups_commit_del(struct kt_groups *g, struct kt_commit *c);

static void kt_groups_group_del(struct kt_groups *g, struct kt_group *grp)
{
	while (!list_empty(&grp->members))
		kt_groups_member_del(g, list_first(&grp->members, struct kt_member, node));
	/* Deleting a topic's last commit deletes the topic. */
	while (!list_empty(&grp->topics)) {
		struct kt_gtopic *t = list_first(&grp->topics, struct kt_gtopic, node);

		kt_groups_commit_del(g, list_first(&t->commits, struct kt_commit, node));
	}
	ht_remove(&g->groups, &grp->h);
	list_del(&grp->lru);
	free(grp->name);
	free(grp);
}

/* Find a group (most recently updated now), or add it if `create`. */
static struct kt_group *kt_groups_group(struct kt_groups *g, struct kt_s name, bool create)
{
	uint64_t h = hash_bytes(name.p, (size_t)name.len, SEED_GROUP);
	struct kt_group *grp;
	struct hnode *n;

	for (n = ht_first(&g->groups, h); n; n = ht_next(n, h)) {
		grp = container_of(n, struct kt_group, h);
		if (kt_groups_eq(grp->name, grp->len, name)) {
			kt_groups_touch(&grp->lru, &g->groups_lru);
			return grp;
		}
	}
	if (!create)
		return NULL;
	if (g->groups.count >= g->cfg.max_groups) {
		kt_groups_group_del(g, list_first(&g->groups_lru, struct kt_group, lru));
		g->st.group_evictions++;
	}
	grp = calloc(1, sizeof(*grp));
	if (!grp)
		return NULL;
	grp->name = kt_groups_dup(name);
	if (!grp->name) {
		free(grp);
		return NULL;
	}
	grp->len = name.len;
	grp->gen = -1;
	list_init(&grp->members);
	list_init(&grp->topics);
	list_init(&grp->lru);
	list_add_tail(&grp->lru, &g->groups_lru);
	ht_insert(&g->groups, &grp->h, h);
	return grp;
}

/* A generation/epoch seen: a higher one than the group's is a rebalance. */
static void kt_groups_observe_gen(struct kt_groups *g, struct kt_group *grp, int32_t gen)
{
	struct list_head *n, *next;

	if (gen < 0)
		return;
	if (grp->gen < 0) {
		grp->gen = gen;
		return;
	}
	if (gen <= grp->gen)
		return;
	grp->gen = gen;
	grp->rebalances++;
	/* Classic members of older generations must rejoin. */
	for (n = grp->members.next; n != &grp->members; n = next) {
		struct kt_member *m = container_of(n, struct kt_member, node);

		next = n->next;
		if (!m->kip848 && m->gen < gen)
			kt_groups_member_del(g, m);
	}
}

/* A successful classic JoinGroup/SyncGroup/Heartbeat. */
static struct kt_group *kt_groups_classic(struct kt_groups *g, struct kt_s group, struct kt_s member,
					  int32_t gen, uint64_t ts)
{
	struct kt_group *grp;

	group = kt_groups_sv(group);
	member = kt_groups_sv(member);
	kt_groups_clock(g, ts);
	grp = kt_groups_group(g, group, true);
	if (!grp || gen < 0 || (grp->gen >= 0 && gen < grp->gen))
		return NULL;
	kt_groups_observe_gen(g, grp, gen);
	kt_groups_member_touch(g, grp, member, gen, false, ts);
	return grp;
}

void kt_groups_joined(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t generation,
		      const struct kt_s *members, int nmembers, uint64_t ts_ns)
{
	struct kt_group *grp;
	struct list_head *n, *next;
	int i;

	kt_groups_clock(g, ts_ns);
	grp = kt_groups_group(g, kt_groups_sv(group), true);
	if (!grp || generation < 0)
		return;
	/* The group was deleted and created again: generations restart. */
	kt_groups_expire_group(g, grp, g->clock);
	if (grp->gen > generation && !grp->nmembers)
		grp->gen = generation;
	grp = kt_groups_classic(g, group, member, generation, ts_ns);
	if (!grp || nmembers < 0 || (nmembers > 0 && !members))
		return;
	/* A leader's list: exactly these members (and the leader). */
	for (n = grp->members.next; n != &grp->members; n = n->next)
		container_of(n, struct kt_member, node)->mark = false;
	for (i = 0; i < nmembers; i++) {
		struct kt_s id = kt_groups_sv(members[i]);
		struct kt_member *m = id.len ? kt_groups_member_find(g, grp, id) : NULL;

		if (m)
			m->mark = true;
	}
	member = kt_groups_sv(member);
	if (member.len) {
		struct kt_member *m = kt_groups_member_find(g, grp, member);

		if (m)
			m->mark = true;
	}
	for (n = grp->members.next; n != &grp->members; n = next) {
		struct kt_member *m = container_of(n, struct kt_member, node);

		next = n->next;
		if (!m->mark)
			kt_groups_member_del(g, m);
	}
	/* The leader first: with a list beyond the cap, evictions = excess. */
	kt_groups_member_touch(g, grp, member, generation, false, ts_ns);
	for (i = 0; i < nmembers; i++)
		kt_groups_member_touch(g, grp, kt_groups_sv(members[i]), generation, false, ts_ns);
}

void kt_groups_synced(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t generation,
		      uint64_t ts_ns)
{
	kt_groups_classic(g, group, member, generation, ts_ns);
}

void kt_groups_heartbeat(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t generation,
			 int16_t error, uint64_t ts_ns)
{
	struct kt_group *grp;
	struct kt_member *m;

	if (!error) {
		kt_groups_classic(g, group, member, generation, ts_ns);
		return;
	}
	kt_groups_clock(g, ts_ns);
	member = kt_groups_sv(member);
	grp = kt_groups_group(g, kt_groups_sv(group), false);
	m = grp && member.len ? kt_groups_member_find(g, grp, member) : NULL;
	if (!m || m->kip848)
		return;
	switch (error) {
	case KAFKA_ERR_ILLEGAL_GENERATION:
	case KAFKA_ERR_UNKNOWN_MEMBER_ID:
	case KAFKA_ERR_FENCED_INSTANCE_ID:
		if (m->gen <= generation)
			kt_groups_member_del(g, m);
		break;
	case KAFKA_ERR_REBALANCE_IN_PROGRESS:
		if (m->gen == generation)
			kt_groups_member_touch(g, grp, member, generation, false, ts_ns);
		break;
	default:
		break;
	}
}

void kt_groups_left(struct kt_groups *g, struct kt_s group, struct kt_s member, uint64_t ts_ns)
{
	struct kt_group *grp;

	kt_groups_clock(g, ts_ns);
	grp = kt_groups_group(g, kt_groups_sv(group), false);
	if (grp)
		kt_groups_member_remove(g, grp, kt_groups_sv(member));
}

void kt_groups_cg_heartbeat(struct kt_groups *g, struct kt_s group, struct kt_s member, int32_t req_epoch,
			    int32_t resp_epoch, int16_t error, uint64_t ts_ns)
{
	struct kt_group *grp;

	kt_groups_clock(g, ts_ns);
	group = kt_groups_sv(group);
	member = kt_groups_sv(member);
	if (req_epoch == -1 || req_epoch == -2 ||
	    error == KAFKA_ERR_UNKNOWN_MEMBER_ID || error == KAFKA_ERR_FENCED_MEMBER_EPOCH) {
		grp = kt_groups_group(g, group, false);
		if (grp)
			kt_groups_member_remove(g, grp, member);
		return;
	}
	if (error || resp_epoch < 0)
		return;
	grp = kt_groups_group(g, group, true);
	if (!grp)
		return;
	kt_groups_observe_gen(g, grp, resp_epoch);
	kt_groups_member_touch(g, grp, member, resp_epoch, true, ts_ns);
}

/* Committed offsets */

static uint64_t kt_groups_commit_hash(const struct kt_gtopic *t, int32_t partition)
{
	uint32_t p = (uint32_t)partition;

	return hash_bytes(&p, sizeof(p), t->h.hash);
}

static void kt_groups_commit_del(struct kt_groups *g, struct kt_commit *c)
{
	struct kt_gtopic *t = c->t;

	ht_remove(&g->commits, &c->h);
	list_del(&c->lru);
	list_del(&c->node);
	free(c);
	if (list_empty(&t->commits)) {
		ht_remove(&g->gtopics, &t->h);
		list_del(&t->node);
		free(t->name);
		free(t);
	}
}

static uint64_t kt_groups_gtopic_hash(const struct kt_group *grp, struct kt_s topic)
{
	return hash_bytes(topic.p, (size_t)topic.len, grp->h.hash ^ SEED_GTOPIC);
}

static struct kt_gtopic *kt_groups_gtopic_find(struct kt_groups *g, struct kt_group *grp,
					       struct kt_s topic)
{
	uint64_t h = kt_groups_gtopic_hash(grp, topic);
	struct hnode *n;

	for (n = ht_first(&g->gtopics, h); n; n = ht_next(n, h)) {
		struct kt_gtopic *t = container_of(n, struct kt_gtopic, h);

		if (t->grp == grp && kt_groups_eq(t->name, t->len, topic))
			return t;
	}
	return NULL;
}

static struct kt_commit *kt_groups_commit_find(struct kt_groups *g, struct kt_gtopic *t,
					       int32_t partition)
{
	uint64_t h = kt_groups_commit_hash(t, partition);
	struct hnode *n;

	for (n = ht_first(&g->commits, h); n; n = ht_next(n, h)) {
		struct kt_commit *c = container_of(n, struct kt_commit, h);

		if (c->t == t && c->partition == partition)
			return c;
	}
	return NULL;
}

void kt_groups_committed(struct kt_groups *g, struct kt_s group, struct kt_s topic, int32_t partition,
			 int64_t offset, uint64_t ts_ns)
{
	struct kt_group *grp;
	struct kt_gtopic *t;
	struct kt_commit *c;

	kt_groups_clock(g, ts_ns);
	if (partition < 0 || offset < 0)
		return;
	topic = kt_groups_sv(topic);
	grp = kt_groups_group(g, kt_groups_sv(group), true);
	if (!grp)
		return;
	t = kt_groups_gtopic_find(g, grp, topic);
	c = t ? kt_groups_commit_find(g, t, partition) : NULL;
	if (c) {
		kt_groups_touch(&c->lru, &g->commits_lru);
		if (ts_ns >= c->ts) {
			c->offset = offset;
			c->ts = ts_ns;
		}
		return;
	}
	if (g->commits.count >= g->cfg.max_offsets) {
		/* May delete t (its last commit): look it up again. */
		kt_groups_commit_del(g, list_first(&g->commits_lru, struct kt_commit, lru));
		g->st.offset_evictions++;
		t = kt_groups_gtopic_find(g, grp, topic);
	}
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return;
		t->name = kt_groups_dup(topic);
		if (!t->name) {
			free(t);
			return;
		}
		t->len = topic.len;
		t->grp = grp;
		list_init(&t->commits);
		list_init(&t->node);
		list_add_tail(&t->node, &grp->topics);
		ht_insert(&g->gtopics, &t->h, kt_groups_gtopic_hash(grp, topic));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		if (list_empty(&t->commits)) {
			ht_remove(&g->gtopics, &t->h);
			list_del(&t->node);
			free(t->name);
			free(t);
		}
		return;
	}
	c->t = t;
	c->partition = partition;
	c->offset = offset;
	c->ts = ts_ns;
	list_init(&c->node);
	list_add_tail(&c->node, &t->commits);
	list_init(&c->lru);
	list_add_tail(&c->lru, &g->commits_lru);
	ht_insert(&g->commits, &c->h, kt_groups_commit_hash(t, partition));
}

/* Partitions: high watermarks and batches */

static uint64_t kt_groups_part_hash(struct kt_s topic, int32_t partition)
{
	uint64_t seed = SEED_PART ^ ((uint64_t)(uint32_t)partition * 0x9e3779b97f4a7c15ULL);

	return hash_bytes(topic.p, (size_t)topic.len, seed);
}

static struct kt_part *kt_groups_part_find(struct kt_groups *g, struct kt_s topic, int32_t partition)
{
	uint64_t h = kt_groups_part_hash(topic, partition);
	struct hnode *n;

	for (n = ht_first(&g->parts, h); n; n = ht_next(n, h)) {
		struct kt_part *p = container_of(n, struct kt_part, h);

		if (p->partition == partition && kt_groups_eq(p->topic, p->len, topic))
			return p;
	}
	return NULL;
}

static void kt_groups_part_del(struct kt_groups *g, struct kt_part *p)
{
	ht_remove(&g->parts, &p->h);
	list_del(&p->lru);
	free(p->ring);
	free(p->topic);
	free(p);
}

static struct kt_part *kt_groups_part(struct kt_groups *g, struct kt_s topic, int32_t partition)
{
	struct kt_part *p = kt_groups_part_find(g, topic, partition);

	if (p) {
		kt_groups_touch(&p->lru, &g->parts_lru);
		return p;
	}
	if (g->parts.count >= g->cfg.max_partitions) {
		kt_groups_part_del(g, list_first(&g->parts_lru, struct kt_part, lru));
		g->st.partition_evictions++;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->topic = kt_groups_dup(topic);
	if (!p->topic) {
		free(p);
		return NULL;
	}
	p->len = topic.len;
	p->partition = partition;
	p->hwm = -1;
	list_init(&p->lru);
	list_add_tail(&p->lru, &g->parts_lru);
	ht_insert(&g->parts, &p->h, kt_groups_part_hash(topic, partition));
	return p;
}

void kt_groups_high_watermark(struct kt_groups *g, struct kt_s topic, int32_t partition, int64_t hwm,
			      uint64_t ts_ns)
{
	struct kt_part *p;

	kt_groups_clock(g, ts_ns);
	if (partition < 0 || hwm < 0)
		return;
	p = kt_groups_part(g, kt_groups_sv(topic), partition);
	if (p && (p->hwm < 0 || ts_ns >= p->hwm_ts)) {
		p->hwm = hwm;
		p->hwm_ts = ts_ns;
	}
}

void kt_groups_batch(struct kt_groups *g, struct kt_s topic, int32_t partition, int64_t base_offset,
		     int64_t last_offset, int64_t max_timestamp_ms)
{
	struct kt_batch b = { base_offset, last_offset, max_timestamp_ms, 0 };
	struct kt_part *p;
	uint32_t i, slot;

	if (partition < 0 || base_offset < 0 || last_offset < base_offset || max_timestamp_ms < 0)
		return;
	p = kt_groups_part(g, kt_groups_sv(topic), partition);
	if (!p)
		return;
	if (!p->ring) {
		p->ring = calloc(KT_GROUPS_BATCHES, sizeof(*p->ring));
		if (!p->ring)
			return;
	}
	b.seq = ++g->seq;
	if (!p->has_top || last_offset >= p->top.last) {
		p->top = b;
		p->has_top = true;
	}
	/* The same batch again (another consumer, a retry): refresh it. */
	for (i = 0; i < p->nring; i++) {
		if (p->ring[i].base == base_offset) {
			p->ring[i] = b;
			return;
		}
	}
	if (p->nring < KT_GROUPS_BATCHES) {
		p->ring[p->nring++] = b;
		return;
	}
	for (slot = 0, i = 1; i < p->nring; i++)
		if (p->ring[i].seq < p->ring[slot].seq)
			slot = i;
	p->ring[slot] = b;
}

/* Lag seconds of a partition whose committed offset is below its hwm; < 0: unknown. */
static double kt_groups_part_lag_seconds(const struct kt_part *p, int64_t committed)
{
	const struct kt_batch *in = NULL, *after = NULL;
	int64_t d;
	uint32_t i;

	if (!p->has_top)
		return -1;
	for (i = 0; i <= p->nring && !in; i++) {
		const struct kt_batch *b = i < p->nring ? &p->ring[i] : &p->top;

		if (b->base <= committed && committed <= b->last)
			in = b;
		else if (b->base > committed && (!after || b->base < after->base))
			after = b;
	}
	if (!in)
		in = after;
	if (!in)
		return -1;
	d = p->top.ts - in->ts;	/* both >= 0: no overflow */
	return d > 0 ? (double)d / 1000.0 : 0.0;
}

/* Topic IDs */

static struct kt_topic_id *kt_groups_id_find(struct kt_groups *g, const uint8_t id[16])
{
	uint64_t h = hash_bytes(id, 16, SEED_ID);
	struct hnode *n;

	for (n = ht_first(&g->ids, h); n; n = ht_next(n, h)) {
		struct kt_topic_id *t = container_of(n, struct kt_topic_id, h);

		if (!memcmp(t->id, id, 16)) {
			kt_groups_touch(&t->lru, &g->ids_lru);
			return t;
		}
	}
	return NULL;
}

static void kt_groups_id_del(struct kt_groups *g, struct kt_topic_id *t)
{
	ht_remove(&g->ids, &t->h);
	list_del(&t->lru);
	free(t->name);
	free(t);
}

void kt_topics_learn(struct kt_groups *g, const uint8_t id[16], struct kt_s name)
{
	static const uint8_t zero[16];
	struct kt_topic_id *t;
	char *copy;

	name = kt_groups_sv(name);
	if (!id || !name.len || !memcmp(id, zero, 16))
		return;
	t = kt_groups_id_find(g, id);
	if (t) {
		if (kt_groups_eq(t->name, t->len, name))
			return;
		copy = kt_groups_dup(name);
		if (!copy)
			return;
		free(t->name);
		t->name = copy;
		t->len = name.len;
		return;
	}
	if (g->ids.count >= g->cfg.max_topic_ids) {
		kt_groups_id_del(g, list_first(&g->ids_lru, struct kt_topic_id, lru));
		g->st.topic_id_evictions++;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->name = kt_groups_dup(name);
	if (!t->name) {
		free(t);
		return;
	}
	t->len = name.len;
	memcpy(t->id, id, 16);
	list_init(&t->lru);
	list_add_tail(&t->lru, &g->ids_lru);
	ht_insert(&g->ids, &t->h, hash_bytes(id, 16, SEED_ID));
}

const char *kt_topics_name(struct kt_groups *g, const uint8_t id[16], char buf[37])
{
	static const char hex[] = "0123456789abcdef";
	struct kt_topic_id *t = kt_groups_id_find(g, id);
	int i, o = 0;

	if (t)
		return t->name;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[id[i] >> 4];
		buf[o++] = hex[id[i] & 15];
	}
	buf[o] = '\0';
	return buf;
}

/* Reading */

void kt_groups_expire(struct kt_groups *g, uint64_t now_ns)
{
	struct list_head *n;

	kt_groups_clock(g, now_ns);
	for (n = g->groups_lru.next; n != &g->groups_lru; n = n->next)
		kt_groups_expire_group(g, container_of(n, struct kt_group, lru), g->clock);
}

void kt_groups_foreach_at(struct kt_groups *g, uint64_t now_ns, kt_group_fn fn, void *ctx)
{
	struct list_head *n;

	kt_groups_expire(g, now_ns);
	for (n = g->groups_lru.next; n != &g->groups_lru; n = n->next) {
		struct kt_group *grp = container_of(n, struct kt_group, lru);

		fn(ctx, grp->name, grp->nmembers > INT_MAX ? INT_MAX : (int)grp->nmembers,
		   grp->gen, grp->rebalances);
	}
}

void kt_groups_foreach(struct kt_groups *g, kt_group_fn fn, void *ctx)
{
	kt_groups_foreach_at(g, 0, fn, ctx);
}

static void kt_groups_topic_lag(struct kt_groups *g, struct kt_gtopic *t, kt_lag_fn fn, void *ctx)
{
	struct kt_s topic = { t->name, t->len };
	bool any = false, lagging = false, known = false;
	int64_t records = 0;
	double secs = 0;
	struct list_head *n;

	for (n = t->commits.next; n != &t->commits; n = n->next) {
		struct kt_commit *c = container_of(n, struct kt_commit, node);
		struct kt_part *p = kt_groups_part_find(g, topic, c->partition);
		double v;

		if (!p || p->hwm < 0)
			continue;
		any = true;
		if (c->offset >= p->hwm)
			continue;
		lagging = true;
		if (records > INT64_MAX - (p->hwm - c->offset))
			records = INT64_MAX;
		else
			records += p->hwm - c->offset;
		v = kt_groups_part_lag_seconds(p, c->offset);
		if (v >= 0) {
			known = true;
			if (v > secs)
				secs = v;
		}
	}
	if (any)
		fn(ctx, t->grp->name, t->name, records, !lagging ? 0.0 : known ? secs : NAN);
}

void kt_groups_foreach_lag(struct kt_groups *g, uint64_t now_ns, kt_lag_fn fn, void *ctx)
{
	struct list_head *n, *m;

	kt_groups_clock(g, now_ns);
	for (n = g->groups_lru.next; n != &g->groups_lru; n = n->next) {
		struct kt_group *grp = container_of(n, struct kt_group, lru);

		for (m = grp->topics.next; m != &grp->topics; m = m->next)
			kt_groups_topic_lag(g, container_of(m, struct kt_gtopic, node), fn, ctx);
	}
}

const struct kt_groups_stats *kt_groups_stats(const struct kt_groups *g)
{
	return &g->st;
}

/* Life cycle */

struct kt_groups *kt_groups_new(const struct kt_groups_cfg *cfg)
{
	struct kt_groups *g;

	if (!cfg || !cfg->max_groups || !cfg->max_members_per_group || !cfg->max_partitions ||
	    !cfg->max_topic_ids) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->cfg = *cfg;
	if (!g->cfg.max_offsets)
		g->cfg.max_offsets = g->cfg.max_partitions;
	list_init(&g->groups_lru);
	list_init(&g->commits_lru);
	list_init(&g->parts_lru);
	list_init(&g->ids_lru);
	if (ht_init(&g->groups, 16) || ht_init(&g->members, 16) || ht_init(&g->gtopics, 16) ||
	    ht_init(&g->commits, 16) || ht_init(&g->parts, 16) || ht_init(&g->ids, 16)) {
		kt_groups_free(g);
		errno = ENOMEM;
		return NULL;
	}
	return g;
}

void kt_groups_free(struct kt_groups *g)
{
	if (!g)
		return;
	while (!list_empty(&g->groups_lru))
		kt_groups_group_del(g, list_first(&g->groups_lru, struct kt_group, lru));
	while (!list_empty(&g->parts_lru))
		kt_groups_part_del(g, list_first(&g->parts_lru, struct kt_part, lru));
	while (!list_empty(&g->ids_lru))
		kt_groups_id_del(g, list_first(&g->ids_lru, struct kt_topic_id, lru));
	ht_free(&g->groups);
	ht_free(&g->members);
	ht_free(&g->gtopics);
	ht_free(&g->commits);
	ht_free(&g->parts);
	ht_free(&g->ids);
	free(g);
}
