// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "decode/ctx.h"

#define MAX_TPS 4096

const char *obs_cstr(struct kt_obs *o, const char *s)
{
	size_t n = strlen(s);
	char *p = kc_arena_alloc(&o->arena, n + 1, 1);

	if (!p)
		return "";
	memcpy(p, s, n + 1);
	return p;
}

const char *obs_str(struct kt_obs *o, struct kc_str s)
{
	size_t n = s.len > 0 ? (size_t)s.len : 0;
	char *p = kc_arena_alloc(&o->arena, n + 1, 1);

	if (!p)
		return "";
	if (n)
		memcpy(p, s.p, n);
	p[n] = 0;
	return p;
}

/* No memcmp on a null pointer. */
bool obs_str_eq(struct kc_str a, struct kc_str b)
{
	return a.len == b.len && (a.len <= 0 || !memcmp(a.p, b.p, (size_t)a.len));
}

struct kt_s obs_sv(struct kc_str s)
{
	return (struct kt_s){ s.p, s.len > 0 ? s.len : 0 };
}

struct kt_s obs_sv_c(const char *s)
{
	return (struct kt_s){ s, (int)strlen(s) };
}

struct kt_tp *obs_tp(struct kt_obs *o, const char *topic, int32_t partition)
{
	struct kt_annot *an = &o->an;
	struct kt_tp *t;

	if (an->ntp >= MAX_TPS)
		return NULL;
	if (an->ntp == an->tps_cap) {
		/*
		 * Grown by doubling: the arena zeroes what it hands out, and
		 * 4096 entries up front cost a 128 KiB memset per exchange (half
		 * the agent's CPU on Produce traffic). The old block stays in the
		 * arena until the exchange is done.
		 */
		uint32_t cap = an->tps_cap ? an->tps_cap * 2 : 8;
		struct kt_tp *n = kc_arena_alloc(&o->arena, cap, sizeof(*n));

		if (!n)
			return NULL;
		if (an->ntp)
			memcpy(n, an->tps, an->ntp * sizeof(*n));
		an->tps = n;
		an->tps_cap = cap;
	}
	t = &an->tps[an->ntp++];
	memset(t, 0, sizeof(*t));
	t->topic = topic;
	t->partition = partition;
	t->error = -1;
	return t;
}

void obs_resource(struct kt_obs *o, const char *kind, struct kc_str name, const char *detail)
{
	struct kt_annot *an = &o->an;
	size_t n;
	char *p;

	if (an->nresources >= KT_MAX_RESOURCES)
		return;
	n = strlen(kind) + (name.len > 0 ? name.len : 0) + (detail ? strlen(detail) : 0) + 3;
	p = kc_arena_alloc(&o->arena, n, 1);
	if (!p)
		return;
	snprintf(p, n, "%s:%.*s%s%s", kind, name.len > 0 ? name.len : 0, name.p ? name.p : "",
		 detail ? ":" : "", detail ? detail : "");
	an->resources[an->nresources++] = p;
}

void obs_error(struct kt_obs *o, int16_t error)
{
	o->an.has_error = true;
	o->an.error = error;
}
