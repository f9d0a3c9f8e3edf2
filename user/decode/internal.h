/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Internals shared by observe.c and observe_more.c. */
#ifndef KAFKATAP_OBSERVE_INT_H
#define KAFKATAP_OBSERVE_INT_H

#include "proto/kc.h"
#include "decode/observe.h"

struct kt_observer {
	struct kt_groups *groups;
	struct kc_arena arena;
	uint8_t *mem;
	struct kt_annot an;
	uint64_t ts;
};

/* Strings copied into the exchange's arena, NUL-terminated. */
const char *obs_str(struct kt_observer *o, struct kc_str s);
const char *obs_cstr(struct kt_observer *o, const char *s);
struct kt_s obs_sv(struct kc_str s);
struct kt_s obs_sv_c(const char *s);
/* A partition in the annotation (error -1: unknown). */
struct kt_tp *obs_tp(struct kt_observer *o, const char *topic, int32_t partition);
/* "kind:name[:detail]" in the annotation's resources. */
void obs_resource(struct kt_observer *o, const char *kind, struct kc_str name, const char *detail);
/* Everything but Produce, Fetch, ListOffsets, Metadata, OffsetCommit/Fetch. */
void obs_more(struct kt_observer *o, const struct kt_exchange *x, void *q, void *a);

#endif
