// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <microhttpd.h>
#include "metrics/http.h"
#include "lib/clock.h"
#include "lib/parse.h"

#define SCRAPE_TIMEOUT_S 10
#define HEALTHY_WITHIN_NS (5ULL * 1000000000ULL)

static const char *const content_type[2] = {
	"text/plain; version=0.0.4; charset=utf-8",
	"application/openmetrics-text; version=1.0.0; charset=utf-8",
};

struct kt_exporter {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned int want[2];		/* scrapes waiting, per format */
	uint64_t served[2];		/* renders completed, per format */
	char *buf[2];
	size_t len[2];
	bool stopping;
	_Atomic uint64_t heartbeat_ns;	/* last event loop turn */
	int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status,
			     const char *type, char *body, size_t len, bool must_free)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, must_free ? MHD_RESPMEM_MUST_FREE
								 : MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result scrape(struct kt_exporter *e, struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	int om = accept && strstr(accept, "application/openmetrics-text") ? 1 : 0;
	struct timespec until;
	uint64_t target;
	char *copy = NULL;
	size_t len = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SCRAPE_TIMEOUT_S;
	pthread_mutex_lock(&e->lock);
	target = e->served[om] + 1;
	e->want[om]++;
	while (e->served[om] < target && !e->stopping)
		if (pthread_cond_timedwait(&e->done, &e->lock, &until) == ETIMEDOUT)
			break;
	if (e->served[om] >= target && e->buf[om]) {
		copy = malloc(e->len[om] ? e->len[om] : 1);
		if (copy) {
			memcpy(copy, e->buf[om], e->len[om]);
			len = e->len[om];
		}
	}
	pthread_mutex_unlock(&e->lock);
	if (!copy)
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			     "kafkatap: the event loop did not answer in time\n", 49, false);
	return reply(c, MHD_HTTP_OK, content_type[om], copy, len, true);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload, size_t *upload_size, void **state)
{
	static const char index_page[] =
		"<html><head><title>kafkatap</title></head><body><h1>kafkatap</h1>"
		"<p><a href=\"/metrics\">/metrics</a> <a href=\"/healthz\">/healthz</a></p>"
		"</body></html>\n";
	struct kt_exporter *e = cls;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     "GET only\n", 9, false);
	if (!strcmp(url, "/metrics"))
		return scrape(e, c);
	if (!strcmp(url, "/healthz")) {
		/* Healthy: attached, and the event loop turned in the last 5 s. */
		uint64_t hb = atomic_load(&e->heartbeat_ns);

		if (!hb)
			return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
				     "starting\n", 9, false);
		if (now_mono_ns() - hb >= HEALTHY_WITHIN_NS)
			return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
				     "event loop stalled\n", 19, false);
		return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3, false);
	}
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html", (char *)index_page,
			     sizeof(index_page) - 1, false);
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found: try /metrics\n", 24,
		     false);
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[128];
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hl;

	if (!colon || parse_u64(colon + 1, 0, 65535, &port))
		return -1;
	hl = colon - s;
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (hl == 0) {
		/* All addresses, IPv6 and IPv4 (dual stack). */
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		in6->sin6_port = htons(port);
		*sl = sizeof(*in6);
		return 1;
	}
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*sl = sizeof(*in6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		return -1;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	*sl = sizeof(*in4);
	return 0;
}

struct kt_exporter *kt_exporter_start(const char *listen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct kt_exporter *e;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	socklen_t sl;
	int any;

	any = parse_listen(listen, &ss, &sl);
	if (any < 0) {
		snprintf(err, errlen, "--listen takes ADDR:PORT, [V6ADDR]:PORT or :PORT, not '%s'",
			 listen);
		return NULL;
	}
	if (any)
		flags |= MHD_USE_DUAL_STACK;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->done, NULL);
	atomic_store(&e->heartbeat_ns, 0);	/* not healthy before the first turn */
	errno = 0;
	e->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handler, e,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, 32U,
				  MHD_OPTION_CONNECTION_TIMEOUT, 30U,
				  MHD_OPTION_END);
	if (!e->mhd) {
		snprintf(err, errlen, "cannot listen on %s: %s (another kafkatap serve? "
			 "choose an address with --listen)", listen,
			 errno ? strerror(errno) : "libmicrohttpd failed to start");
		free(e);
		return NULL;
	}
	info = MHD_get_daemon_info(e->mhd, MHD_DAEMON_INFO_BIND_PORT);
	e->port = info ? info->port : 0;
	return e;
}

int kt_exporter_port(const struct kt_exporter *e)
{
	return e->port;
}

void kt_exporter_poll(struct kt_exporter *e, kt_render_fn fn, void *ctx)
{
	int f;

	atomic_store(&e->heartbeat_ns, now_mono_ns());
	for (f = 0; f < 2; f++) {
		char *buf;
		size_t len = 0;

		pthread_mutex_lock(&e->lock);
		if (!e->want[f]) {
			pthread_mutex_unlock(&e->lock);
			continue;
		}
		e->want[f] = 0;
		pthread_mutex_unlock(&e->lock);
		buf = fn(ctx, f == 1, &len);	/* outside the lock: scrapes keep queueing */
		pthread_mutex_lock(&e->lock);
		free(e->buf[f]);
		e->buf[f] = buf;
		e->len[f] = buf ? len : 0;
		e->served[f]++;
		pthread_cond_broadcast(&e->done);
		pthread_mutex_unlock(&e->lock);
	}
}

void kt_exporter_stop(struct kt_exporter *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_cond_broadcast(&e->done);
	pthread_mutex_unlock(&e->lock);
	MHD_stop_daemon(e->mhd);
	free(e->buf[0]);
	free(e->buf[1]);
	pthread_cond_destroy(&e->done);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
