// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cmd/options.h"
#include "lib/parse.h"
#include "proto/apis.h"

enum {
	O_FORMAT = 256, O_ATTACH, O_RINGBUF, O_EXPIRY, O_MAX_PENDING, O_MAX_CONNS,
	O_CAPTURE, O_LISTEN, O_STATS, O_MAX_STREAMS, O_ACKS0,
	O_MAX_CLIENT_IDS, O_MAX_BROKERS, O_MAX_TOPICS, O_MAX_GROUPS, O_MAX_SERIES,
};

const char kt_help_common[] =
"  -p, --port PORT[,PORT...]  broker ports (default 9092; repeatable, up to 256)\n"
"  -b, --broker ADDR          only brokers at this IPv4/IPv6 address (repeatable)\n"
"      --expiry SECONDS       give up on a request after this long (default 30)\n"
"      --acks0-grace SECONDS  wait this long for a response to an acks=0 Produce\n"
"                             before reporting no_response (default 2)\n"
"      --max-pending N        requests awaiting a response (default 65536)\n"
"      --max-conns N          connections tracked (default 16384)\n"
"      --capture API=MODE     frame bytes the kernel hands over for API (a name\n"
"                             like Metadata, a number, or 'all'); MODE is header,\n"
"                             bounded:BYTES or full[:CAP]. Defaults: what the\n"
"                             command shows: header for top and trace --format\n"
"                             text, else what deep decoding needs (Produce requests\n"
"                             and Fetch responses in STRUCTURE mode: no record body\n"
"                             leaves the kernel). SaslAuthenticate stays\n"
"                             header-only whatever is asked\n"
"      --stats                print kernel and agent counters to stderr at exit\n"
"  -v, --verbose              attach details, libbpf messages (-vv: libbpf debug)\n"
"  -h, --help                 this help\n";

const char kt_help_live[] =
"  -i, --interface IFACE      attach here (repeatable; default: every interface\n"
"                             that is up; on lo egress only, elsewhere both ways)\n"
"  -d, --duration SECONDS     stop after this long (default: until Ctrl-C)\n"
"      --attach MODE          auto (tcx if the kernel has it, else clsact), tcx\n"
"                             or clsact (default auto)\n"
"      --ringbuf-mb N         ring buffer size in MiB, a power of two (default 8)\n"
"      --max-streams N        kernel stream table entries (default 65536)\n";

const char kt_help_metrics[] =
"      --max-client-ids N     distinct client_id label values (default 256)\n"
"      --max-brokers N        distinct broker label values (default 64)\n"
"      --max-topics N         distinct topic label values (default 1024)\n"
"      --max-groups N         distinct group label values (default 256)\n"
"      --max-series N         series per metric family (default 20000)\n"
"                             Past a budget, new values are counted as \"other\"\n"
"                             and kafkatap_label_overflow_total{label} rises.\n";

static int find_api(const char *name)
{
	uint64_t v;
	int i;

	if (!parse_u64(name, 0, KT_API_MAX - 1, &v))
		return (int)v;
	for (i = 0; i < KT_API_MAX; i++)
		if (kt_api(i) && !strcasecmp(kt_api(i)->name, name))
			return i;
	return -1;
}

/* "Metadata=full", "Produce=bounded:64", "all=header". */
static int parse_capture(struct kt_cli *c, const char *arg)
{
	char buf[128], *eq, *mode, *colon;
	struct kt_policy p = {};
	uint64_t n = 0;
	int api = -2, i;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	eq = strchr(buf, '=');
	if (!eq)
		return -1;
	*eq = 0;
	mode = eq + 1;
	colon = strchr(mode, ':');
	if (colon) {
		*colon = 0;
		if (parse_u64(colon + 1, 1, 64 << 20, &n))
			return -1;
	}
	if (strcasecmp(buf, "all")) {
		api = find_api(buf);
		if (api < 0)
			return -1;
	}
	if (!strcasecmp(mode, "header")) {
		if (colon)
			return -1;
		p.req_mode = p.resp_mode = KT_CAP_HEADER;
	} else if (!strcasecmp(mode, "bounded")) {
		if (!colon)
			return -1;
		p.req_mode = p.resp_mode = KT_CAP_BOUNDED;
		p.req_limit = p.resp_limit = n;
	} else if (!strcasecmp(mode, "full")) {
		p.req_mode = p.resp_mode = KT_CAP_FULL;
		p.req_limit = p.resp_limit = colon ? n : 1 << 20;
	} else {
		return -1;
	}
	for (i = 0; i < KT_API_MAX; i++) {
		if (api == -2 || api == i) {
			c->session.ask.policy[i] = p;
			c->session.ask.set[i] = true;
		}
	}
	if (p.req_limit > c->session.agent.max_capture)
		c->session.agent.max_capture = p.req_limit;
	return 0;
}

