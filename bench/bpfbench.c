// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bpfbench: kernel time per packet of kafkatap's TC program, measured by the
 * kernel itself (BPF_PROG_TEST_RUN's duration) on a realistic stream.
 *
 * Each packet of the stream runs once (repeat=1), in order, with consecutive
 * sequence numbers, so every run takes the path it would take live: stream
 * lookup, head parse, in-flight insert/delete, ring buffer record. A run's
 * duration also holds the test-run harness (one ktime pair, bh toggling); a
 * do-nothing program run on the same packets between them measures that
 * floor, which the "net" figures subtract.
 *
 * Output: a table, then `key=value` lines for bench/run.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "feed.h"
#include "loader.h"
#include "../tests/pkt.h"

#define BROKER_PORT	9092
#define OTHER_PORT	5432
#define PIPE_FRAMES	50

enum cls { C_SYN, C_REQ, C_RESP, C_ACK, C_OTHER, C_PREQ, C_PRESP, C_NOP, C_N };

static const char *const cls_name[C_N] = {
	[C_SYN] = "syn",
	[C_REQ] = "request",
	[C_RESP] = "response",
	[C_ACK] = "ack",
	[C_OTHER] = "other_port",
	[C_PREQ] = "pipe50_req",
	[C_PRESP] = "pipe50_resp",
	[C_NOP] = "floor",
};

static const char *const cls_desc[C_N] = {
	[C_SYN] = "SYN / SYN-ACK",
	[C_REQ] = "(a) Produce v9 request, 1/segment",
	[C_RESP] = "(b) response, 1/segment",
	[C_ACK] = "(c) pure ACK, broker port",
	[C_OTHER] = "(d) segment, non-broker port",
	[C_PREQ] = "(e) 50 pipelined requests",
	[C_PRESP] = "(e) 50 pipelined responses",
	[C_NOP] = "harness floor (no-op prog)",
};

struct series {
	uint32_t *v;
	size_t n, cap;
	double mean;
	uint32_t p50, p99;
	size_t bytes;		/* Ethernet frame bytes of the last packet */
};

struct conn {
	struct tuple t, r;	/* client -> broker, broker -> client */
	uint32_t cseq, bseq;	/* next byte of each side */
	int32_t corr;
};

static struct series ser[C_N];
static struct ring_buffer *rb;
static int prog_fd, nop_fd;
static uint64_t fed, run_errors, records[8];

static int on_record(void *ctx, void *data, size_t len)
{
	const struct kt_ev_hdr *h = data;

	if (len >= sizeof(*h) && h->type < 8)
		records[h->type]++;
	return 0;
}

static void push(struct series *s, uint32_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v) {
			perror("bpfbench: realloc");
			exit(1);
		}
	}
	s->v[s->n++] = v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void summarize(struct series *s)
{
	double sum = 0;
	size_t i;

	if (!s->n)
		return;
	for (i = 0; i < s->n; i++)
		sum += s->v[i];
	s->mean = sum / s->n;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	s->p50 = s->v[s->n / 2];
	s->p99 = s->v[s->n * 99 / 100];
}

/* One frame through kafkatap's program, once; every 8th also through the no-op. */
static void run(enum cls c, const struct tuple *t, uint32_t seq, uint8_t flags,
		const void *p, size_t n)
{
	uint8_t *f;
	size_t len = tcp_segment(&f, t, seq, flags, p, n);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = len, .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		run_errors++;
	else
		push(&ser[c], o.duration);
	ser[c].bytes = len;
	if ((fed & 7) == 0) {
		LIBBPF_OPTS(bpf_test_run_opts, z, .data_in = f, .data_size_in = len, .repeat = 1);

		if (!bpf_prog_test_run_opts(nop_fd, &z))
			push(&ser[C_NOP], z.duration);
	}
	free(f);
	if (++fed % 1000 == 0)
		ring_buffer__consume(rb);
}

static void put_uvarint(struct buf *b, uint32_t v)
{
	while (v >= 0x80) {
		buf_u8(b, (v & 0x7f) | 0x80);
		v >>= 7;
	}
	buf_u8(b, v);
}

