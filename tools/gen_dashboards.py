#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Generate kafkatap's Grafana dashboards (deploy/dashboards/*.json).

The dashboards are committed; this is where they are edited. Each panel is
described once below (title, description, queries, unit, width, what is
particular to it); the builders add what every panel of its type shares.
Layout is computed: panels fill rows of 24 columns left to right, in order.
tests/deploy_test.py regenerates them and requires the committed files to be
byte-identical: after editing this file, run `make dashboards`.

Usage: tools/gen_dashboards.py OUTDIR
"""
import json
import os
import sys

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
GRID_WIDTH = 24


# ------------------------------------------------------------------ builders

def q(legend, expr):
    """A query of a panel: (legendFormat, PromQL). refIds: A, B, ... in order."""
    return (legend, expr)


def targets(queries, table=False):
    out = []
    for i, (legend, expr) in enumerate(queries):
        t = {"datasource": dict(DS), "refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
             "range": not table, "instant": table, "editorMode": "code"}
        if table:
            t["format"] = "table"
        out.append(t)
    return out


def panel(kind, title, desc, w, h, queries, field_config, options, table=False):
    return {"type": kind, "title": title, "id": None, "datasource": dict(DS), "description": desc,
            "gridPos": {"h": h, "w": w, "x": None, "y": None},
            "targets": targets(queries, table), "fieldConfig": field_config, "options": options}


def row(title):
    return {"type": "row", "title": title, "id": None, "collapsed": False,
            "gridPos": {"h": 1, "w": GRID_WIDTH, "x": None, "y": None}, "panels": []}


def negative_y(ref):
    """Override: draw query `ref` below the axis."""
    return {"matcher": {"id": "byFrameRefID", "options": ref},
            "properties": [{"id": "custom.transform", "value": "negative-Y"}]}


def timeseries(title, unit, w, desc, *queries, h=8, min=0, overrides=()):
    defaults = {"unit": unit}
    if min is not None:
        defaults["min"] = min
    defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0, "showPoints": "never",
                          "stacking": {"mode": "none", "group": "A"}}
    defaults["color"] = {"mode": "palette-classic"}
    options = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max", "lastNotNull"],
                          "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, desc, w, h, queries,
                 {"defaults": defaults, "overrides": list(overrides)}, options)


# Threshold steps of the stat panels: (color, from value).
BLUE = (("blue", None),)
RED_ABOVE_0 = (("green", None), ("red", 1e-9))


def stat(title, unit, desc, expr, steps, w=6, h=4):
    defaults = {"unit": unit, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}}
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "background", "graphMode": "area", "textMode": "auto", "justifyMode": "auto",
               "orientation": "auto"}
    return panel("stat", title, desc, w, h, [q("__auto", expr)], {"defaults": defaults, "overrides": []}, options)


def table(title, w, desc, expr, h=8, value_as=None):
    """An instant query as a table: one row per series, its labels as
    columns; the value column hidden, or shown renamed to `value_as`."""
    p = panel("table", title, desc, w, h, [q("__auto", expr)],
              {"defaults": {"custom": {"align": "auto"}}, "overrides": []},
              {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
              table=True)
    organize = ({"excludeByName": {"Time": True}, "renameByName": {"Value": value_as}} if value_as else
                {"excludeByName": {"Time": True, "Value": True}, "renameByName": {}})
    p["transformations"] = [{"id": "merge", "options": {}}, {"id": "organize", "options": organize}]
    return p


def query_var(name, label, definition, description):
    """A multi-value template variable from label_values(), All = .*"""
    return {"name": name, "label": label, "type": "query", "datasource": dict(DS),
            "definition": definition, "query": definition, "refresh": 2, "includeAll": True, "multi": True,
            "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1,
            "regex": "", "description": description, "hide": 0, "options": []}


def variables():
    """The variables of every dashboard: the data source, then the filters."""
    return [
        {"name": "DS_PROMETHEUS", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1, "regex": ""},
        query_var("instance", "kafkatap instance", "label_values(kafkatap_build_info, instance)",
                  "kafkatap pods (one per node). A request between two nodes that both run kafkatap is seen by both."),
        query_var("broker", "Broker", 'label_values(kafkatap_requests_total{instance=~"$instance"}, broker)',
                  "Broker address ip:port as seen on the wire."),
        query_var("topic", "Topic",
                  'label_values({__name__=~"kafkatap_(produced|fetched)_records_total|kafkatap_partition_errors_total'
                  '|kafkatap_consumer_group_lag_records", instance=~"$instance"}, topic)',
                  "Topics seen in Produce, Fetch, partition errors and lag."),
        query_var("client_id", "client_id",
                  'label_values(kafkatap_requests_total{instance=~"$instance", broker=~"$broker"}, client_id)',
                  "Kafka client.id values."),
        query_var("group", "Consumer group",
                  'label_values({__name__=~"kafkatap_consumer_group_(members|lag_records)", instance=~"$instance"}, '
                  'group)',
                  "Consumer groups seen in group and offset requests."),
    ]


def layout(panels):
    """Ids 1..n; positions: left to right, a new line when the width is full
    (a row always starts one)."""
    x = y = line_h = 0
    for i, p in enumerate(panels, 1):
        g = p["gridPos"]
        if x + g["w"] > GRID_WIDTH or (p["type"] == "row" and x > 0):
            x, y, line_h = 0, y + line_h, 0
        p["id"], g["x"], g["y"] = i, x, y
        x += g["w"]
        line_h = max(line_h, g["h"])
    return panels


def dashboard(uid, title, description, panels):
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus",
                      "description": "The Prometheus that scrapes kafkatap", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
            {"type": "panel", "id": "table", "name": "Table", "version": ""},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
        ],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        # Every dashboard tagged kafkatap, as a menu: the three link to each other.
        "links": [{"asDropdown": False, "icon": "external link", "includeVars": True, "keepTime": True,
                   "tags": ["kafkatap"], "targetBlank": False, "title": "kafkatap dashboards", "tooltip": "",
                   "type": "dashboards", "url": ""}],
        "liveNow": False,
        "panels": layout(panels),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["kafka", "kafkatap", "ebpf"],
        "templating": {"list": variables()},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


# ------------------------------------------------------------------ the panels

def traffic():
    return [
        row("Overview"),
        stat("Requests/s", "reqps",
             "Kafka requests seen on the wire, counted when done (answered, acks=0, given up).",
             'sum(rate(kafkatap_requests_total{instance=~"$instance", broker=~"$broker", client_id=~"$client_id"}'
             '[$__rate_interval]))', BLUE),
        stat("p99 Produce latency", "s", "First request byte to first response byte, at the TC hook.",
             'histogram_quantile(0.99, sum by (le) (rate(kafkatap_request_duration_seconds_bucket'
             '{instance=~"$instance", broker=~"$broker", api="Produce"}[$__rate_interval])))',
             (("green", None), ("orange", 0.1), ("red", 0.5))),
        stat("Unanswered/s", "reqps", "Requests that expired or whose connection closed first.",
             'sum(rate(kafkatap_unanswered_requests_total{instance=~"$instance", broker=~"$broker"}'
             '[$__rate_interval])) or vector(0)', RED_ABOVE_0),
        stat("Lost records/s (kafkatap)", "short",
             "Records the kernel could not hand to kafkatap (ring buffer full): every other number undercounts "
             "while this is above 0.",
             'sum(rate(kafkatap_lost_events_total{instance=~"$instance"}[$__rate_interval])) or vector(0)',
             RED_ABOVE_0),

        row("Requests"),
        timeseries("Request rate by API", "reqps", 12,
                   "kafkatap_requests_total: requests counted when answered, known to get no response (acks=0), "
                   "or given up.",
                   q("{{api}}", 'sum by (api) (rate(kafkatap_requests_total{instance=~"$instance", '
                     'broker=~"$broker", client_id=~"$client_id"}[$__rate_interval]))')),
        timeseries("Request rate by client_id", "reqps", 12,
                   "Clients are told apart by client_id (empty: the client sent none; other: past "
                   "--max-client-ids).",
                   q("{{client_id}}", 'sum by (client_id) (rate(kafkatap_requests_total{instance=~"$instance", '
                     'broker=~"$broker", client_id=~"$client_id"}[$__rate_interval]))')),
        timeseries("Latency p50 by API and broker", "s", 12,
                   "kafkatap_request_duration_seconds: first request byte to first response byte at the TC hook; "
                   "paired requests only. Fetch long polls that found no record are left out "
                   "(kafkatap_empty_fetches_total).",
                   q("p50 {{api}} {{broker}}", 'histogram_quantile(0.5, sum by (le, api, broker) (rate('
                     'kafkatap_request_duration_seconds_bucket{instance=~"$instance", broker=~"$broker"}'
                     '[$__rate_interval])))')),
        timeseries("Latency p99 by API and broker", "s", 12,
                   "99th percentile, interpolated within the histogram's buckets (50 us ... 10 s).",
                   q("p99 {{api}} {{broker}}", 'histogram_quantile(0.99, sum by (le, api, broker) (rate('
                     'kafkatap_request_duration_seconds_bucket{instance=~"$instance", broker=~"$broker"}'
                     '[$__rate_interval])))')),
        timeseries("Bytes to / from brokers", "Bps", 12,
                   "Kafka frame bytes (size field + 4): requests into each broker above the axis, responses out "
                   "of it below.",
                   q("in {{broker}} (requests)", 'sum by (broker) (rate(kafkatap_request_bytes_total{'
                     'instance=~"$instance", broker=~"$broker", client_id=~"$client_id"}[$__rate_interval]))'),
                   q("out {{broker}} (responses)", 'sum by (broker) (rate(kafkatap_response_bytes_total{'
                     'instance=~"$instance", broker=~"$broker", client_id=~"$client_id"}[$__rate_interval]))'),
                   min=None, overrides=[negative_y("B")]),
        timeseries("Unanswered and no-response requests", "reqps", 12,
                   "unanswered: expected a response, got none (expired after --expiry, or the connection closed "
                   "first). no_response: Produce with acks=0, which expects none.",
                   q("unanswered {{api}} {{broker}}", 'sum by (api, broker) (rate(kafkatap_unanswered_requests_total'
                     '{instance=~"$instance", broker=~"$broker"}[$__rate_interval]))'),
                   q("no_response {{api}} {{broker}}", 'sum by (api, broker) (rate('
                     'kafkatap_no_response_requests_total{instance=~"$instance", broker=~"$broker"}'
                     '[$__rate_interval]))')),
        timeseries("Connections by broker", "short", 12, "Client connections kafkatap tracks, per broker.",
                   q("{{broker}}", 'sum by (broker) (kafkatap_connections{instance=~"$instance", '
                     'broker=~"$broker"})')),
        timeseries("Empty fetches (long polls)", "reqps", 12,
                   "Fetch responses without records: kept out of the latency histogram so a long poll does not "
                   "look like a slow broker.",
                   q("{{broker}}", 'sum by (broker) (rate(kafkatap_empty_fetches_total{instance=~"$instance", '
                     'broker=~"$broker"}[$__rate_interval]))')),

        row("Topics and clients"),
        timeseries("Produced records/s by topic", "short", 12,
                   "Records in partitions the broker acknowledged without error (acks=0: every record sent).",
                   q("{{topic}}", 'sum by (topic) (rate(kafkatap_produced_records_total{instance=~"$instance", '
                     'topic=~"$topic", client_id=~"$client_id"}[$__rate_interval]))')),
        timeseries("Produced records/s by client_id", "short", 12, "",
                   q("{{client_id}}", 'sum by (client_id) (rate(kafkatap_produced_records_total{'
                     'instance=~"$instance", topic=~"$topic", client_id=~"$client_id"}[$__rate_interval]))')),
        timeseries("Fetched records/s by topic", "short", 12, "Records in complete record batches of Fetch responses.",
                   q("{{topic}}", 'sum by (topic) (rate(kafkatap_fetched_records_total{instance=~"$instance", '
                     'topic=~"$topic", client_id=~"$client_id"}[$__rate_interval]))')),
        timeseries("Fetched records/s by client_id", "short", 12, "",
                   q("{{client_id}}", 'sum by (client_id) (rate(kafkatap_fetched_records_total{'
                     'instance=~"$instance", topic=~"$topic", client_id=~"$client_id"}[$__rate_interval]))')),
        timeseries("Produced / fetched bytes by topic", "Bps", 12, "Record batch bytes as sent (compressed).",
                   q("produced {{topic}}", 'sum by (topic) (rate(kafkatap_produced_bytes_total{'
                     'instance=~"$instance", topic=~"$topic", client_id=~"$client_id"}[$__rate_interval]))'),
                   q("fetched {{topic}}", 'sum by (topic) (rate(kafkatap_fetched_bytes_total{'
                     'instance=~"$instance", topic=~"$topic", client_id=~"$client_id"}[$__rate_interval]))')),
        timeseries("Partition errors by error", "short", 12,
                   "Partitions answered with an error, by Kafka's error name.",
                   q("{{error}} {{api}} {{topic}}", 'sum by (error, api, topic) (rate(kafkatap_partition_errors_total'
                     '{instance=~"$instance", topic=~"$topic"}[$__rate_interval]))')),
        timeseries("Response errors by API", "short", 12,
                   "Responses whose top-level error code is not NONE. Some are routine (MEMBER_ID_REQUIRED on a "
                   "first JoinGroup, REBALANCE_IN_PROGRESS).",
                   q("{{api}} {{error}}", 'sum by (api, error) (rate(kafkatap_errors_total{instance=~"$instance"}'
                     '[$__rate_interval]))')),
        timeseries("Invalid requests by reason", "short", 12,
                   "Requests that fail validation against Kafka's specs.",
                   q("{{reason}}", 'sum by (reason) (rate(kafkatap_invalid_requests_total{instance=~"$instance"}'
                     '[$__rate_interval]))')),
    ]


def groups_clients():
    return [
        row("Consumer groups"),
        timeseries("Consumer group lag (records)", "short", 12,
                   "Sum over the topic's partitions of high watermark (latest Fetch or ListOffsets response) minus "
                   "the group's committed offset (latest OffsetCommit or OffsetFetch). max over kafkatap instances.",
                   q("{{group}} / {{topic}}", 'max by (group, topic) (kafkatap_consumer_group_lag_records{'
                     'instance=~"$instance", group=~"$group", topic=~"$topic"})')),
        timeseries("Consumer group lag (seconds)", "s", 12,
                   "Best effort: newest batch timestamp seen minus the timestamp of the batch holding the committed "
                   "offset (producer timestamps unless LogAppendTime).",
                   q("{{group}} / {{topic}}", 'max by (group, topic) (kafkatap_consumer_group_lag_seconds{'
                     'instance=~"$instance", group=~"$group", topic=~"$topic"})')),
        timeseries("Group members", "short", 8,
                   "From JoinGroup/SyncGroup/Heartbeat/LeaveGroup and ConsumerGroupHeartbeat.",
                   q("{{group}}", 'max by (group) (kafkatap_consumer_group_members{instance=~"$instance", '
                     'group=~"$group"})')),
        timeseries("Group generation", "none", 8, "Generation (or KIP-848 member epoch).",
                   q("{{group}}", 'max by (group) (kafkatap_consumer_group_generation{instance=~"$instance", '
                     'group=~"$group"})')),
        timeseries("Rebalances", "short", 8,
                   "New generations seen per interval (the first generation seen is not counted).",
                   q("{{group}}", 'max by (group) (increase(kafkatap_consumer_group_rebalances_total{'
                     'instance=~"$instance", group=~"$group"}[$__rate_interval]))')),

        row("Clients"),
        table("Client inventory", 8,
              "Client software announced in ApiVersions v3+ requests (kafkatap_client_info).",
              'max by (client_id, software_name, software_version) (kafkatap_client_info{instance=~"$instance", '
              'client_id=~"$client_id"})'),
        table("Deprecated requests (since kafkatap started)", 8,
              "Requests in versions Kafka's specs mark deprecated (those Kafka 4.0 removes), counted since each "
              "kafkatap started: these clients need upgrading. A counter, not increase(): a client seen once would "
              "not show in an increase() over a range.",
              'sum by (api, api_version, client_id) (kafkatap_deprecated_requests_total{instance=~"$instance", '
              'client_id=~"$client_id"})', value_as="requests"),
        table("Admin operations (since kafkatap started)", 8,
              "CreateTopics, DeleteTopics, AlterConfigs, CreateAcls, DeleteGroups, ...; the trace names the "
              "resources.",
              'sum by (api, client_id) (kafkatap_admin_operations_total{instance=~"$instance", '
              'client_id=~"$client_id"})', value_as="requests"),
        timeseries("Admin operations/s", "short", 12, "",
                   q("{{api}} {{client_id}}", 'sum by (api, client_id) (rate(kafkatap_admin_operations_total{'
                     'instance=~"$instance", client_id=~"$client_id"}[$__rate_interval]))')),
        table("SASL mechanisms", 12,
              "Mechanism each client asked for in SaslHandshake. SaslAuthenticate bytes never leave the kernel.",
              'max by (client_id, mechanism) (kafkatap_sasl_mechanism_info{instance=~"$instance", '
              'client_id=~"$client_id"})'),
    ]


def per_instance(legend, counter):
    """The rate of one of kafkatap's own counters, per kafkatap instance."""
    return q(legend, 'sum by (instance) (rate(%s{instance=~"$instance"}[$__rate_interval]))' % counter)


