// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kafkatap serve: Prometheus metrics over HTTP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmds.h"
#include "cmd/options.h"
#include "core/live.h"
#include "core/session.h"
#include "lib/clock.h"
#include "metrics/http.h"

struct serve_ctx {
	struct kt_session *s;
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

/* In the event loop, when a scrape waits: fresh kernel counters, then render. */
static char *render(void *ctx, bool openmetrics, size_t *len)
{
	struct serve_ctx *sv = ctx;
	uint64_t k[KT_C_MAX];

	if (kt_bpf_counters(&sv->live->bpf, k))
		memset(k, 0, sizeof(k));
	return kt_session_render(sv->s, k, now_mono_ns(), openmetrics, len);
}

static void on_tick(void *ctx, struct kt_live *l)
{
	struct serve_ctx *sv = ctx;

	sv->live = l;
	kt_exporter_poll(sv->exp, render, sv);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_ctx sv = {};
	struct kt_live live;
	struct kt_cli c;
	char err[256];
	int rc;

	rc = kt_cli_parse(&c, "serve", KT_OPT_LIVE | KT_OPT_LISTEN | KT_OPT_METRICS,
			  argc, argv, usage);
	if (rc)
		return rc > 0 ? 0 : 2;
	rc = 1;
	c.session.need = KT_NEED_DECODING;
	c.session.decode = true;
	c.session.metrics = true;
	sv.s = kt_session_new(&c.session);
	if (!sv.s)
		goto out;
	kt_session_capture(sv.s, c.load.policy);
	/* Listen first: a busy port fails before anything is attached. */
	sv.exp = kt_exporter_start(c.listen ? c.listen : KT_DEFAULT_LISTEN, err, sizeof(err));
	if (!sv.exp) {
		fprintf(stderr, "kafkatap serve: %s\n", err);
		goto out;
	}
	if (c.listen && c.listen[0] != ':')
		fprintf(stderr, "kafkatap: serving metrics on http://%s/metrics\n", c.listen);
	else
		fprintf(stderr, "kafkatap: serving metrics on http://localhost:%d/metrics\n",
			kt_exporter_port(sv.exp));
	rc = kt_live_run(&c.load, c.duration, &live, kt_session_agent(sv.s), on_tick, &sv) ? 1 : 0;
	if (!rc && c.stats)
		kt_session_print_stats(sv.s, stderr, live.counters);
out:
	kt_exporter_stop(sv.exp);
	kt_session_free(sv.s);
	return rc;
}
