// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Property test of kafkatap's TC program under BPF_PROG_TEST_RUN: random
 * TCP conversations of Kafka frames, cut, lost, duplicated and reordered,
 * with garbage, SYN/FIN/RST, both directions, IPv4 and IPv6, random capture
 * policies. The generator knows every byte it sent, so every record the
 * program reports is checked against the truth:
 *
 *  P1 a REQUEST/RESPONSE names a frame that starts at exactly its
 *     frame_seq in the bytes of that direction, with that frame's size,
 *     correlation id, api_key/version and client_id (requests), the API of
 *     the request it answers (responses with KT_FF_API_KNOWN, else -1), the
 *     Produce acks when KT_FF_ACKS_KNOWN: nothing found mid-frame, in
 *     garbage, or on a segment start that is not a frame start;
 *  P2 no frame is reported twice;
 *  P3 a DATA record names a frame reported with KT_FF_CAPTURE, lies within
 *     [0, frame length) of it, carries exactly the bytes sent there, no byte
 *     of a frame twice, no more than capture_len; SaslAuthenticate never;
 *  P4 every test run succeeds and returns TC_ACT_UNSPEC; none stalls (the
 *     longest run is measured and printed);
 *  P5 the kernel counters never decrease;
 *  P6 (clean iterations: SYN, no loss, no reordering, no garbage) every
 *     request of a known API and every response is reported, in sync (not
 *     by resync, not late), and a response to a reported request knows
 *     its API (KT_FF_API_KNOWN; responses are never sent before their
 *     request);
 *  P7 CLOSE records: on a connection of the test, with FIN or RST, at most
 *     one per FIN/RST packet sent that way; GAPs on its connections.
 *
 * For P1 to be decidable the generator makes resynchronisation on anything
 * but a frame start impossible: correlation ids are 0x7X 8X-FF 8X-FF 8X-FF,
 * bodies and garbage are bytes >= 0x80, client ids printable, so no offset
 * inside a frame or in garbage parses as a plausible head (known api_key,
 * valid version, sane size, printable client_id; for responses, the
 * correlation id of a request of the connection). A conservative model of
 * the resync parser checks this of every stream before it is sent.
 *
 * Seeded and reproducible: KT_PROP_SEED (default 1), KT_PROP_ITERS (5000),
 * KT_PROP_FIRST (first iteration); each iteration's randomness depends on
 * (seed, iteration) only and its addresses are its own. On a failure the
 * iteration's packets are written to tests/out/bpf_property_fail.pcap
 * (`kafkatap replay -p 9092,9093` reads it) and the seed is printed;
 * KT_PROP_VERBOSE=1 also prints its frames, packets and records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/feed.h"
#include "kernel/loader.h"
#include "proto/apis.h"
#include "pkt.h"

#define MAX_PAY		2900	/* TCP payload per segment: a test run takes ~3 KB */
#define MAX_CONNS	3
#define MAX_PKTS	4096

static struct kt_bpf bpf;
static struct kt_feeder feeder;
static struct recs recs;

/* ---- randomness: splitmix64, per (seed, iteration) ---- */

static uint64_t rng_s;