def health():
    return [
        row("kafkatap health"),
        timeseries("Lost events (ring buffer full)", "short", 8,
                   "Records the kernel could not hand over: raise --ringbuf-mb, give the agent CPU.",
                   per_instance("{{instance}}", "kafkatap_lost_events_total")),
        timeseries("Stream gaps and resyncs", "short", 8,
                   "Gaps: lost segments (state dropped). Resyncs: frame boundaries found again mid-stream (no SYN "
                   "seen, or after a gap).",
                   per_instance("gaps {{instance}}", "kafkatap_stream_gaps_total"),
                   per_instance("resyncs {{instance}}", "kafkatap_stream_resyncs_total")),
        timeseries("Late frames", "short", 8,
                   "Frames found in a retransmission that filled a gap, reported late and header-only.",
                   per_instance("{{instance}}", "kafkatap_late_frames_total")),
        timeseries("Incomplete captures and walk failures", "short", 8,
                   "Captures that did not all arrive (decoded from what came); Produce/Fetch frames off their schema.",
                   per_instance("incomplete {{instance}}", "kafkatap_incomplete_captures_total"),
                   per_instance("walk failed {{instance}}", "kafkatap_structure_walk_failures_total")),
        timeseries("Malformed frames by reason", "short", 8,
                   "Frames on a broker port that are not Kafka (TLS on a port given to -p looks like this).",
                   q("{{reason}}", 'sum by (reason) (rate(kafkatap_malformed_frames_total{instance=~"$instance"}'
                     '[$__rate_interval]))')),
        timeseries("Label overflow (cardinality budget)", "short", 8,
                   'Label lookups folded into "other" because the label\'s budget (--max-client-ids, '
                   "--max-brokers, --max-topics, --max-groups, ...) or a family's --max-series is spent.",
                   q("{{label}}", 'sum by (label) (rate(kafkatap_label_overflow_total{instance=~"$instance"}'
                     '[$__rate_interval]))')),
        timeseries("Evictions", "short", 8,
                   "Requests or connections dropped from full tables: raise --max-pending / --max-conns.",
                   per_instance("pending {{instance}}", "kafkatap_pending_evictions_total"),
                   per_instance("connections {{instance}}", "kafkatap_connection_evictions_total"),
                   q("group tracker {{table}} {{instance}}", 'sum by (instance, table) (rate('
                     'kafkatap_tracker_evictions_total{instance=~"$instance"}[$__rate_interval]))')),
        timeseries("Unmatched responses and duplicate segments", "short", 8, "",
                   per_instance("unmatched {{instance}}", "kafkatap_unmatched_responses_total"),
                   per_instance("duplicates {{instance}}", "kafkatap_duplicate_segments_total")),
        timeseries("Packets looked at", "pps", 8, "TCP packets on broker ports that the kernel program looked at.",
                   per_instance("{{instance}}", "kafkatap_packets_total")),
        table("kafkatap versions", 24, "", 'max by (instance, version) (kafkatap_build_info{instance=~"$instance"})',
              h=6),
    ]


