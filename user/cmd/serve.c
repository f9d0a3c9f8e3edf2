// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kafkatap serve: Prometheus metrics over HTTP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmds.h"
#include "lib/clock.h"
#include "metrics/http.h"
#include "core/live.h"
#include "core/session.h"

struct serve_ctx {
	struct kt_pipe pipe;
	struct kt_agent *agent;
	struct kt_exporter *exp;
	struct kt_live *live;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kafkatap serve [OPTIONS]\n"
"\n"
"Watch Kafka traffic and serve Prometheus metrics: GET /metrics (text format\n"
"0.0.4, or OpenMetrics when the scraper asks for it) and GET /healthz.\n"
"Metrics: kafkatap_requests_total{api,api_version,client_id,broker},\n"
"kafkatap_request_duration_seconds{api,broker} (buckets 50us..10s),\n"
"kafkatap_request_bytes_total and kafkatap_response_bytes_total{api,client_id,\n"
"broker}, kafkatap_unanswered_requests_total{api,broker},\n"
"kafkatap_connections{broker}; from deep decoding, records and bytes produced\n"
"and fetched per topic and client_id, partition errors, consumer group members,\n"
"generations, rebalances and lag, client software, deprecated versions, admin\n"
"operations, SASL mechanisms, invalid requests, empty fetches, error codes; and\n"
"self-metrics (lost events, resyncs, gaps, late frames, incomplete captures,\n"
"malformed frames, evictions, label overflows, build info). The README lists\n"
"every family with its labels.\n"
"\n"
"Options:\n%s%s%s"
"      --listen ADDR:PORT     where to serve (default %s: every address,\n"
"                             IPv4 and IPv6; e.g. 127.0.0.1:9977, [::1]:9977)\n"
"\n"
"Examples:\n"
"  kafkatap serve                              # :9977, port 9092, all interfaces\n"
"  kafkatap serve -i eth0 -p 9092,9093 --listen 127.0.0.1:9977\n"
"  kafkatap serve --max-client-ids 1000 &  curl -s localhost:9977/metrics\n",
		kt_help_live, kt_help_metrics, kt_help_common, KT_DEFAULT_LISTEN);
}

static void on_exchange(void *ctx, const struct kt_exchange *x)
{
	kt_pipe_exchange(&((struct serve_ctx *)ctx)->pipe, x);
}

static void on_conn(void *ctx, const struct kt_conn *c, bool opened)
{
	kt_pipe_conn(&((struct serve_ctx *)ctx)->pipe, c, opened);
}

/* In the event loop, when a scrape waits: fresh kernel counters, then render. */
static char *render(void *ctx, bool openmetrics, size_t *len)
{
	struct serve_ctx *s = ctx;
	uint64_t k[KT_C_MAX];

	if (kt_bpf_counters(&s->live->bpf, k))
		memset(k, 0, sizeof(k));
	return kt_pipe_render(&s->pipe, k, kt_agent_stats(s->agent), now_mono_ns(),
			      openmetrics, len);
}

static void on_tick(void *ctx, struct kt_live *l)
{
	struct serve_ctx *s = ctx;

	s->live = l;
	kt_exporter_poll(s->exp, render, s);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_ctx s = {};
	struct kt_live live;
	struct kt_cli c;
	char err[256];
	int rc = 1;

	rc = kt_cli_parse(&c, "serve", KT_OPT_LIVE | KT_OPT_LISTEN | KT_OPT_METRICS,
			  argc, argv, usage);
	if (rc)
		return rc > 0 ? 0 : 2;
	rc = 1;
	if (kt_pipe_init(&s.pipe, &c, true))
		goto out;
	s.agent = kt_agent_new(&c.agent, on_exchange, &s);
	if (!s.agent)
		goto out;
	kt_agent_set_conn_cb(s.agent, on_conn);
	/* Listen first: a busy port fails before anything is attached. */
	s.exp = kt_exporter_start(c.listen ? c.listen : KT_DEFAULT_LISTEN, err, sizeof(err));
	if (!s.exp) {
		fprintf(stderr, "kafkatap serve: %s\n", err);
		goto out;
	}
	if (c.listen && c.listen[0] != ':')
		fprintf(stderr, "kafkatap: serving metrics on http://%s/metrics\n", c.listen);
	else
		fprintf(stderr, "kafkatap: serving metrics on http://localhost:%d/metrics\n",
			kt_exporter_port(s.exp));
	rc = kt_live_run(&c, &live, s.agent, on_tick, &s) ? 1 : 0;
	if (!rc && c.stats)
		kt_print_stats(stderr, live.counters, kt_agent_stats(s.agent));
out:
	kt_exporter_stop(s.exp);
	kt_agent_free(s.agent);
	kt_pipe_free(&s.pipe);
	return rc;
}
