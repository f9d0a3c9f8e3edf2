// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Skeleton lifecycle: open -> rodata knobs -> load -> config maps -> attach. */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "proto/apis.h"
#include "kt_state.h"
#include "proto/sprogs.h"
#include "kernel/ifaces.h"
#include "kernel/loader.h"
#include "kernel/preflight.h"
#include "kafkatap.skel.h"	/* after kafkatap.h: rodata uses its types */
#include "kernel/tc.h"
#include "lib/util.h"

const char *kt_counter_name(int idx)
{
	static const char *const names[KT_C_MAX] = {
#define X(e, stats_name, ...) [KT_C_##e] = stats_name,
		KT_COUNTERS(X)
#undef X
	};

	return idx >= 0 && idx < KT_C_MAX ? names[idx] : "?";
}

static int verbose;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* -v: libbpf's info; -vv: its debug output too (object parsing, relocations). */
	if (level == LIBBPF_DEBUG && verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && verbose < 1)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void kt_load_opts_init(struct kt_load_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ports[0] = 9092;
	o->n_ports = 1;
	o->ringbuf_bytes = 8 << 20;
	o->max_streams = 65536;
	/* HEADER for every API; a session sets what its command needs. */
}

static int configure_maps(struct kt_bpf *b, const struct kt_load_opts *o)
{
	struct kafkatap_bpf *s = b->skel;
	uint32_t k, idx;
	uint8_t one = 1;
	int i, err;

	for (i = 0; i < o->n_brokers; i++) {
		err = bpf_map__update_elem(s->maps.brokers, &o->brokers[i],
					   sizeof(o->brokers[i]), &one, 1, BPF_ANY);
		if (err)
			return err;
	}
	for (k = 0; k < KT_API_MAX; k++) {
		err = kt_bpf_set_policy(b, k, &o->policy[k]);
		if (err)
			return err;
	}
	/*
	 * STRUCTURE walk programs, generated from the specs: program i + 1 of
	 * `sprogs`, found through `sprog_index` by (dir, api_key, version).
	 */
	for (i = 0; i < kt_nsprogs && i + 1 < KT_SPROGS_MAX; i++) {
		const struct kt_sprog_entry *e = &kt_sprogs[i];
		uint8_t slot = i + 1;

		if (e->api_key < 0 || e->api_key >= KT_API_MAX || e->api_version < 0 ||
		    e->api_version >= KT_SPROG_VERSIONS_MAX || e->dir < 0 || e->dir > 1)
			return -EINVAL;
		idx = i + 1;
		err = bpf_map__update_elem(s->maps.sprogs, &idx, sizeof(idx), &e->prog,
					   sizeof(e->prog), BPF_ANY);
		if (err)
			return err;
		idx = ((uint32_t)e->dir * KT_API_MAX + e->api_key) * KT_SPROG_VERSIONS_MAX +
		      e->api_version;
		err = bpf_map__update_elem(s->maps.sprog_index, &idx, sizeof(idx), &slot,
					   sizeof(slot), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

static int warm_noop(void *ctx, void *data, size_t len)
{
	return 0;
}

/*
 * Write every page of the ring buffer once before any traffic (see
 * kafkatap_warm in the BPF program): its pages are then backed, and the
 * agent's reads of them too. Best effort: a failure only costs latency.
 */
static void warm_ring(struct kt_bpf *b, uint32_t ring_bytes)
{
	uint8_t pkt[64] = {};
	struct ring_buffer *rb;
	uint32_t pages = ring_bytes / 4096, done = 0;
	int i;

	rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), warm_noop, NULL, NULL);
	if (!rb)
		return;
	/* Twice round: every page written, and the positions wrapped. */
	for (i = 0; i < 8 && done < 2 * pages; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt));

		if (bpf_prog_test_run_opts(bpf_program__fd(b->skel->progs.kafkatap_warm), &opts) ||
		    !opts.retval)
			break;
		done += opts.retval;
		ring_buffer__consume(rb);
	}
	ring_buffer__free(rb);
}

