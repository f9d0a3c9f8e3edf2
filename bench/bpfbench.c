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
 * The ring buffer is kafkatap's default size, and the stream runs once
 * unmeasured until the ring has wrapped twice: in this VM the first write
 * to each ring page costs ~10 us, which a fresh ring would charge to the
 * measured packets. A last phase runs the same mix while the agent "falls
 * behind" (nothing consumed, more than the wakeup threshold waiting): the
 * cost of a record there is the wakeup policy's.
 *
 * Output: a table, then `key=value` lines for bench/run.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/feed.h"
#include "kernel/loader.h"
#include "decode/observe.h"
#include "../tests/pkt.h"

#define BROKER_PORT	9092
#define OTHER_PORT	5432
#define PIPE_FRAMES	25	/* 25 x 118 bytes: within the one page a test run takes */

enum cls { C_SYN, C_REQ, C_RESP, C_ACK, C_OTHER, C_PREQ, C_PRESP, C_NOP,
	    C_BREQ, C_BRESP, C_BACK, C_BIGHEAD, C_CONT, C_BATCHSEG, C_N };

static const char *const cls_name[C_N] = {
	[C_SYN] = "syn",
	[C_REQ] = "request",
	[C_RESP] = "response",
	[C_ACK] = "ack",
	[C_OTHER] = "other_port",
	[C_PREQ] = "pipe_req",
	[C_PRESP] = "pipe_resp",
	[C_NOP] = "floor",
	[C_BREQ] = "backlog_req",
	[C_BRESP] = "backlog_resp",
	[C_BACK] = "backlog_ack",
	[C_BIGHEAD] = "big_head",
	[C_CONT] = "continuation",
	[C_BATCHSEG] = "batch_segment",
};

static const char *const cls_desc[C_N] = {
	[C_SYN] = "SYN / SYN-ACK",
	[C_REQ] = "(a) Produce v9 request, 1/segment",
	[C_RESP] = "(b) response, 1/segment",
	[C_ACK] = "(c) pure ACK, broker port",
	[C_OTHER] = "(d) segment, non-broker port",
	[C_PREQ] = "(e) 25 pipelined requests",
	[C_PRESP] = "(e) 25 pipelined responses",
	[C_NOP] = "harness floor (no-op prog)",
	[C_BREQ] = "(a) request, agent behind",
	[C_BRESP] = "(b) response, agent behind",
	[C_BACK] = "(c) pure ACK, agent behind",
	[C_BIGHEAD] = "(f) 58 KB Produce, first segment",
	[C_CONT] = "(f) 58 KB Produce, continuation",
	[C_BATCHSEG] = "(g) Fetch segment with a batch header",
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
/*
 * -S: bpf stats (BPF_ENABLE_STATS, as kernel.bpf_stats_enabled=1 does) on
 * for every other block of STATS_BLOCK packets; those runs go to ser_on.
 * Interleaved blocks see the same packet mix and the same machine state,
 * so stats on and off are compared without run-to-run drift.
 */
#define STATS_BLOCK 1000
static struct series ser_on[C_N];
static bool alternate;
static int stats_fd = -1;
static struct ring_buffer *rb;
static int prog_fd, nop_fd;
static uint64_t fed, run_errors, records[8], rec_bytes;
static bool measuring = true;	/* false while warming the ring */
static bool consuming = true;	/* false while the agent "falls behind" */

static int on_record(void *ctx, void *data, size_t len)
{
	const uint8_t *type = data;

	if (len >= 1 && *type < 8)
		records[*type]++;
	rec_bytes += (len + 8 + 7) & ~7ul;	/* + the ring's record header */
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

static void stats_set(bool on)
{
	if (on && stats_fd < 0) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0) {
			fprintf(stderr, "bpfbench: BPF_ENABLE_STATS: %s\n", strerror(errno));
			exit(1);
		}
	} else if (!on && stats_fd >= 0) {
		close(stats_fd);
		stats_fd = -1;
	}
}

