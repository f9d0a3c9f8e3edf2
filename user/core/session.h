/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A command's session: the pairing agent, the decoding it needs (observer
 * and group tracker), the metric model if it exports metrics, and its own
 * output, wired once here. The session also states the capture policy the
 * command needs from the kernel; what the user asked with --capture wins.
 */
#ifndef KAFKATAP_SESSION_H
#define KAFKATAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "kafkatap.h"
#include "metrics/model.h"
#include "pair/agent.h"

struct kt_annot;

/* The command's output, per exchange; an is NULL without decoding. */
typedef void (*kt_out_fn)(void *ctx, const struct kt_exchange *x, const struct kt_annot *an);

/* What the command needs of each frame. */
enum kt_need {
	KT_NEED_HEADERS = 0,	/* the header: HEADER capture for every API */
	KT_NEED_DECODING,	/* what deep decoding reads (kt_default_capture()) */
};

/* --capture API=MODE, per api_key. */
struct kt_capture_ask {
	struct kt_policy policy[KT_API_MAX];
	bool set[KT_API_MAX];
};

struct kt_session_cfg {
	enum kt_need need;
	bool decode;			/* observe exchanges (decoding, group tracker) */
	bool metrics;			/* the metric model */
	struct kt_agent_cfg agent;
	struct kt_km_cfg km;		/* label budgets, with metrics */
	struct kt_capture_ask ask;
	kt_out_fn out;			/* may be NULL */
	void *out_ctx;
};

struct kt_session;

/* NULL when out of memory. */
struct kt_session *kt_session_new(const struct kt_session_cfg *cfg);
void kt_session_free(struct kt_session *s);

/* The agent to feed records to (kt_agent_record, kt_agent_tick ...). */
struct kt_agent *kt_session_agent(struct kt_session *s);

/* The capture policy per api_key: what the command needs, then the user's asks. */
void kt_session_capture(const struct kt_session *s, struct kt_policy *policy);

/*
 * The exposition as of now_ns, with the kernel counters (KT_C_MAX, or
 * NULL) and the agent's; malloc'd, NULL without metrics or memory.
 */
char *kt_session_render(struct kt_session *s, const uint64_t *kernel, uint64_t now_ns,
			bool openmetrics, size_t *len);

/* --stats: what the kernel (KT_C_MAX counters) and the agent saw and lost. */
void kt_session_print_stats(const struct kt_session *s, FILE *f, const uint64_t *kernel);

#endif
