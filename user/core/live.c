// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "core/live.h"
#include "kernel/ifaces.h"
#include "pair/agent.h"
#include "lib/clock.h"

volatile sig_atomic_t kt_stop;

#define KT_POLL_MS 20
#define KT_COUNTERS_NS (250ULL * 1000000ULL)	/* kernel counters refresh */

static void on_signal(int sig)
{
	kt_stop = 1;
}

void kt_install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int on_record(void *ctx, void *data, size_t len)
{
	kt_agent_record(ctx, data, len, 0);
	return 0;
}

/* lo, with every interface that is up if it names none (names strdup'ed). */
static int choose_ifaces(const struct kt_load_opts *lo, struct kt_load_opts *use)
{
	*use = *lo;
	if (use->n_ifaces)
		return 0;
	use->n_ifaces = kt_default_ifaces(use->ifaces, KT_MAX_IFACES);
	if (use->n_ifaces == 0) {
		fprintf(stderr, "kafkatap: no interface is up; name one with -i\n");
		return -ENODEV;
	}
	return 0;
}

static void free_ifaces(const struct kt_load_opts *lo, struct kt_load_opts *use)
{
	int i;

	if (lo->n_ifaces)
		return;
	for (i = 0; i < use->n_ifaces; i++)
		free((char *)use->ifaces[i]);
}

int kt_live_run(const struct kt_load_opts *lo, double duration_s, struct kt_live *l,
		struct kt_agent *agent, kt_tick_fn tick, void *ctx)
{
	uint64_t start, deadline = 0, counters_at = 0;
	struct kt_load_opts *use;
	int err;

	memset(l, 0, sizeof(*l));
	l->agent = agent;
	use = malloc(sizeof(*use));
	if (!use)
		return -ENOMEM;
	err = choose_ifaces(lo, use);
	if (err) {
		free(use);
		return err;
	}
	kt_install_signals();
	err = kt_bpf_start(&l->bpf, use);
	if (err)
		goto out_ifaces;
	l->rb = ring_buffer__new(kt_bpf_ringbuf_fd(&l->bpf), on_record, agent, NULL);
	if (!l->rb) {
		err = -errno;
		fprintf(stderr, "kafkatap: ring buffer: %s\n", strerror(-err));
		goto out;
	}
	l->clock_offset_ns = (int64_t)(now_real_ns() - now_mono_ns());
	start = now_mono_ns();
	if (duration_s > 0)
		deadline = start + (uint64_t)(duration_s * 1e9);
	if (lo->verbose)
		fprintf(stderr, "kafkatap: watching %d hook(s); Ctrl-C to stop\n",
			l->bpf.n_hooks);
	while (!kt_stop) {
		uint64_t now;

		/*
		 * The kernel wakes us only when the ring buffer fills (see
		 * rb_flags() in the BPF program); otherwise read every 20 ms.
		 */
		err = ring_buffer__poll(l->rb, KT_POLL_MS);
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(l->rb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "kafkatap: reading the ring buffer: %s\n",
				strerror(-err));
			break;
		}
		err = 0;
		now = now_mono_ns();
		kt_agent_tick(agent, now);
		if (now - counters_at >= KT_COUNTERS_NS) {
			kt_bpf_counters(&l->bpf, l->counters);
			counters_at = now;
		}
		if (tick)
			tick(ctx, l);
		if (deadline && now >= deadline)
			break;
	}
	/* What is still in the ring buffer happened before the stop. */
	ring_buffer__consume(l->rb);
	kt_bpf_counters(&l->bpf, l->counters);
	kt_agent_flush(agent);
out:
	ring_buffer__free(l->rb);
	l->rb = NULL;
	kt_bpf_stop(&l->bpf);
out_ifaces:
	free_ifaces(lo, use);
	free(use);
	return err;
}
