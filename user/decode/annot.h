/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What deep decoding tells of one exchange (struct kt_annot): read by the
 * metrics and the trace while the exchange is handed out.
 */
#ifndef KAFKATAP_ANNOT_H
#define KAFKATAP_ANNOT_H

#include <stdbool.h>
#include <stdint.h>

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

#endif
