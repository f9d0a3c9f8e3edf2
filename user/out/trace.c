// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Trace output: one JSON object or one aligned text line per exchange. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "proto/apis.h"
#include "proto/kc.h"
#include "out/trace.h"
#include "lib/addr.h"

/*
 * A line is built in a buffer with hand-rolled formatting and written
 * once: printf's machinery was half of the agent's CPU at 50K lines/s.
 */
struct jb {
	FILE *f;
	size_t n;
	char b[4096];
};

static void jb_flush(struct jb *j)
{
	fwrite(j->b, 1, j->n, j->f);
	j->n = 0;
}

static void jb_put_slow(struct jb *j, const char *s, size_t n)
{
	while (n) {
		size_t k = n < sizeof(j->b) - j->n ? n : sizeof(j->b) - j->n;

		memcpy(j->b + j->n, s, k);
		j->n += k;
		s += k;
		n -= k;
		if (j->n == sizeof(j->b))
			jb_flush(j);
	}
}

/*
 * Inlined, so that the literals' copies (most calls) become a few moves:
 * out of line, the calls and their memcpy were a quarter of the agent's
 * CPU in `trace` at 100K lines/s.
 */
static inline __attribute__((always_inline)) void jb_put(struct jb *j, const char *s, size_t n)
{
	if (n < sizeof(j->b) - j->n) {
		memcpy(j->b + j->n, s, n);
		j->n += n;
		return;
	}
	jb_put_slow(j, s, n);
}

#define jb_lit(j, s) jb_put(j, s, sizeof(s) - 1)

static void jb_cstr(struct jb *j, const char *s)
{
	jb_put(j, s, strlen(s));
}

static void jb_i64(struct jb *j, int64_t v)
{
	char t[24];
	int n = 0;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		t[sizeof(t) - 1 - n++] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (v < 0)
		t[sizeof(t) - 1 - n++] = '-';
	jb_put(j, t + sizeof(t) - n, n);
}

/* whole.frac with `digits` digits of frac (frac < 10^digits). */
static void jb_fixed(struct jb *j, int64_t whole, uint64_t frac, int digits)
{
	char t[8];
	int i;

	jb_i64(j, whole);
	for (i = digits - 1; i >= 0; i--) {
		t[i] = '0' + frac % 10;
		frac /= 10;
	}
	jb_lit(j, ".");
	jb_put(j, t, digits);
}

/* A JSON string: bytes outside printable ASCII as \u00XX. */
static void jb_str(struct jb *j, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	jb_lit(j, "\"");
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			continue;
		jb_put(j, s + run, i - run);
		if (c == '"' || c == '\\') {
			e[1] = c;
			jb_put(j, e, 2);
		} else {
			jb_put(j, e, 6);
		}
		run = i + 1;
	}
	jb_put(j, s + run, len - run);
	jb_lit(j, "\"");
}

static void jb_opt_str(struct jb *j, const char *key, const char *v)
{
	if (!v)
		return;
	jb_lit(j, ",\"");
	jb_cstr(j, key);
	jb_lit(j, "\":");
	jb_str(j, v, strlen(v));
}

static void jb_error(struct jb *j, int16_t code)
{
	const char *e = kc_error_name(code);

	if (e) {
		jb_lit(j, "\"");
		jb_cstr(j, e);
		jb_lit(j, "\"");
	} else {
		jb_lit(j, "\"UNKNOWN_");
		jb_i64(j, code);
		jb_lit(j, "\"");
	}
}

