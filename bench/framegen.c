// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * framegen: Kafka-shaped load on loopback for kafkatap's benchmarks.
 *
 * One process, two threads. The broker thread listens on 127.0.0.1:PORT,
 * reads request frames and answers each at once with a well-formed response
 * of the request's API and version, carrying its correlation id and echoing
 * its topic. The client thread opens C connections and, every TICK
 * microseconds, queues as many request frames as the target rate makes due,
 * round robin over the connections, one write per connection per tick
 * (pipelined). A connection with more than BACKLOG bytes unsent gets no new
 * frames: the achieved rate then falls short of the target, and the JSON
 * says by how much.
 *
 * Kinds of traffic (-k), every record batch a valid v2 batch (magic 2,
 * CRC-32C) of R records (-R) with V-byte values (-V), no key, no header:
 *   p3   Produce v3 (acks=1) / Produce v3 response. Default; one record
 *        whose value is sized so that the request is FRAME bytes (-f).
 *   p9   Produce v9 (flexible, acks=1) / Produce v9 response.
 *   f11  Fetch v11 request (one partition) / Fetch v11 response holding one
 *        record batch (offsets grow from response to response).
 * Frame i (over all connections) uses client_id number i % NCID (-n) and
 * topic number i % NTOPIC (-T); "framegen" and "bench" when those are 1.
 *
 * Idle mode (-I N): open N connections, send one request on each, wait for
 * every answer, print {"ready":...} on stdout, then hold the connections
 * open for SECONDS (-s) or until SIGINT/SIGTERM.
 *
 * Prints one JSON object: sent, answered, seconds, rate (achieved), ...
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define BACKLOG		(256 << 10)
#define MAX_CONNS	256

enum kind { K_P3, K_P9, K_F11 };

struct sbuf {
	uint8_t *p;
	size_t off, len, cap;		/* bytes p[off, len) are pending */
};

struct peer {
	int fd;
	struct sbuf in, out;
	int32_t next_corr;		/* client: next request id */
	int32_t want_corr;		/* client: next response id expected */
	int64_t fetch_offset;		/* client: next Fetch offset */
	uint64_t sent, answered;
};

static struct {
	int port, conns, frame, records, value, ncid, ntopic, idle;
	enum kind kind;
	double rate, seconds, tick_us;
} cfg = { 19092, 8, 200, 0, -1, 1, 1, 0, K_P3, 50000, 10, 1000 };

static volatile int broker_stop;
static volatile sig_atomic_t got_signal;
static int listen_fd;
static size_t read_chunk = 65536;
static uint64_t broker_frames, corr_errors, bad_requests, response_bytes;
static int64_t broker_offset;		/* Fetch: next base offset */
static uint8_t *batch;			/* the record batch every frame carries */
static size_t batch_len;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "framegen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void sb_reserve(struct sbuf *b, size_t n)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n <= b->cap)
		return;
	if (b->off) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("realloc");
	}
}