static uint64_t rnd(void)
{
	uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(double p)
{
	return (double)(rnd() >> 11) / (double)(1ull << 53) < p;
}

static uint32_t range(uint32_t lo, uint32_t hi)	/* inclusive */
{
	return lo + below(hi - lo + 1);
}

/* ---- the truth ---- */

struct frame {
	uint32_t off, len;		/* in the direction's bytes; len includes the size field */
	bool garbage;
	int16_t api, ver;		/* requests; responses: their request's */
	int32_t corr;
	int16_t cid_len;		/* -1 null; 0x7fff: no client_id field (header v0) */
	char cid[96];
	bool acks_valid;
	int16_t acks;
	bool known;			/* request: api_key known to the specs */
	bool resp_known;		/* response: its request's api is known */
	/* what the program said */
	int reported;
	uint16_t rec_flags;		/* flags of its record */
	uint32_t rec_cap;		/* capture_len of its record */
	uint32_t data_bytes;
	uint8_t *seen;			/* DATA bytes already sent, per frame byte */
};

struct dstream {
	struct buf b;
	struct frame *f;
	size_t nf, fcap;
	uint32_t seq0;			/* TCP seq of byte 0 */
	bool syn;
};

struct kconn {
	struct tuple t;			/* client -> broker */
	struct dstream d[2];
	int32_t corr_next;
};

struct pkt_ev {
	int conn, dir;
	uint32_t seq;
	uint32_t off, len;		/* payload: bytes [off, off+len) of the direction */
	uint8_t flags;
	double t;
};

struct iter {
	struct kconn c[MAX_CONNS];
	int nconn;
	struct pkt_ev p[MAX_PKTS];
	int np;
	bool clean;
	int drops, dups, reorders, overlaps, garbage, rsts;
	int ends[MAX_CONNS][2];		/* FIN/RST packets sent, per direction */
	int closes[MAX_CONNS][2];	/* CLOSE records */
};

static struct {
	unsigned long iters, clean, pkts, records, frames, resyncs, late, data, gaps, closes;
	unsigned long regenerated, drops, dups, reorders, overlaps, garbage, rsts;
	uint64_t max_wall_ns, max_dur_ns;
	uint64_t seed;
	unsigned long cur;
} st;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void on_record(void *ctx, const void *rec, size_t len, uint64_t ts)
{
	recs_add(&recs, rec, len);
}

/* ---- frames ---- */

static struct frame *add_frame(struct dstream *d)
{
	if (d->nf == d->fcap) {
		d->fcap = d->fcap ? 2 * d->fcap : 32;
		d->f = realloc(d->f, d->fcap * sizeof(*d->f));
		assert_non_null(d->f);
	}
	memset(&d->f[d->nf], 0, sizeof(d->f[0]));
	d->f[d->nf].off = d->b.len;
	return &d->f[d->nf++];
}

static void high_bytes(struct buf *b, size_t n)
{
	while (n--)
		buf_u8(b, 0x80 | (uint8_t)below(128));
}

static uint32_t body_len(uint32_t min)
{
	switch (below(8)) {
	case 0: return min + below(4);
	case 1: return range(1000, 7000);
	case 2: return range(200, 1000);
	default: return range(min, 120);
	}
}

/* 0x7X 8X-FF 8X-FF 8X-FF: unique per connection, never a plausible head part. */
static int32_t next_corr(struct kconn *c)
{
	uint32_t k = (uint32_t)c->corr_next++;

	return (int32_t)((0x70u + (k >> 21 & 0xf)) << 24 | (0x80u | (k >> 14 & 0x7f)) << 16 |
			 (0x80u | (k >> 7 & 0x7f)) << 8 | (0x80u | (k & 0x7f)));
}

static void garbage(struct dstream *d)
{
	struct frame *f = add_frame(d);

	f->garbage = true;
	high_bytes(&d->b, range(1, 40));
	f->len = d->b.len - f->off;
}

static void request(struct kconn *c, bool unknown_ok)
{
	struct dstream *d = &c->d[KT_DIR_REQ];
	struct frame *f = add_frame(d);
	const struct kt_api_info *a = NULL;
	size_t start = d->b.len, i;
	uint32_t size;

	if (unknown_ok && chance(0.05)) {
		do
			f->api = (int16_t)range(1, KT_API_MAX - 17);	/* keep 112-127 for corr ids */
		while (kt_api(f->api));
		f->ver = (int16_t)below(6);
	} else {
		do
			f->api = (int16_t)below(KT_API_MAX);
		while (!(a = kt_api(f->api)));
		f->known = true;
		f->ver = (int16_t)range(a->min_version, a->max_version);
		if (unknown_ok && chance(0.05))
			f->ver = (int16_t)(a->max_version + range(1, 3));	/* tracked, never resynced */
	}
	f->corr = next_corr(c);
	buf_be32(&d->b, 0);
	buf_be16(&d->b, f->api);
	buf_be16(&d->b, f->ver);
	buf_be32(&d->b, f->corr);
	if (f->api == 7 && f->ver == 0) {
		f->cid_len = 0x7fff;	/* ControlledShutdown v0: request header v0 */
	} else {
		switch (below(8)) {
		case 0: f->cid_len = -1; break;
		case 1: f->cid_len = 0; break;
		default: f->cid_len = (int16_t)range(1, 80); break;
		}
		buf_be16(&d->b, (uint16_t)f->cid_len);
		for (i = 0; f->cid_len > 0 && i < (size_t)f->cid_len; i++) {
			f->cid[i] = (char)range(0x20, 0x7e);
			buf_u8(&d->b, (uint8_t)f->cid[i]);
		}
	}
	if (f->api == KT_API_PRODUCE && f->known && f->ver <= a->max_version &&
	    f->cid_len != 0x7fff) {
		bool flex = a->flexible_min >= 0 && f->ver >= a->flexible_min;
		static const int16_t acks[] = { 0, 1, -1 };

		if (flex)
			buf_u8(&d->b, 0);		/* no header tagged fields */
		if (f->ver >= 3) {
			if (flex)
				buf_u8(&d->b, 0);	/* transactional_id: compact null */
			else
				buf_be16(&d->b, 0xffff);
		}
		f->acks = acks[below(3)];
		f->acks_valid = true;
		buf_be16(&d->b, (uint16_t)f->acks);
	}
	high_bytes(&d->b, body_len(8));
	f->len = d->b.len - f->off;
	size = f->len - 4;
	size = htonl(size);
	memcpy(d->b.p + start, &size, 4);
}

static void response(struct kconn *c, const struct frame *q)
{
	struct dstream *d = &c->d[KT_DIR_RESP];
	struct frame *f = add_frame(d);
	size_t start = d->b.len;
	uint32_t size;

	f->corr = q->corr;
	f->api = q->api;
	f->ver = q->ver;
	f->resp_known = q->known;
	buf_be32(&d->b, 0);
	buf_be32(&d->b, (uint32_t)f->corr);
	high_bytes(&d->b, body_len(4));
	f->len = d->b.len - f->off;
	size = htonl(f->len - 4);
	memcpy(d->b.p + start, &size, 4);
}

/* ---- the resync parser, conservatively (bpf/head.bpf.h, strict) ---- */

static uint32_t be32at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Could a segment starting at off of these bytes resync on a request head? */
static bool req_plausible(const uint8_t *s, size_t n, size_t off)
{
	const struct kt_api_info *a;
	uint32_t size, need, i, chk;
	int16_t key, ver, cid;

	if (off + 4 > n)
		return false;
	size = be32at(s + off);
	if (size < 8 || size > KT_RESYNC_MAX_SIZE)
		return false;
	need = size + 4 < KT_HEAD_MAX ? size + 4 : KT_HEAD_MAX;
	if (off + need > n)
		return false;	/* the head is never in one segment */
	key = (int16_t)be16at(s + off + 4);
	ver = (int16_t)be16at(s + off + 6);
	if (key < 0 || !(a = kt_api(key)) || ver < a->min_version || ver > a->max_version)
		return false;
	if ((int32_t)be32at(s + off + 8) < 0)
		return false;
	if (key == 7 && ver == 0)
		return true;
	if (size < 10)
		return false;
	cid = (int16_t)be16at(s + off + 12);
	if (cid < -1 || cid > (int32_t)size - 10)
		return false;
	/* The kernel checks at most what the shortest segment would hold. */
	chk = need > 14 ? need - 14 : 0;
	if (chk > KT_CLIENT_ID_MAX)
		chk = KT_CLIENT_ID_MAX;
	if (cid >= 0 && (uint32_t)cid < chk)
		chk = cid;
	for (i = 0; i < chk; i++)
		if (s[off + 14 + i] < 0x20 || s[off + 14 + i] > 0x7e)
			return false;
	return true;
}

static bool resp_plausible(const uint8_t *s, size_t n, size_t off, const struct dstream *q)
{
	uint32_t size;
	int32_t corr;
	size_t i;

	if (off + 8 > n)
		return false;
	size = be32at(s + off);
	corr = (int32_t)be32at(s + off + 4);
	if (size < 4 || size > KT_RESYNC_MAX_SIZE || corr < 0)
		return false;
	for (i = 0; i < q->nf; i++)
		if (!q->f[i].garbage && q->f[i].corr == corr)
			return true;
	return false;
}

/* Only frame starts may look like frame starts. */
static bool unambiguous(const struct kconn *c)
{
	int dir;

	for (dir = 0; dir < 2; dir++) {
		const struct dstream *d = &c->d[dir];
		size_t off, fi = 0;

		for (off = 0; off < d->b.len; off++) {
			bool start = false;

			while (fi < d->nf && d->f[fi].off + d->f[fi].len <= off)
				fi++;
			if (fi < d->nf && d->f[fi].off == off && !d->f[fi].garbage)
				start = true;
			if (start)
				continue;
			if (dir == KT_DIR_REQ ? req_plausible(d->b.p, d->b.len, off)
					      : resp_plausible(d->b.p, d->b.len, off, &c->d[0]))
				return false;
		}
	}
	return true;
}

/* ---- one iteration: generate ---- */

static void conn_free(struct kconn *c)
{
	int dir;
	size_t i;

	for (dir = 0; dir < 2; dir++) {
		for (i = 0; i < c->d[dir].nf; i++)
			free(c->d[dir].f[i].seen);
		free(c->d[dir].b.p);
		free(c->d[dir].f);
	}
	memset(c, 0, sizeof(*c));
}

static void gen_conn(struct iter *it, int ci, unsigned long iter, bool clean)
{
	struct kconn *c = &it->c[ci];
	int n = (int)range(1, 12), i, dir, tries = 0;
	uint16_t port = (uint16_t)(20000 + ci);
	uint16_t bport = chance(0.5) ? 9092 : 9093;
	char a[64], b[64];

again:
	conn_free(c);
	if (chance(0.3)) {
		snprintf(a, sizeof(a), "fd00::%lx:%x:1", iter & 0xffff, ci);
		snprintf(b, sizeof(b), "fd00::%lx:%x:2", iter >> 16 & 0xffff, ci);
		c->t = tuple6(a, port, b, bport);
	} else {
		snprintf(a, sizeof(a), "10.%lu.%lu.%d", iter >> 16 & 0xff, iter >> 8 & 0xff,
			 (int)(iter & 0xff));
		snprintf(b, sizeof(b), "10.200.%d.%d", ci, (int)below(250) + 1);
		c->t = tuple4(a, port, b, bport);
	}
	c->corr_next = (int32_t)below(1 << 20);
	for (i = 0; i < n; i++) {
		if (!clean && chance(0.03))
			garbage(&c->d[KT_DIR_REQ]);
		request(c, true);
	}
	for (i = 0; i < n; i++) {
		const struct frame *q = &c->d[KT_DIR_REQ].f[0];
		size_t k, seen = 0;

		/* the i-th request (skipping garbage) */
		for (k = 0; k < c->d[KT_DIR_REQ].nf; k++) {
			if (c->d[KT_DIR_REQ].f[k].garbage)
				continue;
			if ((int)seen++ == i) {
				q = &c->d[KT_DIR_REQ].f[k];
				break;
			}
		}
		if (!clean && chance(0.03))
			garbage(&c->d[KT_DIR_RESP]);
		if (clean || chance(0.9))
			response(c, q);
	}
	for (dir = 0; dir < 2; dir++) {
		c->d[dir].seq0 = (uint32_t)rnd();
		if (chance(0.1))
			c->d[dir].seq0 = 0xffffffffu - below(3000);	/* wrap around */
		c->d[dir].syn = clean || chance(0.7);
	}
	if (!unambiguous(c)) {
		st.regenerated++;
		if (++tries > 50)
			fail_msg("generator: no unambiguous stream in 50 tries (seed %llu iter %lu)",
				 (unsigned long long)st.seed, iter);
		goto again;
	}
}

static void add_pkt(struct iter *it, int ci, int dir, uint32_t off, uint32_t len, uint8_t flags,
		    double t)
{
	struct pkt_ev *p;

	if (it->np >= MAX_PKTS)
		return;
	p = &it->p[it->np++];
	p->conn = ci;
	p->dir = dir;
	p->off = off;
	p->len = len;
	p->seq = it->c[ci].d[dir].seq0 + off;
	p->flags = flags;
	p->t = t;
}

/* The frame index (of the request it answers, for responses) at an offset. */
static double progress(const struct dstream *d, uint32_t off)
{
	size_t i;
	int k = 0;

	for (i = 0; i < d->nf; i++) {
		if (d->f[i].off + d->f[i].len > off)
			break;
		if (!d->f[i].garbage)
			k++;
	}
	return k;
}

static const struct frame *request_of(const struct kconn *c, int32_t corr);

/*
 * When the response bytes [off, off + n) may be sent: after every request
 * they answer (a packet can carry the ends of several responses, and some
 * requests get none), and never before the frames ahead of them.
 */
static double resp_due(const struct kconn *c, uint32_t off, uint32_t n)
{
	const struct dstream *d = &c->d[KT_DIR_RESP];
	double due = progress(d, off);
	size_t i;

	for (i = 0; i < d->nf; i++) {
		const struct frame *f = &d->f[i], *q;

		if (f->off >= off + n)
			break;
		if (f->off + f->len <= off || f->garbage)
			continue;
		q = request_of(c, f->corr);
		if (q && progress(&c->d[KT_DIR_REQ], q->off) > due)
			due = progress(&c->d[KT_DIR_REQ], q->off);
	}
	return due;
}

static int cmp_t(const void *a, const void *b)
{
	const struct pkt_ev *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

static void schedule(struct iter *it, bool clean)
{
	double pdrop = 0, pdup = 0, preo = 0, pover = 0, tmax = 0;
	int ci, dir, i;

	if (!clean) {
		static const double lv[] = { 0, 0.02, 0.08, 0.25 };

		pdrop = lv[below(4)];
		pdup = lv[below(4)];
		preo = lv[below(4)];
		pover = lv[below(3)];
	}
	for (ci = 0; ci < it->nconn; ci++) {
		double base = below(3);

		for (dir = 0; dir < 2; dir++) {
			struct dstream *d = &it->c[ci].d[dir];
			uint32_t off = 0;

			if (d->syn)
				add_pkt(it, ci, dir, (uint32_t)-1, 0,
					dir ? TCP_SYN | TCP_ACK : TCP_SYN, base - 1 + 0.1 * dir);
			while (off < d->b.len) {
				uint32_t n;

				switch (below(3)) {
				case 0: n = range(1, 16); break;
				case 1: n = range(17, 400); break;
				default: n = range(401, MAX_PAY); break;
				}
				if (n > d->b.len - off)
					n = d->b.len - off;
				if (chance(pdrop)) {
					it->drops++;
				} else {
					/* In order within a direction unless jittered. */
					double t = base + (dir ? resp_due(&it->c[ci], off, n) + 0.5 :
							   progress(d, off)) +
						   off * 1e-9 + (clean ? 0 : 0.3 * chance(0.3));

					add_pkt(it, ci, dir, off, n, TCP_PSH, t);
					if (t > tmax)
						tmax = t;
					if (chance(pdup)) {	/* a second sighting, or a late retransmission */
						it->dups++;
						add_pkt(it, ci, dir, off, n, TCP_PSH,
							t + (chance(0.5) ? 0.01 : below(6)));
					}
				}
				if (off && chance(pover)) {	/* a retransmission across old and new bytes */
					uint32_t a = below(off), b = off + below(n) + 1;

					it->overlaps++;
					if (b - a > MAX_PAY)
						b = a + MAX_PAY;
					add_pkt(it, ci, dir, a, b - a, TCP_PSH,
						base + progress(d, off) + (dir ? 0.5 : 0) + 0.2 + below(3));
				}
				off += n;
			}
		}
	}
	for (ci = 0; ci < it->nconn; ci++) {
		for (dir = 0; dir < 2; dir++) {
			struct dstream *d = &it->c[ci].d[dir];

			if (chance(0.5))	/* FIN after the last byte */
				add_pkt(it, ci, dir, d->b.len, 0, TCP_FIN, tmax + 1 + 0.1 * dir);
		}
		if (!clean && chance(0.05)) {	/* a RST somewhere */
			dir = below(2);
			it->rsts++;
			add_pkt(it, ci, dir, below(it->c[ci].d[dir].b.len + 1), 0, TCP_RST,
				below((unsigned)tmax + 2) + 0.05);
		}
	}
	qsort(it->p, it->np, sizeof(it->p[0]), cmp_t);
	for (i = 0; i + 1 < it->np; i++) {
		/*
		 * Move a packet up to 6 places later; not a SYN: nothing of a
		 * connection is sent before its handshake (a SYN after data is
		 * a new connection on the same ports, and resets the tracking).
		 */
		if (!(it->p[i].flags & TCP_SYN) && chance(preo)) {
			int j = i + 1 + (int)below(6);
			struct pkt_ev tmp = it->p[i];

			if (j >= it->np)
				j = it->np - 1;
			memmove(&it->p[i], &it->p[i + 1], (j - i) * sizeof(it->p[0]));
			it->p[j] = tmp;
			it->reorders++;
		}
	}
}

/* ---- one iteration: run ---- */

static uint8_t *fail_pkts[MAX_PKTS];
static size_t fail_lens[MAX_PKTS];
static int fail_n;

static void run_pkt(const uint8_t *f, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f, .data_size_in = len);
	uint64_t t0, dt;
	int err;

	t0 = now_ns();
	err = bpf_prog_test_run_opts(kt_bpf_prog_fd(&bpf), &opts);
	dt = now_ns() - t0;
	if (err)
		fail_msg("P4: BPF_PROG_TEST_RUN failed: %d (seed %llu iter %lu)", err,
			 (unsigned long long)st.seed, st.cur);
	if ((int)opts.retval != TC_ACT_UNSPEC)
		fail_msg("P4: the program returned %d, not TC_ACT_UNSPEC (seed %llu iter %lu)",
			 (int)opts.retval, (unsigned long long)st.seed, st.cur);
	if (dt > st.max_wall_ns)
		st.max_wall_ns = dt;
	if (opts.duration > st.max_dur_ns)
		st.max_dur_ns = opts.duration;
	if (ring_buffer__consume(feeder.rb) < 0)
		fail_msg("ring buffer consume failed");
	st.pkts++;
}

static void write_fail_pcap(void)
{
	FILE *f = fopen("tests/out/bpf_property_fail.pcap", "wb");
	uint32_t hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
	int i;

	if (!f)
		f = fopen("bpf_property_fail.pcap", "wb");
	if (!f)
		return;
	fwrite(hdr, 4, 6, f);
	for (i = 0; i < fail_n; i++) {
		uint32_t ph[4] = { (uint32_t)i, 0, (uint32_t)fail_lens[i], (uint32_t)fail_lens[i] };

		fwrite(ph, 4, 4, f);
		fwrite(fail_pkts[i], 1, fail_lens[i], f);
	}
	fclose(f);
	fprintf(stderr, "failing iteration's packets: tests/out/bpf_property_fail.pcap\n");
}

static struct iter *cur_it;
static void dump_iter(const struct iter *it);

#define PFAIL(...) do {							\
	write_fail_pcap();						\
	if (verbose && cur_it)						\
		dump_iter(cur_it);					\
	fail_msg(__VA_ARGS__);						\
} while (0)

