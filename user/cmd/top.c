// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kafkatap top: a live ncurses table, refreshed every second, of what the
 * last second saw per broker (or client_id) and API. The numbers come from
 * top_model.c; this file only reads keys and draws.
 */
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ncurses.h>
#include <term.h>
#include "cmd/cmds.h"
#include "cmd/options.h"
#include "core/live.h"
#include "core/session.h"
#include "lib/clock.h"
#include "out/top_model.h"
#include "pair/agent.h"
#include "proto/apis.h"

#define TOP_INTERVAL_NS	1000000000ULL
#define TOP_IDLE_NS	(10 * TOP_INTERVAL_NS)	/* rows age out after 10 s idle */
#define TOP_MIN_W	40
#define TOP_MIN_H	6

struct top {
	struct tm_model *m;
	const struct tm_row *rows;
	int n_rows;
	enum tm_view view;
	bool per_api;
	enum tm_sort sort;
	bool reverse;
	bool curses;		/* the screen is ours */
	bool failed;		/* the terminal could not be set up */
	bool utf8;
	uint64_t start_ns, next_roll_ns;
	FILE *err_log;		/* stderr while the screen is ours */
	int saved_stderr;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kafkatap top [OPTIONS]\n"
"\n"
"A live table of Kafka traffic, refreshed every second. One row per broker\n"
"and API (or per client_id and API); the numbers are those of the last\n"
"second. Requests are counted when they complete (response, acks=0, or given\n"
"up), like trace's lines. Columns:\n"
"  Req/s          requests completed per second\n"
"  p50, p99       latency quantiles of the requests paired in the interval,\n"
"                 from a log histogram (16 buckets per octave, within 2.2%%)\n"
"  ReqB/s, RspB/s request and response bytes per second (frame size fields)\n"
"  Unan/s         requests given up per second (no response within --expiry,\n"
"                 connection closed, table full); since-start total in the footer\n"
"  Err            error codes: not decoded yet, always '-'\n"
"Rows with no traffic for 10 s are dropped; until then they show zeros. Footer:\n"
"records lost by the kernel (ring buffer full), resyncs, gaps, open connections,\n"
"totals since start. Needs a terminal of at least %dx%d (not a pipe: exit 2).\n"
"\n"
"Keys:\n"
"  c, b, Tab      rows per client_id, per broker, toggle\n"
"  a              split rows per API, or all APIs together\n"
"  r m l          sort by req/s, p50, p99 (highest first)\n"
"  i o u          sort by request bytes/s, response bytes/s, unanswered/s\n"
"  n              sort by name (broker address or client_id)\n"
"                 (the same sort key again reverses the order)\n"
"  q              quit (so do Ctrl-C and SIGTERM)\n"
"\n"
"Options:\n%s%s"
"\n"
"Examples:\n"
"  kafkatap top                              # port 9092, every interface that is up\n"
"  kafkatap top -i eth0 -p 9092,9093\n"
"  kafkatap top -i lo -p 36001,36002 -d 60   # a minute of loopback brokers\n"
"  kafkatap top -b 10.0.0.5 --stats          # one broker; counters at exit\n",
		TOP_MIN_W, TOP_MIN_H, kt_help_live, kt_help_common);
}

static void out(void *ctx, const struct kt_exchange *x, const struct kt_annot *an)
{
	struct top *t = ctx;

	tm_add(t->m, x);
}

struct step {
	double below, div;
	const char *fmt;
};

/* v with the first format whose bound it is below: at most 6 columns. */
static void fmt_steps(char *b, size_t n, double v, const struct step *s)
{
	while (v >= s->below)
		s++;
	snprintf(b, n, s->fmt, v / s->div);
}

static void fmt_rate(char *b, size_t n, double v)
{
	static const struct step s[] = {
		{ 0.005, 1, "0" }, { 9.995, 1, "%.2f" }, { 999.5, 1, "%.1f" },
		{ 99999.5, 1, "%.0f" }, { 9999.5e3, 1e3, "%.0fk" }, { INFINITY, 1e6, "%.0fM" },
	};

	fmt_steps(b, n, v, s);
}

static void fmt_lat(char *b, size_t n, uint64_t ns)
{
	static const struct step s[] = {
		{ 1, 1, "-" }, { 999.5e3, 1e3, "%.0fus" }, { 9.995e6, 1e6, "%.2fms" },
		{ 99.95e6, 1e6, "%.1fms" }, { 999.5e6, 1e6, "%.0fms" },
		{ 9.995e9, 1e9, "%.2fs" }, { INFINITY, 1e9, "%.0fs" },
	};

	fmt_steps(b, n, ns, s);
}

