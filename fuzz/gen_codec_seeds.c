// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Seeds for fuzz_codec and fuzz_observe: every request and response of
 * the specs at every version, filled with the codec's seeded random values
 * and encoded by the codec itself. CODEC_DIR gets fuzz_codec inputs
 * (api_key, version, flags, body); OBSERVE_DIR, when given, fuzz_observe
 * inputs (one exchange: the request and response as whole frames, with
 * their headers).
 *
 *   gen_codec_seeds CODEC_DIR [OBSERVE_DIR [PER_VERSION]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto/gen/kafka_msgs_gen.h"
#include "proto/kc.h"

static int find(int16_t api_key, int kind)
{
	int i;

	for (i = 0; i < KC_NUM_MSGS; i++)
		if (kc_msgs[i].api_key == api_key && kc_msgs[i].kind == kind)
			return i;
	return -1;
}

/* A whole frame: size, header of the version the API uses, body. */
static int frame(struct kc_writer *w, int mi, int16_t v, int32_t corr, struct kc_arena *ar,
		 uint64_t seed)
{
	const struct kc_msg_info *m = &kc_msgs[mi];
	struct kc_rand rnd = { .s = seed, .arena = ar };
	void *x = calloc(1, m->size);
	size_t start = w->len;
	int hv, ret;

	kc_msg_tests[mi].fill(&rnd, v, x);
	kc_write_int32(w, 0);
	if (m->kind == KC_REQUEST) {
		struct kc_str cid = { "fuzz", 4 };

		hv = kc_request_header_version(m->api_key, v);
		kc_write_int16(w, m->api_key);
		kc_write_int16(w, v);
		kc_write_int32(w, corr);
		if (hv >= 1)
			kc_write_str(w, 0, &cid);
		if (hv >= 2)
			kc_write_uvarint(w, 0);
	} else {
		hv = kc_response_header_version(m->api_key, v);
		kc_write_int32(w, corr);
		if (hv >= 1)
			kc_write_uvarint(w, 0);
	}
	ret = kc_msg_tests[mi].encode(w, v, x);
	free(x);
	if (ret || w->error)
		return -1;
	kc_put_be(w->buf + start, w->len - start - 4, 4);
	return 0;
}

static int observe_seeds(const char *dir, struct kc_arena *ar, int per)
{
	int n = 0, key, it;

	for (key = 0; key < 128; key++) {
		int qi = find(key, KC_REQUEST), ai = find(key, KC_RESPONSE);
		int16_t v;

		if (qi < 0 || ai < 0)
			continue;
		for (v = kc_msgs[qi].min_version; v <= kc_msgs[qi].max_version; v++) {
			for (it = 0; it < per; it++) {
				struct kc_writer q, a;
				uint8_t hdr[4] = { (uint8_t)key, (uint8_t)v, 0x30, 1 };
				uint8_t len[2];
				char path[4096];
				FILE *f;

				kc_arena_reset(ar);
				kc_writer_init(&q, 1 << 16);
				kc_writer_init(&a, 1 << 16);
				if (frame(&q, qi, v, 7, ar, (uint64_t)key << 40 | (uint64_t)v << 8 | it) ||
				    frame(&a, ai, v, 7, ar, (uint64_t)key << 40 | (uint64_t)v << 8 | it | 1 << 20) ||
				    q.len > 0xffff || a.len > 0xffff) {
					kc_writer_free(&q);
					kc_writer_free(&a);
					continue;
				}
				snprintf(path, sizeof(path), "%s/gen-%d-v%d-%d", dir, key, v, it);
				f = fopen(path, "wb");
				if (!f) {
					perror(path);
					exit(1);
				}
				fwrite(hdr, 1, 4, f);
				len[0] = q.len >> 8;
				len[1] = q.len & 0xff;
				fwrite(len, 1, 2, f);
				fwrite(q.buf, 1, q.len, f);
				len[0] = a.len >> 8;
				len[1] = a.len & 0xff;
				fwrite(len, 1, 2, f);
				fwrite(a.buf, 1, a.len, f);
				fclose(f);
				n++;
				kc_writer_free(&q);
				kc_writer_free(&a);
			}
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	size_t mem_size = (size_t)16 << 20;
	int per = argc > 3 ? atoi(argv[3]) : 2, it, n = 0;
	void *mem = malloc(mem_size);
	struct kc_arena ar;
	size_t mi;

	if (argc < 2 || !mem) {
		fprintf(stderr, "usage: %s CODEC_DIR [OBSERVE_DIR [PER_VERSION]]\n", argv[0]);
		return 2;
	}
	kc_arena_init(&ar, mem, mem_size);
	for (mi = 0; mi < KC_NUM_MSGS; mi++) {
		const struct kc_msg_info *m = &kc_msgs[mi];
		int16_t v;

		if (m->kind != KC_REQUEST && m->kind != KC_RESPONSE)
			continue;
		for (v = m->min_version; v <= m->max_version; v++) {
			for (it = 0; it < per; it++) {
				struct kc_rand rnd = { .s = mi << 32 | (uint64_t)v << 16 | it,
						       .arena = &ar };
				void *x = calloc(1, m->size);
				struct kc_writer w;
				char path[4096];
				uint8_t hdr[3];
				FILE *f;

				kc_arena_reset(&ar);
				kc_msg_tests[mi].fill(&rnd, v, x);
				kc_writer_init(&w, 1 << 16);
				if (kc_msg_tests[mi].encode(&w, v, x) || w.error) {
					kc_writer_free(&w);
					free(x);
					continue;
				}
				hdr[0] = (uint8_t)m->api_key;
				hdr[1] = (uint8_t)v;
				hdr[2] = (m->kind == KC_RESPONSE) | 3 << 3;	/* 64 KiB arena */
				snprintf(path, sizeof(path), "%s/gen-%s-v%d-%d", argv[1], m->name, v, it);
				f = fopen(path, "wb");
				if (!f) {
					perror(path);
					return 1;
				}
				fwrite(hdr, 1, 3, f);
				fwrite(w.buf, 1, w.len, f);
				fclose(f);
				n++;
				kc_writer_free(&w);
				free(x);
			}
		}
	}
	printf("gen_codec_seeds: %d codec seeds in %s", n, argv[1]);
	if (argc > 2)
		printf(", %d observe seeds in %s", observe_seeds(argv[2], &ar, per), argv[2]);
	printf("\n");
	kc_arena_fini(&ar);
	free(mem);
	return 0;
}