/* One frame through kafkatap's program, once; every 8th also through the no-op. */
static void run(enum cls c, const struct tuple *t, uint32_t seq, uint8_t flags,
		const void *p, size_t n)
{
	bool on = alternate && (fed / STATS_BLOCK) % 2 == 1;
	struct series *S = on ? ser_on : ser;
	uint8_t *f;
	size_t len = tcp_segment(&f, t, seq, flags, p, n);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = len, .repeat = 1);

	stats_set(on);
	if (bpf_prog_test_run_opts(prog_fd, &o))
		run_errors++;
	else if (measuring)
		push(&S[c], o.duration);
	S[c].bytes = len;
	if (measuring && (fed & 7) == 0) {
		LIBBPF_OPTS(bpf_test_run_opts, z, .data_in = f, .data_size_in = len, .repeat = 1);

		if (!bpf_prog_test_run_opts(nop_fd, &z))
			push(&S[C_NOP], z.duration);
	}
	free(f);
	if (++fed % 1000 == 0 && consuming)
		ring_buffer__consume(rb);
}

/*
 * Bytes waiting in the ring buffer: its producer position minus its
 * consumer position, read from the map's first two pages (libbpf 1.1 has
 * no ring__avail_data_size()).
 */
static uint64_t ring_waiting(int map_fd)
{
	static volatile uint64_t *cons, *prod;
	long pg = sysconf(_SC_PAGESIZE);

	if (!cons) {
		cons = mmap(NULL, pg, PROT_READ, MAP_SHARED, map_fd, 0);
		prod = mmap(NULL, pg, PROT_READ, MAP_SHARED, map_fd, pg);
		if (cons == MAP_FAILED || prod == MAP_FAILED) {
			perror("bpfbench: mmap of the ring buffer");
			exit(1);
		}
	}
	return *prod - *cons;
}

/* Percentile q of the mixture of classes cs[] weighted w[] (sorted series). */
static uint32_t mix_quantile(const enum cls *cs, const double *w, int n, double q)
{
	size_t idx[8] = {};
	double done = 0;

	/* Merge the sorted series, each sample weighing w[k] / n_k. */
	for (;;) {
		int best = -1, k;

		for (k = 0; k < n; k++)
			if (idx[k] < ser[cs[k]].n &&
			    (best < 0 || ser[cs[k]].v[idx[k]] < ser[cs[best]].v[idx[best]]))
				best = k;
		if (best < 0)
			return 0;
		done += w[best] / ser[cs[best]].n;
		if (done >= q)
			return ser[cs[best]].v[idx[best]];
		idx[best]++;
	}
}

static void put_uvarint(struct buf *b, uint32_t v)
{
	while (v >= 0x80) {
		buf_u8(b, (v & 0x7f) | 0x80);
		v >>= 7;
	}
	buf_u8(b, v);
}

/*
 * A v2 record batch (magic 2) of `len` bytes in all (68 <= len < 3000): its
 * 61-byte header, then records with no key and short values filling the
 * rest exactly (the last record's value takes up the slack). The CRC
 * is left 0: the kernel does not check it.
 */
static void record_batch(struct buf *b, size_t len)
{
	size_t start = b->len, left = len - 61, n = 0, cnt_at;
	int64_t i;

	buf_be32(b, 0); buf_be32(b, 0);		/* base offset */
	buf_be32(b, len - 12);			/* batch length */
	buf_be32(b, 0);				/* partition leader epoch */
	buf_u8(b, 2);				/* magic */
	buf_be32(b, 0);				/* crc */
	buf_be16(b, 0);				/* attributes */
	buf_be32(b, 0);				/* last offset delta, below */
	for (i = 0; i < 2; i++) {		/* base, max timestamps: 2023 */
		buf_be32(b, 0x18c);
		buf_be32(b, 0);
	}
	buf_be32(b, 0xffffffff); buf_be32(b, 0xffffffff);	/* producer id */
	buf_be16(b, 0xffff);			/* producer epoch */
	buf_be32(b, 0xffffffff);		/* base sequence */
	cnt_at = b->len;
	buf_be32(b, 0);				/* records, below */
	/* Records of 7 + v bytes: length, attributes, timestamp delta, offset
	 * delta, key -1, value length, v value bytes, no header (v <= 56:
	 * every varint fits one byte). */
	while (left >= 7) {
		size_t v = left - 7 > 56 ? 48 : left - 7;
		size_t k;

		buf_u8(b, (uint8_t)((6 + v) << 1));	/* length (zigzag) */
		buf_u8(b, 0);				/* attributes */
		buf_u8(b, 0);				/* timestamp delta */
		buf_u8(b, (uint8_t)(n << 1));		/* offset delta */
		buf_u8(b, 1);				/* key: null (-1) */
		buf_u8(b, (uint8_t)(v << 1));		/* value length */
		for (k = 0; k < v; k++)
			buf_u8(b, 'a' + k % 26);
		buf_u8(b, 0);				/* headers */
		left -= 7 + v;
		n++;
	}
	b->p[cnt_at + 3] = n;			/* n < 256 */
	b->p[start + 26] = n - 1;		/* last offset delta (bytes 23-26) */
}