# file name -> the dashboard
DASHBOARDS = {
    "kafka-traffic.json": lambda: dashboard(
        # The uid of the single dashboard this one replaces: importing it
        # over that one keeps its links and bookmarks.
        "kafkatap-overview", "kafkatap: Kafka traffic",
        "Kafka traffic seen by kafkatap (eBPF at the TC hooks of each node): requests, latency, bytes, topics "
        "and clients. Consumer groups, clients and kafkatap's own health are on the other kafkatap dashboards.",
        traffic()),
    "kafka-groups-clients.json": lambda: dashboard(
        "kafkatap-groups-clients", "kafkatap: consumer groups and clients",
        "Consumer groups (lag, members, generation, rebalances) and clients (software, deprecated requests, admin "
        "operations, SASL mechanisms) seen by kafkatap (eBPF at the TC hooks of each node).",
        groups_clients()),
    "kafkatap-health.json": lambda: dashboard(
        "kafkatap-health", "kafkatap: health",
        "kafkatap's own health: lost events, stream gaps, malformed frames, label budget, evictions, and the "
        "versions running. While these are above 0, the other kafkatap dashboards undercount.",
        health()),
}


def check(dashboards):
    titles = {}
    for name, d in dashboards.items():
        for p in d["panels"]:
            assert p["title"] not in titles, "panel %r in %s and %s" % (p["title"], titles[p["title"]], name)
            titles[p["title"]] = name
    assert len({d["uid"] for d in dashboards.values()}) == len(dashboards), "dashboard uids not unique"


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUTDIR\n" % argv[0])
        return 2
    dashboards = {name: make() for name, make in DASHBOARDS.items()}
    check(dashboards)
    os.makedirs(argv[1], exist_ok=True)
    for name, d in dashboards.items():
        with open(os.path.join(argv[1], name), "w") as f:
            json.dump(d, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