static bool verbose;

static void dump_iter(const struct iter *it)
{
	int ci, dir, i;
	size_t k;

	for (ci = 0; ci < it->nconn; ci++)
		for (dir = 0; dir < 2; dir++) {
			const struct dstream *d = &it->c[ci].d[dir];

			fprintf(stderr, "conn %d dir %d: %zu bytes from seq %u%s\n", ci, dir, d->b.len,
				d->seq0, d->syn ? " (SYN)" : "");
			for (k = 0; k < d->nf; k++)
				fprintf(stderr, "  frame @%u len %u %s api %d v%d corr %d\n", d->f[k].off,
					d->f[k].len, d->f[k].garbage ? "GARBAGE" : "", d->f[k].api,
					d->f[k].ver, d->f[k].corr);
		}
	for (i = 0; i < it->np; i++)
		fprintf(stderr, "pkt %d: conn %d dir %d off %u len %u flags %#x\n", i, it->p[i].conn,
			it->p[i].dir, it->p[i].off, it->p[i].len, it->p[i].flags);
	for (k = 0; k < recs.n; k++) {
		const struct rec *r = &recs.v[k];

		if (r->type == KT_EV_REQUEST || r->type == KT_EV_RESPONSE)
			fprintf(stderr, "rec %zu: type %d dir %d seq %u size %d corr %d api %d flags %#x\n",
				k, r->type, r->u.h.dir, r->u.fr.frame_seq, r->u.fr.size,
				r->u.fr.correlation_id, r->u.fr.api_key, r->u.fr.flags);
		else if (r->type == KT_EV_DATA)
			fprintf(stderr, "rec %zu: DATA dir %d seq %u off %u len %u flags %#x\n", k,
				r->u.h.dir, r->u.d.frame_seq, r->u.d.offset, r->u.d.len, r->u.d.flags);
		else
			fprintf(stderr, "rec %zu: type %d dir %d seq %u flags %#x\n", k, r->type,
				r->u.h.dir, r->u.s.seq, r->u.s.flags);
	}
}

