// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The other APIs kafkatap reads: consumer groups (classic and KIP-848),
 * client software, SASL mechanism, transactions, admin operations. Admin
 * resources are named, never configuration values: they may be secrets.
 */
#include <string.h>
#include "proto/apis.h"
#include "proto/gen/kafka_msgs_gen.h"
#include "decode/internal.h"

/* ConfigResource.Type codes. */
static const char *const config_kinds[] = {
	[0] = "unknown", [1] = "any", [2] = "topic", [4] = "broker",
	[8] = "broker_logger", [16] = "client_metrics", [32] = "group",
};

static const char *config_kind(int8_t t)
{
	return t >= 0 && (size_t)t < sizeof(config_kinds) / sizeof(config_kinds[0]) &&
	       config_kinds[t] ? config_kinds[t] : "resource";
}

static void on_join(struct kt_observer *o, const struct kc_JoinGroupRequest *q,
		    const struct kc_JoinGroupResponse *a)
{
	struct kt_s members[64];
	int n = -1;
	uint32_t i;

	if (!q)
		return;
	o->an.group = obs_str(o, q->group_id);
	if (!a || a->error_code)
		return;
	/* Only the leader's response lists the members of the generation. */
	if (a->members.n) {
		for (i = 0, n = 0; i < a->members.n && n < 64; i++)
			members[n++] = obs_sv(a->members.v[i].member_id);
	}
	kt_groups_joined(o->groups, obs_sv(q->group_id), obs_sv(a->member_id), a->generation_id,
			 members, n, o->ts);
}

static void on_sync(struct kt_observer *o, const struct kc_SyncGroupRequest *q,
		    const struct kc_SyncGroupResponse *a)
{
	if (!q)
		return;
	o->an.group = obs_str(o, q->group_id);
	if (a && !a->error_code)
		kt_groups_synced(o->groups, obs_sv(q->group_id), obs_sv(q->member_id),
				 q->generation_id, o->ts);
}

static void on_heartbeat(struct kt_observer *o, const struct kc_HeartbeatRequest *q,
			 const struct kc_HeartbeatResponse *a)
{
	if (!q)
		return;
	o->an.group = obs_str(o, q->group_id);
	if (a)
		kt_groups_heartbeat(o->groups, obs_sv(q->group_id), obs_sv(q->member_id),
				    q->generation_id, a->error_code, o->ts);
}

static void on_leave(struct kt_observer *o, const struct kc_LeaveGroupRequest *q,
		     const struct kc_LeaveGroupResponse *a)
{
	uint32_t i;

	if (!q)
		return;
	o->an.group = obs_str(o, q->group_id);
	if (!a || a->error_code)
		return;
	if (q->member_id.len > 0)
		kt_groups_left(o->groups, obs_sv(q->group_id), obs_sv(q->member_id), o->ts);
	for (i = 0; i < q->members.n; i++)
		kt_groups_left(o->groups, obs_sv(q->group_id), obs_sv(q->members.v[i].member_id), o->ts);
}

static void on_cg_heartbeat(struct kt_observer *o, const struct kc_ConsumerGroupHeartbeatRequest *q,
			    const struct kc_ConsumerGroupHeartbeatResponse *a)
{
	if (!q)
		return;
	o->an.group = obs_str(o, q->group_id);
	if (a)
		kt_groups_cg_heartbeat(o->groups, obs_sv(q->group_id),
				       a->member_id.len > 0 ? obs_sv(a->member_id) : obs_sv(q->member_id),
				       q->member_epoch, a->member_epoch, a->error_code, o->ts);
}

