/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HTTP side of `kafkatap serve` (libmicrohttpd): GET /metrics and
 * GET /healthz. Scrapes are served by libmicrohttpd's threads but rendered
 * by the event loop, which owns the registry: a scrape asks, the loop
 * renders at its next turn (<= 20 ms), every scrape waiting gets that one
 * consistent snapshot. Nothing is locked on the event loop's hot path.
 */
#ifndef KAFKATAP_EXPORTER_H
#define KAFKATAP_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>

#define KT_DEFAULT_LISTEN ":9977"

/* Render the exposition (malloc'd); runs in the event loop's thread. */
typedef char *(*kt_render_fn)(void *ctx, bool openmetrics, size_t *len);

struct kt_exporter;

/* listen: "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (all addresses). */
struct kt_exporter *kt_exporter_start(const char *listen, char *err, size_t errlen);
/* From the event loop, each turn: render for waiting scrapes, stay healthy. */
void kt_exporter_poll(struct kt_exporter *e, kt_render_fn fn, void *ctx);
int kt_exporter_port(const struct kt_exporter *e);
void kt_exporter_stop(struct kt_exporter *e);

#endif