static void run_iter(struct iter *it)
{
	int i;

	for (i = 0; i < fail_n; i++)
		free(fail_pkts[i]);
	fail_n = 0;
	for (i = 0; i < it->np; i++) {
		const struct pkt_ev *p = &it->p[i];
		const struct kconn *c = &it->c[p->conn];
		struct tuple t = p->dir ? tuple_rev(c->t) : c->t;
		uint8_t *f;
		size_t len;

		len = tcp_segment(&f, &t, p->seq, p->flags,
				  p->len ? c->d[p->dir].b.p + p->off : NULL, p->len);
		fail_pkts[fail_n] = f;
		fail_lens[fail_n++] = len;
		if (p->flags & (TCP_FIN | TCP_RST))
			it->ends[p->conn][p->dir]++;
		run_pkt(f, len);
	}
}

/* ---- one iteration: check ---- */

static int find_conn(const struct iter *it, const struct kt_conn *k)
{
	int ci;

	for (ci = 0; ci < it->nconn; ci++) {
		const struct tuple *t = &it->c[ci].t;
		size_t n = t->v6 ? 16 : 4;

		if (k->family == (t->v6 ? 6 : 4) && k->client_port == t->sport &&
		    k->broker_port == t->dport && !memcmp(k->client_addr, t->src, n) &&
		    !memcmp(k->broker_addr, t->dst, n))
			return ci;
	}
	return -1;
}

