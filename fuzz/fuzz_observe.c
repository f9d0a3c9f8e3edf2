// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: captured frames -> kt_observer_exchange() (user/
 * decode/: the codec on the frames, the group tracker, topic ids) -> the
 * annotation -> Prometheus metrics (metrics/model.c) and trace output.
 *
 * The input is a sequence of exchanges on one connection, each:
 *   api_key (u8), api_version (int8), bits (status in 0-1; STRUCTURE,
 *   complete, truncated for the request in 2,4,6 and response in 3,5,7),
 *   a time step (u8), request length (u16 BE) and bytes, response length
 *   (u16 BE) and bytes: whole frames from the size field on, as the agent
 *   assembles them.
 * Each capture is copied to a buffer of exactly its length. A group tracker
 * (small caps: evictions) and a metrics registry per input; after the last
 * exchange the groups and metrics are read and rendered. The observer (an
 * 8 MiB arena, poisoned under ASan: too slow to make per input) is made
 * once and given each input's tracker (kt_observer_set_groups): it keeps no other
 * state from one exchange to the next, so inputs stay independent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pair/agent.h"
#include "check.h"
#include "track/groups.h"
#include "metrics/model.h"
#include "decode/observe.h"
#include "out/trace.h"

static volatile size_t sink;

static void cstr(const char *s)
{
	if (s)
		sink += strlen(s);	/* NUL-terminated, readable */
}

static void on_group(void *ctx, const char *group, int members, int32_t generation,
		     uint64_t rebalances)
{
	cstr(group);
}

static void on_lag(void *ctx, const char *group, const char *topic, int64_t lag_records,
		   double lag_seconds)
{
	cstr(group);
	cstr(topic);
}

static void check_annot(const struct kt_annot *an)
{
	uint32_t i;

	CHECK(an);
	cstr(an->invalid);
	cstr(an->group);
	cstr(an->txn_id);
	cstr(an->sw_name);
	cstr(an->sw_version);
	cstr(an->mechanism);
	CHECK(an->ntp == 0 || an->tps);
	for (i = 0; i < an->ntp; i++)
		cstr(an->tps[i].topic);
	CHECK(an->nresources <= KT_MAX_RESOURCES);
	for (i = 0; i < an->nresources; i++)
		cstr(an->resources[i]);
}

static const uint8_t *take(const uint8_t **p, size_t *n, size_t k)
{
	const uint8_t *r = *p;

	if (k > *n)
		k = *n;
	*p += k;
	*n -= k;
	return r;
}

static void capture(struct kt_capture *c, const uint8_t **p, size_t *n, uint8_t bits)
{
	size_t len = 0;

	if (*n >= 2)
		len = (size_t)(*p)[0] << 8 | (*p)[1];
	take(p, n, 2);
	if (len > *n)
		len = *n;
	memset(c, 0, sizeof(*c));
	if (!len)
		return;
	c->buf = malloc(len);
	memcpy(c->buf, take(p, n, len), len);
	c->len = c->want = (uint32_t)len;
	c->alloc = (uint32_t)len;
	c->next_off = (uint32_t)len;
	c->structure = bits & 1;
	c->complete = bits & 2;
	c->truncated = bits & 4;
	c->last_seen = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kt_groups_cfg gc = {
		.max_groups = 4, .max_members_per_group = 4, .max_partitions = 16,
		.max_topic_ids = 4, .member_timeout_ns = 5000000000ULL, .max_offsets = 16,
	};
	struct kt_km_cfg kc = { 4, 4, 8, 4, 256 };
	struct kt_agent_stats st = { 0 };
	uint64_t kernel[KT_C_MAX] = { 0 };
	uint64_t now = 1700000000ULL * 1000000000ULL;
	static struct kt_observer *o;
	struct kt_kmetrics *km;
	struct kt_groups *g;
	FILE *null;
	size_t rlen;
	char *txt;
	int n = 0;

	g = kt_groups_new(&gc);
	if (!o)
		o = kt_observer_new(g);
	kt_observer_set_groups(o, g);
	km = kt_km_new(&kc);
	null = fopen("/dev/null", "w");
	CHECK(g && o && km && null);
	while (size >= 4 && n++ < 64) {
		struct kt_exchange x;
		const struct kt_annot *an;
		uint8_t bits;

		memset(&x, 0, sizeof(x));
		x.conn.family = 4;
		x.conn.client_addr[0] = 10;
		x.conn.client_addr[3] = 1;
		x.conn.broker_addr[0] = 10;
		x.conn.broker_addr[3] = 2;
		x.conn.client_port = 40000;
		x.conn.broker_port = 9092;
		x.api_key = data[0];
		x.api_version = (int8_t)data[1];
		bits = data[2];
		now += (uint64_t)data[3] * 10000000;
		take(&data, &size, 4);
		x.status = (enum kt_status)((bits & 3) % 3);
		x.reason = x.status == KT_STATUS_UNANSWERED ? KT_REASON_EXPIRED : KT_REASON_NONE;
		x.req_ts_ns = now;
		x.correlation_id = n;
		x.client_id_len = 4;
		memcpy(x.client_id, "fuzz", 5);
		capture(&x.req_cap, &data, &size, (bits >> 2 & 1) | (bits >> 4 & 1) << 1 |
			(bits >> 6 & 1) << 2);
		capture(&x.resp_cap, &data, &size, (bits >> 3 & 1) | (bits >> 5 & 1) << 1 |
			(bits >> 7 & 1) << 2);
		x.req_size = x.req_cap.len >= 4 ? (int32_t)x.req_cap.len - 4 : 0;
		x.resp_size = -1;
		if (x.status == KT_STATUS_OK) {
			x.resp_ts_ns = now + 1000;
			x.resp_size = x.resp_cap.len >= 4 ? (int32_t)x.resp_cap.len - 4 : 0;
		}
		an = kt_observer_exchange(o, &x);
		check_annot(an);
		kt_km_exchange(km, &x, an);
		kt_trace_json(null, &x, 0, an);
		kt_trace_text(null, &x, 0, an);
		free(x.req_cap.buf);
		free(x.resp_cap.buf);
	}
	kt_groups_foreach_at(g, now, on_group, NULL);
	kt_groups_foreach_lag(g, now, on_lag, NULL);
	kt_groups_expire(g, now + 10000000000ULL);
	kt_km_sync(km, kernel, &st);
	kt_km_sync_groups(km, g, now);
	txt = kt_km_render(km, n & 1, &rlen);
	CHECK(txt && strlen(txt) == rlen);
	free(txt);
	fclose(null);
	kt_km_free(km);
	kt_observer_set_groups(o, NULL);
	kt_groups_free(g);
	return 0;
}
