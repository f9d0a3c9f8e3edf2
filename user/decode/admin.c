// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What clients say about themselves (ApiVersions software, SASL
 * mechanism), transactions (transactional_id), and admin operations with
 * the resources they name. Resources are named, never configuration
 * values: they may be secrets.
 */
#include "decode/handlers.h"
#include "pair/agent.h"
#include "proto/gen/kafka_msgs_gen.h"

#define API_VERSIONS_SOFTWARE_SINCE	3	/* KIP-511: client software name, version */

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

/* Client software and SASL */

KT_OBS_HANDLER(obs_api_versions)
{
	const struct kc_ApiVersionsRequest *r = q;

	if (r && x->api_version >= API_VERSIONS_SOFTWARE_SINCE) {
		o->an.sw_name = obs_str(o, r->client_software_name);
		o->an.sw_version = obs_str(o, r->client_software_version);
	}
}

KT_OBS_HANDLER(obs_sasl_handshake)
{
	const struct kc_SaslHandshakeRequest *r = q;

	if (r)
		o->an.mechanism = obs_str(o, r->mechanism);
}

/* Transactions */

KT_OBS_HANDLER(obs_init_producer_id)
{
	const struct kc_InitProducerIdRequest *r = q;

	if (r && r->transactional_id.len > 0)
		o->an.txn_id = obs_str(o, r->transactional_id);
}

KT_OBS_HANDLER(obs_add_partitions_to_txn)
{
	const struct kc_AddPartitionsToTxnRequest *r = q;

	if (r && r->v3_and_below_transactional_id.len > 0)
		o->an.txn_id = obs_str(o, r->v3_and_below_transactional_id);
	else if (r && r->transactions.n)
		o->an.txn_id = obs_str(o, r->transactions.v[0].transactional_id);
}

KT_OBS_HANDLER(obs_add_offsets_to_txn)
{
	const struct kc_AddOffsetsToTxnRequest *r = q;

	if (r) {
		o->an.txn_id = obs_str(o, r->transactional_id);
		o->an.group = obs_str(o, r->group_id);
	}
}

KT_OBS_HANDLER(obs_end_txn)
{
	const struct kc_EndTxnRequest *r = q;

	if (r)
		o->an.txn_id = obs_str(o, r->transactional_id);
}

KT_OBS_HANDLER(obs_txn_offset_commit)
{
	const struct kc_TxnOffsetCommitRequest *r = q;

	if (r) {
		o->an.txn_id = obs_str(o, r->transactional_id);
		o->an.group = obs_str(o, r->group_id);
	}
}

/* Admin operations (observe.c's table says which): the resources they name. */

KT_OBS_HANDLER(obs_create_topics)
{
	const struct kc_CreateTopicsRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->topics.n; i++)
		obs_resource(o, "topic", r->topics.v[i].name, "create");
}

KT_OBS_HANDLER(obs_delete_topics)
{
	const struct kc_DeleteTopicsRequest *r = q;
	uint32_t i;

	if (!r)
		return;
	for (i = 0; i < r->topic_names.n; i++)
		obs_resource(o, "topic", r->topic_names.v[i], "delete");
	for (i = 0; i < r->topics.n; i++)
		obs_resource(o, "topic", r->topics.v[i].name, "delete");
}

KT_OBS_HANDLER(obs_create_partitions)
{
	const struct kc_CreatePartitionsRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->topics.n; i++)
		obs_resource(o, "topic", r->topics.v[i].name, "add_partitions");
}

KT_OBS_HANDLER(obs_delete_records)
{
	const struct kc_DeleteRecordsRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->topics.n; i++)
		obs_resource(o, "topic", r->topics.v[i].name, "delete_records");
}

KT_OBS_HANDLER(obs_alter_configs)
{
	const struct kc_AlterConfigsRequest *r = q;
	uint32_t i, j;

	for (i = 0; r && i < r->resources.n; i++)
		for (j = 0; j < r->resources.v[i].configs.n; j++)
			obs_resource(o, config_kind(r->resources.v[i].resource_type),
				     r->resources.v[i].resource_name,
				     obs_str(o, r->resources.v[i].configs.v[j].name));
}

KT_OBS_HANDLER(obs_incremental_alter_configs)
{
	const struct kc_IncrementalAlterConfigsRequest *r = q;
	uint32_t i, j;

	for (i = 0; r && i < r->resources.n; i++)
		for (j = 0; j < r->resources.v[i].configs.n; j++)
			obs_resource(o, config_kind(r->resources.v[i].resource_type),
				     r->resources.v[i].resource_name,
				     obs_str(o, r->resources.v[i].configs.v[j].name));
}

KT_OBS_HANDLER(obs_create_acls)
{
	const struct kc_CreateAclsRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->creations.n; i++)
		obs_resource(o, "acl", r->creations.v[i].resource_name,
			     obs_str(o, r->creations.v[i].principal));
}

KT_OBS_HANDLER(obs_delete_acls)
{
	const struct kc_DeleteAclsRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->filters.n; i++)
		obs_resource(o, "acl", r->filters.v[i].resource_name_filter,
			     r->filters.v[i].principal_filter.len >= 0 ?
			     obs_str(o, r->filters.v[i].principal_filter) : NULL);
}

KT_OBS_HANDLER(obs_delete_groups)
{
	const struct kc_DeleteGroupsRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->groups_names.n; i++)
		obs_resource(o, "group", r->groups_names.v[i], "delete");
}

KT_OBS_HANDLER(obs_elect_leaders)
{
	const struct kc_ElectLeadersRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->topic_partitions.n; i++)
		obs_resource(o, "topic", r->topic_partitions.v[i].topic, "elect_leaders");
}

KT_OBS_HANDLER(obs_alter_partition_reassignments)
{
	const struct kc_AlterPartitionReassignmentsRequest *r = q;
	uint32_t i;

	for (i = 0; r && i < r->topics.n; i++)
		obs_resource(o, "topic", r->topics.v[i].name, "reassign");
}

KT_OBS_HANDLER(obs_offset_delete)
{
	const struct kc_OffsetDeleteRequest *r = q;
	uint32_t i;

	if (!r)
		return;
	o->an.group = obs_str(o, r->group_id);
	for (i = 0; i < r->topics.n; i++)
		obs_resource(o, "offsets", r->topics.v[i].name, "delete");
}