static struct frame *find_frame(struct dstream *d, uint32_t frame_seq)
{
	uint32_t off = frame_seq - d->seq0;
	size_t lo = 0, hi = d->nf;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->f[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->nf && d->f[lo].off == off && !d->f[lo].garbage)
		return &d->f[lo];
	return NULL;
}

static const struct frame *request_of(const struct kconn *c, int32_t corr)
{
	size_t i;

	for (i = 0; i < c->d[0].nf; i++)
		if (!c->d[0].f[i].garbage && c->d[0].f[i].corr == corr)
			return &c->d[0].f[i];
	return NULL;
}

static void check_frame_rec(struct iter *it, const struct kt_ev_frame *ev, size_t idx)
{
	const char *what = ev->h.type == KT_EV_REQUEST ? "request" : "response";
	int ci = find_conn(it, &ev->h.conn);
	struct kconn *c;
	struct frame *f;
	int dir;

	if (ci < 0)
		PFAIL("P1: record %zu: a %s on a connection never opened (seed %llu iter %lu)",
		      idx, what, (unsigned long long)st.seed, st.cur);
	c = &it->c[ci];
	dir = ev->h.type == KT_EV_REQUEST ? KT_DIR_REQ : KT_DIR_RESP;
	if (ev->h.dir != dir)
		PFAIL("P1: record %zu: %s with dir %d", idx, what, ev->h.dir);
	f = find_frame(&c->d[dir], ev->frame_seq);
	if (!f)
		PFAIL("P1: record %zu: %s at seq %u (offset %u of %zu bytes) where no frame starts: "
		      "size %d corr %d api %d v%d flags %#x (seed %llu iter %lu)", idx, what,
		      ev->frame_seq, ev->frame_seq - c->d[dir].seq0, c->d[dir].b.len, ev->size,
		      ev->correlation_id, ev->api_key, ev->api_version, ev->flags,
		      (unsigned long long)st.seed, st.cur);
	if (ev->size != (int32_t)f->len - 4 || ev->correlation_id != f->corr)
		PFAIL("P1: record %zu: %s at offset %u: size %d corr %d, sent size %u corr %d",
		      idx, what, f->off, ev->size, ev->correlation_id, f->len - 4, f->corr);
	if (f->reported++)
		PFAIL("P2: record %zu: %s at offset %u (corr %d) reported %d times (seed %llu iter %lu)",
		      idx, what, f->off, f->corr, f->reported, (unsigned long long)st.seed, st.cur);
	f->rec_flags = ev->flags;
	f->rec_cap = ev->flags & KT_FF_CAPTURE ? ev->capture_len : 0;
	if (!(ev->flags & KT_FF_CAPTURE) && ev->capture_len)
		PFAIL("P3: record %zu: capture_len %u without KT_FF_CAPTURE", idx, ev->capture_len);
	if (f->api == KT_API_SASL_AUTHENTICATE && (ev->flags & KT_FF_CAPTURE))
		PFAIL("P3: record %zu: SaslAuthenticate %s announces a capture", idx, what);
	if (ev->flags & KT_FF_RESYNC)
		st.resyncs++;
	if (ev->flags & KT_FF_LATE) {
		st.late++;
		if (ev->flags & KT_FF_CAPTURE)
			PFAIL("P3: record %zu: a late %s announces a capture", idx, what);
	}
	st.frames++;
	if (dir == KT_DIR_REQ) {
		char want[KT_CLIENT_ID_MAX] = { 0 };
		int16_t cl = f->cid_len == 0x7fff ? -1 : f->cid_len;

		if (cl > 0)
			memcpy(want, f->cid, cl < KT_CLIENT_ID_MAX ? cl : KT_CLIENT_ID_MAX);
		if (ev->api_key != f->api || ev->api_version != f->ver ||
		    ev->client_id_len != cl || memcmp(ev->client_id, want, KT_CLIENT_ID_MAX))
			PFAIL("P1: record %zu: request at offset %u: api %d v%d cid_len %d '%.64s'; "
			      "sent api %d v%d cid_len %d", idx, f->off, ev->api_key, ev->api_version,
			      ev->client_id_len, ev->client_id, f->api, f->ver, cl);
		if ((ev->flags & KT_FF_ACKS_KNOWN) && (!f->acks_valid || ev->acks != f->acks))
			PFAIL("P1: record %zu: acks %d known, sent %s%d", idx, ev->acks,
			      f->acks_valid ? "" : "no acks field, ", f->acks);
	} else if (ev->flags & KT_FF_API_KNOWN) {
		const struct frame *q = request_of(c, f->corr);

		if (!q || ev->api_key != q->api || ev->api_version != q->ver)
			PFAIL("P1: record %zu: response corr %d answers api %d v%d; its request was "
			      "api %d v%d", idx, f->corr, ev->api_key, ev->api_version,
			      q ? q->api : -1, q ? q->ver : -1);
	} else if (ev->api_key != -1 || ev->api_version != -1) {
		PFAIL("P1: record %zu: response without KT_FF_API_KNOWN has api %d v%d", idx,
		      ev->api_key, ev->api_version);
	}
}

