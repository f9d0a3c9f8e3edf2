/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Feeding packets through the loaded TC program with BPF_PROG_TEST_RUN:
 * replay and the BPF tests run the very program that runs live.
 */
#ifndef KAFKATAP_FEED_H
#define KAFKATAP_FEED_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/loader.h"

/* The kernel takes at most one page per test-run skb (~3.7 KB on 6.18). */
#define KT_FEED_MAX_PKT 3000

typedef void (*kt_record_fn)(void *ctx, const void *rec, size_t len, uint64_t ts_ns);

struct kt_feeder {
	const struct kt_bpf *bpf;
	struct ring_buffer *rb;
	kt_record_fn fn;
	void *ctx;
	uint64_t ts_ns;		/* timestamp of the packet being fed */
	uint64_t packets;
	uint64_t resegmented;	/* packets split to fit a test run */
	uint64_t errors;
};

int kt_feeder_init(struct kt_feeder *f, const struct kt_bpf *b, kt_record_fn fn, void *ctx);
void kt_feeder_free(struct kt_feeder *f);

/*
 * One Ethernet frame (IPv4 or IPv6 inside). Records it produces are passed
 * to fn with ts_ns before this returns. Frames larger than a test run takes
 * are cut into TCP segments of the same byte stream first.
 */
int kt_feed_eth(struct kt_feeder *f, const uint8_t *frame, size_t len, uint64_t ts_ns);

/* Run the program `repeat` times on one frame; returns mean ns per run. */
int kt_feed_bench(const struct kt_bpf *b, const uint8_t *frame, size_t len,
		  uint32_t repeat, uint32_t *ns_per_run);

#endif
