// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Trace output: one JSON object or one aligned text line per exchange. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "kafka_apis.h"
#include "kc.h"
#include "trace_out.h"
#include "util.h"

static void json_client_id(FILE *f, const struct kt_exchange *x)
{
	if (x->client_id_len < 0) {
		fputs("null", f);
		return;
	}
	json_str(f, x->client_id, strlen(x->client_id));
}

static void json_opt_str(FILE *f, const char *key, const char *v)
{
	if (!v)
		return;
	fprintf(f, ",\"%s\":", key);
	json_str(f, v, strlen(v));
}

/* What deep decoding found: topics, group, software, admin resources. */
static void json_annot(FILE *f, const struct kt_annot *an)
{
	uint32_t i;

	if (an->ntp) {
		fputs(",\"topics\":[", f);
		for (i = 0; i < an->ntp; i++) {
			const struct kt_tp *t = &an->tps[i];
			const char *e = t->error >= 0 ? kc_error_name(t->error) : NULL;

			fputs(i ? ",{\"topic\":" : "{\"topic\":", f);
			json_str(f, t->topic, strlen(t->topic));
			fprintf(f, ",\"partition\":%d", t->partition);
			if (t->has_data)
				fprintf(f, ",\"records\":%lld,\"bytes\":%lld",
					(long long)t->records, (long long)t->bytes);
			else
				fputs(",\"records\":null,\"bytes\":null", f);
			if (t->error >= 0 && e)
				fprintf(f, ",\"error\":\"%s\"}", e);
			else if (t->error >= 0)
				fprintf(f, ",\"error\":\"UNKNOWN_%d\"}", t->error);
			else
				fputs(",\"error\":null}", f);
		}
		fputc(']', f);
	}
	if (an->has_error) {
		const char *e = kc_error_name(an->error);

		if (e)
			fprintf(f, ",\"error\":\"%s\"", e);
		else
			fprintf(f, ",\"error\":\"UNKNOWN_%d\"", an->error);
	}
	json_opt_str(f, "group", an->group);
	json_opt_str(f, "transactional_id", an->txn_id);
	json_opt_str(f, "software_name", an->sw_name);
	json_opt_str(f, "software_version", an->sw_version);
	json_opt_str(f, "sasl_mechanism", an->mechanism);
	if (an->admin) {
		fputs(",\"admin\":true,\"resources\":[", f);
		for (i = 0; i < an->nresources; i++) {
			if (i)
				fputc(',', f);
			json_str(f, an->resources[i], strlen(an->resources[i]));
		}
		fputc(']', f);
	}
	json_opt_str(f, "invalid", an->invalid);
	if (an->empty_fetch && an->resp_decoded)
		fputs(",\"empty_fetch\":true", f);
	if (an->deprecated)
		fputs(",\"deprecated\":true", f);
}

void kt_trace_json(FILE *f, const struct kt_exchange *x, int64_t clock_offset_ns,
		   const struct kt_annot *an)
{
	char client[KT_ADDR_STRLEN], broker[KT_ADDR_STRLEN];
	int64_t ts = (int64_t)x->req_ts_ns + clock_offset_ns;

	fmt_addr(client, sizeof(client), x->conn.client_addr, x->conn.family,
		 x->conn.client_port);
	fmt_addr(broker, sizeof(broker), x->conn.broker_addr, x->conn.family,
		 x->conn.broker_port);
	fprintf(f, "{\"ts\":%lld.%06lld,\"client\":\"%s\",\"broker\":\"%s\","
		"\"api_key\":%d,\"api\":\"%s\",\"api_version\":%d,"
		"\"correlation_id\":%d,\"client_id\":",
		(long long)(ts / 1000000000), (long long)(ts % 1000000000 / 1000),
		client, broker, x->api_key, kt_api_name(x->api_key), x->api_version,
		x->correlation_id);
	json_client_id(f, x);
	if (x->client_id_len > KT_CLIENT_ID_MAX)
		fputs(",\"client_id_truncated\":true", f);
	fprintf(f, ",\"request_bytes\":%d", x->req_size);
	if (x->resp_size >= 0)
		fprintf(f, ",\"response_bytes\":%d,\"latency_us\":%.3f", x->resp_size,
			(double)(x->resp_ts_ns - x->req_ts_ns) / 1000.0);
	else
		fputs(",\"response_bytes\":null,\"latency_us\":null", f);
	fprintf(f, ",\"status\":\"%s\"", kt_status_name(x->status));
	if (x->status == KT_STATUS_UNANSWERED)
		fprintf(f, ",\"reason\":\"%s\"", kt_reason_name(x->reason));
	if (an && an->acks_known && x->api_key == KT_API_PRODUCE)
		fprintf(f, ",\"acks\":%d", an->acks);
	else if (x->api_key == KT_API_PRODUCE && x->acks_known)
		fprintf(f, ",\"acks\":%d", x->acks);
	if (x->resynced)
		fputs(",\"resync\":true", f);
	if (x->req_cap.want)
		fprintf(f, ",\"request_captured\":%u", x->req_cap.len);
	if (x->resp_cap.want)
		fprintf(f, ",\"response_captured\":%u", x->resp_cap.len);
	if (an)
		json_annot(f, an);
	fputs("}\n", f);
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