static void check_data_rec(struct iter *it, const struct kt_ev_data *d, size_t len, size_t idx)
{
	int ci = find_conn(it, &d->h.conn);
	struct frame *f;
	uint32_t i;

	st.data++;
	if (ci < 0 || d->h.dir > 1)
		PFAIL("P3: record %zu: DATA on an unknown connection or dir %d", idx, d->h.dir);
	if (d->len > KT_CHUNK_MAX)
		PFAIL("P3: record %zu: a run of %u bytes", idx, d->len);
	f = find_frame(&it->c[ci].d[d->h.dir], d->frame_seq);
	if (!f || !f->reported || !f->rec_cap)
		PFAIL("P3: record %zu: DATA for seq %u: %s (seed %llu iter %lu)", idx, d->frame_seq,
		      !f ? "no frame starts there" : !f->reported ? "frame not reported"
						       : "frame reported without capture",
		      (unsigned long long)st.seed, st.cur);
	if (f->api == KT_API_SASL_AUTHENTICATE)
		PFAIL("P3: record %zu: DATA of a SaslAuthenticate frame", idx);
	if (d->offset > f->len || d->len > f->len - d->offset ||
	    (d->len && d->offset >= f->len))
		PFAIL("P3: record %zu: DATA [%u, +%u) outside the frame's %u bytes (seed %llu iter %lu)",
		      idx, d->offset, d->len, f->len, (unsigned long long)st.seed, st.cur);
	if (memcmp(d->data, it->c[ci].d[d->h.dir].b.p + f->off + d->offset, d->len))
		PFAIL("P3: record %zu: DATA [%u, +%u) of the frame at offset %u: not the bytes sent",
		      idx, d->offset, d->len, f->off);
	if (!f->seen)
		f->seen = calloc(1, f->len);
	for (i = 0; i < d->len; i++)
		if (f->seen[d->offset + i]++)
			PFAIL("P3: record %zu: frame byte %u captured twice", idx, d->offset + i);
	f->data_bytes += d->len;
	if (f->data_bytes > f->rec_cap)
		PFAIL("P3: record %zu: %u DATA bytes, capture_len %u", idx, f->data_bytes, f->rec_cap);
}

