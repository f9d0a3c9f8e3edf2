// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * GRO/TSO super-packets through the real TC hook. BPF_PROG_TEST_RUN takes
 * one page per skb, so this test makes real 64 KiB GSO skbs instead: a
 * packet socket with a virtio-net header sends them out of a veth that the
 * test creates in a network namespace of its own; kafkatap's program,
 * attached there with the real loader, sees each one as a single skb (the
 * packet counter proves it), exactly like TSO output on a NIC or GRO'd
 * input, and must find every frame in it.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/libbpf.h>
#include "kernel/loader.h"
#include "pkt.h"
#include "lib/util.h"

static struct kt_bpf bpf;
static struct ring_buffer *rb;
static struct recs recs;
static int psock;
static int ifindex;

static int on_rb(void *ctx, void *data, size_t len)
{
	recs_add(&recs, data, len);
	return 0;
}

static int setup(void **state)
{
	struct kt_load_opts o;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int one = 1;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "gso_test: unshare(CLONE_NEWNET): %s (needs root)\n",
			strerror(errno));
		return -1;
	}
	if (system("ip link set lo up && ip link add kt0 type veth peer name kt1 && "
		   "ip link set kt0 up && ip link set kt1 up")) {
		fprintf(stderr, "gso_test: cannot create a veth pair (iproute2 installed?)\n");
		return -1;
	}
	ifindex = if_nametoindex("kt0");
	kt_load_opts_init(&o);
	o.ifaces[0] = "kt0";
	o.n_ifaces = 1;
	o.ringbuf_bytes = 16 << 20;
	if (kt_bpf_start(&bpf, &o))
		return -1;
	rb = ring_buffer__new(kt_bpf_ringbuf_fd(&bpf), on_rb, NULL, NULL);
	psock = socket(AF_PACKET, SOCK_RAW, 0);
	if (!rb || psock < 0)
		return -1;
	if (setsockopt(psock, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)))
		return -1;
	sll.sll_ifindex = ifindex;
	sll.sll_protocol = htons(ETH_P_ALL);
	return bind(psock, (struct sockaddr *)&sll, sizeof(sll));
}

static int teardown(void **state)
{
	ring_buffer__free(rb);
	kt_bpf_stop(&bpf);
	close(psock);
	free(recs.v);
	return 0;	/* the namespace and its veth go away with the process */
}

/* Send one TCP segment; gso: as a TSO super-packet of MSS 1448. */
static void inject(const struct tuple *t, uint32_t seq, uint8_t flags,
		   const uint8_t *p, size_t n, bool gso)
{
	struct virtio_net_hdr vh = {};
	struct iovec iov[2];
	uint8_t *f;
	size_t len = tcp_segment(&f, t, seq, flags, p, n), l3 = t->v6 ? 40 : 20;
	ssize_t w;

	if (gso) {
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = t->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = 14 + l3 + 20;
		vh.gso_size = 1448;
		vh.csum_start = 14 + l3;
		vh.csum_offset = 16;
	}
	iov[0] = (struct iovec){ &vh, sizeof(vh) };
	iov[1] = (struct iovec){ f, len };
	w = writev(psock, iov, 2);
	if (w != (ssize_t)(sizeof(vh) + len))
		fail_msg("packet socket send of %zu bytes: %s", len, strerror(errno));
	free(f);
}

static void drain(size_t want)
{
	int i;

	/* Records come without a wakeup (see rb_flags()): read, don't wait. */
	for (i = 0; i < 100 && recs.n < want; i++) {
		ring_buffer__consume(rb);
		if (recs.n < want)
			usleep(10000);
	}
	ring_buffer__consume(rb);
}

static void test_64k_of_small_frames(void **state)
{
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	int v6;

	for (v6 = 0; v6 < 2; v6++) {
		struct tuple t = v6 ? tuple6("fd00::1", 40000, "fd00::2", 9092)
				    : tuple4("10.9.0.1", 40000, "10.9.0.2", 9092);
		struct tuple r = tuple_rev(t);
		struct buf b = {};
		size_t i, nreq = 0, k = 0;

		while (b.len < 64000 - (v6 ? 60 : 40)) {
			kafka_request(&b, 12, 4, (int32_t)nreq, "gso", "\x00\x01", 2);
			nreq++;
		}
		kt_bpf_counters(&bpf, c0);
		recs_clear(&recs);
		inject(&t, 99, TCP_SYN, NULL, 0, false);
		inject(&r, 5, TCP_SYN | TCP_ACK, NULL, 0, false);
		inject(&t, 100, TCP_PSH, b.p, b.len, true);
		drain(nreq);
		kt_bpf_counters(&bpf, c1);
		/* One skb of b.len bytes, not 45 segments. */
		assert_int_equal(c1[KT_C_PACKETS] - c0[KT_C_PACKETS], 3);
		assert_int_equal(c1[KT_C_PAYLOAD_BYTES] - c0[KT_C_PAYLOAD_BYTES], b.len);
		for (i = 0; i < recs.n; i++) {
			const struct kt_ev_frame *f = &recs.v[i].u.fr;

			if (recs.v[i].type != KT_EV_REQUEST)
				continue;
			assert_int_equal(f->correlation_id, (int32_t)k);
			assert_int_equal(f->api_key, 12);
			assert_int_equal(f->size, 2 + 2 + 4 + 2 + 3 + 2);
			assert_int_equal(f->h.ifindex, ifindex);
			k++;
		}
		assert_int_equal(k, nreq);
		assert_true(nreq > 2000);
		free(b.p);
	}
}

/* One 200 KB frame across four super-packets, captured whole. */
static void test_frame_across_superpackets(void **state)
{
	struct tuple t = tuple4("10.9.0.1", 40001, "10.9.0.2", 9092), r = tuple_rev(t);
	struct kt_policy full = { KT_CAP_FULL, KT_CAP_FULL, 0, 1 << 20, 1 << 20 };
	static uint8_t body[200000], got[210000];
	struct buf b = {};
	size_t i, off, n = 0, q = 0;

	for (i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(kt_bpf_set_policy(&bpf, 0, &full), 0);
	kafka_request(&b, 0, 9, 77, "big-produce", body, sizeof(body));
	recs_clear(&recs);
	inject(&t, 0, TCP_SYN, NULL, 0, false);
	inject(&r, 0, TCP_SYN | TCP_ACK, NULL, 0, false);
	for (off = 0; off < b.len; off += 60000)
		inject(&t, 1 + off, TCP_PSH, b.p + off, b.len - off < 60000 ? b.len - off : 60000, true);
	drain(1 + (b.len + KT_CHUNK_MAX - 1) / KT_CHUNK_MAX);
	for (i = 0; i < recs.n; i++) {
		const struct kt_ev_data *d = &recs.v[i].u.d;

		if (recs.v[i].type == KT_EV_REQUEST) {
			assert_int_equal(recs.v[i].u.fr.correlation_id, 77);
			assert_int_equal(recs.v[i].u.fr.capture_len, b.len);
			q++;
		}
		if (recs.v[i].type != KT_EV_DATA)
			continue;
		assert_int_equal(d->offset, n);
		memcpy(got + n, d->data, d->len);
		n += d->len;
	}
	assert_int_equal(q, 1);
	assert_int_equal(n, b.len);
	assert_memory_equal(got, b.p, b.len);
	full = (struct kt_policy){};
	kt_bpf_set_policy(&bpf, 0, &full);
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64k_of_small_frames),
		cmocka_unit_test(test_frame_across_superpackets),
	};

	return cmocka_run_group_tests_name("gso (64 KiB skbs through the TC hook)", tests,
					   setup, teardown);
}
