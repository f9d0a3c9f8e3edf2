/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The handler of each API kafkatap reads, by domain; observe.c's table
 * maps api keys to them. Each is a kt_obs_fn (decode/ctx.h).
 */
#ifndef KAFKATAP_DECODE_HANDLERS_H
#define KAFKATAP_DECODE_HANDLERS_H

#include "decode/ctx.h"

#define KT_OBS_HANDLER(name) \
	void name(struct kt_obs *o, const struct kt_exchange *x, const void *q, const void *a)

/* data.c: records, partitions, offsets, topic ids */
KT_OBS_HANDLER(obs_produce);
KT_OBS_HANDLER(obs_fetch);
KT_OBS_HANDLER(obs_list_offsets);
KT_OBS_HANDLER(obs_metadata);
KT_OBS_HANDLER(obs_offset_commit);
KT_OBS_HANDLER(obs_offset_fetch);

/* coordinator.c: consumer group membership (classic and KIP-848) */
KT_OBS_HANDLER(obs_find_coordinator);
KT_OBS_HANDLER(obs_join_group);
KT_OBS_HANDLER(obs_sync_group);
KT_OBS_HANDLER(obs_heartbeat);
KT_OBS_HANDLER(obs_leave_group);
KT_OBS_HANDLER(obs_consumer_group_heartbeat);

/* admin.c: client software, SASL, transactions, admin operations */
KT_OBS_HANDLER(obs_api_versions);
KT_OBS_HANDLER(obs_sasl_handshake);
KT_OBS_HANDLER(obs_init_producer_id);
KT_OBS_HANDLER(obs_add_partitions_to_txn);
KT_OBS_HANDLER(obs_add_offsets_to_txn);
KT_OBS_HANDLER(obs_end_txn);
KT_OBS_HANDLER(obs_txn_offset_commit);
KT_OBS_HANDLER(obs_create_topics);
KT_OBS_HANDLER(obs_delete_topics);
KT_OBS_HANDLER(obs_delete_records);
KT_OBS_HANDLER(obs_create_acls);
KT_OBS_HANDLER(obs_delete_acls);
KT_OBS_HANDLER(obs_alter_configs);
KT_OBS_HANDLER(obs_create_partitions);
KT_OBS_HANDLER(obs_delete_groups);
KT_OBS_HANDLER(obs_elect_leaders);
KT_OBS_HANDLER(obs_incremental_alter_configs);
KT_OBS_HANDLER(obs_alter_partition_reassignments);
KT_OBS_HANDLER(obs_offset_delete);

#endif