static void check_iter(struct iter *it)
{
	size_t i;
	int ci, dir;

	st.records += recs.n;
	/* P1: every record of this format, of a connection announced before it. */
	if (recs.x && (kt_expander_stats(recs.x)->bad || kt_expander_stats(recs.x)->unknown_conn))
		PFAIL("P1: %llu malformed records, %llu of a connection never announced "
		      "(seed %llu iter %lu)", (unsigned long long)kt_expander_stats(recs.x)->bad,
		      (unsigned long long)kt_expander_stats(recs.x)->unknown_conn,
		      (unsigned long long)st.seed, st.cur);
	for (i = 0; i < recs.n; i++) {
		const struct rec *r = &recs.v[i];

		switch (r->type) {
		case KT_EV_REQUEST:
		case KT_EV_RESPONSE:
			if (r->len < sizeof(struct kt_rec_frame))
				PFAIL("record %zu: short frame record (%zu bytes)", i, r->len);
			check_frame_rec(it, &r->u.fr, i);
			break;
		case KT_EV_DATA:
			check_data_rec(it, &r->u.d, r->len, i);
			break;
		case KT_EV_CLOSE:
		case KT_EV_GAP:
			ci = find_conn(it, &r->u.h.conn);
			if (r->len < sizeof(struct kt_rec_stream) || ci < 0 || r->u.h.dir > 1)
				PFAIL("record %zu: stream event type %d on an unknown connection", i,
				      r->type);
			if (r->type == KT_EV_GAP) {
				st.gaps++;
				break;
			}
			st.closes++;
			/* P1 for closes: one per FIN or RST sent that way, at most. */
			if (++it->closes[ci][r->u.h.dir] > it->ends[ci][r->u.h.dir])
				PFAIL("record %zu: CLOSE number %d of conn %d dir %d, %d FIN/RST sent",
				      i, it->closes[ci][r->u.h.dir], ci, r->u.h.dir,
				      it->ends[ci][r->u.h.dir]);
			if (!(r->u.s.flags & (KT_CF_FIN | KT_CF_RST)))
				PFAIL("record %zu: CLOSE without FIN or RST flag", i);
			break;
		default:
			PFAIL("record %zu: unknown type %d", i, r->type);
		}
	}
	if (!it->clean)
		return;
	/* P6: nothing lost, nothing reordered: everything is reported, in sync
	 * (found by tracking, not by resync, and not late), and every response
	 * to a reported request knows its API from the in-flight map. */
	for (ci = 0; ci < it->nconn; ci++) {
		for (dir = 0; dir < 2; dir++) {
			const struct dstream *d = &it->c[ci].d[dir];

			for (i = 0; i < d->nf; i++) {
				const struct frame *f = &d->f[i], *q;
				const char *what = dir ? "response" : "request";

				if (f->garbage || (dir == KT_DIR_REQ && !f->known))
					continue;
				if (!f->reported)
					PFAIL("P6: clean iteration: %s at offset %u (api %d v%d corr %d) "
					      "not reported (seed %llu iter %lu)", what, f->off, f->api,
					      f->ver, f->corr, (unsigned long long)st.seed, st.cur);
				if (f->rec_flags & (KT_FF_RESYNC | KT_FF_LATE))
					PFAIL("P6: clean iteration: %s at offset %u (corr %d) reported "
					      "with flags %#x, not in sync (seed %llu iter %lu)", what,
					      f->off, f->corr, f->rec_flags,
					      (unsigned long long)st.seed, st.cur);
				q = dir == KT_DIR_RESP ? request_of(&it->c[ci], f->corr) : NULL;
				if (q && q->known && q->reported && !(f->rec_flags & KT_FF_API_KNOWN))
					PFAIL("P6: clean iteration: response at offset %u (corr %d) to a "
					      "reported api %d request without KT_FF_API_KNOWN (seed %llu "
					      "iter %lu)", f->off, f->corr, q->api,
					      (unsigned long long)st.seed, st.cur);
			}
		}
	}
}