/* Produce v9 (flexible), acks=1, one topic, one partition, `total` bytes in all. */
static void produce_v9(struct buf *b, int32_t corr, size_t total)
{
	static const char cid[] = "bench-producer-1", topic[] = "bench-topic";
	struct buf body = {};
	size_t fixed, rec, i;

	buf_u8(&body, 0);			/* header tagged fields */
	buf_u8(&body, 0);			/* transactional_id: null */
	buf_be16(&body, 1);			/* acks */
	buf_be32(&body, 30000);			/* timeout_ms */
	buf_u8(&body, 2);			/* topic_data: 1 entry */
	buf_u8(&body, sizeof(topic));		/* name: compact, len + 1 */
	buf_put(&body, topic, sizeof(topic) - 1);
	buf_u8(&body, 2);			/* partition_data: 1 entry */
	buf_be32(&body, 0);			/* index */
	fixed = 4 + 2 + 2 + 4 + 2 + strlen(cid) + body.len + 2 + 3;
	rec = total > fixed + 64 ? total - fixed : 64;
	put_uvarint(&body, rec + 1);		/* records: compact bytes */
	for (i = 0; i < rec; i++)
		buf_u8(&body, (uint8_t)(i * 7));
	buf_u8(&body, 0);			/* partition tags */
	buf_u8(&body, 0);			/* topic tags */
	buf_u8(&body, 0);			/* request tags */
	kafka_request(b, 0, 9, corr, cid, body.p, body.len);
	free(body.p);
}

/* Produce v3, acks=1, a tiny record: 56 bytes. */
static void produce_v3_small(struct buf *b, int32_t corr)
{
	struct buf body = {};

	buf_be16(&body, 0xffff);		/* transactional_id: null */
	buf_be16(&body, 1);			/* acks */
	buf_be32(&body, 30000);
	buf_be32(&body, 1);
	buf_str16(&body, "bench");
	buf_be32(&body, 1);
	buf_be32(&body, 0);
	buf_be32(&body, 6);
	buf_put(&body, "abcdef", 6);
	kafka_request(b, 0, 3, corr, "bench", body.p, body.len);
	free(body.p);
}

static void response(struct buf *b, int32_t corr, size_t total)
{
	uint8_t body[256] = {};

	kafka_response(b, corr, body, total - 8 < sizeof(body) ? total - 8 : sizeof(body));
}

static void conn_open(struct conn *c, int i, uint16_t bport)
{
	char src[32];

	snprintf(src, sizeof(src), "10.0.%d.%d", 1 + i / 200, 1 + i % 200);
	c->t = tuple4(src, 40000 + i, "10.0.0.250", bport);
	c->r = tuple_rev(c->t);
	c->cseq = 1000000u * (i + 1);
	c->bseq = 0xfffff000u - 7919u * i;	/* wraps during the run */
	c->corr = 0;
	run(C_SYN, &c->t, c->cseq - 1, TCP_SYN, NULL, 0);
	run(C_SYN, &c->r, c->bseq - 1, TCP_SYN | TCP_ACK, NULL, 0);
}

static void send_seg(enum cls cl, const struct tuple *t, uint32_t *seq,
		     const struct buf *b)
{
	run(cl, t, *seq, TCP_PSH, b ? b->p : NULL, b ? b->len : 0);
	if (b)
		*seq += b->len;
}

static void report(enum cls c, double floor)
{
	struct series *s = &ser[c];

	printf("  %-34s %8zu %6zu %9.1f %7u %7u %9.1f\n", cls_desc[c], s->n, s->bytes,
	       s->mean, s->p50, s->p99, c == C_NOP ? 0 : s->mean - floor);
}