static void fmt_bytes(char *b, size_t n, double v)
{
	static const char units[] = "KMGTP";
	int u = -1;

	if (v < 999.5) {
		snprintf(b, n, "%.0f", v);
		return;
	}
	while (v >= 999.5 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(b, n, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

#define ELLIPSIS '\x01'	/* one column; drawn as U+2026 or '~' */

/* s into exactly w columns at dst (no NUL); an ellipsis where it is cut. */
static void cell(char *dst, const char *s, int w, bool right)
{
	int len = strlen(s);

	memset(dst, ' ', w);
	if (len > w) {
		memcpy(dst, s, w - 1);
		dst[w - 1] = ELLIPSIS;
	} else {
		memcpy(dst + (right ? w - len : 0), s, len);
	}
}

/*
 * One screen line, clipped to the width; `fill` pads it to the edge.
 * Bytes outside printable ASCII (client_ids come from the wire) show as '?'.
 */
static void put_line(struct top *t, int y, const char *s, attr_t a, bool fill)
{
	int x, len = strlen(s);

	if (y < 0 || y >= LINES)
		return;
	move(y, 0);
	attron(a);
	for (x = 0; x < COLS && (x < len || fill); x++) {
		char ch = x < len ? s[x] : ' ';

		if (ch == ELLIPSIS)
			addstr(t->utf8 ? "\xe2\x80\xa6" : "~");
		else
			addch(ch >= 0x20 && ch <= 0x7e ? ch : '?');
	}
	attroff(a);
}

enum { COL_NAME, COL_API, COL_RATE, COL_P50, COL_P99, COL_IN, COL_OUT, COL_UNANS,
       COL_ERR, COL_N };

static const struct {
	const char *head;
	int w;
	enum tm_sort sort;
} cols[COL_N] = {
	[COL_NAME] = { NULL, 20, TM_SORT_NAME },
	[COL_API] = { "API", 12, TM_SORT_MAX },
	[COL_RATE] = { "Req/s", 7, TM_SORT_RATE },
	[COL_P50] = { "p50", 6, TM_SORT_P50 },
	[COL_P99] = { "p99", 6, TM_SORT_P99 },
	[COL_IN] = { "ReqB/s", 6, TM_SORT_IN },
	[COL_OUT] = { "RspB/s", 6, TM_SORT_OUT },
	[COL_UNANS] = { "Unan/s", 6, TM_SORT_UNANS },
	[COL_ERR] = { "Err", 3, TM_SORT_MAX },
};

/*
 * Column widths: 80 columns fit every column; a narrower screen shrinks the
 * name (put_line clips what is still too wide), a wider one grows the name
 * and the API.
 */
static void widths(const struct top *t, int screen, int *w)
{
	int i, used = 0, extra;

	for (i = 0; i < COL_N; i++)
		w[i] = cols[i].w;
	if (!t->per_api)
		w[COL_API] = 0;
	for (i = 0; i < COL_N; i++)
		used += w[i] + (i && w[i] ? 1 : 0);
	extra = screen - used;
	if (extra < 0) {
		w[COL_NAME] += extra;
		if (w[COL_NAME] < 8)
			w[COL_NAME] = 8;
		return;
	}
	i = extra < 24 ? extra : 24;
	w[COL_NAME] += i;
	extra -= i;
	if (t->per_api)
		w[COL_API] += extra < 16 ? extra : 16;
}

/* The cells of one line into buf: separated by a space. */
static void compose(char *buf, const int *w, char txt[COL_N][TM_NAME_MAX + 8])
{
	int i, x = 0;

	for (i = 0; i < COL_N; i++) {
		if (!w[i])
			continue;
		if (x)
			buf[x++] = ' ';
		cell(buf + x, txt[i], w[i], i > COL_API);
		x += w[i];
	}
	buf[x] = 0;
}

/* Column heads; the sorted one is marked '*' (highest first) or '^' just before. */
static void draw_header(struct top *t, int y, const int *w)
{
	char txt[COL_N][TM_NAME_MAX + 8], buf[512], mark = t->reverse ? '^' : '*';
	int i, x = 0;

	for (i = 0; i < COL_N; i++)
		snprintf(txt[i], sizeof(txt[i]), "%s%s",
			 i == COL_NAME && t->sort == TM_SORT_NAME ? (t->reverse ? "^" : "*") : "",
			 i != COL_NAME ? cols[i].head :
			 t->view == TM_VIEW_BROKER ? "BROKER" : "CLIENT ID");
	compose(buf, w, txt);
	for (i = 0; i < COL_N; i++) {
		int len = strlen(txt[i]);

		if (!w[i])
			continue;
		if (i != COL_NAME && cols[i].sort == t->sort && len < w[i] + 1)
			buf[x + w[i] - len - 1] = mark;
		x += w[i] + 1;
	}
	put_line(t, y, buf, A_REVERSE, true);
}

static void draw_row(struct top *t, int y, const int *w, const struct tm_row *r)
{
	char txt[COL_N][TM_NAME_MAX + 8], buf[512];
	size_t n = sizeof(txt[0]);

	snprintf(txt[COL_NAME], n, "%s", r->name);
	snprintf(txt[COL_API], n, "%s", r->api_key < 0 ? "(all)" : kt_api_name(r->api_key));
	fmt_rate(txt[COL_RATE], n, r->rate);
	fmt_lat(txt[COL_P50], n, r->p50_ns);
	fmt_lat(txt[COL_P99], n, r->p99_ns);
	fmt_bytes(txt[COL_IN], n, r->in_bps);
	fmt_bytes(txt[COL_OUT], n, r->out_bps);
	fmt_rate(txt[COL_UNANS], n, r->unans_rate);
	snprintf(txt[COL_ERR], n, "-");
	compose(buf, w, txt);
	put_line(t, y, buf, r->c.unanswered ? A_BOLD : A_NORMAL, false);
}

static const char *order_name(const struct top *t)
{
	if (t->sort == TM_SORT_NAME)
		return t->reverse ? "descending" : "ascending";
	return t->reverse ? "lowest first" : "highest first";
}

static void draw(struct top *t, struct kt_live *l)
{
	const struct kt_agent_stats *as = kt_agent_stats(l->agent);
	const struct tm_counts *tot = tm_totals(t->m);
	uint64_t up = (now_mono_ns() - t->start_ns) / 1000000000ULL;
	char line[512], in[16], out[16];
	int w[COL_N], y, i, body;

	erase();
	if (COLS < TOP_MIN_W || LINES < TOP_MIN_H) {
		put_line(t, 0, "kafkatap top: terminal too small", A_NORMAL, false);
		refresh();
		return;
	}
	widths(t, COLS, w);
	snprintf(line, sizeof(line), "kafkatap top - per %s%s - sort: %s, %s - up %llu:%02llu:%02llu",
		 t->view == TM_VIEW_BROKER ? "broker" : "client_id",
		 t->per_api ? " and API" : "", tm_sort_name(t->sort), order_name(t),
		 (unsigned long long)up / 3600, (unsigned long long)up / 60 % 60,
		 (unsigned long long)up % 60);
	put_line(t, 0, line, A_BOLD, false);
	draw_header(t, 1, w);
	body = LINES - 4;
	for (i = 0, y = 2; i < t->n_rows && i < body; i++, y++) {
		if (i == body - 1 && t->n_rows > body) {
			snprintf(line, sizeof(line), "  ... %d more rows", t->n_rows - i);
			put_line(t, y, line, A_NORMAL, false);
			break;
		}
		draw_row(t, y, w, &t->rows[i]);
	}
	if (!t->n_rows)
		put_line(t, 3, tot->requests ? "  no Kafka request completed in the last 10 s" :
			 "  no Kafka request completed yet", A_NORMAL, false);
	fmt_bytes(in, sizeof(in), tot->bytes_in);
	fmt_bytes(out, sizeof(out), tot->bytes_out);
	snprintf(line, sizeof(line),
		 "lost %llu  resyncs %llu  gaps %llu  conns %llu | total: %llu req %llu unans %sB in %sB out",
		 (unsigned long long)l->counters[KT_C_RB_FAIL],
		 (unsigned long long)l->counters[KT_C_RESYNCS],
		 (unsigned long long)l->counters[KT_C_GAPS],
		 (unsigned long long)as->connections, (unsigned long long)tot->requests,
		 (unsigned long long)tot->unanswered, in, out);
	put_line(t, LINES - 2, line, l->counters[KT_C_RB_FAIL] ? A_BOLD : A_NORMAL, false);
	put_line(t, LINES - 1,
		 "q quit  c/b/Tab view  a APIs  sort: r req/s m p50 l p99 i/o bytes "
		 "u unans n name", A_REVERSE, true);
	refresh();
}

static void refresh_rows(struct top *t)
{
	int n = tm_rows(t->m, t->view, t->per_api, t->sort, t->reverse, &t->rows);

	t->n_rows = n < 0 ? 0 : n;
}

static void set_sort(struct top *t, enum tm_sort s)
{
	t->reverse = t->sort == s ? !t->reverse : false;
	t->sort = s;
}

/* Returns true when the table needs to be drawn again. */
static bool on_key(struct top *t, int ch)
{
	switch (ch) {
	case 'q': case 'Q':
		kt_stop = 1;
		return false;
	case 'c': t->view = TM_VIEW_CLIENT; break;
	case 'b': t->view = TM_VIEW_BROKER; break;
	case '\t': t->view = t->view == TM_VIEW_BROKER ? TM_VIEW_CLIENT : TM_VIEW_BROKER; break;
	case 'a': t->per_api = !t->per_api; break;
	case 'r': set_sort(t, TM_SORT_RATE); break;
	case 'm': set_sort(t, TM_SORT_P50); break;
	case 'l': set_sort(t, TM_SORT_P99); break;
	case 'i': set_sort(t, TM_SORT_IN); break;
	case 'o': set_sort(t, TM_SORT_OUT); break;
	case 'u': set_sort(t, TM_SORT_UNANS); break;
	case 'n': set_sort(t, TM_SORT_NAME); break;
	case KEY_RESIZE:
	case 12:	/* Ctrl-L */
		clearok(curscr, TRUE);
		return true;
	default:
		return false;
	}
	refresh_rows(t);
	return true;
}

/*
 * Take the screen. Messages on stderr (libbpf, errors) go to a file until
 * the screen is given back, then are copied out.
 */
static bool screen_start(struct top *t)
{
	SCREEN *s;

	fflush(stderr);
	t->err_log = tmpfile();
	t->saved_stderr = t->err_log ? dup(STDERR_FILENO) : -1;
	if (t->saved_stderr >= 0)
		dup2(fileno(t->err_log), STDERR_FILENO);
	s = newterm(NULL, stdout, stdin);
	if (!s)
		return false;
	set_term(s);
	cbreak();
	noecho();
	nonl();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	t->curses = true;
	return true;
}

static void screen_end(struct top *t)
{
	char buf[4096];
	size_t n;

	if (t->curses)
		endwin();
	t->curses = false;
	if (t->saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(t->saved_stderr, STDERR_FILENO);
	close(t->saved_stderr);
	t->saved_stderr = -1;
	rewind(t->err_log);
	while ((n = fread(buf, 1, sizeof(buf), t->err_log)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(t->err_log);
	t->err_log = NULL;
}

static void on_tick(void *ctx, struct kt_live *l)
{
	struct top *t = ctx;
	bool dirty = false;
	uint64_t now;
	int ch;

	if (!t->curses) {
		if (t->failed)
			return;
		if (!screen_start(t)) {
			t->failed = true;
			kt_stop = 1;
			return;
		}
		dirty = true;
	}
	now = now_mono_ns();
	if (now >= t->next_roll_ns) {
		tm_roll(t->m, now);
		t->next_roll_ns += TOP_INTERVAL_NS;
		if (t->next_roll_ns <= now)
			t->next_roll_ns = now + TOP_INTERVAL_NS;
		refresh_rows(t);
		dirty = true;
	}
	while ((ch = getch()) != ERR)
		dirty |= on_key(t, ch);
	if (dirty && !kt_stop)
		draw(t, l);
}

/* The terminal must be one that curses knows; checked before attaching. */
static int check_terminal(void)
{
	int err = 0;

	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		fprintf(stderr, "kafkatap top: %s is not a terminal: top draws a live table "
			"(use 'kafkatap trace' to record requests)\n",
			isatty(STDOUT_FILENO) ? "stdin" : "stdout");
		return -1;
	}
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK) {
		fprintf(stderr, "kafkatap top: cannot use terminal type '%s' (set TERM)\n",
			getenv("TERM") ? getenv("TERM") : "");
		return -1;
	}
	del_curterm(cur_term);
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct top t = { .saved_stderr = -1, .per_api = true };
	struct kt_session *s;
	struct kt_live live;
	struct kt_cli c;
	int err;

	err = kt_cli_parse(&c, "top", KT_OPT_LIVE, argc, argv, usage);
	if (err)
		return err > 0 ? 0 : 2;
	setlocale(LC_ALL, "");
	if (check_terminal())
		return 2;
	t.utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	t.start_ns = now_mono_ns();
	t.next_roll_ns = t.start_ns + TOP_INTERVAL_NS;
	t.m = tm_new(t.start_ns, TOP_IDLE_NS);
	if (!t.m)
		return 1;
	/* The table is made of headers: nothing to decode, nothing to capture. */
	c.session.need = KT_NEED_HEADERS;
	c.session.out = out;
	c.session.out_ctx = &t;
	s = kt_session_new(&c.session);
	if (!s) {
		tm_free(t.m);
		return 1;
	}
	kt_session_capture(s, c.load.policy);
	err = kt_live_run(&c.load, c.duration, &live, kt_session_agent(s), on_tick, &t);
	screen_end(&t);
	if (t.failed) {
		fprintf(stderr, "kafkatap top: cannot set up the terminal (TERM=%s)\n",
			getenv("TERM") ? getenv("TERM") : "");
		err = -1;
	}
	if (!err && c.stats)
		kt_session_print_stats(s, stderr, live.counters);
	kt_session_free(s);
	tm_free(t.m);
	return err ? 1 : 0;
}