/* Appending big-endian fields (space reserved by the caller). */
static void w8(struct sbuf *b, uint8_t v) { b->p[b->len++] = v; }
static void w16(struct sbuf *b, uint16_t v) { w8(b, v >> 8); w8(b, v); }
static void w32(struct sbuf *b, uint32_t v) { w16(b, v >> 16); w16(b, v); }
static void w64(struct sbuf *b, uint64_t v) { w32(b, v >> 32); w32(b, v); }
static void wput(struct sbuf *b, const void *p, size_t n)
{
	memcpy(b->p + b->len, p, n);
	b->len += n;
}
static void wuvarint(struct sbuf *b, uint64_t v)
{
	while (v >= 0x80) {
		w8(b, (v & 0x7f) | 0x80);
		v >>= 7;
	}
	w8(b, v);
}
static void wvarint(struct sbuf *b, int64_t v)	/* zigzag */
{
	wuvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
static void wstr16(struct sbuf *b, const char *s)
{
	w16(b, strlen(s));
	wput(b, s, strlen(s));
}
static void wcstr(struct sbuf *b, const char *s)	/* compact string */
{
	wuvarint(b, strlen(s) + 1);
	wput(b, s, strlen(s));
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	uint32_t c = 0xffffffff;
	size_t i;

	if (!table[1])
		for (i = 0; i < 256; i++) {
			uint32_t v = i;
			int k;

			for (k = 0; k < 8; k++)
				v = v & 1 ? (v >> 1) ^ 0x82f63b78 : v >> 1;
			table[i] = v;
		}
	for (i = 0; i < n; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffff;
}

/* A v2 record batch of `n` records with `vlen`-byte values. */
static void make_batch(int n, int vlen)
{
	struct sbuf b = {};
	uint64_t ts = (uint64_t)time(NULL) * 1000;
	int i;

	sb_reserve(&b, 61 + (size_t)n * (vlen + 32));
	w64(&b, 0);			/* base offset (patched for Fetch) */
	w32(&b, 0);			/* batch length, below */
	w32(&b, 0);			/* partition leader epoch */
	w8(&b, 2);			/* magic */
	w32(&b, 0);			/* crc, below */
	w16(&b, 0);			/* attributes: no compression */
	w32(&b, n - 1);			/* last offset delta */
	w64(&b, ts);			/* base timestamp */
	w64(&b, ts + n - 1);		/* max timestamp */
	w64(&b, (uint64_t)-1);		/* producer id */
	w16(&b, 0xffff);		/* producer epoch */
	w32(&b, 0xffffffff);		/* base sequence */
	w32(&b, n);			/* records */
	for (i = 0; i < n; i++) {
		struct sbuf r = {};

		sb_reserve(&r, vlen + 32);
		w8(&r, 0);		/* attributes */
		wvarint(&r, i);		/* timestamp delta */
		wvarint(&r, i);		/* offset delta */
		wvarint(&r, -1);	/* key: null */
		wvarint(&r, vlen);
		memset(r.p + r.len, 'a' + i % 26, vlen);
		r.len += vlen;
		wvarint(&r, 0);		/* headers */
		wvarint(&b, r.len);
		wput(&b, r.p, r.len);
		free(r.p);
	}
	put32(b.p + 8, b.len - 12);
	put32(b.p + 17, crc32c(b.p + 21, b.len - 21));
	free(batch);
	batch = b.p;
	batch_len = b.len;
}

static void name_of(char *buf, size_t len, const char *base, int n, uint64_t i)
{
	if (n <= 1)
		snprintf(buf, len, "%s", base);
	else
		snprintf(buf, len, "%s-%llu", base, (unsigned long long)(i % n));
}

/* Request frame number `i` of the run on connection c. */
static void put_request(struct peer *c, uint64_t i)
{
	struct sbuf *b = &c->out;
	char cid[32], topic[32];
	size_t start;

	name_of(cid, sizeof(cid), "framegen", cfg.ncid, i);
	name_of(topic, sizeof(topic), "bench", cfg.ntopic, i);
	sb_reserve(b, 128 + batch_len);
	start = b->len;
	w32(b, 0);			/* size, below */
	w16(b, cfg.kind == K_F11 ? 1 : 0);
	w16(b, cfg.kind == K_P3 ? 3 : cfg.kind == K_P9 ? 9 : 11);
	w32(b, c->next_corr++);
	wstr16(b, cid);
	switch (cfg.kind) {
	case K_P3:
		w16(b, 0xffff);		/* transactional_id: null */
		w16(b, 1);		/* acks */
		w32(b, 30000);		/* timeout_ms */
		w32(b, 1);
		wstr16(b, topic);
		w32(b, 1);
		w32(b, 0);		/* partition */
		w32(b, batch_len);
		wput(b, batch, batch_len);
		break;
	case K_P9:
		w8(b, 0);		/* header tagged fields */
		w8(b, 0);		/* transactional_id: null */
		w16(b, 1);		/* acks */
		w32(b, 30000);
		wuvarint(b, 2);		/* topic_data: 1 */
		wcstr(b, topic);
		wuvarint(b, 2);		/* partition_data: 1 */
		w32(b, 0);
		wuvarint(b, batch_len + 1);
		wput(b, batch, batch_len);
		w8(b, 0);		/* partition tags */
		w8(b, 0);		/* topic tags */
		w8(b, 0);		/* request tags */
		break;
	case K_F11:
		w32(b, 0xffffffff);	/* replica_id */
		w32(b, 500);		/* max_wait_ms */
		w32(b, 1);		/* min_bytes */
		w32(b, 52428800);	/* max_bytes */
		w8(b, 0);		/* isolation_level */
		w32(b, 0);		/* session_id */
		w32(b, 0xffffffff);	/* session_epoch: full fetch, no session */
		w32(b, 1);
		wstr16(b, topic);
		w32(b, 1);
		w32(b, 0);		/* partition */
		w32(b, 0xffffffff);	/* current_leader_epoch */
		w64(b, c->fetch_offset);
		w64(b, (uint64_t)-1);	/* log_start_offset */
		w32(b, 1048576);	/* partition_max_bytes */
		w32(b, 0);		/* forgotten_topics_data */
		wstr16(b, "");		/* rack_id */
		c->fetch_offset += cfg.records;
		break;
	}
	put32(b->p + start, b->len - start - 4);
}

/* The topic of a request framegen made (NULL if it cannot tell). */
static const uint8_t *request_topic(const uint8_t *f, int *tlen)
{
	uint32_t size = get32(f) + 4;
	int16_t key = get16(f + 4), ver = get16(f + 6), cl = get16(f + 12);
	size_t pos = 14 + (cl > 0 ? cl : 0);

	if (key == 0 && ver == 3) {
		int16_t t = get16(f + pos);

		pos += 2 + (t > 0 ? t : 0) + 2 + 4 + 4;
		*tlen = get16(f + pos);
		pos += 2;
	} else if (key == 0 && ver == 9) {
		pos += 1 + 1 + 2 + 4 + 1;	/* tags, null txn id, acks, timeout, count */
		*tlen = f[pos] - 1;	/* names shorter than 127 bytes */
		pos += 1;
	} else if (key == 1 && ver == 11) {
		pos += 4 + 4 + 4 + 4 + 1 + 4 + 4 + 4;
		*tlen = get16(f + pos);
		pos += 2;
	} else {
		return NULL;
	}
	if (*tlen < 0 || pos + *tlen > size)
		return NULL;
	return f + pos;
}

static void on_request(struct peer *c, const uint8_t *f)
{
	struct sbuf *b = &c->out;
	int16_t key = get16(f + 4), ver = get16(f + 6);
	const uint8_t *topic;
	size_t start;
	int tl = 0;

	broker_frames++;
	topic = request_topic(f, &tl);
	if (!topic) {
		bad_requests++;
		topic = (const uint8_t *)"bench";
		tl = 5;
	}
	sb_reserve(b, 128 + tl + batch_len);
	start = b->len;
	w32(b, 0);
	wput(b, f + 8, 4);		/* correlation id */
	if (key == 0 && ver == 9) {
		w8(b, 0);		/* header tags */
		wuvarint(b, 2);
		wuvarint(b, tl + 1);
		wput(b, topic, tl);
		wuvarint(b, 2);
		w32(b, 0);		/* partition */
		w16(b, 0);		/* error */
		w64(b, broker_frames);	/* base_offset */
		w64(b, (uint64_t)-1);	/* log_append_time_ms */
		w64(b, 0);		/* log_start_offset */
		wuvarint(b, 1);		/* record_errors: none */
		wuvarint(b, 0);		/* error_message: null */
		w8(b, 0);
		w8(b, 0);
		w32(b, 0);		/* throttle_time_ms */
		w8(b, 0);
	} else if (key == 1) {
		int64_t base = broker_offset;

		broker_offset += cfg.records;
		w32(b, 0);		/* throttle_time_ms */
		w16(b, 0);		/* error */
		w32(b, 0);		/* session_id */
		w32(b, 1);
		w16(b, tl);
		wput(b, topic, tl);
		w32(b, 1);
		w32(b, 0);		/* partition */
		w16(b, 0);		/* error */
		w64(b, broker_offset);	/* high_watermark */
		w64(b, broker_offset);	/* last_stable_offset */
		w64(b, 0);		/* log_start_offset */
		w32(b, 0);		/* aborted_transactions: none */
		w32(b, 0xffffffff);	/* preferred_read_replica */
		w32(b, batch_len);
		w64(b, base);
		wput(b, batch + 8, batch_len - 8);
	} else {			/* Produce v3 */
		w32(b, 1);
		w16(b, tl);
		wput(b, topic, tl);
		w32(b, 1);
		w32(b, 0);		/* partition */
		w16(b, 0);		/* error */
		w64(b, broker_frames);	/* base_offset */
		w64(b, (uint64_t)-1);	/* log_append_time */
		w32(b, 0);		/* throttle_time_ms */
	}
	put32(b->p + start, b->len - start - 4);
	response_bytes += b->len - start;
}

/* Write what is pending; returns -1 on a dead socket. */
static int flush_out(struct peer *c)
{
	while (c->out.off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off,
				 MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out.off += n;
	}
	return 0;
}

/* Read what is there and hand every complete frame to fn; -1 at EOF/error. */
static int read_frames(struct peer *c, void (*fn)(struct peer *, const uint8_t *))
{
	for (;;) {
		ssize_t n;

		sb_reserve(&c->in, read_chunk);
		n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n < 0)
			return 0;
		c->in.len += n;
		while (c->in.len - c->in.off >= 4) {
			uint32_t sz = get32(c->in.p + c->in.off);

			if (c->in.len - c->in.off < 4 + (size_t)sz)
				break;
			fn(c, c->in.p + c->in.off);
			c->in.off += 4 + sz;
		}
	}
}

static void on_response(struct peer *c, const uint8_t *f)
{
	if ((int32_t)get32(f + 4) != c->want_corr)
		corr_errors++;
	c->want_corr++;
	c->answered++;
}

static void set_nonblock(int fd)
{
	int one = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void peer_free(struct peer *c)
{
	close(c->fd);
	free(c->in.p);
	free(c->out.p);
	free(c);
}

static void *broker(void *arg)
{
	int ep = epoll_create1(0), open = 0, i, n;
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];

	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
	while ((!broker_stop || open > 0) && !got_signal) {
		n = epoll_wait(ep, evs, 64, 100);
		for (i = 0; i < n; i++) {
			struct peer *c = evs[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept(listen_fd, NULL, NULL)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					set_nonblock(fd);
					ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
					open++;
				}
				continue;
			}
			if (read_frames(c, on_request) < 0 || flush_out(c) < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				peer_free(c);
				open--;
			}
		}
	}
	close(ep);
	return NULL;
}