/* ---- policies ---- */

static void random_policies(void)
{
	int k;

	for (k = 0; k < KT_API_MAX; k++) {
		struct kt_policy p = { 0 };

		if (!kt_api(k) && k != 100)
			continue;
		p.req_mode = (uint8_t)below(4);
		p.resp_mode = (uint8_t)below(4);
		p.req_limit = chance(0.5) ? range(1, 200) : range(200, 1 << 16);
		p.resp_limit = chance(0.5) ? range(1, 200) : range(200, 1 << 16);
		if (chance(0.5)) {
			p.req_mode = KT_CAP_HEADER;
			p.resp_mode = KT_CAP_HEADER;
		}
		assert_int_equal(kt_bpf_set_policy(&bpf, k, &p), 0);
	}
}

static int setup_all(void **state)
{
	return pkt_start(&bpf, &feeder, on_record);
}

static int teardown_all(void **state)
{
	int i;

	kt_feeder_free(&feeder);
	kt_bpf_stop(&bpf);
	free(recs.v);
	for (i = 0; i < fail_n; i++)
		free(fail_pkts[i]);
	return 0;
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void test_properties(void **state)
{
	unsigned long first = env_ul("KT_PROP_FIRST", 0), n = env_ul("KT_PROP_ITERS", 5000);
	static struct iter it;
	uint64_t c0[KT_C_MAX], c1[KT_C_MAX];
	uint64_t t0 = now_ns();
	unsigned long iter;
	int ci, k;

	st.seed = env_ul("KT_PROP_SEED", 1);
	verbose = env_ul("KT_PROP_VERBOSE", 0);
	cur_it = &it;
	assert_int_equal(kt_bpf_counters(&bpf, c0), 0);
	for (iter = first; iter < first + n; iter++) {
		bool clean;

		st.cur = iter;
		rng_s = st.seed * 0x100000001b3ull ^ (iter + 1) * 0x9e3779b97f4a7c15ull;
		for (ci = 0; ci < it.nconn; ci++)
			conn_free(&it.c[ci]);
		memset(&it, 0, sizeof(it));
		clean = chance(0.25);
		it.clean = clean;
		it.nconn = (int)range(1, MAX_CONNS);
		for (ci = 0; ci < it.nconn; ci++)
			gen_conn(&it, ci, iter, clean);
		random_policies();
		schedule(&it, clean);
		recs_clear(&recs);
		run_iter(&it);
		check_iter(&it);
		assert_int_equal(kt_bpf_counters(&bpf, c1), 0);
		for (k = 0; k < KT_C_MAX; k++)
			if (c1[k] < c0[k])
				PFAIL("P5: counter %s went from %llu to %llu (seed %llu iter %lu)",
				      kt_counter_name(k), (unsigned long long)c0[k],
				      (unsigned long long)c1[k], (unsigned long long)st.seed, iter);
		memcpy(c0, c1, sizeof(c0));
		st.iters++;
		st.clean += clean;
		st.drops += it.drops;
		st.dups += it.dups;
		st.reorders += it.reorders;
		st.overlaps += it.overlaps;
		st.rsts += it.rsts;
		for (ci = 0; ci < it.nconn; ci++)
			for (k = 0; k < 2; k++)
				for (size_t i = 0; i < it.c[ci].d[k].nf; i++)
					st.garbage += it.c[ci].d[k].f[i].garbage;
	}
	for (ci = 0; ci < it.nconn; ci++)
		conn_free(&it.c[ci]);
	printf("bpf property: seed %llu, iterations %lu-%lu (%lu clean) in %.1fs: %lu packets, "
	       "%lu records, %lu frames reported (%lu by resync, %lu late), %lu DATA, %lu gaps, %lu closes; "
	       "injected %lu drops, %lu duplicates, %lu reorders, %lu overlapping retransmissions, "
	       "%lu garbage runs, %lu RSTs; %lu streams regenerated (ambiguous); longest test run "
	       "%.1f us wall, %.1f us in the program\n",
	       (unsigned long long)st.seed, first, first + n - 1, st.clean,
	       (now_ns() - t0) / 1e9, st.pkts, st.records, st.frames, st.resyncs, st.late, st.data,
	       st.gaps, st.closes, st.drops, st.dups, st.reorders, st.overlaps, st.garbage,
	       st.rsts, st.regenerated, st.max_wall_ns / 1e3, st.max_dur_ns / 1e3);
	/* A stall would have hung above; a run this long means something is wrong. */
	assert_true(st.max_wall_ns < 1000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_properties),
	};

	return cmocka_run_group_tests_name("bpf properties (BPF_PROG_TEST_RUN)", tests,
					   setup_all, teardown_all);
}