/* Produce v9 (flexible), acks=1, one topic, one partition, `total` bytes in all. */
static void produce_v9(struct buf *b, int32_t corr, size_t total)
{
	static const char cid[] = "bench-producer-1", topic[] = "bench-topic";
	struct buf body = {};
	size_t fixed, rec;

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
	rec = total > fixed + 80 ? total - fixed : 80;
	put_uvarint(&body, rec + 1);		/* records: compact bytes */
	record_batch(&body, rec);
	buf_u8(&body, 0);			/* partition tags */
	buf_u8(&body, 0);			/* topic tags */
	buf_u8(&body, 0);			/* request tags */
	kafka_request(b, 0, 9, corr, cid, body.p, body.len);
	free(body.p);
}

/* Produce v3, acks=1, one record batch of one tiny record: 118 bytes. */
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
	buf_be32(&body, 68);
	record_batch(&body, 68);		/* one record, 1-byte value */
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

static void report(const struct series *set, enum cls c, double floor)
{
	const struct series *s = &set[c];

	if (!s->n)
		return;

	printf("  %-34s %8zu %6zu %9.1f %7u %7u %9.1f\n", cls_desc[c], s->n, s->bytes,
	       s->mean, s->p50, s->p99, c == C_NOP ? 0 : s->mean - floor);
}

/*
 * The stream: round robin over the connections, each round a request,
 * the broker's ACK, the response, the client's ACK, and one segment of
 * another TCP flow (not a broker port). Then one connection pipelines 25
 * small requests per segment, answered by 25 responses per segment.
 */
static void stream(struct conn *conns, int nconn, struct conn *pc, struct conn *oc, int npk,
		   int prounds, struct buf *bp, enum cls creq, enum cls cresp, enum cls cack,
		   bool other)
{
	struct buf b = *bp;
	int i, k;

	for (i = 0; i < npk / 5; i++) {
		struct conn *c = &conns[i % nconn];

		b.len = 0;
		produce_v9(&b, c->corr, 300);
		send_seg(creq, &c->t, &c->cseq, &b);
		send_seg(cack, &c->r, &c->bseq, NULL);
		b.len = 0;
		response(&b, c->corr++, 60);
		send_seg(cresp, &c->r, &c->bseq, &b);
		send_seg(cack, &c->t, &c->cseq, NULL);
		if (!other)
			continue;
		b.len = 0;
		produce_v9(&b, i, 200);		/* Kafka-looking, wrong port */
		send_seg(C_OTHER, &oc->t, &oc->cseq, &b);
	}
	for (i = 0; i < prounds; i++) {
		b.len = 0;
		for (k = 0; k < PIPE_FRAMES; k++)
			produce_v3_small(&b, pc->corr + k);
		send_seg(C_PREQ, &pc->t, &pc->cseq, &b);
		send_seg(C_ACK, &pc->r, &pc->bseq, NULL);
		b.len = 0;
		for (k = 0; k < PIPE_FRAMES; k++)
			response(&b, pc->corr++, 49);
		send_seg(C_PRESP, &pc->r, &pc->bseq, &b);
		send_seg(C_ACK, &pc->t, &pc->cseq, NULL);
	}
	*bp = b;
}

/*
 * (f) Large Produce requests (one 58 KB record batch each) in 1448-byte
 * segments: the first segment of each holds the head and the batch
 * header, the 39 others only record bytes (continuations).
 */
static void bulk(struct conn *c, int frames, struct buf *bp)
{
	struct buf b = *bp;
	size_t off;
	int i;

	for (i = 0; i < frames; i++) {
		b.len = 0;
		produce_v9(&b, c->corr++, 40 * 1448);
		for (off = 0; off < b.len; off += 1448) {
			size_t n = b.len - off < 1448 ? b.len - off : 1448;

			run(off ? C_CONT : C_BIGHEAD, &c->t, c->cseq, TCP_PSH, b.p + off, n);
			c->cseq += n;
			if (off / 1448 % 2)
				run(C_ACK, &c->r, c->bseq, 0, NULL, 0);
		}
	}
	*bp = b;
}

