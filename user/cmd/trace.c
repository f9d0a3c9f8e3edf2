// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kafkatap trace: live, one line per request as it completes. */
#include <stdio.h>
#include "cmd/cmds.h"
#include "cmd/options.h"
#include "core/live.h"
#include "core/session.h"
#include "lib/clock.h"
#include "out/trace.h"

struct trace_ctx {
	enum kt_format format;
	int64_t clock_offset_ns;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kafkatap trace [OPTIONS]\n"
"\n"
"Print every Kafka request seen on the wire when its response arrives, when it\n"
"is known to get none (acks=0 Produce) or when it is given up (expiry,\n"
"connection closed, exit). JSON lines by default; fields: ts client broker\n"
"api_key api api_version correlation_id client_id request_bytes\n"
"response_bytes latency_us status (ok | no_response | unanswered).\n"
"\n"
"Options:\n%s%s"
"      --format json|text     output format (default json)\n"
"\n"
"Examples:\n"
"  kafkatap trace                            # port 9092, every interface that is up\n"
"  kafkatap trace -i eth0 -p 9092,9093 --format text\n"
"  kafkatap trace -i lo -d 10 > trace.jsonl  # ten seconds of loopback traffic\n"
"  kafkatap trace -b 10.0.0.5 --capture Metadata=full --stats\n",
		kt_help_live, kt_help_common);
}

static void out(void *ctx, const struct kt_exchange *x, const struct kt_annot *an)
{
	struct trace_ctx *t = ctx;

	if (t->format == KT_FMT_TEXT)
		kt_trace_text(stdout, x, t->clock_offset_ns, an);
	else
		kt_trace_json(stdout, x, t->clock_offset_ns, an);
}

static void on_tick(void *ctx, struct kt_live *l)
{
	struct trace_ctx *t = ctx;

	t->clock_offset_ns = l->clock_offset_ns;
	fflush(stdout);
}

int cmd_trace(int argc, char **argv)
{
	struct trace_ctx t = {};
	struct kt_session *s;
	struct kt_live live;
	struct kt_cli c;
	int err;

	err = kt_cli_parse(&c, "trace", KT_OPT_LIVE | KT_OPT_FORMAT, argc, argv, usage);
	if (err)
		return err > 0 ? 0 : 2;
	t.format = c.format;
	/* Text is for people watching: headers suffice (--capture asks more). */
	c.session.need = c.format == KT_FMT_TEXT ? KT_NEED_HEADERS : KT_NEED_DECODING;
	c.session.decode = true;
	c.session.out = out;
	c.session.out_ctx = &t;
	s = kt_session_new(&c.session);
	if (!s)
		return 1;
	kt_session_capture(s, c.load.policy);
	/* Offsets are known once attached; the first tick sets them. */
	t.clock_offset_ns = (int64_t)(now_real_ns() - now_mono_ns());
	err = kt_live_run(&c.load, c.duration, &live, kt_session_agent(s), on_tick, &t);
	fflush(stdout);
	if (!err && c.stats)
		kt_session_print_stats(s, stderr, live.counters);
	kt_session_free(s);
	return err ? 1 : 0;
}