int kt_bpf_start(struct kt_bpf *b, const struct kt_load_opts *o)
{
	/* No interfaces (replay, tests): loaded for BPF_PROG_TEST_RUN only. */
	bool attach = o->n_ifaces > 0;
	struct kafkatap_bpf *s;
	int i, err;

	memset(b, 0, sizeof(*b));
	verbose = o->verbose;
	libbpf_set_print(print_fn);
	err = kt_preflight(attach);
	if (err)
		return err;

	s = kafkatap_bpf__open();
	if (!s) {
		err = -errno;
		kt_explain_errno(err, "opening the BPF object");
		return err;
	}
	b->skel = s;
	for (i = 0; i < KT_API_MAX; i++) {
		const struct kt_api_info *a = kt_api(i);

		s->rodata->api_ranges[i].min_version = a ? a->min_version : -1;
		s->rodata->api_ranges[i].max_version = a ? a->max_version : -1;
		s->rodata->api_ranges[i].flexible_min = a ? a->flexible_min : -1;
	}
	for (i = 0; i < o->n_ports; i++)
		s->bss->ports.bits[o->ports[i] >> 6] |= 1ULL << (o->ports[i] & 63);
	/* A few ports: a list in rodata, read with the program's other knobs. */
	if (o->n_ports <= (int)ARRAY_SIZE(s->rodata->port_list)) {
		for (i = 0; i < o->n_ports; i++)
			s->rodata->port_list[i] = o->ports[i];
		s->rodata->n_port_list = o->n_ports;
	}
	s->rodata->broker_filter = o->n_brokers > 0;
	s->rodata->wakeup_bytes = o->ringbuf_bytes / 8;
	for (i = 0; i < o->n_ifaces; i++)
		if (kt_iface_l2_len(o->ifaces[i]) == 0)
			s->rodata->any_l3_iface = 1;
	bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	/* A connection's state holds both directions: max_streams / 2 each family. */
	bpf_map__set_max_entries(s->maps.conns4, o->max_streams / 2 ? o->max_streams / 2 : 1);
	bpf_map__set_max_entries(s->maps.conns6, o->max_streams / 2 ? o->max_streams / 2 : 1);

	err = kafkatap_bpf__load(s);
	if (err) {
		kt_explain_errno(err, "loading the BPF program (run with -v for the verifier log)");
		goto fail;
	}
	err = configure_maps(b, o);
	if (err) {
		kt_explain_errno(err, "configuring BPF maps");
		goto fail;
	}
	warm_ring(b, o->ringbuf_bytes);

	for (i = 0; i < o->n_ifaces; i++) {
		const char *name = o->ifaces[i];
		int ifindex = if_nametoindex(name), dir, l2 = kt_iface_l2_len(name);

		if (!ifindex) {
			fprintf(stderr, "kafkatap: no such interface '%s' "
				"(see `ip -br link` for the names)\n", name);
			err = -ENODEV;
			goto fail;
		}
		if (l2 != 14) {
			uint32_t key = ifindex, val = l2;

			err = bpf_map__update_elem(s->maps.l2len, &key, sizeof(key),
						   &val, sizeof(val), BPF_ANY);
			if (err) {
				kt_explain_errno(err, "configuring BPF maps");
				goto fail;
			}
		}
		/*
		 * On lo every packet leaves and comes back: egress alone sees
		 * both directions of every connection, once.
		 */
		for (dir = (strcmp(name, "lo") == 0); dir < 2; dir++) {
			struct kt_hook *h = &b->hooks[b->n_hooks];

			memset(h, 0, sizeof(*h));
			snprintf(h->ifname, sizeof(h->ifname), "%s", name);
			h->ifindex = ifindex;
			h->egress = dir == 1;
			err = kt_tc_attach(bpf_program__fd(s->progs.kafkatap_tc), h, o->attach);
			if (err) {
				char what[96];

				snprintf(what, sizeof(what), "attaching to %s %s", name,
					 h->egress ? "egress" : "ingress");
				kt_explain_errno(err, what);
				goto fail;
			}
			b->n_hooks++;
			if (o->verbose)
				fprintf(stderr, "kafkatap: attached to %s %s (%s)\n", name,
					h->egress ? "egress" : "ingress",
					h->link_fd >= 0 ? "tcx" : "clsact");
		}
	}
	return 0;
fail:
	kt_bpf_stop(b);
	return err;
}

void kt_bpf_stop(struct kt_bpf *b)
{
	while (b->n_hooks > 0)
		kt_tc_detach(&b->hooks[--b->n_hooks]);
	kafkatap_bpf__destroy(b->skel);
	b->skel = NULL;
}

int kt_bpf_prog_fd(const struct kt_bpf *b)
{
	return bpf_program__fd(b->skel->progs.kafkatap_tc);
}

int kt_bpf_ringbuf_fd(const struct kt_bpf *b)
{
	return bpf_map__fd(b->skel->maps.events);
}

int kt_bpf_counters(const struct kt_bpf *b, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), c, i;
	struct kt_counters *vals;
	uint32_t key = 0;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(out, 0, KT_C_MAX * sizeof(*out));
	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.counters), &key, vals)) {
		free(vals);
		return -errno;
	}
	for (c = 0; c < ncpu; c++)
		for (i = 0; i < KT_C_MAX; i++)
			out[i] += vals[c].c[i];
	free(vals);
	return 0;
}

int kt_bpf_conn_state(const struct kt_bpf *b, const struct kt_conn *c, struct kt_cstate *out)
{
	int err;

	if (c->family == 4) {
		struct kt_key4 k = { .cport = c->client_port, .bport = c->broker_port };

		memcpy(&k.caddr, c->client_addr, 4);
		memcpy(&k.baddr, c->broker_addr, 4);
		err = bpf_map__lookup_elem(b->skel->maps.conns4, &k, sizeof(k), out,
					   sizeof(*out), 0);
	} else {
		struct kt_key6 k = { .cport = c->client_port, .bport = c->broker_port };

		memcpy(k.caddr, c->client_addr, 16);
		memcpy(k.baddr, c->broker_addr, 16);
		err = bpf_map__lookup_elem(b->skel->maps.conns6, &k, sizeof(k), out,
					   sizeof(*out), 0);
	}
	return err ? -ENOENT : 0;
}

int kt_bpf_set_policy(const struct kt_bpf *b, int api_key, const struct kt_policy *p)
{
	uint32_t k = api_key;

	return bpf_map__update_elem(b->skel->maps.policy, &k, sizeof(k), p,
				    sizeof(*p), BPF_ANY);
}