/* A magic 2 batch of exactly len bytes: its header, then opaque bytes. */
static void opaque_batch(struct buf *b, int64_t base, size_t len)
{
	size_t i;

	buf_be32(b, (uint32_t)(base >> 32));
	buf_be32(b, (uint32_t)base);
	buf_be32(b, len - 12);
	buf_be32(b, 0);
	buf_u8(b, 2);
	buf_be32(b, 0);
	buf_be16(b, 0);
	buf_be32(b, 9);
	for (i = 0; i < 4; i++)
		buf_be32(b, i & 1 ? 0 : 0x18c);
	for (i = 0; i < 7; i++)		/* producer id, epoch, base sequence */
		buf_be16(b, 0xffff);
	buf_be32(b, 10);
	for (i = 61; i < len; i++)
		buf_u8(b, (uint8_t)i);
}

/*
 * (g) Fetch v11 responses of 16 batches of 3620 bytes in 1448-byte
 * segments: the segments where a batch starts are walked (its header is
 * kept), the others are continuations.
 */
static void fetch_bulk(struct conn *c, int frames, struct buf *bp)
{
	struct buf b = *bp, q = {};
	size_t off, start, bs[17];
	int i, k;

	for (i = 0; i < frames; i++) {
		q.len = 0;
		kafka_request(&q, 1, 11, c->corr, "bench", "\xff\xff\xff\xff\x00\x00\x01\xf4", 8);
		run(C_SYN, &c->t, c->cseq, TCP_PSH, q.p, q.len);
		c->cseq += q.len;
		b.len = 0;
		buf_be32(&b, 0);
		buf_be32(&b, c->corr++);
		buf_be32(&b, 0);		/* throttle */
		buf_be16(&b, 0);		/* error */
		buf_be32(&b, 0);		/* session */
		buf_be32(&b, 1);
		buf_str16(&b, "bench");
		buf_be32(&b, 1);
		buf_be32(&b, 0);		/* partition */
		buf_be16(&b, 0);
		for (k = 0; k < 6; k++)		/* hw, lso, log start */
			buf_be32(&b, 0);
		buf_be32(&b, 0);		/* aborted: none */
		buf_be32(&b, 0xffffffff);	/* preferred replica */
		buf_be32(&b, 16 * 3620);
		for (k = 0; k < 16; k++) {
			bs[k] = b.len;
			opaque_batch(&b, k * 10, 3620);
		}
		bs[16] = b.len;
		b.p[0] = (b.len - 4) >> 24;
		b.p[1] = (b.len - 4) >> 16;
		b.p[2] = (b.len - 4) >> 8;
		b.p[3] = b.len - 4;
		for (off = 0; off < b.len; off += 1448) {
			size_t n = b.len - off < 1448 ? b.len - off : 1448;
			bool hdr = false;

			for (k = 0, start = off; k < 16; k++)
				if (bs[k] >= start && bs[k] < start + n)
					hdr = true;
			run(!off ? C_SYN : hdr ? C_BATCHSEG : C_CONT, &c->r, c->bseq, TCP_PSH,
			    b.p + off, n);
			c->bseq += n;
		}
	}
	free(q.p);
	*bp = b;
}

