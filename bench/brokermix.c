// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * brokermix: kernel cost of kafkatap's TC program per KB of broker-like
 * Kafka traffic, on real skbs through a real TC hook.
 *
 * BPF_PROG_TEST_RUN takes one page per skb, so this program makes the
 * traffic itself, like tests/gso_test.c: a veth pair in a network
 * namespace of its own, kafkatap loaded on one end with the real loader
 * (default capture policy: STRUCTURE walks of Produce requests and Fetch
 * responses), and a packet socket writing TCP segments out of that end.
 * The load, on one connection:
 *   - Produce: 64 KiB requests, each four 16 KiB record batches, answered
 *     by small responses;
 *   - Fetch: small requests answered by 1 MiB responses of 64 record
 *     batches of 16 KiB;
 * each byte stream cut either into 63712-byte GSO super-packets (what TSO
 * and GRO hand to TC) or into 1448-byte segments, with one ACK per
 * super-packet or per two segments the other way.
 *
 * Time: bpf stats (run_time_ns / run_cnt) of kafkatap's program, minus
 * those of a no-op program attached beside it on the same hook (the
 * stats' own cost per run), per packet and per KB of Kafka frames.
 * Output: a table, then `key=value` lines for bench/run.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "decode/observe.h"
#include "kernel/loader.h"
#include "../tests/pkt.h"

#define MSS		1448
#define GSO_PIECE	(44 * MSS)	/* 63712: the largest TSO autosizing makes */
#define BATCH		(16 << 10)
#define PRODUCE_BYTES	(64 << 10)
#define FETCH_BYTES	(1 << 20)
#define BPF_TCX_EGRESS_	47

static int psock, ifindex;
static struct ring_buffer *rb;
static uint64_t records;

static int on_record(void *ctx, void *data, size_t len)
{
	records++;
	return 0;
}

static void die(const char *what)
{
	fprintf(stderr, "brokermix: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One TCP segment out of the veth; gso: a TSO super-packet of MSS 1448. */
static void inject(const struct tuple *t, uint32_t seq, uint8_t flags, const uint8_t *p,
		   size_t n)
{
	struct virtio_net_hdr vh = {};
	struct iovec iov[2];
	uint8_t *f;
	size_t len = tcp_segment(&f, t, seq, flags, p, n);

	/* The headers in the linear area, as the TCP stack and GRO leave them. */
	vh.hdr_len = 14 + 20 + 20;
	if (n > MSS) {
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = 14 + 20 + 20;
		vh.gso_size = MSS;
		vh.csum_start = 14 + 20;
		vh.csum_offset = 16;
	}
	iov[0] = (struct iovec){ &vh, sizeof(vh) };
	iov[1] = (struct iovec){ f, len };
	if (writev(psock, iov, 2) != (ssize_t)(sizeof(vh) + len))
		die("packet socket send");
	free(f);
}

/*
 * A magic 2 record batch of exactly `len` bytes: its 61-byte header and
 * one record's worth of opaque bytes (the kernel skips record bodies by
 * the batch length; it checks neither CRC nor records).
 */
static void batch(struct buf *b, int64_t base, size_t len)
{
	size_t i;

	buf_be32(b, (uint32_t)(base >> 32));
	buf_be32(b, (uint32_t)base);
	buf_be32(b, len - 12);		/* batch length */
	buf_be32(b, 0);			/* partition leader epoch */
	buf_u8(b, 2);			/* magic */
	buf_be32(b, 0);			/* crc */
	buf_be16(b, 0);			/* attributes */
	buf_be32(b, 99);		/* last offset delta */
	for (i = 0; i < 4; i++)		/* base, max timestamp */
		buf_be32(b, i & 1 ? 0 : 0x18c);
	buf_be32(b, 0xffffffff);	/* producer id */
	buf_be32(b, 0xffffffff);
	buf_be16(b, 0xffff);		/* producer epoch */
	buf_be32(b, 0xffffffff);	/* base sequence */
	buf_be32(b, 100);		/* records */
	for (i = 61; i < len; i++)
		buf_u8(b, (uint8_t)(i * 7));
}

/* Produce v9 (flexible), acks=1, one partition, four batches: `total` bytes. */
static void produce(struct buf *b, int32_t corr, size_t total, int nb)
{
	static const char cid[] = "broker-mix", topic[] = "mix-topic";
	size_t fixed = 4 + 2 + 2 + 4 + 2 + strlen(cid) + 1 + 1 + 2 + 4 + 1 + 1 + strlen(topic) +
		       1 + 4 + 3 + 1 + 1 + 1;
	size_t rec = total - fixed, i, start = b->len;

	buf_be32(b, total - 4);
	buf_be16(b, 0);
	buf_be16(b, 9);
	buf_be32(b, corr);
	buf_str16(b, cid);
	buf_u8(b, 0);			/* header tagged fields */
	buf_u8(b, 0);			/* transactional_id: null */
	buf_be16(b, 1);			/* acks */
	buf_be32(b, 30000);
	buf_u8(b, 2);			/* one topic */
	buf_u8(b, strlen(topic) + 1);
	buf_put(b, topic, strlen(topic));
	buf_u8(b, 2);			/* one partition */
	buf_be32(b, 0);
	buf_u8(b, 0x80 | ((rec + 1) & 0x7f));	/* records: 3-byte uvarint */
	buf_u8(b, 0x80 | (((rec + 1) >> 7) & 0x7f));
	buf_u8(b, ((rec + 1) >> 14) & 0x7f);
	for (i = 0; i < (size_t)nb; i++)
		batch(b, corr * 400 + i * 100, i + 1 < (size_t)nb ? rec / nb : rec - (nb - 1) * (rec / nb));
	buf_u8(b, 0);			/* partition, topic, request tags */
	buf_u8(b, 0);
	buf_u8(b, 0);
	if (b->len - start != total || rec + 1 >= (1u << 21)) {
		fprintf(stderr, "brokermix: produce frame is %zu bytes, not %zu\n",
			b->len - start, total);
		exit(1);
	}
}

/* Fetch v11 response: one partition holding `n` batches of BATCH bytes. */
static void fetch_response(struct buf *b, int32_t corr, int n, int64_t base)
{
	static const char topic[] = "mix-topic";
	size_t start = b->len;
	int i;

	buf_be32(b, 0);			/* size, below */
	buf_be32(b, corr);
	buf_be32(b, 0);			/* throttle_time_ms */
	buf_be16(b, 0);			/* error_code */
	buf_be32(b, 0);			/* session_id */
	buf_be32(b, 1);			/* responses */
	buf_str16(b, topic);
	buf_be32(b, 1);			/* partitions */
	buf_be32(b, 0);			/* partition_index */
	buf_be16(b, 0);			/* error_code */
	buf_be32(b, 0);			/* high_watermark */
	buf_be32(b, 1 << 30);
	buf_be32(b, 0);			/* last_stable_offset */
	buf_be32(b, 1 << 30);
	buf_be32(b, 0);			/* log_start_offset */
	buf_be32(b, 0);
	buf_be32(b, 0);			/* aborted_transactions: empty */
	buf_be32(b, 0xffffffff);	/* preferred_read_replica */
	buf_be32(b, n * BATCH);		/* records */
	for (i = 0; i < n; i++)
		batch(b, base + i * 100, BATCH);
	b->p[start] = (uint8_t)((b->len - start - 4) >> 24);
	b->p[start + 1] = (uint8_t)((b->len - start - 4) >> 16);
	b->p[start + 2] = (uint8_t)((b->len - start - 4) >> 8);
	b->p[start + 3] = (uint8_t)(b->len - start - 4);
}

struct side {
	struct tuple t;
	uint32_t seq;
};

struct tally {
	uint64_t packets, kafka_bytes, acks;
};

/* Send `n` bytes of one side's stream, cut in pieces; the other side ACKs. */
static void send_stream(struct side *s, struct side *peer, const uint8_t *p, size_t n,
			size_t piece, struct tally *ty)
{
	size_t off, k = 0;

	for (off = 0; off < n; off += piece, k++) {
		size_t len = n - off < piece ? n - off : piece;

		inject(&s->t, s->seq, TCP_PSH, p + off, len);
		s->seq += len;
		ty->packets++;
		ty->kafka_bytes += len;
		/* One ACK per super-packet, or per two MSS segments (delayed ACK). */
		if (piece > MSS || (k & 1) || off + len >= n) {
			inject(&peer->t, peer->seq, 0, NULL, 0);
			ty->packets++;
			ty->acks++;
		}
	}
}

static void prog_stat(int fd, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("bpf_obj_get_info_by_fd");
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
}

struct result {
	double kt_ns, nop_ns, net_ns, ns_per_kb;
	uint64_t packets, kafka_bytes, requests, responses, batches, walk_failed, rbfull, fast, acks;
	uint64_t records;
};

static void run_variant(const char *name, size_t piece, int rounds, int nop_fd,
			struct kt_bpf *bpf, struct result *r)
{
	static int conn;
	struct side c, b;
	struct tally ty = {};
	uint64_t k0, kc0, n0, nc0, k1, kc1, n1, nc1, c0[KT_C_MAX], c1[KT_C_MAX];
	struct buf out = {}, in = {};
	int i, j;
	char src[32];

	snprintf(src, sizeof(src), "10.9.%d.1", ++conn);
	c.t = tuple4(src, 40000, "10.9.0.2", 9092);
	b.t = tuple_rev(c.t);
	c.seq = 1000;
	b.seq = 0xffff0000u;		/* wraps during the run */
	kt_bpf_counters(bpf, c0);
	records = 0;
	prog_stat(kt_bpf_prog_fd(bpf), &k0, &kc0);
	prog_stat(nop_fd, &n0, &nc0);
	inject(&c.t, c.seq - 1, TCP_SYN, NULL, 0);
	inject(&b.t, b.seq - 1, TCP_SYN | TCP_ACK, NULL, 0);
	ty.packets += 2;
	for (i = 0; i < rounds; i++) {
		/* Produce: 4 requests of 64 KiB in a row, 4 small responses. */
		out.len = 0;
		for (j = 0; j < 4; j++)
			produce(&out, i * 8 + j, PRODUCE_BYTES, 4);
		send_stream(&c, &b, out.p, out.len, piece, &ty);
		for (j = 0; j < 4; j++) {
			uint8_t body[52] = {};

			in.len = 0;
			kafka_response(&in, i * 8 + j, body, sizeof(body));
			send_stream(&b, &c, in.p, in.len, piece, &ty);
		}
		/* Fetch: a small request, a 1 MiB response of 64 batches. */
		out.len = 0;
		kafka_request(&out, 1, 11, i * 8 + 4, "broker-mix", "\xff\xff\xff\xff\x00\x00\x01\xf4"
			      "\x00\x00\x00\x01\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
			      "\x00\x00", 26);
		send_stream(&c, &b, out.p, out.len, piece, &ty);
		in.len = 0;
		fetch_response(&in, i * 8 + 4, FETCH_BYTES / BATCH, (int64_t)i * 6400);
		send_stream(&b, &c, in.p, in.len, piece, &ty);
		ring_buffer__consume(rb);
	}
	prog_stat(kt_bpf_prog_fd(bpf), &k1, &kc1);
	prog_stat(nop_fd, &n1, &nc1);
	usleep(20000);
	ring_buffer__consume(rb);
	kt_bpf_counters(bpf, c1);
	r->packets = ty.packets;
	r->kafka_bytes = ty.kafka_bytes;
	r->kt_ns = kc1 > kc0 ? (double)(k1 - k0) / (kc1 - kc0) : 0;
	r->nop_ns = nc1 > nc0 ? (double)(n1 - n0) / (nc1 - nc0) : 0;
	r->net_ns = r->kt_ns - r->nop_ns;
	r->ns_per_kb = r->net_ns * ty.packets / (ty.kafka_bytes / 1024.0);
	r->requests = c1[KT_C_REQUESTS] - c0[KT_C_REQUESTS];
	r->responses = c1[KT_C_RESPONSES] - c0[KT_C_RESPONSES];
	r->batches = c1[KT_C_WALK_BATCHES] - c0[KT_C_WALK_BATCHES];
	r->walk_failed = c1[KT_C_WALK_FAILED] - c0[KT_C_WALK_FAILED];
	r->rbfull = c1[KT_C_RB_FAIL] - c0[KT_C_RB_FAIL];
	r->fast = c1[KT_C_FAST] - c0[KT_C_FAST];
	r->acks = ty.acks;
	r->records = records;
	/* (a stray IPv6 router solicitation of the new veth may run it once more) */
	if (kc1 - kc0 > ty.packets + 4 || kc1 - kc0 < ty.packets)
		fprintf(stderr, "brokermix: %s: the program ran %llu times for %llu packets\n",
			name, (unsigned long long)(kc1 - kc0), (unsigned long long)ty.packets);
	free(out.p);
	free(in.p);
}

int main(int argc, char **argv)
{
	static const struct bpf_insn nop[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct result gro = {}, seg = {};
	struct kt_load_opts o;
	struct kt_bpf bpf;
	int rounds = 20, opt, one = 1, nop_fd, link_fd, stats_fd;
	LIBBPF_OPTS(bpf_link_create_opts, lopts);

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r' || (rounds = atoi(optarg)) < 1) {
			fprintf(stderr, "usage: brokermix [-r ROUNDS]\n");
			return 2;
		}
	}
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET) (needs root)");
	if (system("ip link set lo up && ip link add kt0 type veth peer name kt1 && "
		   "ip link set kt0 up && ip link set kt1 up")) {
		fprintf(stderr, "brokermix: cannot create a veth pair (iproute2?)\n");
		return 1;
	}
	ifindex = if_nametoindex("kt0");
	kt_load_opts_init(&o);
	o.ifaces[0] = "kt0";
	o.n_ifaces = 1;
	kt_default_capture(o.policy);
	if (kt_bpf_start(&bpf, &o))
		return 1;
	nop_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "kt_mix_nop", "GPL", nop, 2, NULL);
	if (nop_fd < 0)
		die("loading the no-op program");
	link_fd = bpf_link_create(nop_fd, ifindex, BPF_TCX_EGRESS_, &lopts);
	if (link_fd < 0)
		die("attaching the no-op program (tcx)");
	rb = ring_buffer__new(kt_bpf_ringbuf_fd(&bpf), on_record, NULL, NULL);
	psock = socket(AF_PACKET, SOCK_RAW, 0);
	if (!rb || psock < 0 || setsockopt(psock, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)))
		die("packet socket");
	sll.sll_ifindex = ifindex;
	sll.sll_protocol = htons(ETH_P_ALL);
	if (bind(psock, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind");
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		die("BPF_ENABLE_STATS");
	/* A first round warms the ring buffer and the maps; not measured. */
	run_variant("warm-up", GSO_PIECE, 2, nop_fd, &bpf, &gro);

	run_variant("gro", GSO_PIECE, rounds, nop_fd, &bpf, &gro);
	run_variant("segments", MSS, rounds, nop_fd, &bpf, &seg);
	close(stats_fd);

	printf("brokermix: %d rounds of 4 x 64 KiB Produce requests (4 batches of 16 KiB) and a "
	       "1 MiB Fetch response (64 batches), one connection, real skbs through the TC hook "
	       "of a veth; default capture policy; bpf stats on, net of a no-op program's\n",
	       rounds);
	printf("  %-26s %9s %11s %9s %9s %9s %10s\n", "cut", "packets", "Kafka KB", "ns/pkt",
	       "no-op", "net", "net ns/KB");
	printf("  %-26s %9llu %11.0f %9.1f %9.1f %9.1f %10.2f\n", "63712-byte super-packets",
	       (unsigned long long)gro.packets, gro.kafka_bytes / 1024.0, gro.kt_ns, gro.nop_ns,
	       gro.net_ns, gro.ns_per_kb);
	printf("  %-26s %9llu %11.0f %9.1f %9.1f %9.1f %10.2f\n", "1448-byte segments",
	       (unsigned long long)seg.packets, seg.kafka_bytes / 1024.0, seg.kt_ns, seg.nop_ns,
	       seg.net_ns, seg.ns_per_kb);
	printf("  packets: %llu and %llu pure ACKs, %llu and %llu taken by the fast path\n",
	       (unsigned long long)gro.acks, (unsigned long long)seg.acks,
	       (unsigned long long)gro.fast, (unsigned long long)seg.fast);
	printf("  frames reported (req+resp): %llu and %llu (expected %d each); batch headers "
	       "kept %llu and %llu (expected %d); walk failures %llu, %llu; ring full %llu, %llu\n",
	       (unsigned long long)(gro.requests + gro.responses),
	       (unsigned long long)(seg.requests + seg.responses), rounds * 10,
	       (unsigned long long)gro.batches, (unsigned long long)seg.batches, rounds * 80,
	       (unsigned long long)gro.walk_failed, (unsigned long long)seg.walk_failed,
	       (unsigned long long)gro.rbfull, (unsigned long long)seg.rbfull);
	printf("brokermix.gro.ns_per_kb=%.2f\nbrokermix.gro.net_ns=%.1f\nbrokermix.gro.packets=%llu\n"
	       "brokermix.seg.ns_per_kb=%.2f\nbrokermix.seg.net_ns=%.1f\nbrokermix.seg.packets=%llu\n"
	       "brokermix.frames_ok=%d\n", gro.ns_per_kb, gro.net_ns,
	       (unsigned long long)gro.packets, seg.ns_per_kb, seg.net_ns,
	       (unsigned long long)seg.packets,
	       gro.requests + gro.responses == (uint64_t)rounds * 10 &&
	       seg.requests + seg.responses == (uint64_t)rounds * 10 &&
	       gro.batches == (uint64_t)rounds * 80 && seg.batches == (uint64_t)rounds * 80 &&
	       !gro.walk_failed && !seg.walk_failed);
	close(link_fd);
	close(nop_fd);
	ring_buffer__free(rb);
	kt_bpf_stop(&bpf);
	return 0;
}
