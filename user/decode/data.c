// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The data APIs: records and bytes per partition (Produce, Fetch), partition
 * errors, high watermarks, record batch times and committed offsets for
 * the lag (Fetch, ListOffsets, OffsetCommit, OffsetFetch), topic IDs
 * (Metadata).
 */
#include <string.h>
#include "decode/handlers.h"
#include "pair/agent.h"
#include "proto/gen/kafka_msgs_gen.h"

#define BATCH_LENGTH_PREFIX	12	/* base_offset and batch_length precede the length */
#define FETCH_ERROR_SINCE	7	/* Fetch responses have a top-level error code */
#define FETCH_TOPIC_IDS_SINCE	13	/* Fetch names topics by UUID */
#define METADATA_TOPIC_IDS_SINCE 10	/* Metadata responses carry topic IDs */
#define LIST_OFFSETS_LATEST	(-1)	/* the timestamp that asks for the high watermark */

static void tp_records(struct kt_tp *t, const struct kc_records *rec, bool complete_only)
{
	uint32_t i;

	t->has_data = true;
	for (i = 0; i < rec->n; i++) {
		if (complete_only && !rec->v[i].complete)
			continue;
		t->records += rec->v[i].record_count;
		t->bytes += BATCH_LENGTH_PREFIX + (int64_t)rec->v[i].batch_length;
	}
	t->records += rec->legacy_msgs;
	t->bytes += rec->legacy_bytes;
}

KT_OBS_HANDLER(obs_produce)
{
	const struct kc_ProduceRequest *r = q;
	const struct kc_ProduceResponse *s = a;
	uint32_t i, j, k, l;

	if (!r)
		return;
	o->an.acks = r->acks;
	o->an.acks_known = true;
	if (r->transactional_id.len > 0)
		o->an.txn_id = obs_str(o, r->transactional_id);
	for (i = 0; i < r->topic_data.n; i++) {
		const struct kc_ProduceRequest_TopicProduceData *td = &r->topic_data.v[i];
		const char *topic = obs_str(o, td->name);

		for (j = 0; j < td->partition_data.n; j++) {
			const struct kc_ProduceRequest_PartitionProduceData *pd = &td->partition_data.v[j];
			struct kt_tp *t = obs_tp(o, topic, pd->index);

			if (!t)
				return;
			tp_records(t, &pd->records, false);
			/*
			 * acks=0: every record sent counts, unless a response
			 * (a broker may send one anyway) says otherwise.
			 */
			if (r->acks == 0 || x->status == KT_STATUS_NO_RESPONSE)
				t->error = 0;
			for (k = 0; s && k < s->responses.n; k++) {
				const struct kc_ProduceResponse_TopicProduceResponse *tr = &s->responses.v[k];

				if (!obs_str_eq(tr->name, td->name))
					continue;
				for (l = 0; l < tr->partition_responses.n; l++)
					if (tr->partition_responses.v[l].index == pd->index)
						t->error = tr->partition_responses.v[l].error_code;
			}
		}
	}
}

KT_OBS_HANDLER(obs_fetch)
{
	const struct kc_FetchResponse *s = a;
	uint32_t i, j, b;
	bool any = false;
	char idbuf[37];

	if (!s)
		return;
	if (x->api_version >= FETCH_ERROR_SINCE)
		obs_error(o, s->error_code);
	for (i = 0; i < s->responses.n; i++) {
		const struct kc_FetchResponse_FetchableTopicResponse *tr = &s->responses.v[i];
		const char *topic = x->api_version >= FETCH_TOPIC_IDS_SINCE ?
			obs_cstr(o, kt_topics_name(o->groups, tr->topic_id.b, idbuf)) :
			obs_str(o, tr->topic);

		for (j = 0; j < tr->partitions.n; j++) {
			const struct kc_FetchResponse_PartitionData *pd = &tr->partitions.v[j];
			struct kt_tp *t = obs_tp(o, topic, pd->partition_index);

			if (!t)
				return;
			t->error = pd->error_code;
			tp_records(t, &pd->records, true);
			if (t->records)
				any = true;
			if (pd->error_code)
				continue;
			kt_groups_high_watermark(o->groups, obs_sv_c(topic), pd->partition_index,
						 pd->high_watermark, o->ts);
			for (b = 0; b < pd->records.n; b++) {
				const struct kc_batch *bt = &pd->records.v[b];

				kt_groups_batch(o->groups, obs_sv_c(topic), pd->partition_index,
						bt->base_offset, bt->base_offset + bt->last_offset_delta,
						bt->max_timestamp);
			}
		}
	}
	o->an.empty_fetch = !any;
}

KT_OBS_HANDLER(obs_metadata)
{
	static const uint8_t zero[16];
	const struct kc_MetadataResponse *s = a;
	uint32_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->topics.n; i++) {
		const struct kc_MetadataResponse_MetadataResponseTopic *t = &s->topics.v[i];
		const char *name = obs_str(o, t->name);

		if (x->api_version >= METADATA_TOPIC_IDS_SINCE && t->name.len > 0 &&
		    memcmp(t->topic_id.b, zero, 16))
			kt_topics_learn(o->groups, t->topic_id.b, obs_sv(t->name));
		if (t->error_code) {
			struct kt_tp *tp = obs_tp(o, name, -1);

			if (tp)
				tp->error = t->error_code;
		}
		for (j = 0; j < t->partitions.n; j++) {
			struct kt_tp *tp;

			if (!t->partitions.v[j].error_code)
				continue;
			tp = obs_tp(o, name, t->partitions.v[j].partition_index);
			if (tp)
				tp->error = t->partitions.v[j].error_code;
		}
	}
}

