// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agentbench: kafkatap's live pipeline with the exporter off, for the
 * "agent CPU per frame, exporter on vs off" figure of bench/run.sh.
 *
 * No kafkatap command runs the pipeline without an output: `serve` adds
 * the metrics registry and the HTTP exporter, `trace` formats a JSON line
 * per exchange, `top` draws a screen. This is `kafkatap serve` (see
 * user/cmd/serve.c) with the metrics left out: the same option parsing,
 * the same load and attach, the same event loop (kt_live_run), the same
 * agent (pairing, capture assembly) and the same deep decoding
 * (kt_pipe_exchange: observer and group tracker), but kt_pipe_init(...,
 * metrics=false), no kafkatap_* registry, no libmicrohttpd. It links the
 * agent's own objects (.output/user/ but main.o), so the code that runs
 * is the code kafkatap runs.
 *
 *   agentbench [kafkatap serve options]     e.g. -i lo -p 19092 --stats
 */
#include <stdio.h>
#include "cmd/options.h"
#include "core/live.h"
#include "core/session.h"

static struct kt_pipe pipe_;

static void usage(FILE *f)
{
	fprintf(f, "Usage: agentbench [kafkatap serve options]: serve's pipeline, no metrics\n");
}

static void on_exchange(void *ctx, const struct kt_exchange *x)
{
	kt_pipe_exchange(&pipe_, x);
}

static void on_conn(void *ctx, const struct kt_conn *c, bool opened)
{
	kt_pipe_conn(&pipe_, c, opened);	/* a no-op without metrics, as in serve */
}

int main(int argc, char **argv)
{
	struct kt_agent *agent;
	struct kt_live live;
	struct kt_cli c;
	int err;

	err = kt_cli_parse(&c, "serve", KT_OPT_LIVE | KT_OPT_METRICS, argc, argv, usage);
	if (err)
		return err > 0 ? 0 : 2;
	if (kt_pipe_init(&pipe_, &c, false))
		return 1;
	agent = kt_agent_new(&c.agent, on_exchange, NULL);
	if (!agent) {
		kt_pipe_free(&pipe_);
		return 1;
	}
	kt_agent_set_conn_cb(agent, on_conn);
	err = kt_live_run(&c, &live, agent, NULL, NULL);
	if (!err && c.stats)
		kt_print_stats(stderr, live.counters, kt_agent_stats(agent));
	kt_agent_free(agent);
	kt_pipe_free(&pipe_);
	return err ? 1 : 0;
}