static void admin(struct kt_observer *o, const struct kt_exchange *x, void *q)
{
	uint32_t i, j;

	o->an.admin = true;
	if (!q)
		return;
	switch (x->api_key) {
	case KAFKA_API_CREATE_TOPICS: {
		const struct kc_CreateTopicsRequest *r = q;

		for (i = 0; i < r->topics.n; i++)
			obs_resource(o, "topic", r->topics.v[i].name, "create");
		break;
	}
	case KAFKA_API_DELETE_TOPICS: {
		const struct kc_DeleteTopicsRequest *r = q;

		for (i = 0; i < r->topic_names.n; i++)
			obs_resource(o, "topic", r->topic_names.v[i], "delete");
		for (i = 0; i < r->topics.n; i++)
			obs_resource(o, "topic", r->topics.v[i].name, "delete");
		break;
	}
	case KAFKA_API_CREATE_PARTITIONS: {
		const struct kc_CreatePartitionsRequest *r = q;

		for (i = 0; i < r->topics.n; i++)
			obs_resource(o, "topic", r->topics.v[i].name, "add_partitions");
		break;
	}
	case KAFKA_API_DELETE_RECORDS: {
		const struct kc_DeleteRecordsRequest *r = q;

		for (i = 0; i < r->topics.n; i++)
			obs_resource(o, "topic", r->topics.v[i].name, "delete_records");
		break;
	}
	case KAFKA_API_ALTER_CONFIGS: {
		const struct kc_AlterConfigsRequest *r = q;

		for (i = 0; i < r->resources.n; i++)
			for (j = 0; j < r->resources.v[i].configs.n; j++)
				obs_resource(o, config_kind(r->resources.v[i].resource_type),
					     r->resources.v[i].resource_name,
					     obs_str(o, r->resources.v[i].configs.v[j].name));
		break;
	}
	case KAFKA_API_INCREMENTAL_ALTER_CONFIGS: {
		const struct kc_IncrementalAlterConfigsRequest *r = q;

		for (i = 0; i < r->resources.n; i++)
			for (j = 0; j < r->resources.v[i].configs.n; j++)
				obs_resource(o, config_kind(r->resources.v[i].resource_type),
					     r->resources.v[i].resource_name,
					     obs_str(o, r->resources.v[i].configs.v[j].name));
		break;
	}
	case KAFKA_API_CREATE_ACLS: {
		const struct kc_CreateAclsRequest *r = q;

		for (i = 0; i < r->creations.n; i++)
			obs_resource(o, "acl", r->creations.v[i].resource_name,
				     obs_str(o, r->creations.v[i].principal));
		break;
	}
	case KAFKA_API_DELETE_ACLS: {
		const struct kc_DeleteAclsRequest *r = q;

		for (i = 0; i < r->filters.n; i++)
			obs_resource(o, "acl", r->filters.v[i].resource_name_filter,
				     r->filters.v[i].principal_filter.len >= 0 ?
				     obs_str(o, r->filters.v[i].principal_filter) : NULL);
		break;
	}
	case KAFKA_API_DELETE_GROUPS: {
		const struct kc_DeleteGroupsRequest *r = q;

		for (i = 0; i < r->groups_names.n; i++)
			obs_resource(o, "group", r->groups_names.v[i], "delete");
		break;
	}
	case KAFKA_API_ELECT_LEADERS: {
		const struct kc_ElectLeadersRequest *r = q;

		for (i = 0; i < r->topic_partitions.n; i++)
			obs_resource(o, "topic", r->topic_partitions.v[i].topic, "elect_leaders");
		break;
	}
	case KAFKA_API_ALTER_PARTITION_REASSIGNMENTS: {
		const struct kc_AlterPartitionReassignmentsRequest *r = q;

		for (i = 0; i < r->topics.n; i++)
			obs_resource(o, "topic", r->topics.v[i].name, "reassign");
		break;
	}
	case KAFKA_API_OFFSET_DELETE: {
		const struct kc_OffsetDeleteRequest *r = q;

		o->an.group = obs_str(o, r->group_id);
		for (i = 0; i < r->topics.n; i++)
			obs_resource(o, "offsets", r->topics.v[i].name, "delete");
		break;
	}
	}
}

#define TOP_ERROR(T) do {					\
	if (a) {						\
		o->an.has_error = true;				\
		o->an.error = ((const struct T *)a)->error_code;	\
	}							\
} while (0)

