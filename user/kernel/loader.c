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
#include "proto/sprogs.h"
#include "kernel/ifaces.h"
#include "kernel/loader.h"
#include "kernel/preflight.h"
#include "kafkatap.skel.h"	/* after kafkatap.h: rodata uses its types */

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
	struct kt_port_bitmap *pb;
	uint32_t zero = 0, k;
	uint8_t one = 1;
	int i, err;

	pb = calloc(1, sizeof(*pb));
	if (!pb)
		return -ENOMEM;
	for (i = 0; i < o->n_ports; i++)
		pb->bits[o->ports[i] >> 6] |= 1ULL << (o->ports[i] & 63);
	err = bpf_map__update_elem(s->maps.ports, &zero, sizeof(zero), pb,
				   sizeof(*pb), BPF_ANY);
	free(pb);
	if (err)
		return err;
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
	/* STRUCTURE walk programs, generated from the specs. */
	for (i = 0; i < kt_nsprogs; i++) {
		struct kt_sprog_key key = {
			.api_key = kt_sprogs[i].api_key,
			.api_version = kt_sprogs[i].api_version,
			.dir = kt_sprogs[i].dir,
		};

		err = bpf_map__update_elem(s->maps.sprogs, &key, sizeof(key),
					   &kt_sprogs[i].prog, sizeof(kt_sprogs[i].prog), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
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
	s->rodata->broker_filter = o->n_brokers > 0;
	s->rodata->wakeup_bytes = o->ringbuf_bytes / 8;
	for (i = 0; i < o->n_ifaces; i++)
		if (kt_iface_l2_len(o->ifaces[i]) == 0)
			s->rodata->any_l3_iface = 1;
	bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	bpf_map__set_max_entries(s->maps.streams, o->max_streams);

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

int kt_bpf_set_policy(const struct kt_bpf *b, int api_key, const struct kt_policy *p)
{
	uint32_t k = api_key;

	return bpf_map__update_elem(b->skel->maps.policy, &k, sizeof(k), p,
				    sizeof(*p), BPF_ANY);
}