int main(int argc, char **argv)
{
	static const struct bpf_insn nop[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int npk = 200000, nconn = 8, prounds = 2000, i, k, opt;
	uint32_t repeat = 100000, ns_ack = 0, ns_other = 0, ns_nop = 0;
	struct conn *conns, pc, oc, bc;
	struct kt_load_opts lo;
	struct kt_bpf bpf;
	uint64_t cnt[KT_C_MAX], cnt0[KT_C_MAX], cnt1[KT_C_MAX], bulk_fast, fetch_batches, fetch_failed;
	double floor, mix_raw, mix_net, bmix;
	static const enum cls mixc[] = { C_REQ, C_ACK, C_RESP }, bmixc[] = { C_BREQ, C_BACK, C_BRESP };
	static const double mixw[] = { 0.45, 0.45, 0.10 };
	uint64_t warm_bytes = 0, backlog = 0;
	int warm_rounds = 0;
	bool header_only = false;
	struct buf b = {};
	uint8_t *f;
	size_t len;

	while ((opt = getopt(argc, argv, "n:c:m:r:P:S")) != -1) {
		switch (opt) {
		case 'n': npk = atoi(optarg); break;
		case 'c': nconn = atoi(optarg); break;
		case 'm': prounds = atoi(optarg); break;
		case 'r': repeat = atoi(optarg); break;
		case 'S': alternate = true; break;
		case 'P':
			if (!strcmp(optarg, "header"))
				header_only = true;
			else if (strcmp(optarg, "default"))
				goto usage;
			break;
		default:
usage:
			fprintf(stderr, "usage: bpfbench [-n PACKETS] [-c CONNS] "
				"[-m PIPELINED_ROUNDS] [-r REPEAT] [-P default|header] [-S]\n");
			return 2;
		}
	}
	if (npk < 5 || nconn < 1 || nconn > 10000 || prounds < 1 || !repeat)
		return 2;

	kt_load_opts_init(&lo);
	lo.ports[0] = BROKER_PORT;
	lo.n_ports = 1;
	/* The ring buffer stays at kafkatap's default size. */
	/*
	 * The capture policy kafkatap's commands load (STRUCTURE for Produce
	 * requests and Fetch responses, FULL for the APIs the observer decodes),
	 * or HEADER for every API (-P header, the loader's own default).
	 */
	if (!header_only)
		kt_default_capture(lo.policy);
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

	for (i = 0; i < nconn; i++)
		conn_open(&conns[i], i, BROKER_PORT);
	conn_open(&pc, nconn, BROKER_PORT);
	oc.t = tuple4("10.0.0.1", 50000, "10.0.0.9", OTHER_PORT);
	oc.cseq = 12345;
	/* Warm-up: the stream, unmeasured, until the ring has wrapped twice. */
	measuring = false;
	for (k = 0; rec_bytes < 2 * (uint64_t)lo.ringbuf_bytes && k < 100; k++)
		stream(conns, nconn, &pc, &oc, npk, prounds, &b, C_REQ, C_RESP, C_ACK, true);
	ring_buffer__consume(rb);
	warm_rounds = k;
	warm_bytes = rec_bytes;
	measuring = true;
	fed = 0;
	kt_bpf_counters(&bpf, cnt0);
	stream(conns, nconn, &pc, &oc, npk, prounds, &b, C_REQ, C_RESP, C_ACK, true);
	ring_buffer__consume(rb);
	kt_bpf_counters(&bpf, cnt);
	for (i = 0; i < KT_C_MAX; i++)
		cnt[i] -= cnt0[i];
	conn_open(&bc, nconn + 1, BROKER_PORT);
	kt_bpf_counters(&bpf, cnt0);
	bulk(&bc, 200, &b);
	ring_buffer__consume(rb);
	kt_bpf_counters(&bpf, cnt1);
	bulk_fast = cnt1[KT_C_FAST] - cnt0[KT_C_FAST];
	kt_bpf_counters(&bpf, cnt0);
	fetch_bulk(&bc, 200, &b);
	ring_buffer__consume(rb);
	kt_bpf_counters(&bpf, cnt1);
	fetch_batches = cnt1[KT_C_WALK_BATCHES] - cnt0[KT_C_WALK_BATCHES];
	fetch_failed = cnt1[KT_C_WALK_FAILED] - cnt0[KT_C_WALK_FAILED];
	/*
	 * The agent falls behind: nothing is consumed while the mix runs on
	 * until the ring holds more than the wakeup threshold, then measured.
	 */
	consuming = false;
	measuring = false;
	while (ring_waiting(kt_bpf_ringbuf_fd(&bpf)) <= lo.ringbuf_bytes / 8 + (64 << 10))
		stream(conns, nconn, &pc, &oc, 5000, 0, &b, C_REQ, C_RESP, C_ACK, false);
	measuring = true;
	stream(conns, nconn, &pc, &oc, npk / 10 < 20000 ? npk / 10 : 20000, 0, &b,
	       C_BREQ, C_BRESP, C_BACK, false);
	backlog = ring_waiting(kt_bpf_ringbuf_fd(&bpf));
	consuming = true;
	ring_buffer__consume(rb);

	stats_set(false);
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

	for (i = 0; i < C_N; i++)
		summarize(&ser[i]);
	floor = ser[C_NOP].mean;
	mix_raw = 0.45 * ser[C_REQ].mean + 0.45 * ser[C_ACK].mean + 0.10 * ser[C_RESP].mean;
	mix_net = mix_raw - floor;
	bmix = 0.45 * ser[C_BREQ].mean + 0.45 * ser[C_BACK].mean + 0.10 * ser[C_BRESP].mean;

	printf("bpfbench: kafkatap_tc under BPF_PROG_TEST_RUN, repeat=1, each packet once, "
	       "capture policy: %s\n", header_only ? "HEADER for every API" :
	       "kafkatap's default (STRUCTURE Produce requests / Fetch responses)");
	printf("  %-34s %8s %6s %9s %7s %7s %9s\n", "class", "packets", "bytes",
	       "mean ns", "p50", "p99", "net ns");
	for (i = 0; i < C_N; i++)
		report(ser, i, floor);
	printf("  ring buffer %u bytes, warmed first: %d pass(es) of the stream, %llu record "
	       "bytes (the ring wrapped %.1f times); bpf stats off\n", lo.ringbuf_bytes,
	       warm_rounds, (unsigned long long)warm_bytes, (double)warm_bytes / lo.ringbuf_bytes);
	printf("  mix 45%% req + 45%% ack + 10%% resp: %.1f ns/packet raw, %.1f net of the floor; "
	       "p50 %u, p99 %u (raw)\n", mix_raw, mix_net, mix_quantile(mixc, mixw, 3, 0.5),
	       mix_quantile(mixc, mixw, 3, 0.99));
	printf("  the same mix with the agent behind (%llu bytes waiting, threshold %u): %.1f "
	       "ns/packet raw, p50 %u, p99 %u; %.2fx the mix\n", (unsigned long long)backlog,
	       lo.ringbuf_bytes / 8, bmix, mix_quantile(bmixc, mixw, 3, 0.5),
	       mix_quantile(bmixc, mixw, 3, 0.99), bmix / mix_raw);
	printf("  Fetch segment holding a batch header: %.1f ns net (%llu batch headers kept, "
	       "%llu walks failed)\n", ser[C_BATCHSEG].mean - floor,
	       (unsigned long long)fetch_batches, (unsigned long long)fetch_failed);
	printf("  continuation segment of a large frame: %.1f ns net (%llu of the Produce "
	       "requests' 7800 took the fast path)\n", ser[C_CONT].mean - floor,
	       (unsigned long long)bulk_fast);
	printf("  pipelined: %.1f ns/frame (requests), %.1f ns/frame (responses), net\n",
	       (ser[C_PREQ].mean - floor) / PIPE_FRAMES, (ser[C_PRESP].mean - floor) / PIPE_FRAMES);
	printf("  kt_feed_bench repeat=%u: ack %u ns, other port %u ns, no-op %u ns\n",
	       repeat, ns_ack, ns_other, ns_nop);
	printf("  kernel counters: fast=%llu requests=%llu responses=%llu gaps=%llu retransmits=%llu "
	       "ringbuf_full=%llu responses_unmatched=%llu structure_batch_headers=%llu "
	       "structure_walks_failed=%llu; records read %llu+%llu; test-run errors %llu\n",
	       (unsigned long long)cnt[KT_C_FAST], (unsigned long long)cnt[KT_C_REQUESTS],
	       (unsigned long long)cnt[KT_C_RESPONSES],
	       (unsigned long long)cnt[KT_C_GAPS], (unsigned long long)cnt[KT_C_RETRANS],
	       (unsigned long long)cnt[KT_C_RB_FAIL], (unsigned long long)cnt[KT_C_RESP_UNMATCHED],
	       (unsigned long long)cnt[KT_C_WALK_BATCHES], (unsigned long long)cnt[KT_C_WALK_FAILED],
	       (unsigned long long)records[KT_EV_REQUEST],
	       (unsigned long long)records[KT_EV_RESPONSE], (unsigned long long)run_errors);

	if (alternate) {
		double fon, raw_on;

		for (i = 0; i < C_N; i++)
			summarize(&ser_on[i]);
		fon = ser_on[C_NOP].mean;
		raw_on = 0.45 * ser_on[C_REQ].mean + 0.45 * ser_on[C_ACK].mean +
			 0.10 * ser_on[C_RESP].mean;
		printf("bpfbench: the same stream's other blocks of %d packets, bpf stats ON "
		       "(BPF_ENABLE_STATS); net = mean - the stats-OFF floor\n", STATS_BLOCK);
		printf("  %-34s %8s %6s %9s %7s %7s %9s\n", "class", "packets", "bytes",
		       "mean ns", "p50", "p99", "net ns");
		for (i = 0; i < C_N; i++)
			report(ser_on, i, floor);
		printf("  mix 45%% req + 45%% ack + 10%% resp, stats on: %.1f ns/packet raw, %.1f net "
		       "of the stats-off floor; stats on - off: %.1f ns/packet (no-op: %.1f ns)\n",
		       raw_on, raw_on - floor, raw_on - mix_raw, fon - floor);
		for (i = 0; i < C_N; i++)
			printf("bpfbench.on.%s.mean=%.1f\nbpfbench.on.%s.p50=%u\n", cls_name[i],
			       ser_on[i].mean, cls_name[i], ser_on[i].p50);
		printf("bpfbench.on.floor=%.1f\nbpfbench.on.mix.raw=%.1f\nbpfbench.on.mix.net=%.1f\n"
		       "bpfbench.on.pipe.req_per_frame=%.1f\n",
		       fon, raw_on, raw_on - floor, (ser_on[C_PREQ].mean - floor) / PIPE_FRAMES);
	}

	/* For bench/run.sh. */
	for (i = 0; i < C_N; i++)
		printf("bpfbench.%s.mean=%.1f\nbpfbench.%s.p50=%u\n", cls_name[i],
		       ser[i].mean, cls_name[i], ser[i].p50);
	printf("bpfbench.policy=%s\n", header_only ? "header" : "default");
	printf("bpfbench.floor=%.1f\nbpfbench.mix.raw=%.1f\nbpfbench.mix.net=%.1f\n",
	       floor, mix_raw, mix_net);
	printf("bpfbench.cont.net=%.1f\n", ser[C_CONT].mean - floor);
	printf("bpfbench.mix.p50=%u\nbpfbench.mix.p99=%u\n", mix_quantile(mixc, mixw, 3, 0.5),
	       mix_quantile(mixc, mixw, 3, 0.99));
	printf("bpfbench.backlog.mix=%.1f\nbpfbench.backlog.p99=%u\nbpfbench.backlog.bytes=%llu\n"
	       "bpfbench.ring_bytes=%u\nbpfbench.warm_bytes=%llu\n", bmix,
	       mix_quantile(bmixc, mixw, 3, 0.99), (unsigned long long)backlog, lo.ringbuf_bytes,
	       (unsigned long long)warm_bytes);
	printf("bpfbench.pipe.req_per_frame=%.1f\nbpfbench.pipe.resp_per_frame=%.1f\n",
	       (ser[C_PREQ].mean - floor) / PIPE_FRAMES, (ser[C_PRESP].mean - floor) / PIPE_FRAMES);
	printf("bpfbench.feed.ack=%u\nbpfbench.feed.other=%u\nbpfbench.feed.nop=%u\n",
	       ns_ack, ns_other, ns_nop);
	printf("bpfbench.expected_frames=%llu\nbpfbench.kernel_requests=%llu\n"
	       "bpfbench.kernel_responses=%llu\nbpfbench.ringbuf_full=%llu\n"
	       "bpfbench.gaps=%llu\nbpfbench.errors=%llu\n"
	       "bpfbench.walk_batches=%llu\nbpfbench.walk_failed=%llu\n",
	       (unsigned long long)(npk / 5 + (uint64_t)prounds * PIPE_FRAMES),
	       (unsigned long long)cnt[KT_C_REQUESTS], (unsigned long long)cnt[KT_C_RESPONSES],
	       (unsigned long long)cnt[KT_C_RB_FAIL], (unsigned long long)cnt[KT_C_GAPS],
	       (unsigned long long)run_errors, (unsigned long long)cnt[KT_C_WALK_BATCHES],
	       (unsigned long long)cnt[KT_C_WALK_FAILED]);

	ring_buffer__free(rb);
	close(nop_fd);
	kt_bpf_stop(&bpf);
	free(b.p);
	free(conns);
	for (i = 0; i < C_N; i++) {
		free(ser[i].v);
		free(ser_on[i].v);
	}
	return 0;
}
