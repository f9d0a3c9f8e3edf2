/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Kafka API table, generated from the specs into kafka_apis_gen.c, and
 * the API key and error code enums (kafka_ids_gen.h). Request and response
 * header versions are the codec's (kc_{request,response}_header_version).
 */
#ifndef KAFKATAP_KAFKA_APIS_H
#define KAFKATAP_KAFKA_APIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kafkatap.h"
#include "proto/gen/kafka_ids_gen.h"

/* include/kafkatap.h names the keys the BPF program needs: the specs agree. */
_Static_assert(KAFKA_API_PRODUCE == KT_API_PRODUCE, "Produce api_key");
_Static_assert(KAFKA_API_SASL_HANDSHAKE == KT_API_SASL_HANDSHAKE, "SaslHandshake api_key");
_Static_assert(KAFKA_API_API_VERSIONS == KT_API_API_VERSIONS, "ApiVersions api_key");
_Static_assert(KAFKA_API_SASL_AUTHENTICATE == KT_API_SASL_AUTHENTICATE,
	       "SaslAuthenticate api_key");

struct kt_api_info {
	const char *name;	/* NULL: api_key unknown to the specs */
	int8_t min_version;
	int8_t max_version;
	int8_t flexible_min;	/* first flexible request version, -1 none (for the kernel) */
	int8_t deprecated_min;	/* -1: none deprecated */
	int8_t deprecated_max;
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

static inline bool kt_api_deprecated(int api_key, int version)
{
	const struct kt_api_info *a = kt_api(api_key);

	return a && a->deprecated_min >= 0 && version >= a->deprecated_min &&
	       version <= a->deprecated_max;
}

#endif
