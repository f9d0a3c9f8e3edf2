// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "core/live.h"
#include "kernel/ifaces.h"
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

int kt_live_run(struct kt_cli *c, struct kt_live *l, struct kt_agent *agent,
		kt_tick_fn tick, void *ctx)
{
	uint64_t start, deadline = 0, counters_at = 0;
	int err;

	memset(l, 0, sizeof(*l));
	l->agent = agent;
	if (c->load.n_ifaces == 0) {
		c->load.n_ifaces = kt_default_ifaces(c->load.ifaces, KT_MAX_IFACES);
		if (c->load.n_ifaces == 0) {
			fprintf(stderr, "kafkatap: no interface is up; name one with -i\n");
			return -ENODEV;
		}
	}
	kt_install_signals();
	err = kt_bpf_start(&l->bpf, &c->load);
	if (err)
		return err;
	l->rb = ring_buffer__new(kt_bpf_ringbuf_fd(&l->bpf), on_record, agent, NULL);
	if (!l->rb) {
		err = -errno;
		fprintf(stderr, "kafkatap: ring buffer: %s\n", strerror(-err));
		goto out;
	}
	l->clock_offset_ns = (int64_t)(now_real_ns() - now_mono_ns());
	start = now_mono_ns();
	if (c->duration > 0)
		deadline = start + (uint64_t)(c->duration * 1e9);
	if (c->load.verbose)
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
	return err;
}

void kt_print_stats(FILE *f, const uint64_t *k, const struct kt_agent_stats *s)
{
	int i;

	fprintf(f, "kafkatap: kernel:");
	for (i = 0; i < KT_C_MAX; i++)
		if (k[i])
			fprintf(f, " %s=%llu", kt_counter_name(i), (unsigned long long)k[i]);
	fprintf(f, "\nkafkatap: agent: requests=%llu responses=%llu paired=%llu "
		"no_response=%llu unanswered(expired=%llu closed=%llu evicted=%llu exit=%llu) "
		"unmatched_responses=%llu duplicates=%llu pending_evictions=%llu "
		"conn_evictions=%llu capture_incomplete=%llu gaps=%llu\n",
		(unsigned long long)s->requests, (unsigned long long)s->responses,
		(unsigned long long)s->paired, (unsigned long long)s->no_response,
		(unsigned long long)s->unanswered[KT_REASON_EXPIRED],
		(unsigned long long)s->unanswered[KT_REASON_CLOSED],
		(unsigned long long)s->unanswered[KT_REASON_EVICTED],
		(unsigned long long)s->unanswered[KT_REASON_EXIT],
		(unsigned long long)s->unmatched_responses,
		(unsigned long long)s->duplicate_requests,
		(unsigned long long)s->pending_evictions,
		(unsigned long long)s->conn_evictions,
		(unsigned long long)s->capture_incomplete, (unsigned long long)s->gaps);
	if (k[KT_C_RB_FAIL])
		fprintf(f, "kafkatap: WARNING: %llu records lost: the ring buffer was full "
			"(raise --ringbuf-mb)\n", (unsigned long long)k[KT_C_RB_FAIL]);
}
