/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The Kafka API table, generated from the specs into kafka_apis_gen.c. */
#ifndef KAFKATAP_KAFKA_APIS_H
#define KAFKATAP_KAFKA_APIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kafkatap.h"

struct kt_api_info {
	const char *name;	/* NULL: api_key unknown to the specs */
	int8_t min_version;
	int8_t max_version;
	int8_t flexible_min;	/* first flexible request version, -1 none */
	int8_t resp_flexible_min;
	int8_t deprecated_min;	/* -1: none deprecated */
	int8_t deprecated_max;
	int8_t client_facing;	/* served by brokers (not controller-only) */
};

extern const struct kt_api_info kt_apis[KT_API_MAX];

static inline const struct kt_api_info *kt_api(int api_key)
{
	if (api_key < 0 || api_key >= KT_API_MAX || !kt_apis[api_key].name)
		return NULL;
	return &kt_apis[api_key];
}

/* "Produce", or "Unknown" for keys the specs do not define. */
static inline const char *kt_api_name(int api_key)
{
	const struct kt_api_info *a = kt_api(api_key);

	return a ? a->name : "Unknown";
}

static inline bool kt_api_version_valid(int api_key, int version)
{
	const struct kt_api_info *a = kt_api(api_key);

	return a && version >= a->min_version && version <= a->max_version;
}

static inline bool kt_api_deprecated(int api_key, int version)
{
	const struct kt_api_info *a = kt_api(api_key);

	return a && a->deprecated_min >= 0 && version >= a->deprecated_min &&
	       version <= a->deprecated_max;
}

/* Request header v2 (flexible) adds tagged fields after client_id. */
static inline bool kt_api_flexible(int api_key, int version)
{
	const struct kt_api_info *a = kt_api(api_key);

	return a && a->flexible_min >= 0 && version >= a->flexible_min;
}

/* Response header v1 adds tagged fields, except for ApiVersions (always v0). */
static inline bool kt_api_resp_flexible(int api_key, int version)
{
	const struct kt_api_info *a = kt_api(api_key);

	if (api_key == KT_API_API_VERSIONS)
		return false;
	return a && a->resp_flexible_min >= 0 && version >= a->resp_flexible_min;
}

#endif