/* The top-level error code of the responses that have one. */
static void top_error(struct kt_observer *o, const struct kt_exchange *x, void *a)
{
	switch (x->api_key) {
	case KAFKA_API_JOIN_GROUP: TOP_ERROR(kc_JoinGroupResponse); break;
	case KAFKA_API_SYNC_GROUP: TOP_ERROR(kc_SyncGroupResponse); break;
	case KAFKA_API_HEARTBEAT: TOP_ERROR(kc_HeartbeatResponse); break;
	case KAFKA_API_LEAVE_GROUP: TOP_ERROR(kc_LeaveGroupResponse); break;
	case KAFKA_API_CONSUMER_GROUP_HEARTBEAT: TOP_ERROR(kc_ConsumerGroupHeartbeatResponse); break;
	case KAFKA_API_API_VERSIONS: TOP_ERROR(kc_ApiVersionsResponse); break;
	case KAFKA_API_SASL_HANDSHAKE: TOP_ERROR(kc_SaslHandshakeResponse); break;
	case KAFKA_API_INIT_PRODUCER_ID: TOP_ERROR(kc_InitProducerIdResponse); break;
	case KAFKA_API_END_TXN: TOP_ERROR(kc_EndTxnResponse); break;
	case KAFKA_API_ADD_OFFSETS_TO_TXN: TOP_ERROR(kc_AddOffsetsToTxnResponse); break;
	case KAFKA_API_FIND_COORDINATOR:
		if (a && x->api_version < 4)
			TOP_ERROR(kc_FindCoordinatorResponse);
		else if (a && ((const struct kc_FindCoordinatorResponse *)a)->coordinators.n) {
			o->an.has_error = true;
			o->an.error = ((const struct kc_FindCoordinatorResponse *)a)->coordinators.v[0].error_code;
		}
		break;
	}
}

void obs_more(struct kt_observer *o, const struct kt_exchange *x, void *q, void *a)
{
	top_error(o, x, a);
	switch (x->api_key) {
	case KAFKA_API_JOIN_GROUP:
		on_join(o, q, a);
		return;
	case KAFKA_API_SYNC_GROUP:
		on_sync(o, q, a);
		return;
	case KAFKA_API_HEARTBEAT:
		on_heartbeat(o, q, a);
		return;
	case KAFKA_API_LEAVE_GROUP:
		on_leave(o, q, a);
		return;
	case KAFKA_API_CONSUMER_GROUP_HEARTBEAT:
		on_cg_heartbeat(o, q, a);
		return;
	case KAFKA_API_FIND_COORDINATOR: {
		const struct kc_FindCoordinatorRequest *r = q;

		if (r && r->key.len > 0)
			o->an.group = obs_str(o, r->key);
		return;
	}
	case KAFKA_API_API_VERSIONS: {
		const struct kc_ApiVersionsRequest *r = q;

		if (r && x->api_version >= 3) {
			o->an.sw_name = obs_str(o, r->client_software_name);
			o->an.sw_version = obs_str(o, r->client_software_version);
		}
		return;
	}
	case KAFKA_API_SASL_HANDSHAKE: {
		const struct kc_SaslHandshakeRequest *r = q;

		if (r)
			o->an.mechanism = obs_str(o, r->mechanism);
		return;
	}
	case KAFKA_API_INIT_PRODUCER_ID: {
		const struct kc_InitProducerIdRequest *r = q;

		if (r && r->transactional_id.len > 0)
			o->an.txn_id = obs_str(o, r->transactional_id);
		return;
	}
	case KAFKA_API_END_TXN: {
		const struct kc_EndTxnRequest *r = q;

		if (r)
			o->an.txn_id = obs_str(o, r->transactional_id);
		return;
	}
	case KAFKA_API_ADD_PARTITIONS_TO_TXN: {
		const struct kc_AddPartitionsToTxnRequest *r = q;

		if (r && r->v3_and_below_transactional_id.len > 0)
			o->an.txn_id = obs_str(o, r->v3_and_below_transactional_id);
		else if (r && r->transactions.n)
			o->an.txn_id = obs_str(o, r->transactions.v[0].transactional_id);
		return;
	}
	case KAFKA_API_ADD_OFFSETS_TO_TXN: {
		const struct kc_AddOffsetsToTxnRequest *r = q;

		if (r) {
			o->an.txn_id = obs_str(o, r->transactional_id);
			o->an.group = obs_str(o, r->group_id);
		}
		return;
	}
	case KAFKA_API_TXN_OFFSET_COMMIT: {
		const struct kc_TxnOffsetCommitRequest *r = q;

		if (r) {
			o->an.txn_id = obs_str(o, r->transactional_id);
			o->an.group = obs_str(o, r->group_id);
		}
		return;
	}
	case KAFKA_API_CREATE_TOPICS: case KAFKA_API_DELETE_TOPICS: case KAFKA_API_DELETE_RECORDS: case KAFKA_API_CREATE_ACLS:
	case KAFKA_API_DELETE_ACLS: case KAFKA_API_ALTER_CONFIGS: case KAFKA_API_CREATE_PARTITIONS: case KAFKA_API_DELETE_GROUPS:
	case KAFKA_API_ELECT_LEADERS: case KAFKA_API_INCREMENTAL_ALTER_CONFIGS:
	case KAFKA_API_ALTER_PARTITION_REASSIGNMENTS: case KAFKA_API_OFFSET_DELETE:
	case KAFKA_API_ALTER_USER_SCRAM_CREDENTIALS:
		admin(o, x, q);
		return;
	}
}

