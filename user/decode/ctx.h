/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What an API's decoding handler works with: the annotation it fills, the
 * arena its strings and partitions live in (reset per exchange), the group
 * tracker it feeds and the exchange's time; and the helpers they share.
 */
#ifndef KAFKATAP_DECODE_CTX_H
#define KAFKATAP_DECODE_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include "decode/annot.h"
#include "proto/kc.h"
#include "track/groups.h"

struct kt_exchange;

struct kt_obs {
	struct kt_annot an;
	struct kc_arena arena;
	struct kt_groups *groups;
	uint64_t ts;		/* the response's time, or the request's */
};

/*
 * The handler of one api_key: q and a are the decoded request and response
 * bodies (struct kc_<Api>Request / Response), either may be NULL.
 */
typedef void (*kt_obs_fn)(struct kt_obs *o, const struct kt_exchange *x, const void *q,
			  const void *a);

/* Strings copied into the arena, NUL-terminated ("" for null, or out of room). */
const char *obs_str(struct kt_obs *o, struct kc_str s);
const char *obs_cstr(struct kt_obs *o, const char *s);
/* Views for the group tracker (valid as long as what they view). */
struct kt_s obs_sv(struct kc_str s);
struct kt_s obs_sv_c(const char *s);
/* Equal strings (two nulls are equal). */
bool obs_str_eq(struct kc_str a, struct kc_str b);
/* A partition in the annotation (error -1: unknown); NULL when full. */
struct kt_tp *obs_tp(struct kt_obs *o, const char *topic, int32_t partition);
/* "kind:name[:detail]" in the annotation's resources. */
void obs_resource(struct kt_obs *o, const char *kind, struct kc_str name, const char *detail);
/* The response's top-level error code. */
void obs_error(struct kt_obs *o, int16_t error);

#endif
