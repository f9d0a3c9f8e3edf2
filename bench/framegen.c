// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * framegen: Kafka-shaped load on loopback for kafkatap's live benchmark.
 *
 * One process, two threads. The broker thread listens on 127.0.0.1:PORT,
 * reads request frames and answers each at once with a small Produce v3
 * response carrying its correlation id. The client thread opens C
 * connections and, every TICK microseconds, queues as many request frames
 * (Produce v3, acks=1, client_id "framegen", FRAME bytes) as the target
 * rate makes due, round robin over the connections, one write per
 * connection per tick (pipelined). A connection with more than BACKLOG
 * bytes unsent gets no new frames: the achieved rate then falls short of
 * the target, and the JSON says by how much.
 *
 * Prints one JSON object: sent, answered, seconds, rate (achieved), ...
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define RESP_SIZE	49		/* bytes of a response frame, size field included */
#define BACKLOG		(256 << 10)
#define MAX_CONNS	256

struct sbuf {
	uint8_t *p;
	size_t off, len, cap;		/* bytes p[off, len) are pending */
};

struct peer {
	int fd;
	struct sbuf in, out;
	int32_t next_corr;		/* client: next request id */
	int32_t want_corr;		/* client: next response id expected */
	uint64_t sent, answered;
};

static struct {
	int port, conns, frame;
	double rate, seconds, tick_us;
} cfg = { 19092, 8, 200, 50000, 10, 1000 };

static volatile int broker_stop;
static int listen_fd;
static uint64_t broker_frames, corr_errors;

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

/* A Produce v3 request of cfg.frame bytes (acks=1, one topic, one partition). */
static void put_request(struct sbuf *b, int32_t corr)
{
	static const uint8_t head[] = {
		0, 0, 0, 0,		/* size */
		0, 0, 0, 3,		/* Produce v3 */
		0, 0, 0, 0,		/* correlation id */
		0, 8, 'f', 'r', 'a', 'm', 'e', 'g', 'e', 'n',
		0xff, 0xff,		/* transactional_id: null */
		0, 1,			/* acks */
		0, 0, 0x75, 0x30,	/* timeout_ms */
		0, 0, 0, 1, 0, 5, 'b', 'e', 'n', 'c', 'h',
		0, 0, 0, 1, 0, 0, 0, 0,	/* one partition: 0 */
		0, 0, 0, 0,		/* records: length */
	};
	size_t rec = cfg.frame - sizeof(head);
	uint8_t *p;

	sb_reserve(b, cfg.frame);
	p = b->p + b->len;
	memcpy(p, head, sizeof(head));
	put32(p, cfg.frame - 4);
	put32(p + 8, corr);
	put32(p + sizeof(head) - 4, rec);
	memset(p + sizeof(head), 0x5a, rec);
	b->len += cfg.frame;
}

/* Produce v3 response: one topic, one partition, no error. */
static void put_response(struct sbuf *b, const uint8_t *corr)
{
	uint8_t *p;

	sb_reserve(b, RESP_SIZE);
	p = b->p + b->len;
	memset(p, 0, RESP_SIZE);
	put32(p, RESP_SIZE - 4);
	memcpy(p + 4, corr, 4);
	put32(p + 8, 1);
	p[13] = 5;
	memcpy(p + 14, "bench", 5);
	put32(p + 19, 1);
	b->len += RESP_SIZE;
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

		sb_reserve(&c->in, 65536);
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

static void on_request(struct peer *c, const uint8_t *f)
{
	put_response(&c->out, f + 8);
	broker_frames++;
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
	while (!broker_stop || open > 0) {
		n = epoll_wait(ep, evs, 64, 100);
		for (i = 0; i < n; i++) {
			struct peer *c = evs[i].data.ptr;

			if (!c) {
				int fd = accept(listen_fd, NULL, NULL);

				if (fd < 0)
					continue;
				c = calloc(1, sizeof(*c));
				c->fd = fd;
				set_nonblock(fd);
				ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				open++;
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

static void usage(void)
{
	fprintf(stderr, "usage: framegen [-p PORT] [-r FRAMES_PER_S] [-s SECONDS] "
		"[-c CONNS] [-f FRAME_BYTES] [-t TICK_US]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[MAX_CONNS];
	struct peer *cl[MAX_CONNS];
	uint64_t t0, t_end, next_tick, queued = 0, answered = 0, skipped = 0, writes = 0;
	int ep, one = 1, i, n, opt, rr = 0;
	pthread_t th;
	double secs;

	while ((opt = getopt(argc, argv, "p:r:s:c:f:t:")) != -1) {
		switch (opt) {
		case 'p': cfg.port = atoi(optarg); break;
		case 'r': cfg.rate = atof(optarg); break;
		case 's': cfg.seconds = atof(optarg); break;
		case 'c': cfg.conns = atoi(optarg); break;
		case 'f': cfg.frame = atoi(optarg); break;
		case 't': cfg.tick_us = atof(optarg); break;
		default: usage();
		}
	}
	if (cfg.conns < 1 || cfg.conns > MAX_CONNS || cfg.frame < 64 ||
	    cfg.frame > 65536 || cfg.rate <= 0 || cfg.seconds <= 0 || cfg.tick_us < 10)
		usage();

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(cfg.port);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(listen_fd, 512))
		die("listening");
	set_nonblock(listen_fd);
	if (pthread_create(&th, NULL, broker, NULL))
		die("pthread_create");

	ep = epoll_create1(0);
	for (i = 0; i < cfg.conns; i++) {
		cl[i] = calloc(1, sizeof(*cl[i]));
		cl[i]->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(cl[i]->fd, (struct sockaddr *)&sa, sizeof(sa)))
			die("connect");
		set_nonblock(cl[i]->fd);
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = cl[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, cl[i]->fd, &ev);
	}

	t0 = next_tick = now_ns();
	t_end = t0 + (uint64_t)(cfg.seconds * 1e9);
	for (;;) {
		uint64_t now = now_ns();
		int timeout;

		if (now >= t_end && (answered == queued || now >= t_end + 2000000000ull))
			break;
		if (now >= next_tick && now < t_end) {
			uint64_t due = (uint64_t)(cfg.rate * (now - t0) / 1e9);

			/* Round robin, one frame at a time, then one write each. */
			for (; queued + skipped < due; rr = (rr + 1) % cfg.conns) {
				struct peer *c = cl[rr];

				if (c->out.len - c->out.off >= BACKLOG) {
					skipped++;
					continue;
				}
				put_request(&c->out, c->next_corr++);
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
	       "\"corr_errors\":%llu,\"conns\":%d,\"frame_bytes\":%d,\"response_bytes\":%d,"
	       "\"writes\":%llu,\"frames_per_write\":%.1f}\n",
	       cfg.rate, (unsigned long long)queued, (unsigned long long)answered, secs,
	       queued / secs, (unsigned long long)skipped,
	       (unsigned long long)broker_frames, (unsigned long long)corr_errors,
	       cfg.conns, cfg.frame, RESP_SIZE, (unsigned long long)writes,
	       writes ? (double)queued / writes : 0.0);
	return 0;
}
