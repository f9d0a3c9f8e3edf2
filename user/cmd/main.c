// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "cmd/cmds.h"
#include "kafkatap.h"
#include "lib/util.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "trace", cmd_trace, "print each Kafka request and its response as it completes" },
	{ "replay", cmd_replay, "run a pcap/pcapng capture through the same BPF program" },
	{ "serve", cmd_serve, "Prometheus metrics on HTTP (/metrics, /healthz)" },
	{ "top", cmd_top, "a live table of requests/s, latency and bytes per broker and API" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"kafkatap - see Kafka traffic from inside the kernel (eBPF), no proxy, no agent\n"
"in the data path: every request, its response, latency, client and broker.\n"
"\n"
"Usage: kafkatap COMMAND [OPTIONS]\n"
"\n"
"Commands:\n");
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f,
"  version  print the version\n"
"\n"
"Run 'kafkatap COMMAND --help' for a command's options and examples.\n"
"Live commands need root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN).\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("kafkatap %s (record format %d)\n", KAFKATAP_VERSION, KT_FORMAT_VERSION);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "kafkatap: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
