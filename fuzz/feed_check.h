/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An oracle for kt_feed_eth() (user/kernel/feed.c) without a kernel: the test runs
 * it asks for are recorded by the libbpf stub (bpf_stubs.c), and checked
 * against what feed.h promises: a frame that fits is run as is; a larger
 * IPv4/IPv6 TCP packet is cut into segments of at most KT_FEED_MAX_PKT
 * bytes with the same headers, consecutive sequence numbers, SYN on the
 * first and FIN/PSH on the last, so that the byte stream is unchanged; and
 * a packet whose IP length is 0 (BIG TCP, or a capture that lost it) is
 * taken to end where the frame ends, for IPv4 and IPv6 alike.
 */
#ifndef KAFKATAP_FUZZ_FEED_CHECK_H
#define KAFKATAP_FUZZ_FEED_CHECK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/feed.h"
#include "bpf_stubs.h"
#include "check.h"

struct fc_run {
	uint8_t *p;
	size_t len;
};

static struct {
	struct fc_run *v;
	size_t n, cap;
	volatile uint8_t sink;
} fc_runs;

__attribute__((noinline, no_sanitize("coverage")))
static int fc_record(const void *data, size_t len)
{
	const uint8_t *d = data;
	uint8_t x = 0;
	size_t i;

	CHECK(len <= KT_FEED_MAX_PKT);	/* what one test run takes */
	for (i = 0; i < len; i++)	/* all of it readable */
		x ^= d[i];
	fc_runs.sink ^= x;
	if (fc_runs.n == fc_runs.cap) {
		fc_runs.cap = fc_runs.cap ? 2 * fc_runs.cap : 64;
		fc_runs.v = realloc(fc_runs.v, fc_runs.cap * sizeof(*fc_runs.v));
		CHECK(fc_runs.v);
	}
	fc_runs.v[fc_runs.n].p = malloc(len ? len : 1);
	memcpy(fc_runs.v[fc_runs.n].p, d, len);
	fc_runs.v[fc_runs.n++].len = len;
	return 0;
}

static void fc_reset(void)
{
	size_t i;

	for (i = 0; i < fc_runs.n; i++)
		free(fc_runs.v[i].p);
	fc_runs.n = 0;
	kt_stub_run = fc_record;
}

static uint32_t fc_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t fc_be32(const uint8_t *p) { return fc_be16(p) << 16 | fc_be16(p + 2); }

/*
 * Check the runs recorded for kt_feed_eth(frame, len) that returned ret.
 * The oracle's compares are not the code under test's: left uninstrumented
 * (and out of line, so that they stay so), they no longer take most of
 * the time per input.
 */
__attribute__((noinline, no_sanitize("coverage")))
static void fc_check(const uint8_t *f, size_t len, int ret)
{
	size_t l4, ip_end, tcp_len, hlen, total, max_piece, i, want;
	uint16_t etype;
	bool v6, sane;

	if (len < 14) {
		CHECK(ret == -EINVAL && fc_runs.n == 0);
		return;
	}
	if (len <= KT_FEED_MAX_PKT) {
		CHECK(ret == 0 && fc_runs.n == 1 && fc_runs.v[0].len == len &&
		      !memcmp(fc_runs.v[0].p, f, len));
		return;
	}
	etype = fc_be16(f + 12);
	v6 = etype == 0x86dd;
	if (etype != 0x0800 && !v6)
		goto none;
	if (!v6) {
		if (len < 34 || f[23] != 6)
			goto none;
		l4 = 14 + (f[14] & 15) * 4;
		ip_end = 14 + fc_be16(f + 16);
		if (ip_end > len || ip_end == 14)
			ip_end = len;
		sane = (f[14] & 15) >= 5;
	} else {
		if (len < 54 || f[20] != 6)
			goto none;
		l4 = 54;
		ip_end = 54 + fc_be16(f + 18);
		/* 0: a jumbogram / BIG TCP packet, the payload runs to the end */
		if (ip_end > len || ip_end == 54)
			ip_end = len;
		sane = true;
	}
	if (l4 + 20 > ip_end)
		goto none;
	tcp_len = (f[l4 + 12] >> 4) * 4;
	hlen = l4 + tcp_len;
	if (hlen >= KT_FEED_MAX_PKT || hlen > ip_end) {
		CHECK(ret == -EINVAL && fc_runs.n == 0);
		return;
	}
	sane = sane && tcp_len >= 20;
	total = ip_end - hlen;
	max_piece = KT_FEED_MAX_PKT - hlen;
	want = (total + max_piece - 1) / max_piece;
	CHECK(ret == 0);
	CHECK(fc_runs.n == want);
	for (i = 0; i < want; i++) {
		const uint8_t *p = fc_runs.v[i].p;
		size_t off = i * max_piece, n = total - off < max_piece ? total - off : max_piece;
		uint8_t flags = f[l4 + 13];
		size_t k;

		CHECK(fc_runs.v[i].len == hlen + n);
		if (!sane)
			continue;	/* headers the program rejects anyway */
		CHECK(!memcmp(p + hlen, f + hlen + off, n));
		CHECK(fc_be32(p + l4 + 4) == (uint32_t)(fc_be32(f + l4 + 4) + off));
		if (i)
			flags &= ~0x02;
		if (i + 1 < want)
			flags &= ~(0x01 | 0x08);
		CHECK(p[l4 + 13] == flags);
		if (v6)
			CHECK(fc_be16(p + 18) == hlen - 54 + n);
		else
			CHECK(fc_be16(p + 16) == hlen - 14 + n);
		for (k = 0; k < hlen; k++) {
			bool lenf = v6 ? (k == 18 || k == 19) : (k == 16 || k == 17);

			if (lenf || (k >= l4 + 4 && k < l4 + 8) || k == l4 + 13)
				continue;
			CHECK(p[k] == f[k]);
		}
	}
	return;
none:
	CHECK(ret == 0 && fc_runs.n == 0);
}

#endif
