/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live event loop shared by trace, serve and top. */
#ifndef KAFKATAP_LIVE_H
#define KAFKATAP_LIVE_H

#include <signal.h>
#include <stdint.h>
#include "kernel/loader.h"

struct kt_agent;

extern volatile sig_atomic_t kt_stop;

/* SIGINT/SIGTERM set kt_stop; SIGPIPE is ignored. */
void kt_install_signals(void);

struct kt_live;
/* Called about every 20 ms from the event loop (for top, serve). */
typedef void (*kt_tick_fn)(void *ctx, struct kt_live *l);

struct kt_live {
	struct kt_bpf bpf;
	struct ring_buffer *rb;
	struct kt_agent *agent;
	int64_t clock_offset_ns;	/* CLOCK_MONOTONIC -> Unix time */
	uint64_t counters[KT_C_MAX];	/* kernel counters, refreshed per tick */
};

/*
 * Load and attach per lo (to every interface that is up if it names none),
 * then feed the agent until kt_stop or duration_s (0: no end). Flushes the
 * agent at the end. Returns 0 or a negative errno (already explained on
 * stderr).
 */
int kt_live_run(const struct kt_load_opts *lo, double duration_s, struct kt_live *l,
		struct kt_agent *agent, kt_tick_fn tick, void *ctx);

#endif
