// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The observer: an exchange's frames decoded (frame.c) and handed to the
 * handler of its API. One table, indexed by api key, says for each API
 * kafkatap reads which handler reads it and what it needs captured.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "decode/ctx.h"
#include "decode/frame.h"
#include "decode/handlers.h"
#include "decode/observe.h"
#include "pair/agent.h"
#include "proto/apis.h"
#include "proto/gen/kafka_msgs_gen.h"

#define ARENA_SIZE	(8u << 20)	/* decoded structs of one exchange */
#define CAPTURE_CAP	(1u << 20)	/* capture limit of FULL and STRUCTURE */

struct kt_observer {
	struct kt_obs o;
	uint8_t *mem;
};

#define CAPTURE(req, resp)						\
	{ .req_mode = KT_CAP_##req, .resp_mode = KT_CAP_##resp,	\
	  .req_limit = CAPTURE_CAP, .resp_limit = CAPTURE_CAP }
#define FULL	CAPTURE(FULL, FULL)
/* An admin operation (kafkatap_admin_operations_total; resources in the trace). */
#define ADMIN	.admin = true
/* The response has a top-level error code, in every version. */
#define TOP_ERROR(api)	.top_error = true, .error_at = offsetof(struct kc_##api##Response, error_code)

/*
 * Per api key: its handler, the capture it needs (HEADER where there is
 * none), whether it is an admin operation, and where its response's
 * top-level error code is, if it has one in every version (Fetch and
 * FindCoordinator say theirs). What carries secrets stays HEADER:
 * SaslAuthenticate (the kernel enforces it anyway), SCRAM credentials,
 * delegation tokens.
 */
static const struct {
	kt_obs_fn fn;
	struct kt_policy capture;
	bool admin;
	bool top_error;
	uint16_t error_at;	/* offset of the int16_t error_code in the response */
} apis[KT_API_MAX] = {
	/* Record bodies never leave the kernel: STRUCTURE keeps batch headers. */
	[KAFKA_API_PRODUCE] = { obs_produce, CAPTURE(STRUCTURE, FULL) },
	[KAFKA_API_FETCH] = { obs_fetch, CAPTURE(FULL, STRUCTURE) },
	[KAFKA_API_LIST_OFFSETS] = { obs_list_offsets, FULL },
	[KAFKA_API_METADATA] = { obs_metadata, FULL },
	[KAFKA_API_OFFSET_COMMIT] = { obs_offset_commit, FULL },
	[KAFKA_API_OFFSET_FETCH] = { obs_offset_fetch, FULL },
	[KAFKA_API_FIND_COORDINATOR] = { obs_find_coordinator, FULL },
	[KAFKA_API_JOIN_GROUP] = { obs_join_group, FULL, TOP_ERROR(JoinGroup) },
	[KAFKA_API_HEARTBEAT] = { obs_heartbeat, FULL, TOP_ERROR(Heartbeat) },
	[KAFKA_API_LEAVE_GROUP] = { obs_leave_group, FULL, TOP_ERROR(LeaveGroup) },
	[KAFKA_API_SYNC_GROUP] = { obs_sync_group, FULL, TOP_ERROR(SyncGroup) },
	[KAFKA_API_CONSUMER_GROUP_HEARTBEAT] = { obs_consumer_group_heartbeat, FULL,
		TOP_ERROR(ConsumerGroupHeartbeat) },
	/* The request names the client; of the long response, the error. */
	[KAFKA_API_API_VERSIONS] = { obs_api_versions, {
		.req_mode = KT_CAP_FULL, .req_limit = 4096,
		.resp_mode = KT_CAP_BOUNDED, .resp_limit = 64 }, TOP_ERROR(ApiVersions) },
	[KAFKA_API_SASL_HANDSHAKE] = { obs_sasl_handshake, FULL, TOP_ERROR(SaslHandshake) },
	[KAFKA_API_INIT_PRODUCER_ID] = { obs_init_producer_id, FULL, TOP_ERROR(InitProducerId) },
	[KAFKA_API_ADD_PARTITIONS_TO_TXN] = { obs_add_partitions_to_txn, FULL },
	[KAFKA_API_ADD_OFFSETS_TO_TXN] = { obs_add_offsets_to_txn, FULL,
		TOP_ERROR(AddOffsetsToTxn) },
	[KAFKA_API_END_TXN] = { obs_end_txn, FULL, TOP_ERROR(EndTxn) },
	[KAFKA_API_TXN_OFFSET_COMMIT] = { obs_txn_offset_commit, FULL },
	[KAFKA_API_CREATE_TOPICS] = { obs_create_topics, FULL, ADMIN },
	[KAFKA_API_DELETE_TOPICS] = { obs_delete_topics, FULL, ADMIN },
	[KAFKA_API_DELETE_RECORDS] = { obs_delete_records, FULL, ADMIN },
	[KAFKA_API_CREATE_ACLS] = { obs_create_acls, FULL, ADMIN },
	[KAFKA_API_DELETE_ACLS] = { obs_delete_acls, FULL, ADMIN },
	[KAFKA_API_ALTER_CONFIGS] = { obs_alter_configs, FULL, ADMIN },
	[KAFKA_API_CREATE_PARTITIONS] = { obs_create_partitions, FULL, ADMIN },
	[KAFKA_API_DELETE_GROUPS] = { obs_delete_groups, FULL, ADMIN },
	[KAFKA_API_ELECT_LEADERS] = { obs_elect_leaders, FULL, ADMIN },
	[KAFKA_API_INCREMENTAL_ALTER_CONFIGS] = { obs_incremental_alter_configs, FULL, ADMIN },
	[KAFKA_API_ALTER_PARTITION_REASSIGNMENTS] = { obs_alter_partition_reassignments, FULL,
		ADMIN },
	[KAFKA_API_OFFSET_DELETE] = { obs_offset_delete, FULL, ADMIN },
	/* Credentials: never captured. */
	[KAFKA_API_ALTER_USER_SCRAM_CREDENTIALS] = { NULL, { KT_CAP_HEADER }, ADMIN },
};

