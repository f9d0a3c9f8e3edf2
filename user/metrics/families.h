/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every metric family kafkatap exports, declared once as data (families.c)
 * and registered by the model in this order; the kernel's counters add
 * theirs, declared in include/kafkatap.h (KT_COUNTERS).
 */
#ifndef KAFKATAP_FAMILIES_H
#define KAFKATAP_FAMILIES_H

#include "metrics/registry.h"

enum kt_fam {
	KT_F_REQUESTS,
	KT_F_DURATION,
	KT_F_REQUEST_BYTES,
	KT_F_RESPONSE_BYTES,
	KT_F_UNANSWERED,
	KT_F_NO_RESPONSE,
	KT_F_CONNECTIONS,
	KT_F_TRACKER_EVICTIONS,
	KT_F_INCOMPLETE_CAPTURES,
	KT_F_PENDING_EVICTIONS,
	KT_F_CONN_EVICTIONS,
	KT_F_UNMATCHED,
	KT_F_ALLOC_FAILURES,
	KT_F_BUILD_INFO,
	KT_F_PRODUCED_RECORDS,
	KT_F_PRODUCED_BYTES,
	KT_F_FETCHED_RECORDS,
	KT_F_FETCHED_BYTES,
	KT_F_PARTITION_ERRORS,
	KT_F_GROUP_MEMBERS,
	KT_F_GROUP_GENERATION,
	KT_F_GROUP_REBALANCES,
	KT_F_LAG_RECORDS,
	KT_F_LAG_SECONDS,
	KT_F_CLIENT_INFO,
	KT_F_DEPRECATED,
	KT_F_ADMIN_OPS,
	KT_F_SASL_MECHANISM,
	KT_F_INVALID,
	KT_F_EMPTY_FETCHES,
	KT_F_ERRORS,
	KT_F_MAX,
};

extern const struct kt_family_def kt_families[KT_F_MAX];

#endif