static int parse_broker(struct kt_cli *c, const char *s)
{
	struct kt_addr_key *k;

	if (c->load.n_brokers >= KT_MAX_BROKERS)
		return -1;
	k = &c->load.brokers[c->load.n_brokers];
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, k->addr) == 1)
		k->family = 4;
	else if (inet_pton(AF_INET6, s, k->addr) == 1)
		k->family = 6;
	else
		return -1;
	c->load.n_brokers++;
	return 0;
}

static int bad(const char *cmd, const char *what, const char *arg, void (*usage)(FILE *))
{
	fprintf(stderr, "kafkatap %s: %s%s%s%s\n", cmd, what, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "");
	usage(stderr);
	return -1;
}

int kt_cli_parse(struct kt_cli *c, const char *cmd, unsigned int allowed,
		 int argc, char **argv, void (*usage)(FILE *))
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "broker", required_argument, NULL, 'b' },
		{ "duration", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "attach", required_argument, NULL, O_ATTACH },
		{ "ringbuf-mb", required_argument, NULL, O_RINGBUF },
		{ "max-streams", required_argument, NULL, O_MAX_STREAMS },
		{ "expiry", required_argument, NULL, O_EXPIRY },
		{ "acks0-grace", required_argument, NULL, O_ACKS0 },
		{ "max-pending", required_argument, NULL, O_MAX_PENDING },
		{ "max-conns", required_argument, NULL, O_MAX_CONNS },
		{ "capture", required_argument, NULL, O_CAPTURE },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "stats", no_argument, NULL, O_STATS },
		{ "max-client-ids", required_argument, NULL, O_MAX_CLIENT_IDS },
		{ "max-brokers", required_argument, NULL, O_MAX_BROKERS },
		{ "max-topics", required_argument, NULL, O_MAX_TOPICS },
		{ "max-groups", required_argument, NULL, O_MAX_GROUPS },
		{ "max-series", required_argument, NULL, O_MAX_SERIES },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct kt_agent_cfg defcfg = KT_AGENT_CFG_DEFAULT;
	struct kt_km_cfg defkm = KT_KM_CFG_DEFAULT;
	uint64_t v;
	double d;
	int o, n;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	kt_load_opts_init(&c->load);
	c->session.agent = defcfg;
	c->session.km = defkm;
	c->load.n_ports = 0;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":i:p:b:d:vh", opts, NULL)) != -1) {
		bool live = allowed & KT_OPT_LIVE;

		switch (o) {
		case 'h':
			usage(stdout);
			return 1;
		case 'v':
			c->load.verbose++;
			break;
		case 'i':
			if (!live)
				return bad(cmd, "unknown option", "-i", usage);
			if (c->load.n_ifaces >= KT_MAX_IFACES)
				return bad(cmd, "too many interfaces", NULL, usage);
			c->load.ifaces[c->load.n_ifaces++] = optarg;
			break;
		case 'p':
			n = parse_ports(optarg, c->load.ports, KT_MAX_PORTS, c->load.n_ports);
			if (n < 0)
				return bad(cmd, "ports are numbers 1-65535, comma separated:", optarg, usage);
			c->load.n_ports = n;
			break;
		case 'b':
			if (parse_broker(c, optarg))
				return bad(cmd, "not an IPv4 or IPv6 address:", optarg, usage);
			break;
		case 'd':
			if (!live || parse_double(optarg, 0.001, 1e9, &c->duration))
				return bad(cmd, live ? "duration is seconds > 0:" : "unknown option",
					   live ? optarg : "-d", usage);
			break;
		case O_FORMAT:
			if (!(allowed & KT_OPT_FORMAT))
				return bad(cmd, "unknown option", "--format", usage);
			if (!strcmp(optarg, "json"))
				c->format = KT_FMT_JSON;
			else if (!strcmp(optarg, "text"))
				c->format = KT_FMT_TEXT;
			else if (!strcmp(optarg, "prom") && (allowed & KT_OPT_PROM_FMT))
				c->format = KT_FMT_PROM;
			else
				return bad(cmd, (allowed & KT_OPT_PROM_FMT) ?
					   "format is json, text or prom:" : "format is json or text:",
					   optarg, usage);
			break;
		case O_ATTACH:
			if (!live)
				return bad(cmd, "unknown option", "--attach", usage);
			if (!strcmp(optarg, "auto"))
				c->load.attach = KT_ATTACH_AUTO;
			else if (!strcmp(optarg, "tcx"))
				c->load.attach = KT_ATTACH_TCX;
			else if (!strcmp(optarg, "clsact"))
				c->load.attach = KT_ATTACH_CLSACT;
			else
				return bad(cmd, "attach mode is auto, tcx or clsact:", optarg, usage);
			break;
		case O_RINGBUF:
			if (parse_u64(optarg, 1, 1024, &v) || (v & (v - 1)))
				return bad(cmd, "ring buffer MiB is a power of two, 1-1024:", optarg, usage);
			c->load.ringbuf_bytes = v << 20;
			break;
		case O_MAX_STREAMS:
			if (parse_u64(optarg, 16, 1 << 24, &v))
				return bad(cmd, "max streams is 16-16777216:", optarg, usage);
			c->load.max_streams = v;
			break;
		case O_EXPIRY:
			if (parse_double(optarg, 0.001, 86400, &d))
				return bad(cmd, "expiry is seconds, 0.001-86400:", optarg, usage);
			c->session.agent.expiry_ns = d * 1e9;
			break;
		case O_ACKS0:
			if (parse_double(optarg, 0, 86400, &d))
				return bad(cmd, "acks=0 grace is seconds, 0-86400:", optarg, usage);
			c->session.agent.acks0_grace_ns = d * 1e9;
			break;
		case O_MAX_PENDING:
			if (parse_u64(optarg, 1, 1 << 24, &v))
				return bad(cmd, "max pending is 1-16777216:", optarg, usage);
			c->session.agent.max_pending = v;
			break;
		case O_MAX_CONNS:
			if (parse_u64(optarg, 1, 1 << 24, &v))
				return bad(cmd, "max connections is 1-16777216:", optarg, usage);
			c->session.agent.max_conns = v;
			break;
		case O_CAPTURE:
			if (parse_capture(c, optarg))
				return bad(cmd, "capture is API=header|bounded:BYTES|full[:CAP]:",
					   optarg, usage);
			break;
		case O_LISTEN:
			if (!(allowed & KT_OPT_LISTEN))
				return bad(cmd, "unknown option", "--listen", usage);
			c->listen = optarg;
			break;
		case O_STATS:
			c->stats = true;
			break;
		case O_MAX_CLIENT_IDS:
		case O_MAX_BROKERS:
		case O_MAX_TOPICS:
		case O_MAX_GROUPS:
		case O_MAX_SERIES:
			if (!(allowed & KT_OPT_METRICS))
				return bad(cmd, "unknown option", argv[optind - 1], usage);
			if (parse_u64(optarg, 1, 1 << 24, &v))
				return bad(cmd, "label and series budgets are 1-16777216:", optarg, usage);
			*(o == O_MAX_CLIENT_IDS ? &c->session.km.max_client_ids :
			  o == O_MAX_BROKERS ? &c->session.km.max_brokers :
			  o == O_MAX_TOPICS ? &c->session.km.max_topics :
			  o == O_MAX_GROUPS ? &c->session.km.max_groups :
			  &c->session.km.max_series) = v;
			break;
		case ':':
			return bad(cmd, "option needs a value:", argv[optind - 1], usage);
		default:
			return bad(cmd, "unknown option", argv[optind - 1], usage);
		}
	}
	if (allowed & KT_OPT_FILE) {
		if (optind != argc - 1)
			return bad(cmd, optind >= argc ? "needs a capture FILE" :
				   "takes one FILE; extra argument", optind >= argc ? NULL :
				   argv[optind + (optind < argc - 1)], usage);
		c->file = argv[optind];
	} else if (optind < argc) {
		return bad(cmd, "unexpected argument", argv[optind], usage);
	}
	if (!c->load.n_ports) {
		c->load.ports[0] = 9092;
		c->load.n_ports = 1;
	}
	return 0;
}
