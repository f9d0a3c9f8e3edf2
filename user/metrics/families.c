// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/util.h"
#include "metrics/families.h"

/* Upper bounds of kafkatap_request_duration_seconds, 50 us to 10 s. */
static const double kt_duration_buckets[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

const struct kt_family_def kt_families[KT_F_MAX] = {
	[KT_F_REQUESTS] = {
		.name = "kafkatap_requests_total",
		.help = "Kafka requests seen on the wire, counted when answered, known to get no "
			"response (acks=0) or given up",
		.type = KT_COUNTER,
		.labels = { "api", "api_version", "client_id", "broker" },
	},
	[KT_F_DURATION] = {
		.name = "kafkatap_request_duration_seconds",
		.help = "Time from a request's first byte to its response's first byte, as seen "
			"at the TC hook; paired requests only",
		.type = KT_HISTOGRAM,
		.labels = { "api", "broker" },
		.buckets = kt_duration_buckets,
		.nbuckets = ARRAY_SIZE(kt_duration_buckets),
	},
	[KT_F_REQUEST_BYTES] = {
		.name = "kafkatap_request_bytes_total",
		.help = "Bytes of Kafka request frames (the size field plus its 4 bytes)",
		.type = KT_COUNTER,
		.labels = { "api", "client_id", "broker" },
	},
	[KT_F_RESPONSE_BYTES] = {
		.name = "kafkatap_response_bytes_total",
		.help = "Bytes of Kafka response frames (the size field plus its 4 bytes)",
		.type = KT_COUNTER,
		.labels = { "api", "client_id", "broker" },
	},
	[KT_F_UNANSWERED] = {
		.name = "kafkatap_unanswered_requests_total",
		.help = "Requests that expected a response and got none: expired, or the "
			"connection closed first",
		.type = KT_COUNTER,
		.labels = { "api", "broker" },
	},
	[KT_F_NO_RESPONSE] = {
		.name = "kafkatap_no_response_requests_total",
		.help = "Requests that expect no response (Produce with acks=0) and got none",
		.type = KT_COUNTER,
		.labels = { "api", "broker" },
	},
	[KT_F_CONNECTIONS] = {
		.name = "kafkatap_connections",
		.help = "Client connections to each broker that kafkatap tracks",
		.type = KT_GAUGE,
		.labels = { "broker" },
	},
	[KT_F_TRACKER_EVICTIONS] = {
		.name = "kafkatap_tracker_evictions_total",
		.help = "Entries the consumer group tracker dropped, its tables full (groups: the "
			"least recently active group past --max-groups; group_members: members "
			"past 1024 in one group, which then reads as 1024)",
		.type = KT_COUNTER,
		.labels = { "table" },
	},
	[KT_F_INCOMPLETE_CAPTURES] = {
		.name = "kafkatap_incomplete_captures_total",
		.help = "Frame captures that did not all arrive (ring buffer full, a gap, a walk "
			"off schema): decoded from what came",
		.type = KT_COUNTER,
	},
	[KT_F_PENDING_EVICTIONS] = {
		.name = "kafkatap_pending_evictions_total",
		.help = "Requests dropped from the full pending table",
		.type = KT_COUNTER,
	},
	[KT_F_CONN_EVICTIONS] = {
		.name = "kafkatap_connection_evictions_total",
		.help = "Connections dropped from the full connection table",
		.type = KT_COUNTER,
	},
	[KT_F_UNMATCHED] = {
		.name = "kafkatap_unmatched_responses_total",
		.help = "Responses with no request waiting for them",
		.type = KT_COUNTER,
	},
	[KT_F_ALLOC_FAILURES] = {
		.name = "kafkatap_allocation_failures_total",
		.help = "Times the agent ran out of memory and dropped what it was building (a "
			"connection, a request, a capture). Any growth: give kafkatap more memory, "
			"or lower --max-pending and --max-conns",
		.type = KT_COUNTER,
	},
	[KT_F_BUILD_INFO] = {
		.name = "kafkatap_build_info",
		.help = "kafkatap's version",
		.type = KT_INFO,
		.labels = { "version" },
	},
	[KT_F_PRODUCED_RECORDS] = {
		.name = "kafkatap_produced_records_total",
		.help = "Records produced, in partitions the broker acknowledged without error "
			"(acks=0: every record sent)",
		.type = KT_COUNTER,
		.labels = { "topic", "client_id" },
	},
	[KT_F_PRODUCED_BYTES] = {
		.name = "kafkatap_produced_bytes_total",
		.help = "Record batch bytes produced as sent (compressed), as for "
			"kafkatap_produced_records_total",
		.type = KT_COUNTER,
		.labels = { "topic", "client_id" },
	},
	[KT_F_FETCHED_RECORDS] = {
		.name = "kafkatap_fetched_records_total",
		.help = "Records in complete record batches of Fetch responses",
		.type = KT_COUNTER,
		.labels = { "topic", "client_id" },
	},
	[KT_F_FETCHED_BYTES] = {
		.name = "kafkatap_fetched_bytes_total",
		.help = "Bytes of complete record batches in Fetch responses (compressed)",
		.type = KT_COUNTER,
		.labels = { "topic", "client_id" },
	},
	[KT_F_PARTITION_ERRORS] = {
		.name = "kafkatap_partition_errors_total",
		.help = "Partitions answered with an error, by Kafka's error name",
		.type = KT_COUNTER,
		.labels = { "api", "topic", "error" },
	},
	[KT_F_GROUP_MEMBERS] = {
		.name = "kafkatap_consumer_group_members",
		.help = "Members of each consumer group "
			"(JoinGroup/SyncGroup/Heartbeat/LeaveGroup, ConsumerGroupHeartbeat)",
		.type = KT_GAUGE,
		.labels = { "group" },
	},
	[KT_F_GROUP_GENERATION] = {
		.name = "kafkatap_consumer_group_generation",
		.help = "Each consumer group's generation (or KIP-848 member epoch)",
		.type = KT_GAUGE,
		.labels = { "group" },
	},
	[KT_F_GROUP_REBALANCES] = {
		.name = "kafkatap_consumer_group_rebalances_total",
		.help = "New generations observed for each consumer group",
		.type = KT_COUNTER,
		.labels = { "group" },
	},
	[KT_F_LAG_RECORDS] = {
		.name = "kafkatap_consumer_group_lag_records",
		.help = "Sum over the topic's partitions of high watermark (latest Fetch or "
			"ListOffsets response) minus the group's committed offset (latest "
			"OffsetCommit or OffsetFetch)",
		.type = KT_GAUGE,
		.labels = { "group", "topic" },
	},
	[KT_F_LAG_SECONDS] = {
		.name = "kafkatap_consumer_group_lag_seconds",
		.help = "Best-effort time lag: max over partitions of the newest batch timestamp "
			"seen minus the timestamp of the batch holding the committed offset",
		.type = KT_GAUGE,
		.labels = { "group", "topic" },
	},
	[KT_F_CLIENT_INFO] = {
		.name = "kafkatap_client_info",
		.help = "Client software announced in ApiVersions v3+ requests",
		.type = KT_INFO,
		.labels = { "client_id", "software_name", "software_version" },
	},
	[KT_F_DEPRECATED] = {
		.name = "kafkatap_deprecated_requests_total",
		.help = "Requests in versions the specs mark deprecated",
		.type = KT_COUNTER,
		.labels = { "api", "api_version", "client_id" },
	},
	[KT_F_ADMIN_OPS] = {
		.name = "kafkatap_admin_operations_total",
		.help = "Admin requests (topics, configs, ACLs, groups, partitions, records)",
		.type = KT_COUNTER,
		.labels = { "api", "client_id" },
	},
	[KT_F_SASL_MECHANISM] = {
		.name = "kafkatap_sasl_mechanism_info",
		.help = "SASL mechanism each client asked for (SaslHandshake)",
		.type = KT_INFO,
		.labels = { "client_id", "mechanism" },
	},
	[KT_F_INVALID] = {
		.name = "kafkatap_invalid_requests_total",
		.help = "Requests that fail validation against the specs",
		.type = KT_COUNTER,
		.labels = { "reason" },
	},
	[KT_F_EMPTY_FETCHES] = {
		.name = "kafkatap_empty_fetches_total",
		.help = "Fetch responses with no records (long polls): kept out of the Fetch "
			"latency histogram",
		.type = KT_COUNTER,
		.labels = { "broker" },
	},
	[KT_F_ERRORS] = {
		.name = "kafkatap_errors_total",
		.help = "Responses whose top-level error code is not NONE, by Kafka's error name",
		.type = KT_COUNTER,
		.labels = { "api", "error" },
	},
};
