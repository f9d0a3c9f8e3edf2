/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kafkatap's metric model: what each exchange, connection and counter
 * becomes in the Prometheus registry. Shared by serve and replay.
 */
#ifndef KAFKATAP_KMETRICS_H
#define KAFKATAP_KMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kt_agent_stats;
struct kt_annot;
struct kt_conn;
struct kt_exchange;
struct kt_groups;
struct kt_registry;

struct kt_km_cfg {
	uint32_t max_client_ids;	/* default 256 */
	uint32_t max_brokers;		/* default 64 */
	uint32_t max_topics;		/* default 1024 */
	uint32_t max_groups;		/* default 256 */
	uint32_t max_series;		/* per family, default 20000 */
};

#define KT_KM_CFG_DEFAULT { 256, 64, 1024, 256, 20000 }

struct kt_kmetrics;

struct kt_kmetrics *kt_km_new(const struct kt_km_cfg *cfg);
void kt_km_free(struct kt_kmetrics *m);

/* an: what the observer decoded (NULL: header-level metrics only). */
void kt_km_exchange(struct kt_kmetrics *m, const struct kt_exchange *x, const struct kt_annot *an);
void kt_km_conn(struct kt_kmetrics *m, const struct kt_conn *c, bool opened);
/* Self-metrics from the kernel's counters (KT_C_MAX) and the agent's. */
void kt_km_sync(struct kt_kmetrics *m, const uint64_t *kernel, const struct kt_agent_stats *st);
/* Consumer group gauges and lag, from the tracker, at now_ns. */
void kt_km_sync_groups(struct kt_kmetrics *m, struct kt_groups *g, uint64_t now_ns);

char *kt_km_render(struct kt_kmetrics *m, bool openmetrics, size_t *len);
struct kt_registry *kt_km_registry(struct kt_kmetrics *m);

#endif