static void on_signal(int sig)
{
	got_signal = 1;
}

static struct peer *client_connect(const struct sockaddr_in *sa, int ep)
{
	struct peer *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };

	if (!c)
		die("calloc");
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		die("socket");
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)))
		die("connect");
	set_nonblock(c->fd);
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return c;
}

/*
 * -I N: N connections, one exchange each, then held open. The broker runs
 * in a child process: each side needs N descriptors, and the hard
 * RLIMIT_NOFILE may not be raised (no CAP_SYS_RESOURCE in a container).
 */
static int idle_main(const struct sockaddr_in *sa, pid_t child)
{
	struct epoll_event evs[256];
	struct peer **cl = calloc(cfg.idle, sizeof(*cl));
	uint64_t t0 = now_ns(), t_ready, answered = 0, deadline;
	int ep = epoll_create1(0), i, n;

	read_chunk = 4096;
	if (!cl)
		die("calloc");
	for (i = 0; i < cfg.idle; i++) {
		cl[i] = client_connect(sa, ep);
		put_request(cl[i], i);
		cl[i]->sent++;
		if (flush_out(cl[i]))
			die("send");
	}
	deadline = now_ns() + 30000000000ull;
	while (answered < (uint64_t)cfg.idle && now_ns() < deadline && !got_signal) {
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++) {
			struct peer *c = evs[i].data.ptr;
			uint64_t before = c->answered;

			if (read_frames(c, on_response) < 0 && c->answered < c->sent)
				die("connection closed by the broker");
			answered += c->answered - before;
		}
	}
	t_ready = now_ns();
	printf("{\"ready\":%s,\"idle_conns\":%d,\"answered\":%llu,\"corr_errors\":%llu,"
	       "\"seconds_to_ready\":%.3f}\n", answered == (uint64_t)cfg.idle ? "true" : "false",
	       cfg.idle, (unsigned long long)answered, (unsigned long long)corr_errors,
	       (t_ready - t0) / 1e9);
	fflush(stdout);
	deadline = t_ready + (uint64_t)(cfg.seconds * 1e9);
	while (!got_signal && now_ns() < deadline)
		usleep(50000);
	for (i = 0; i < cfg.idle; i++)
		peer_free(cl[i]);
	free(cl);
	close(ep);
	kill(child, SIGTERM);
	waitpid(child, NULL, 0);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: framegen [-p PORT] [-r FRAMES_PER_S] [-s SECONDS] [-c CONNS] "
		"[-f FRAME_BYTES] [-t TICK_US]\n"
		"                [-k p3|p9|f11] [-R RECORDS] [-V VALUE_BYTES] [-n CLIENT_IDS] "
		"[-T TOPICS] [-I IDLE_CONNS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event evs[MAX_CONNS];
	struct peer *cl[MAX_CONNS];
	uint64_t t0, t_end, next_tick, queued = 0, answered = 0, skipped = 0, writes = 0;
	uint64_t req_bytes = 0;
	int ep, one = 1, i, n, opt, rr = 0;
	struct sigaction sig = { .sa_handler = on_signal };
	pthread_t th;
	double secs;

	while ((opt = getopt(argc, argv, "p:r:s:c:f:t:k:R:V:n:T:I:")) != -1) {
		switch (opt) {
		case 'p': cfg.port = atoi(optarg); break;
		case 'r': cfg.rate = atof(optarg); break;
		case 's': cfg.seconds = atof(optarg); break;
		case 'c': cfg.conns = atoi(optarg); break;
		case 'f': cfg.frame = atoi(optarg); break;
		case 't': cfg.tick_us = atof(optarg); break;
		case 'R': cfg.records = atoi(optarg); break;
		case 'V': cfg.value = atoi(optarg); break;
		case 'n': cfg.ncid = atoi(optarg); break;
		case 'T': cfg.ntopic = atoi(optarg); break;
		case 'I': cfg.idle = atoi(optarg); break;
		case 'k':
			if (!strcmp(optarg, "p3"))
				cfg.kind = K_P3;
			else if (!strcmp(optarg, "p9"))
				cfg.kind = K_P9;
			else if (!strcmp(optarg, "f11"))
				cfg.kind = K_F11;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (cfg.conns < 1 || cfg.conns > MAX_CONNS || cfg.frame < 100 ||
	    cfg.frame > 65536 || cfg.rate <= 0 || cfg.seconds <= 0 || cfg.tick_us < 10 ||
	    cfg.records < 0 || cfg.records > 100000 || cfg.value < -1 || cfg.value > 1000000 ||
	    cfg.ncid < 1 || cfg.ntopic < 1 || cfg.idle < 0 || cfg.idle > 100000)
		usage();
	if (!cfg.records)
		cfg.records = cfg.kind == K_P3 ? 1 : 10;
	if (cfg.value < 0 && cfg.kind != K_P3)
		cfg.value = 100;
	if (cfg.value < 0) {
		/* p3 without -V: one record, sized so that the request is -f bytes. */
		struct peer probe = {};
		int v = 0, k;

		for (k = 0; k < 4; k++) {
			make_batch(cfg.records, v);
			probe.out.len = probe.out.off = 0;
			put_request(&probe, 0);
			if ((int)probe.out.len == cfg.frame)
				break;
			v += cfg.frame - (int)probe.out.len;
			if (v < 0)
				v = 0;
		}
		free(probe.out.p);
		cfg.value = v;
	}
	make_batch(cfg.records, cfg.value);

	sigemptyset(&sig.sa_mask);
	sigaction(SIGINT, &sig, NULL);
	sigaction(SIGTERM, &sig, NULL);
	if (cfg.idle) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)cfg.idle + 64) {
			fprintf(stderr, "framegen: RLIMIT_NOFILE hard limit %llu < %d connections\n",
				(unsigned long long)rl.rlim_max, cfg.idle + 64);
			return 1;
		}
		rl.rlim_cur = (rlim_t)cfg.idle + 64;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			die("setrlimit(RLIMIT_NOFILE)");
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(cfg.port);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(listen_fd, 4096))
		die("listening");
	set_nonblock(listen_fd);
	if (cfg.idle) {
		pid_t child = fork();

		if (child < 0)
			die("fork");
		if (!child) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			read_chunk = 4096;
			broker(NULL);
			_exit(0);
		}
		close(listen_fd);
		return idle_main(&sa, child);
	}
	if (pthread_create(&th, NULL, broker, NULL))
		die("pthread_create");

	ep = epoll_create1(0);
	for (i = 0; i < cfg.conns; i++)
		cl[i] = client_connect(&sa, ep);

	t0 = next_tick = now_ns();
	t_end = t0 + (uint64_t)(cfg.seconds * 1e9);
	for (;;) {
		uint64_t now = now_ns();
		int timeout;

		if (now >= t_end && (answered == queued || now >= t_end + 2000000000ull))
			break;
		if (got_signal)
			break;
		if (now >= next_tick && now < t_end) {
			uint64_t due = (uint64_t)(cfg.rate * (now - t0) / 1e9);

			/* Round robin, one frame at a time, then one write each. */
			for (; queued + skipped < due; rr = (rr + 1) % cfg.conns) {
				struct peer *c = cl[rr];
				size_t before = c->out.len - c->out.off;

				if (before >= BACKLOG) {
					skipped++;
					continue;
				}
				put_request(c, queued);
				req_bytes += c->out.len - c->out.off - before;
				c->sent++;
				queued++;
			}
			for (i = 0; i < cfg.conns; i++) {
				if (cl[i]->out.len > cl[i]->out.off)
					writes++;
				if (flush_out(cl[i]))
					die("send");
			}
			next_tick += (uint64_t)(cfg.tick_us * 1000);
			if (next_tick < now)
				next_tick = now;
		}
		if (now >= t_end)
			timeout = 10;	/* draining the last answers */
		else
			timeout = now < next_tick ? (int)((next_tick - now + 999999) / 1000000) : 0;
		n = epoll_wait(ep, evs, MAX_CONNS, timeout < 100 ? timeout : 100);
		for (i = 0; i < n; i++) {
			struct peer *c = evs[i].data.ptr;
			uint64_t before = c->answered;

			if (read_frames(c, on_response) < 0 && c->answered < c->sent)
				die("connection closed by the broker");
			answered += c->answered - before;
			if (flush_out(c))
				die("send");
		}
	}
	secs = cfg.seconds;
	for (i = 0; i < cfg.conns; i++)
		peer_free(cl[i]);
	broker_stop = 1;
	pthread_join(th, NULL);
	close(listen_fd);
	close(ep);

	printf("{\"target_rate\":%.0f,\"sent\":%llu,\"answered\":%llu,\"seconds\":%.3f,"
	       "\"rate\":%.0f,\"skipped_backlog\":%llu,\"broker_frames\":%llu,"
	       "\"corr_errors\":%llu,\"bad_requests\":%llu,\"conns\":%d,\"kind\":\"%s\","
	       "\"records\":%d,\"value_bytes\":%d,\"batch_bytes\":%zu,"
	       "\"frame_bytes\":%.0f,\"response_bytes\":%.0f,\"client_ids\":%d,\"topics\":%d,"
	       "\"writes\":%llu,\"frames_per_write\":%.1f}\n",
	       cfg.rate, (unsigned long long)queued, (unsigned long long)answered, secs,
	       queued / secs, (unsigned long long)skipped,
	       (unsigned long long)broker_frames, (unsigned long long)corr_errors,
	       (unsigned long long)bad_requests, cfg.conns,
	       cfg.kind == K_P3 ? "p3" : cfg.kind == K_P9 ? "p9" : "f11",
	       cfg.records, cfg.value, batch_len,
	       queued ? (double)req_bytes / queued : 0.0,
	       broker_frames ? (double)response_bytes / broker_frames : 0.0,
	       cfg.ncid, cfg.ntopic, (unsigned long long)writes,
	       writes ? (double)queued / writes : 0.0);
	return 0;
}