/* What deep decoding found: topics, group, software, admin resources. */
static void json_annot(struct jb *j, const struct kt_annot *an)
{
	uint32_t i;

	if (an->ntp) {
		jb_lit(j, ",\"topics\":[");
		for (i = 0; i < an->ntp; i++) {
			const struct kt_tp *t = &an->tps[i];

			if (i)
				jb_lit(j, ",");
			jb_lit(j, "{\"topic\":");
			jb_str(j, t->topic, strlen(t->topic));
			jb_lit(j, ",\"partition\":");
			jb_i64(j, t->partition);
			if (t->has_data) {
				jb_lit(j, ",\"records\":");
				jb_i64(j, t->records);
				jb_lit(j, ",\"bytes\":");
				jb_i64(j, t->bytes);
			} else {
				jb_lit(j, ",\"records\":null,\"bytes\":null");
			}
			jb_lit(j, ",\"error\":");
			if (t->error >= 0)
				jb_error(j, t->error);
			else
				jb_lit(j, "null");
			jb_lit(j, "}");
		}
		jb_lit(j, "]");
	}
	if (an->has_error) {
		jb_lit(j, ",\"error\":");
		jb_error(j, an->error);
	}
	jb_opt_str(j, "group", an->group);
	jb_opt_str(j, "transactional_id", an->txn_id);
	jb_opt_str(j, "software_name", an->sw_name);
	jb_opt_str(j, "software_version", an->sw_version);
	jb_opt_str(j, "sasl_mechanism", an->mechanism);
	if (an->admin) {
		jb_lit(j, ",\"admin\":true,\"resources\":[");
		for (i = 0; i < an->nresources; i++) {
			if (i)
				jb_lit(j, ",");
			jb_str(j, an->resources[i], strlen(an->resources[i]));
		}
		jb_lit(j, "]");
	}
	jb_opt_str(j, "invalid", an->invalid);
	if (an->empty_fetch && an->resp_decoded)
		jb_lit(j, ",\"empty_fetch\":true");
	if (an->deprecated)
		jb_lit(j, ",\"deprecated\":true");
}

/* Address strings of the last connection written: lines come in runs. */
static struct {
	struct kt_conn conn;
	bool valid;
	char client[KT_ADDR_STRLEN], broker[KT_ADDR_STRLEN];
} addr_cache;

static void addrs(const struct kt_conn *c, const char **client, const char **broker)
{
	if (!addr_cache.valid || memcmp(&addr_cache.conn, c, sizeof(*c))) {
		fmt_addr(addr_cache.client, sizeof(addr_cache.client), c->client_addr,
			 c->family, c->client_port);
		fmt_addr(addr_cache.broker, sizeof(addr_cache.broker), c->broker_addr,
			 c->family, c->broker_port);
		addr_cache.conn = *c;
		addr_cache.valid = true;
	}
	*client = addr_cache.client;
	*broker = addr_cache.broker;
}

