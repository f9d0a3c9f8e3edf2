#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// kafkajs workload: kafkajs.js BOOTSTRAP TOPIC N
//
// Needs `npm ci` (or `npm install`) in tests/clients first (kafkajs pinned in
// package.json). Produces N keyed messages tagged with this run's id in
// batches of up to 100 per send() (acks=-1), then consumes them in a fresh
// consumer group (eachBatch, offsets committed after each batch) and prints
// one JSON line with the truth. client.id: kafkatap-kafkajs.
//
// Against librdkafka's mock cluster (2.0.2):
// - the mock has no CreateTopics, so the topic must exist (mockcluster
//   --topic) or be auto-created by Metadata (allowAutoTopicCreation, default).
// - idempotent/transactional producing is not used.
'use strict';

const { Kafka, Partitioners, logLevel } = require('kafkajs');

const CLIENT_ID = 'kafkatap-kafkajs';
const TIMEOUT_MS = 1000 * Number(process.env.CLIENT_TIMEOUT || 60);

function fail(msg) {
	process.stderr.write(`kafkajs.js: ${msg}\n`);
	process.exit(1);
}

async function main() {
	const [bootstrap, topic, nstr] = process.argv.slice(2);
	if (process.argv.length !== 5 || !/^[0-9]+$/.test(nstr) || Number(nstr) < 1) {
		process.stderr.write('usage: kafkajs.js BOOTSTRAP TOPIC N\n');
		process.exit(2);
	}
	const n = Number(nstr);
	const run = `kafkajs-${process.pid}-${Date.now()}`;
	const group = `kafkatap-kafkajs-${process.pid}-${Math.floor(Date.now() / 1000)}`;
	const kafka = new Kafka({
		clientId: CLIENT_ID,
		brokers: bootstrap.split(','),
		logLevel: logLevel[process.env.KAFKAJS_LOG || 'ERROR'],
		connectionTimeout: 5000,
		requestTimeout: 15000,
		retry: { retries: 5 },
	});

	const producer = kafka.producer({
		allowAutoTopicCreation: true,
		createPartitioner: Partitioners.DefaultPartitioner,
	});
	await producer.connect();
	let produced = 0;
	for (let i = 0; i < n; i += 100) {
		const messages = [];
		for (let j = i; j < Math.min(n, i + 100); j++)
			messages.push({ key: `k${j}`, value: `${run}-${j}` });
		const res = await producer.send({ topic, acks: -1, messages });
		for (const r of res)
			if (r.errorCode)
				fail(`produce error ${r.errorCode} on partition ${r.partition}`);
		produced += messages.length;
	}
	await producer.disconnect();

	const consumer = kafka.consumer({
		groupId: group,
		sessionTimeout: 10000,
		heartbeatInterval: 3000,
		allowAutoTopicCreation: true,
	});
	const seen = new Set();
	let commits = 0;
	let done;
	const finished = new Promise((resolve) => { done = resolve; });
	await consumer.connect();
	await consumer.subscribe({ topics: [topic], fromBeginning: true });
	await consumer.run({
		autoCommit: false,
		eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
			for (const m of batch.messages) {
				const v = m.value.toString();
				if (v.startsWith(`${run}-`))
					seen.add(v);
				resolveOffset(m.offset);
			}
			if (batch.messages.length) {
				const last = batch.messages[batch.messages.length - 1];
				await consumer.commitOffsets([{
					topic: batch.topic,
					partition: batch.partition,
					offset: (BigInt(last.offset) + 1n).toString(),
				}]);
				commits++;
			}
			await heartbeat();
			if (seen.size >= n)
				done();
		},
	});
	const timer = setTimeout(done, TIMEOUT_MS);
	await finished;
	clearTimeout(timer);
	await consumer.disconnect();

	process.stdout.write(JSON.stringify({
		client: 'kafkajs', topic, produced, consumed: seen.size, group,
		commits, client_id: CLIENT_ID,
	}) + '\n');
	if (seen.size !== n)
		fail(`consumed ${seen.size} of ${n}`);
}

// Never hang: a hard cap over everything, including connect/disconnect.
setTimeout(() => fail('timed out'), TIMEOUT_MS + 30000).unref();
main().then(() => process.exit(0), (e) => fail(`${e.name}: ${e.message}`));