void kt_default_capture(struct kt_policy *p)
{
	int i;

	for (i = 0; i < KT_API_MAX; i++)
		p[i] = apis[i].capture;
}

struct kt_observer *kt_observer_new(struct kt_groups *groups)
{
	struct kt_observer *ob = calloc(1, sizeof(*ob));

	if (!ob)
		return NULL;
	ob->mem = malloc(ARENA_SIZE);
	if (!ob->mem) {
		free(ob);
		return NULL;
	}
	kc_arena_init(&ob->o.arena, ob->mem, ARENA_SIZE);
	ob->o.groups = groups;
	return ob;
}

void kt_observer_free(struct kt_observer *ob)
{
	if (!ob)
		return;
	kc_arena_fini(&ob->o.arena);
	free(ob->mem);
	free(ob);
}

void kt_observer_set_groups(struct kt_observer *ob, struct kt_groups *groups)
{
	ob->o.groups = groups;
}

const struct kt_annot *kt_observer_exchange(struct kt_observer *ob, const struct kt_exchange *x)
{
	const struct kt_api_info *api = kt_api(x->api_key);
	struct kt_obs *o = &ob->o;
	const char *invalid = NULL;
	void *q = NULL, *a = NULL;

	kc_arena_reset(&o->arena);
	memset(&o->an, 0, sizeof(o->an));
	o->ts = x->resp_ts_ns ? x->resp_ts_ns : x->req_ts_ns;
	o->an.acks = x->acks;
	o->an.acks_known = x->acks_known;
	if (!api) {
		o->an.invalid = kt_invalid_reasons[KT_INV_UNKNOWN_API];
		return &o->an;
	}
	if (x->api_version < api->min_version || x->api_version > api->max_version) {
		o->an.invalid = kt_invalid_reasons[KT_INV_UNKNOWN_VERSION];
		return &o->an;
	}
	o->an.deprecated = kt_api_deprecated(x->api_key, x->api_version);
	q = kt_decode_frame(&o->arena, &x->req_cap, false, x->api_key, x->api_version, &invalid);
	o->an.invalid = invalid;
	if (x->status == KT_STATUS_OK)
		a = kt_decode_frame(&o->arena, &x->resp_cap, true, x->api_key, x->api_version,
				    NULL);
	o->an.req_decoded = q != NULL;
	o->an.resp_decoded = a != NULL;
	o->an.admin = apis[x->api_key].admin;
	if (a && apis[x->api_key].top_error)
		obs_error(o, *(const int16_t *)((const char *)a + apis[x->api_key].error_at));
	if (apis[x->api_key].fn)
		apis[x->api_key].fn(o, x, q, a);
	return &o->an;
}
