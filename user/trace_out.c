// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Trace output: one JSON object or one aligned text line per exchange. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "kafka_apis.h"
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

void kt_trace_json(FILE *f, const struct kt_exchange *x, int64_t clock_offset_ns)
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
	if (x->api_key == KT_API_PRODUCE && x->acks_known)
		fprintf(f, ",\"acks\":%d", x->acks);
	if (x->resynced)
		fputs(",\"resync\":true", f);
	if (x->req_cap.want)
		fprintf(f, ",\"request_captured\":%u", x->req_cap.len);
	if (x->resp_cap.want)
		fprintf(f, ",\"response_captured\":%u", x->resp_cap.len);
	fputs("}\n", f);
}

void kt_trace_text(FILE *f, const struct kt_exchange *x, int64_t clock_offset_ns)
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
	fprintf(f, "%s.%06lld %21s > %-21s %-26s corr=%-10d %-20.*s req=%-8d resp=%-8s %12s %s\n",
		tbuf, (long long)(ts % 1000000000 / 1000), client, broker, api,
		x->correlation_id, 20,
		x->client_id_len < 0 ? "(null)" : x->client_id, x->req_size, resp, lat,
		x->status == KT_STATUS_UNANSWERED ? kt_reason_name(x->reason)
						  : kt_status_name(x->status));
}
