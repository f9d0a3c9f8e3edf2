// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/feed.h"

static int on_rb(void *ctx, void *data, size_t len)
{
	struct kt_feeder *f = ctx;

	f->fn(f->ctx, data, len, f->ts_ns);
	return 0;
}

int kt_feeder_init(struct kt_feeder *f, const struct kt_bpf *b, kt_record_fn fn, void *ctx)
{
	memset(f, 0, sizeof(*f));
	f->bpf = b;
	f->fn = fn;
	f->ctx = ctx;
	f->rb = ring_buffer__new(kt_bpf_ringbuf_fd(b), on_rb, f, NULL);
	return f->rb ? 0 : -errno;
}

void kt_feeder_free(struct kt_feeder *f)
{
	ring_buffer__free(f->rb);
	f->rb = NULL;
}

static int run_one(struct kt_feeder *f, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len);
	int err;

	err = bpf_prog_test_run_opts(kt_bpf_prog_fd(f->bpf), &opts);
	f->packets++;
	if (err) {
		f->errors++;
		return err;
	}
	/* Drain now: every record of this packet gets this packet's time. */
	return ring_buffer__consume(f->rb) < 0 ? -EIO : 0;
}

/*
 * Cut one TCP packet into segments of at most KT_FEED_MAX_PKT bytes with the
 * same headers, consecutive sequence numbers, SYN on the first and FIN/PSH
 * on the last: the byte stream the program sees is unchanged.
 */
static int resegment(struct kt_feeder *f, const uint8_t *frame, size_t len,
		     size_t l3, bool v6, size_t l4, size_t plen_total)
{
	size_t hlen, tcp_len, max_piece, off;
	uint8_t *buf;
	uint32_t seq;
	int err = 0;

	tcp_len = (frame[l4 + 12] >> 4) * 4;
	hlen = l4 + tcp_len;
	if (hlen >= KT_FEED_MAX_PKT || hlen > len)
		return -EINVAL;
	max_piece = KT_FEED_MAX_PKT - hlen;
	buf = malloc(KT_FEED_MAX_PKT);
	if (!buf)
		return -ENOMEM;
	memcpy(&seq, frame + l4 + 4, 4);
	seq = ntohl(seq);
	f->resegmented++;
	for (off = 0; off < plen_total && !err; off += max_piece) {
		size_t n = plen_total - off < max_piece ? plen_total - off : max_piece;
		bool first = off == 0, last = off + n >= plen_total;
		uint32_t s = htonl(seq + (uint32_t)off);
		uint16_t l;

		memcpy(buf, frame, hlen);
		memcpy(buf + hlen, frame + hlen + off, n);
		if (v6) {
			l = htons((uint16_t)(hlen - l3 - 40 + n));
			memcpy(buf + l3 + 4, &l, 2);
		} else {
			l = htons((uint16_t)(hlen - l3 + n));
			memcpy(buf + l3 + 2, &l, 2);
		}
		memcpy(buf + l4 + 4, &s, 4);
		if (!first)
			buf[l4 + 13] &= ~0x02;		/* SYN */
		if (!last)
			buf[l4 + 13] &= ~(0x01 | 0x08);	/* FIN, PSH */
		err = run_one(f, buf, hlen + n);
	}
	free(buf);
	return err;
}

int kt_feed_eth(struct kt_feeder *f, const uint8_t *frame, size_t len, uint64_t ts_ns)
{
	size_t l3 = 14, l4, ip_end;
	uint16_t etype;
	bool v6;

	f->ts_ns = ts_ns;
	if (len < 14)
		return -EINVAL;
	if (len <= KT_FEED_MAX_PKT)
		return run_one(f, frame, len);

	/* Too big for one test run: needs a TCP packet we can cut. */
	etype = frame[12] << 8 | frame[13];
	v6 = etype == 0x86dd;
	if (etype != 0x0800 && !v6)
		return 0;	/* not IP: the program would skip it anyway */
	if (!v6) {
		if (len < l3 + 20 || frame[l3 + 9] != 6)
			return 0;
		l4 = l3 + (frame[l3] & 0xf) * 4;
		ip_end = l3 + (frame[l3 + 2] << 8 | frame[l3 + 3]);
	} else {
		/* Extension headers are not cut across: only plain TCP is. */
		if (len < l3 + 40 || frame[l3 + 6] != 6)
			return 0;
		l4 = l3 + 40;
		ip_end = l4 + (frame[l3 + 4] << 8 | frame[l3 + 5]);
	}
	/* Snapped capture, or BIG TCP with a length of 0 (IPv4 total length,
	 * IPv6 payload length), as the kernel program reads it too. */
	if (ip_end > len || ip_end == (v6 ? l4 : l3))
		ip_end = len;
	if (l4 + 20 > ip_end)
		return 0;
	return resegment(f, frame, ip_end, l3, v6, l4,
			 ip_end - l4 - (frame[l4 + 12] >> 4) * 4);
}

int kt_feed_bench(const struct kt_bpf *b, const uint8_t *frame, size_t len,
		  uint32_t repeat, uint32_t *ns_per_run)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .repeat = repeat);
	int err = bpf_prog_test_run_opts(kt_bpf_prog_fd(b), &opts);

	if (!err)
		*ns_per_run = opts.duration;
	return err;
}
