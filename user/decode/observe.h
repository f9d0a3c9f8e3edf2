/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Deep decoding: an exchange's captured frames through the codec generated
 * from the specs, and what they tell: records and bytes per topic and
 * partition, partition errors, consumer groups and offsets (fed to the
 * group tracker), client software, SASL mechanism, admin operations,
 * invalid requests. The result (struct kt_annot) is read by the metrics
 * and the trace while the exchange is handed out.
 */
#ifndef KAFKATAP_OBSERVE_H
#define KAFKATAP_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>
#include "pair/agent.h"
#include "track/groups.h"
#include "kafkatap.h"

/* One partition of a Produce or Fetch (or of a partition error). */
struct kt_tp {
	const char *topic;
	int32_t partition;
	int16_t error;		/* 0 none, -1 unknown (no response decoded) */
	bool has_data;		/* records and bytes below are known */
	int64_t records;	/* Produce: sent; Fetch: in complete batches */
	int64_t bytes;		/* record batch bytes as on the wire (compressed) */
};

#define KT_MAX_RESOURCES 32

struct kt_annot {
	bool req_decoded;
	bool resp_decoded;
	const char *invalid;	/* why the request failed validation, or NULL */
	struct kt_tp *tps;
	uint32_t ntp;
	uint32_t tps_cap;	/* room in tps (grown in the observer's arena) */
	const char *group;
	const char *txn_id;	/* transactional_id */
	const char *sw_name;	/* ApiVersions v3+ client software */
	const char *sw_version;
	const char *mechanism;	/* SaslHandshake */
	int16_t acks;
	bool acks_known;
	bool admin;		/* an admin operation: resources below */
	const char *resources[KT_MAX_RESOURCES];
	uint32_t nresources;
	bool empty_fetch;	/* a Fetch answered with no records */
	bool has_error;		/* the response's top-level error code: */
	int16_t error;
	bool deprecated;	/* a version the specs mark deprecated */
};

struct kt_observer;

struct kt_observer *kt_observer_new(struct kt_groups *groups);
void kt_observer_free(struct kt_observer *o);

/* Decode and observe one exchange; valid until the next call. */
const struct kt_annot *kt_observer_exchange(struct kt_observer *o, const struct kt_exchange *x);

/* The capture policy the observer needs, per api_key (users may override). */
void kt_default_capture(struct kt_policy *policy);

/* Invalid request reasons, for kafkatap_invalid_requests_total{reason}. */
extern const char *const kt_invalid_reasons[];

#endif