void kt_trace_json(FILE *f, const struct kt_exchange *x, int64_t clock_offset_ns,
		   const struct kt_annot *an)
{
	int64_t ts = (int64_t)x->req_ts_ns + clock_offset_ns;
	const char *client, *broker;
	struct jb j;

	j.f = f;
	j.n = 0;
	addrs(&x->conn, &client, &broker);
	jb_lit(&j, "{\"ts\":");
	jb_fixed(&j, ts / 1000000000, ts % 1000000000 / 1000, 6);
	jb_lit(&j, ",\"client\":\"");
	jb_cstr(&j, client);
	jb_lit(&j, "\",\"broker\":\"");
	jb_cstr(&j, broker);
	jb_lit(&j, "\",\"api_key\":");
	jb_i64(&j, x->api_key);
	jb_lit(&j, ",\"api\":\"");
	jb_cstr(&j, kt_api_name(x->api_key));
	jb_lit(&j, "\",\"api_version\":");
	jb_i64(&j, x->api_version);
	jb_lit(&j, ",\"correlation_id\":");
	jb_i64(&j, x->correlation_id);
	jb_lit(&j, ",\"client_id\":");
	if (x->client_id_len < 0)
		jb_lit(&j, "null");
	else
		jb_str(&j, x->client_id, strlen(x->client_id));
	if (x->client_id_len > KT_CLIENT_ID_MAX)
		jb_lit(&j, ",\"client_id_truncated\":true");
	jb_lit(&j, ",\"request_bytes\":");
	jb_i64(&j, x->req_size);
	if (x->resp_size >= 0) {
		uint64_t ns = x->resp_ts_ns - x->req_ts_ns;

		jb_lit(&j, ",\"response_bytes\":");
		jb_i64(&j, x->resp_size);
		jb_lit(&j, ",\"latency_us\":");
		jb_fixed(&j, ns / 1000, ns % 1000, 3);
	} else {
		jb_lit(&j, ",\"response_bytes\":null,\"latency_us\":null");
	}
	jb_lit(&j, ",\"status\":\"");
	jb_cstr(&j, kt_status_name(x->status));
	jb_lit(&j, "\"");
	if (x->status == KT_STATUS_UNANSWERED) {
		jb_lit(&j, ",\"reason\":\"");
		jb_cstr(&j, kt_reason_name(x->reason));
		jb_lit(&j, "\"");
	}
	if (x->api_key == KAFKA_API_PRODUCE && ((an && an->acks_known) || x->acks_known)) {
		jb_lit(&j, ",\"acks\":");
		jb_i64(&j, an && an->acks_known ? an->acks : x->acks);
	}
	if (x->resynced)
		jb_lit(&j, ",\"resync\":true");
	if (x->late)
		jb_lit(&j, ",\"late\":true");
	if (x->req_cap.want) {
		jb_lit(&j, ",\"request_captured\":");
		jb_i64(&j, x->req_cap.len);
	}
	if (x->resp_cap.want) {
		jb_lit(&j, ",\"response_captured\":");
		jb_i64(&j, x->resp_cap.len);
	}
	if (an)
		json_annot(&j, an);
	jb_lit(&j, "}\n");
	jb_flush(&j);
}

void kt_trace_text(FILE *f, const struct kt_exchange *x, int64_t clock_offset_ns,
		   const struct kt_annot *an)
{
	char client[KT_ADDR_STRLEN], broker[KT_ADDR_STRLEN], tbuf[16], lat[24];
	char resp[16], api[40];
	int64_t ts = (int64_t)x->req_ts_ns + clock_offset_ns;
	time_t secs = ts / 1000000000;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	fmt_addr(client, sizeof(client), x->conn.client_addr, x->conn.family,
		 x->conn.client_port);
	fmt_addr(broker, sizeof(broker), x->conn.broker_addr, x->conn.family,
		 x->conn.broker_port);
	snprintf(api, sizeof(api), "%s v%d", kt_api_name(x->api_key), x->api_version);
	if (x->resp_size >= 0) {
		snprintf(resp, sizeof(resp), "%d", x->resp_size);
		snprintf(lat, sizeof(lat), "%.1fus",
			 (double)(x->resp_ts_ns - x->req_ts_ns) / 1000.0);
	} else {
		snprintf(resp, sizeof(resp), "-");
		snprintf(lat, sizeof(lat), "-");
	}
	fprintf(f, "%s.%06lld %21s > %-21s %-26s corr=%-10d %-20.*s req=%-8d resp=%-8s %12s %s",
		tbuf, (long long)(ts % 1000000000 / 1000), client, broker, api,
		x->correlation_id, 20,
		x->client_id_len < 0 ? "(null)" : x->client_id, x->req_size, resp, lat,
		x->status == KT_STATUS_UNANSWERED ? kt_reason_name(x->reason)
						  : kt_status_name(x->status));
	if (an && an->ntp) {
		const struct kt_tp *t = &an->tps[0];

		fprintf(f, " %s[%d]", t->topic, t->partition);
		if (t->has_data)
			fprintf(f, " %lldrec", (long long)t->records);
		if (an->ntp > 1)
			fprintf(f, " +%u more", an->ntp - 1);
	}
	if (an && an->group)
		fprintf(f, " group=%s", an->group);
	if (an && an->invalid)
		fprintf(f, " INVALID(%s)", an->invalid);
	fputc('\n', f);
}
