/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loading kafkatap's BPF program, configuring it, attaching it to TC hooks. */
#ifndef KAFKATAP_LOADER_H
#define KAFKATAP_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "kafkatap.h"
#include "kernel/tc.h"

#define KT_MAX_IFACES	64
#define KT_MAX_PORTS	256
#define KT_MAX_BROKERS	256

struct kt_load_opts {
	const char *ifaces[KT_MAX_IFACES];
	int n_ifaces;		/* 0: no attach (replay, tests) */
	uint16_t ports[KT_MAX_PORTS];
	int n_ports;
	struct kt_addr_key brokers[KT_MAX_BROKERS];
	int n_brokers;
	uint32_t ringbuf_bytes;	/* power of two, >= page size */
	uint32_t max_streams;
	enum kt_attach_mode attach;
	struct kt_policy policy[KT_API_MAX];
	int verbose;		/* -v 1, -vv 2 */
};

struct kafkatap_bpf;

struct kt_bpf {
	struct kafkatap_bpf *skel;
	struct kt_hook hooks[2 * KT_MAX_IFACES];
	int n_hooks;
};

/* Defaults: port 9092, 8 MiB ring buffer, header-only capture. */
void kt_load_opts_init(struct kt_load_opts *o);

/* Open, configure and load; then attach to o->ifaces. Prints errors. */
int kt_bpf_start(struct kt_bpf *b, const struct kt_load_opts *o);
/* Detach what we attached, destroy what we created. */
void kt_bpf_stop(struct kt_bpf *b);

int kt_bpf_prog_fd(const struct kt_bpf *b);
int kt_bpf_ringbuf_fd(const struct kt_bpf *b);
/* Sum the per-CPU counters into out[KT_C_MAX]. */
int kt_bpf_counters(const struct kt_bpf *b, uint64_t *out);
/*
 * The kernel's state of connection c (both directions), for tests and
 * debugging. Returns 0, or -ENOENT if it has none.
 */
struct kt_cstate;
int kt_bpf_conn_state(const struct kt_bpf *b, const struct kt_conn *c, struct kt_cstate *out);
/* Replace the capture policy of one api_key. */
int kt_bpf_set_policy(const struct kt_bpf *b, int api_key, const struct kt_policy *p);

/* The --stats name of a counter (enum kt_counter), from KT_COUNTERS. */
const char *kt_counter_name(int idx);

#endif