int main(int argc, char **argv)
{
	static const struct bpf_insn nop[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int npk = 200000, nconn = 8, prounds = 2000, i, k, opt;
	uint32_t repeat = 100000, ns_ack = 0, ns_other = 0, ns_nop = 0;
	struct conn *conns, pc, oc;
	struct kt_load_opts lo;
	struct kt_bpf bpf;
	uint64_t cnt[KT_C_MAX];
	double floor, mix_raw, mix_net;
	struct buf b = {};
	uint8_t *f;
	size_t len;

	while ((opt = getopt(argc, argv, "n:c:m:r:")) != -1) {
		switch (opt) {
		case 'n': npk = atoi(optarg); break;
		case 'c': nconn = atoi(optarg); break;
		case 'm': prounds = atoi(optarg); break;
		case 'r': repeat = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bpfbench [-n PACKETS] [-c CONNS] "
				"[-m PIPELINED_ROUNDS] [-r REPEAT]\n");
			return 2;
		}
	}
	if (npk < 5 || nconn < 1 || nconn > 10000 || prounds < 1 || !repeat)
		return 2;

	kt_load_opts_init(&lo);
	lo.ports[0] = BROKER_PORT;
	lo.n_ports = 1;
	lo.ringbuf_bytes = 64 << 20;
	if (kt_bpf_start(&bpf, &lo))
		return 1;
	prog_fd = kt_bpf_prog_fd(&bpf);
	nop_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "kt_bench_nop", "GPL",
			       nop, 2, NULL);
	rb = ring_buffer__new(kt_bpf_ringbuf_fd(&bpf), on_record, NULL, NULL);
	conns = calloc(nconn, sizeof(*conns));
	if (nop_fd < 0 || !rb || !conns) {
		fprintf(stderr, "bpfbench: setup failed: %s\n", strerror(errno));
		return 1;
	}

	/*
	 * The stream: round robin over the connections, each round a request,
	 * the broker's ACK, the response, the client's ACK, and one segment of
	 * another TCP flow (not a broker port). Then one connection pipelines
	 * 50 small requests per segment, answered by 50 responses per segment.
	 */
	for (i = 0; i < nconn; i++)
		conn_open(&conns[i], i, BROKER_PORT);
	oc.t = tuple4("10.0.0.1", 50000, "10.0.0.9", OTHER_PORT);
	oc.cseq = 12345;
	for (i = 0; i < npk / 5; i++) {
		struct conn *c = &conns[i % nconn];

		b.len = 0;
		produce_v9(&b, c->corr, 300);
		send_seg(C_REQ, &c->t, &c->cseq, &b);
		send_seg(C_ACK, &c->r, &c->bseq, NULL);
		b.len = 0;
		response(&b, c->corr++, 60);
		send_seg(C_RESP, &c->r, &c->bseq, &b);
		send_seg(C_ACK, &c->t, &c->cseq, NULL);
		b.len = 0;
		produce_v9(&b, i, 200);		/* Kafka-looking, wrong port */
		send_seg(C_OTHER, &oc.t, &oc.cseq, &b);
	}
	conn_open(&pc, nconn, BROKER_PORT);
	for (i = 0; i < prounds; i++) {
		b.len = 0;
		for (k = 0; k < PIPE_FRAMES; k++)
			produce_v3_small(&b, pc.corr + k);
		send_seg(C_PREQ, &pc.t, &pc.cseq, &b);
		send_seg(C_ACK, &pc.r, &pc.bseq, NULL);
		b.len = 0;
		for (k = 0; k < PIPE_FRAMES; k++)
			response(&b, pc.corr++, 49);
		send_seg(C_PRESP, &pc.r, &pc.bseq, &b);
		send_seg(C_ACK, &pc.t, &pc.cseq, NULL);
	}
	ring_buffer__consume(rb);

	/* Cross-check: kt_feed_bench, the kernel's own repeat loop. */
	len = tcp_segment(&f, &conns[0].t, conns[0].cseq, 0, NULL, 0);
	kt_feed_bench(&bpf, f, len, repeat, &ns_ack);
	{
		LIBBPF_OPTS(bpf_test_run_opts, z, .data_in = f, .data_size_in = len,
			    .repeat = repeat);

		if (!bpf_prog_test_run_opts(nop_fd, &z))
			ns_nop = z.duration;
	}
	free(f);
	b.len = 0;
	produce_v9(&b, 1, 200);
	len = tcp_segment(&f, &oc.t, oc.cseq, TCP_PSH, b.p, b.len);
	kt_feed_bench(&bpf, f, len, repeat, &ns_other);
	free(f);
	ring_buffer__consume(rb);
	kt_bpf_counters(&bpf, cnt);

	for (i = 0; i < C_N; i++)
		summarize(&ser[i]);
	floor = ser[C_NOP].mean;
	mix_raw = 0.45 * ser[C_REQ].mean + 0.45 * ser[C_ACK].mean + 0.10 * ser[C_RESP].mean;
	mix_net = mix_raw - floor;

	printf("bpfbench: kafkatap_tc under BPF_PROG_TEST_RUN, repeat=1, each packet once\n");
	printf("  %-34s %8s %6s %9s %7s %7s %9s\n", "class", "packets", "bytes",
	       "mean ns", "p50", "p99", "net ns");
	for (i = 0; i < C_N; i++)
		report(i, floor);
	printf("  mix 45%% req + 45%% ack + 10%% resp: %.1f ns/packet raw, %.1f net of the floor\n",
	       mix_raw, mix_net);
	printf("  pipelined: %.1f ns/frame (requests), %.1f ns/frame (responses), net\n",
	       (ser[C_PREQ].mean - floor) / PIPE_FRAMES, (ser[C_PRESP].mean - floor) / PIPE_FRAMES);
	printf("  kt_feed_bench repeat=%u: ack %u ns, other port %u ns, no-op %u ns\n",
	       repeat, ns_ack, ns_other, ns_nop);
	printf("  kernel counters: requests=%llu responses=%llu gaps=%llu retransmits=%llu "
	       "ringbuf_full=%llu responses_unmatched=%llu; records read %llu+%llu; "
	       "test-run errors %llu\n",
	       (unsigned long long)cnt[KT_C_REQUESTS], (unsigned long long)cnt[KT_C_RESPONSES],
	       (unsigned long long)cnt[KT_C_GAPS], (unsigned long long)cnt[KT_C_RETRANS],
	       (unsigned long long)cnt[KT_C_RB_FAIL], (unsigned long long)cnt[KT_C_RESP_UNMATCHED],
	       (unsigned long long)records[KT_EV_REQUEST],
	       (unsigned long long)records[KT_EV_RESPONSE], (unsigned long long)run_errors);

	/* For bench/run.sh. */
	for (i = 0; i < C_N; i++)
		printf("bpfbench.%s.mean=%.1f\nbpfbench.%s.p50=%u\n", cls_name[i],
		       ser[i].mean, cls_name[i], ser[i].p50);
	printf("bpfbench.floor=%.1f\nbpfbench.mix.raw=%.1f\nbpfbench.mix.net=%.1f\n",
	       floor, mix_raw, mix_net);
	printf("bpfbench.pipe.req_per_frame=%.1f\nbpfbench.pipe.resp_per_frame=%.1f\n",
	       (ser[C_PREQ].mean - floor) / PIPE_FRAMES, (ser[C_PRESP].mean - floor) / PIPE_FRAMES);
	printf("bpfbench.feed.ack=%u\nbpfbench.feed.other=%u\nbpfbench.feed.nop=%u\n",
	       ns_ack, ns_other, ns_nop);
	printf("bpfbench.expected_frames=%llu\nbpfbench.kernel_requests=%llu\n"
	       "bpfbench.kernel_responses=%llu\nbpfbench.ringbuf_full=%llu\n"
	       "bpfbench.gaps=%llu\nbpfbench.errors=%llu\n",
	       (unsigned long long)(npk / 5 + (uint64_t)prounds * PIPE_FRAMES),
	       (unsigned long long)cnt[KT_C_REQUESTS], (unsigned long long)cnt[KT_C_RESPONSES],
	       (unsigned long long)cnt[KT_C_RB_FAIL], (unsigned long long)cnt[KT_C_GAPS],
	       (unsigned long long)run_errors);

	ring_buffer__free(rb);
	close(nop_fd);
	kt_bpf_stop(&bpf);
	free(b.p);
	free(conns);
	for (i = 0; i < C_N; i++)
		free(ser[i].v);
	return 0;
}
