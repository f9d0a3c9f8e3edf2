// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mockcluster: a throw-away Kafka cluster for tests and the demo, built on
 * librdkafka's mock broker. It prints "BOOTSTRAP host:port,..." once, then
 * serves until SIGINT/SIGTERM (or, with --commands, "quit" / stdin EOF).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ERRS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mockcluster [--brokers N] [--topic NAME:PARTITIONS]... [--ready-file PATH] [--commands]\n"
		"\n"
		"Starts a librdkafka mock Kafka cluster on 127.0.0.1, prints one line\n"
		"'BOOTSTRAP 127.0.0.1:P1,...' and serves until SIGINT/SIGTERM.\n"
		"\n"
		"  -b, --brokers N        number of brokers (default 3)\n"
		"  -t, --topic NAME:P     create topic NAME with P partitions (repeatable)\n"
		"  -r, --ready-file PATH  also write the bootstrap list to PATH (atomically)\n"
		"  -c, --commands         read commands from stdin, answer OK / ERR reason:\n"
		"                           push_errors API_KEY ERR[,ERR...]  (code or name, e.g. 6 or NOT_LEADER_FOR_PARTITION)\n"
		"                           create_topic NAME PARTITIONS\n"
		"                           quit\n"
		"\n"
		"Examples:\n"
		"  mockcluster --brokers 3 --topic t1:3 --ready-file /tmp/bs &\n"
		"  printf 'push_errors 0 NOT_LEADER_FOR_PARTITION,6\\nquit\\n' | mockcluster --commands\n");
}

/* Parse an error code given as a number or as a name (RD_KAFKA_RESP_ERR_ optional). */
static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *descs;
	size_t i, n;
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s && !*end && !errno) {
		*out = (rd_kafka_resp_err_t)v;
		return 0;
	}
	if (!strncmp(s, "RD_KAFKA_RESP_ERR_", 18))
		s += 18;
	rd_kafka_get_err_descs(&descs, &n);
	for (i = 0; i < n; i++) {
		if (descs[i].name && !strcasecmp(descs[i].name, s)) {
			*out = descs[i].code;
			return 0;
		}
	}
	return -1;
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *name, int parts, int brokers)
{
	return rd_kafka_mock_topic_create(mc, name, parts, brokers < 3 ? brokers : 3);
}

/* Handle one command line; returns 1 on quit. Answers on stdout. */
static int do_command(rd_kafka_mock_cluster_t *mc, char *line, int brokers)
{
	rd_kafka_resp_err_t errs[MAX_ERRS], err;
	char *save = NULL, *cmd, *a1, *a2, *tok;
	int key, parts;
	size_t cnt = 0;

	cmd = strtok_r(line, " \t\r", &save);
	a1 = strtok_r(NULL, " \t\r", &save);
	a2 = strtok_r(NULL, " \t\r", &save);
	if (!cmd) /* empty line */
		return 0;
	if (!strcmp(cmd, "quit")) {
		printf("OK\n");
		return 1;
	} else if (!strcmp(cmd, "push_errors")) {
		if (!a1 || !a2 || parse_int(a1, 0, 32767, &key)) {
			printf("ERR usage: push_errors API_KEY ERR[,ERR...]\n");
			return 0;
		}
		for (tok = strtok_r(a2, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (cnt == MAX_ERRS || parse_err(tok, &errs[cnt])) {
				printf("ERR bad or too many error codes at '%s'\n", tok);
				return 0;
			}
			cnt++;
		}
		rd_kafka_mock_push_request_errors_array(mc, (int16_t)key, cnt, errs);
		printf("OK\n");
	} else if (!strcmp(cmd, "create_topic")) {
		if (!a1 || !a2 || parse_int(a2, 1, 100000, &parts)) {
			printf("ERR usage: create_topic NAME PARTITIONS\n");
			return 0;
		}
		err = create_topic(mc, a1, parts, brokers);
		if (err)
			printf("ERR %s\n", rd_kafka_err2str(err));
		else
			printf("OK\n");
	} else {
		printf("ERR unknown command '%s'\n", cmd);
	}
	return 0;
}

static int write_ready(const char *path, const char *bs)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", bs);
	if (fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "brokers", required_argument, NULL, 'b' },
		{ "topic", required_argument, NULL, 't' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "commands", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ready = NULL, *bs;
	char *topics[256], errstr[512], buf[4096], *nl, *colon;
	int brokers = 3, ntopics = 0, commands = 0, parts, opt, i, quit = 0;
	size_t len = 0;
	rd_kafka_mock_cluster_t *mc;
	struct sigaction sa = { .sa_handler = on_signal };
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	ssize_t n;

	while ((opt = getopt_long(argc, argv, "b:t:r:ch", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (parse_int(optarg, 1, 64, &brokers))
				goto bad;
			break;
		case 't':
			colon = strrchr(optarg, ':');
			if (!colon || colon == optarg || parse_int(colon + 1, 1, 100000, &parts) ||
			    ntopics == (int)(sizeof(topics) / sizeof(topics[0])))
				goto bad;
			topics[ntopics++] = optarg;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'c':
			commands = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (commands && fcntl(0, F_GETFD) < 0) {
		fprintf(stderr, "mockcluster: --commands needs an open stdin\n");
		return 2;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "mockcluster: rd_kafka_new: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "mockcluster: cannot create mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (i = 0; i < ntopics; i++) {
		colon = strrchr(topics[i], ':');
		*colon = '\0';
		if (create_topic(mc, topics[i], atoi(colon + 1), brokers)) {
			fprintf(stderr, "mockcluster: cannot create topic %s\n", topics[i]);
			goto out;
		}
	}
	bs = rd_kafka_mock_cluster_bootstraps(mc);
	printf("BOOTSTRAP %s\n", bs);
	fflush(stdout);
	if (ready && write_ready(ready, bs)) {
		fprintf(stderr, "mockcluster: cannot write %s: %s\n", ready, strerror(errno));
		goto out;
	}

	while (!stop && !quit) {
		struct pollfd pfd = { .fd = commands ? 0 : -1, .events = POLLIN };

		if (poll(&pfd, 1, 200) <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(0, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* EOF (or closed stdin) ends a --commands session */
			break;
		len += n;
		buf[len] = '\0';
		while (!quit && (nl = strchr(buf, '\n'))) {
			*nl = '\0';
			quit = do_command(mc, buf, brokers);
			fflush(stdout);
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1) { /* overlong line: drop it */
			printf("ERR line too long\n");
			fflush(stdout);
			len = 0;
		}
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
out:
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 1;
bad:
	fprintf(stderr, "mockcluster: bad arguments (try --help)\n");
	return 2;
}
