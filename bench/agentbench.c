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
 * agent (pairing, capture assembly) and the same deep decoding and capture
 * policy (a session with decode, need KT_NEED_DECODING), but without
 * metrics: no kafkatap_* registry, no libmicrohttpd. It links the
 * agent's own objects (.output/user/ but main.o), so the code that runs
 * is the code kafkatap runs.
 *
 *   agentbench [kafkatap serve options]     e.g. -i lo -p 19092 --stats
 */
#include <stdio.h>
#include "cmd/options.h"
#include "core/live.h"
#include "core/session.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: agentbench [kafkatap serve options]: serve's pipeline, no metrics\n");
}

int main(int argc, char **argv)
{
	struct kt_session *s;
	struct kt_live live;
	struct kt_cli c;
	int err;

	err = kt_cli_parse(&c, "serve", KT_OPT_LIVE | KT_OPT_METRICS, argc, argv, usage);
	if (err)
		return err > 0 ? 0 : 2;
	c.session.need = KT_NEED_DECODING;
	c.session.decode = true;
	s = kt_session_new(&c.session);
	if (!s)
		return 1;
	kt_session_capture(s, c.load.policy);
	err = kt_live_run(&c.load, c.duration, &live, kt_session_agent(s), NULL, NULL);
	if (!err && c.stats)
		kt_session_print_stats(s, stderr, live.counters);
	kt_session_free(s);
	return err ? 1 : 0;
}