/* Did the request ask partition p of `topic` for the LATEST offset? */
static bool asked_latest(const struct kc_ListOffsetsRequest *r, struct kc_str topic, int32_t p)
{
	bool latest = false;
	uint32_t k, l;

	for (k = 0; r && k < r->topics.n; k++) {
		if (!obs_str_eq(r->topics.v[k].name, topic))
			continue;
		for (l = 0; l < r->topics.v[k].partitions.n; l++)
			if (r->topics.v[k].partitions.v[l].partition_index == p &&
			    r->topics.v[k].partitions.v[l].timestamp == LIST_OFFSETS_LATEST)
				latest = true;
	}
	return latest;
}

KT_OBS_HANDLER(obs_list_offsets)
{
	const struct kc_ListOffsetsResponse *s = a;
	uint32_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->topics.n; i++) {
		const struct kc_ListOffsetsResponse_ListOffsetsTopicResponse *tr = &s->topics.v[i];
		const char *topic = obs_str(o, tr->name);

		for (j = 0; j < tr->partitions.n; j++) {
			const struct kc_ListOffsetsResponse_ListOffsetsPartitionResponse *pr =
				&tr->partitions.v[j];
			struct kt_tp *t = obs_tp(o, topic, pr->partition_index);
			int64_t off = pr->offset;

			if (t)
				t->error = pr->error_code;
			if (pr->error_code)
				continue;
			if (pr->old_style_offsets.n)
				off = pr->old_style_offsets.v[0];
			/* Only a LATEST lookup gives the high watermark. */
			if (off >= 0 && asked_latest(q, tr->name, pr->partition_index))
				kt_groups_high_watermark(o->groups, obs_sv(tr->name),
							 pr->partition_index, off, o->ts);
		}
	}
}

KT_OBS_HANDLER(obs_offset_commit)
{
	const struct kc_OffsetCommitRequest *r = q;
	const struct kc_OffsetCommitResponse *s = a;
	uint32_t i, j, k, l;

	if (!r)
		return;
	o->an.group = obs_str(o, r->group_id);
	for (i = 0; i < r->topics.n; i++) {
		const struct kc_OffsetCommitRequest_OffsetCommitRequestTopic *qt = &r->topics.v[i];

		for (j = 0; j < qt->partitions.n; j++) {
			const struct kc_OffsetCommitRequest_OffsetCommitRequestPartition *qp =
				&qt->partitions.v[j];
			struct kt_tp *t;
			int16_t err = -1;

			for (k = 0; s && k < s->topics.n; k++) {
				if (!obs_str_eq(s->topics.v[k].name, qt->name))
					continue;
				for (l = 0; l < s->topics.v[k].partitions.n; l++)
					if (s->topics.v[k].partitions.v[l].partition_index ==
					    qp->partition_index)
						err = s->topics.v[k].partitions.v[l].error_code;
			}
			t = obs_tp(o, obs_str(o, qt->name), qp->partition_index);
			if (t)
				t->error = err;
			if (err)
				continue;
			kt_groups_committed(o->groups, obs_sv(r->group_id), obs_sv(qt->name),
					    qp->partition_index, qp->committed_offset, o->ts);
		}
	}
}

static void fetched_offset(struct kt_obs *o, struct kc_str group, struct kc_str topic,
			   int32_t partition, int64_t offset, int16_t err)
{
	struct kt_tp *t = obs_tp(o, obs_str(o, topic), partition);

	if (t)
		t->error = err;
	if (err)
		return;
	if (offset >= 0)
		kt_groups_committed(o->groups, obs_sv(group), obs_sv(topic), partition, offset,
				    o->ts);
}

KT_OBS_HANDLER(obs_offset_fetch)
{
	const struct kc_OffsetFetchRequest *r = q;
	const struct kc_OffsetFetchResponse *s = a;
	uint32_t i, j, k;

	if (!r || !s)
		return;
	if (r->group_id.len > 0)
		o->an.group = obs_str(o, r->group_id);
	for (i = 0; i < s->topics.n; i++)
		for (j = 0; j < s->topics.v[i].partitions.n; j++) {
			const struct kc_OffsetFetchResponse_OffsetFetchResponsePartition *p =
				&s->topics.v[i].partitions.v[j];

			fetched_offset(o, r->group_id, s->topics.v[i].name, p->partition_index,
				       p->committed_offset, p->error_code);
		}
	/* v8+: per group. */
	for (k = 0; k < s->groups.n; k++) {
		const struct kc_OffsetFetchResponse_OffsetFetchResponseGroup *g = &s->groups.v[k];

		if (!o->an.group)
			o->an.group = obs_str(o, g->group_id);
		for (i = 0; i < g->topics.n; i++)
			for (j = 0; j < g->topics.v[i].partitions.n; j++) {
				const struct kc_OffsetFetchResponse_OffsetFetchResponsePartitions *p =
					&g->topics.v[i].partitions.v[j];

				fetched_offset(o, g->group_id, g->topics.v[i].name,
					       p->partition_index, p->committed_offset,
					       p->error_code);
			}
	}
}
