// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "core/session.h"

int kt_pipe_init(struct kt_pipe *p, const struct kt_cli *c, bool metrics)
{
	struct kt_groups_cfg gc = {
		.max_groups = c->km.max_groups,
		.max_members_per_group = 1024,
		.max_partitions = 65536,
		.max_topic_ids = c->km.max_topics * 4,
		.member_timeout_ns = 60ULL * 1000000000ULL,
	};

	memset(p, 0, sizeof(*p));
	p->groups = kt_groups_new(&gc);
	p->obs = p->groups ? kt_observer_new(p->groups) : NULL;
	if (metrics)
		p->km = kt_km_new(&c->km);
	if (!p->groups || !p->obs || (metrics && !p->km)) {
		kt_pipe_free(p);
		return -1;
	}
	return 0;
}

void kt_pipe_free(struct kt_pipe *p)
{
	kt_km_free(p->km);
	kt_observer_free(p->obs);
	kt_groups_free(p->groups);
	memset(p, 0, sizeof(*p));
}

const struct kt_annot *kt_pipe_exchange(struct kt_pipe *p, const struct kt_exchange *x)
{
	const struct kt_annot *an = kt_observer_exchange(p->obs, x);

	if (p->km)
		kt_km_exchange(p->km, x, an);
	return an;
}

void kt_pipe_conn(struct kt_pipe *p, const struct kt_conn *c, bool opened)
{
	if (p->km)
		kt_km_conn(p->km, c, opened);
}

char *kt_pipe_render(struct kt_pipe *p, const uint64_t *kernel, const struct kt_agent_stats *st,
		     uint64_t now_ns, bool openmetrics, size_t *len)
{
	if (!p->km)
		return NULL;
	kt_km_sync(p->km, kernel, st);
	kt_km_sync_groups(p->km, p->groups, now_ns);
	return kt_km_render(p->km, openmetrics, len);
}