/*
 * What the observer needs captured. HEADER for everything else, and for
 * what carries secrets: SaslAuthenticate (the kernel enforces it anyway),
 * SCRAM credentials, delegation tokens.
 */
void kt_default_capture(struct kt_policy *p)
{
	static const enum kafka_api full_both[] = {
		KAFKA_API_LIST_OFFSETS, KAFKA_API_METADATA, KAFKA_API_OFFSET_COMMIT,
		KAFKA_API_OFFSET_FETCH, KAFKA_API_FIND_COORDINATOR, KAFKA_API_JOIN_GROUP,
		KAFKA_API_HEARTBEAT, KAFKA_API_LEAVE_GROUP, KAFKA_API_SYNC_GROUP,
		KAFKA_API_SASL_HANDSHAKE, KAFKA_API_CREATE_TOPICS, KAFKA_API_DELETE_TOPICS,
		KAFKA_API_DELETE_RECORDS, KAFKA_API_INIT_PRODUCER_ID,
		KAFKA_API_ADD_PARTITIONS_TO_TXN, KAFKA_API_ADD_OFFSETS_TO_TXN, KAFKA_API_END_TXN,
		KAFKA_API_TXN_OFFSET_COMMIT, KAFKA_API_CREATE_ACLS, KAFKA_API_DELETE_ACLS,
		KAFKA_API_ALTER_CONFIGS, KAFKA_API_CREATE_PARTITIONS, KAFKA_API_DELETE_GROUPS,
		KAFKA_API_ELECT_LEADERS, KAFKA_API_INCREMENTAL_ALTER_CONFIGS,
		KAFKA_API_ALTER_PARTITION_REASSIGNMENTS, KAFKA_API_OFFSET_DELETE,
		KAFKA_API_CONSUMER_GROUP_HEARTBEAT,
	};
	const uint32_t cap = 1 << 20;
	size_t i;

	memset(p, 0, sizeof(*p) * KT_API_MAX);
	for (i = 0; i < sizeof(full_both) / sizeof(full_both[0]); i++) {
		p[full_both[i]] = (struct kt_policy){ .req_mode = KT_CAP_FULL,
			.resp_mode = KT_CAP_FULL, .req_limit = cap, .resp_limit = cap };
	}
	/* Produce: record bodies never leave the kernel. */
	p[KAFKA_API_PRODUCE] = (struct kt_policy){ .req_mode = KT_CAP_STRUCTURE, .resp_mode = KT_CAP_FULL,
				   .req_limit = cap, .resp_limit = cap };
	p[KAFKA_API_FETCH] = (struct kt_policy){ .req_mode = KT_CAP_FULL, .resp_mode = KT_CAP_STRUCTURE,
				   .req_limit = cap, .resp_limit = cap };
	/* ApiVersions: the request names the client; of the long response, the error. */
	p[KAFKA_API_API_VERSIONS] = (struct kt_policy){ .req_mode = KT_CAP_FULL, .req_limit = 4096,
						.resp_mode = KT_CAP_BOUNDED, .resp_limit = 64 };
}
