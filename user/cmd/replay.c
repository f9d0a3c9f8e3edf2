// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kafkatap replay: a pcap or pcapng file through the same BPF program that
 * runs live (BPF_PROG_TEST_RUN), then the same agent and outputs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>
#include "cmd/cmds.h"
#include "cmd/options.h"
#include "core/session.h"
#include "kernel/feed.h"
#include "kernel/pcap_in.h"
#include "out/trace.h"

#define FRAME_MAX (256 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kafkatap replay FILE [OPTIONS]\n"
"\n"
"Read a pcap or pcapng capture (Ethernet, Linux cooked, raw IP or loopback\n"
"link types) and run every packet through kafkatap's BPF program with\n"
"BPF_PROG_TEST_RUN, exactly as live traffic would be; print what `trace`\n"
"prints. Times are the capture's. Requests still waiting at the end of the\n"
"file are reported as unanswered (reason exit). Needs root, or CAP_BPF,\n"
"CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN alone): the program is\n"
"loaded into the kernel, but attached nowhere.\n"
"\n"
"Options:\n%s"
"      --format json|text|prom  output format (default json); prom prints the\n"
"                             Prometheus exposition after the whole capture\n"
"\n"
"Examples:\n"
"  kafkatap replay capture.pcap\n"
"  kafkatap replay -p 9092,36333 capture.pcapng --format text\n"
"  kafkatap replay capture.pcap --format prom | grep kafkatap_produced\n"
"  tcpdump -i eth0 -w - port 9092 | kafkatap replay /dev/stdin\n",
		kt_help_common);
}

static void out(void *ctx, const struct kt_exchange *x, const struct kt_annot *an)
{
	enum kt_format *format = ctx;

	if (*format == KT_FMT_TEXT)
		kt_trace_text(stdout, x, 0, an);
	else if (*format == KT_FMT_JSON)
		kt_trace_json(stdout, x, 0, an);
}

static void on_record(void *ctx, const void *rec, size_t len, uint64_t ts_ns)
{
	kt_agent_record(ctx, rec, len, ts_ns);
}

int cmd_replay(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct kt_session *s = NULL;
	struct kt_agent *agent;
	struct kt_feeder feeder;
	struct pcap_pkthdr *ph;
	const uint8_t *pkt;
	struct kt_bpf bpf;
	struct kt_cli c;
	uint64_t ts = 0, skipped = 0;
	uint8_t *frame;
	pcap_t *p;
	int err, linktype, ret = 1;

	err = kt_cli_parse(&c, "replay", KT_OPT_FORMAT | KT_OPT_FILE | KT_OPT_PROM_FMT |
			   KT_OPT_METRICS, argc, argv, usage);
	if (err)
		return err > 0 ? 0 : 2;
	p = pcap_open_offline_with_tstamp_precision(c.file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		fprintf(stderr, "kafkatap replay: %s\n", errbuf);
		return 1;
	}
	linktype = pcap_datalink(p);
	frame = malloc(FRAME_MAX);
	c.session.need = KT_NEED_DECODING;
	c.session.decode = true;
	c.session.metrics = c.format == KT_FMT_PROM;
	c.session.out = out;
	c.session.out_ctx = &c.format;
	s = kt_session_new(&c.session);
	if (!frame || !s)
		goto out_pcap;
	agent = kt_session_agent(s);
	kt_session_capture(s, c.load.policy);
	if (kt_bpf_start(&bpf, &c.load))
		goto out_pcap;
	if (kt_feeder_init(&feeder, &bpf, on_record, agent)) {
		fprintf(stderr, "kafkatap replay: ring buffer: %s\n", strerror(errno));
		goto out_bpf;
	}
	while ((err = pcap_next_ex(p, &ph, &pkt)) == 1) {
		size_t flen;

		ts = (uint64_t)ph->ts.tv_sec * 1000000000ULL + ph->ts.tv_usec;
		if (kt_pcap_to_eth(linktype, pkt, ph->caplen, frame, FRAME_MAX, &flen)) {
			skipped++;
			continue;
		}
		if (kt_feed_eth(&feeder, frame, flen, ts))
			skipped++;
		kt_agent_tick(agent, ts);
	}
	if (err == PCAP_ERROR) {
		fprintf(stderr, "kafkatap replay: %s: %s\n", c.file, pcap_geterr(p));
		goto out_feed;
	}
	kt_agent_flush(agent);
	if (c.format == KT_FMT_PROM) {
		uint64_t k[KT_C_MAX] = {};
		size_t len = 0;
		char *text;

		kt_bpf_counters(&bpf, k);
		text = kt_session_render(s, k, ts, false, &len);
		if (text)
			fwrite(text, 1, len, stdout);
		free(text);
	}
	fflush(stdout);
	if (c.stats) {
		uint64_t k[KT_C_MAX];

		kt_bpf_counters(&bpf, k);
		kt_session_print_stats(s, stderr, k);
		fprintf(stderr, "kafkatap: replay: packets=%llu resegmented=%llu "
			"not_replayable=%llu\n", (unsigned long long)feeder.packets,
			(unsigned long long)feeder.resegmented, (unsigned long long)skipped);
	}
	ret = 0;
out_feed:
	kt_feeder_free(&feeder);
out_bpf:
	kt_bpf_stop(&bpf);
out_pcap:
	kt_session_free(s);
	free(frame);
	pcap_close(p);
	return ret;
}
