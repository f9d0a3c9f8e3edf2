// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The group coordinator's APIs: which group an exchange is about, and
 * membership (classic JoinGroup/SyncGroup/Heartbeat/LeaveGroup, KIP-848
 * ConsumerGroupHeartbeat) fed to the group tracker.
 */
#include "decode/handlers.h"
#include "pair/agent.h"
#include "proto/gen/kafka_msgs_gen.h"

#define FIND_COORDINATOR_BATCHED_SINCE	4	/* one error per coordinator */

KT_OBS_HANDLER(obs_find_coordinator)
{
	const struct kc_FindCoordinatorRequest *r = q;
	const struct kc_FindCoordinatorResponse *s = a;

	if (s && x->api_version < FIND_COORDINATOR_BATCHED_SINCE)
		obs_error(o, s->error_code);
	else if (s && s->coordinators.n)
		obs_error(o, s->coordinators.v[0].error_code);
	if (r && r->key.len > 0)
		o->an.group = obs_str(o, r->key);
}

KT_OBS_HANDLER(obs_join_group)
{
	const struct kc_JoinGroupRequest *r = q;
	const struct kc_JoinGroupResponse *s = a;
	struct kt_s *members = NULL;
	int n = -1;
	uint32_t i;

	if (!r)
		return;
	o->an.group = obs_str(o, r->group_id);
	if (!s || s->error_code)
		return;
	/*
	 * Only the leader's response lists the members of the generation: all
	 * of them, the tracker caps a group (and counts what its cap drops).
	 * Without room for the list, the member alone is recorded.
	 */
	if (s->members.n)
		members = kc_arena_alloc(&o->arena, s->members.n, sizeof(*members));
	if (members) {
		for (i = 0; i < s->members.n; i++)
			members[i] = obs_sv(s->members.v[i].member_id);
		n = (int)s->members.n;
	}
	kt_groups_joined(o->groups, obs_sv(r->group_id), obs_sv(s->member_id), s->generation_id,
			 members, n, o->ts);
}

KT_OBS_HANDLER(obs_sync_group)
{
	const struct kc_SyncGroupRequest *r = q;
	const struct kc_SyncGroupResponse *s = a;

	if (!r)
		return;
	o->an.group = obs_str(o, r->group_id);
	if (s && !s->error_code)
		kt_groups_synced(o->groups, obs_sv(r->group_id), obs_sv(r->member_id),
				 r->generation_id, o->ts);
}

KT_OBS_HANDLER(obs_heartbeat)
{
	const struct kc_HeartbeatRequest *r = q;
	const struct kc_HeartbeatResponse *s = a;

	if (!r)
		return;
	o->an.group = obs_str(o, r->group_id);
	if (s)
		kt_groups_heartbeat(o->groups, obs_sv(r->group_id), obs_sv(r->member_id),
				    r->generation_id, s->error_code, o->ts);
}

KT_OBS_HANDLER(obs_leave_group)
{
	const struct kc_LeaveGroupRequest *r = q;
	const struct kc_LeaveGroupResponse *s = a;
	uint32_t i;

	if (!r)
		return;
	o->an.group = obs_str(o, r->group_id);
	if (!s || s->error_code)
		return;
	if (r->member_id.len > 0)
		kt_groups_left(o->groups, obs_sv(r->group_id), obs_sv(r->member_id), o->ts);
	/* v3+: a batch of members. */
	for (i = 0; i < r->members.n; i++)
		kt_groups_left(o->groups, obs_sv(r->group_id), obs_sv(r->members.v[i].member_id),
			       o->ts);
}

KT_OBS_HANDLER(obs_consumer_group_heartbeat)
{
	const struct kc_ConsumerGroupHeartbeatRequest *r = q;
	const struct kc_ConsumerGroupHeartbeatResponse *s = a;

	if (!r)
		return;
	o->an.group = obs_str(o, r->group_id);
	if (s)
		kt_groups_cg_heartbeat(o->groups, obs_sv(r->group_id),
				       s->member_id.len > 0 ? obs_sv(s->member_id) :
							      obs_sv(r->member_id),
				       r->member_epoch, s->member_epoch, s->error_code, o->ts);
}
