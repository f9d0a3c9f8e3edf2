#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""confluent-kafka workload: confluent.py BOOTSTRAP TOPIC N

Uses Debian's python3-confluent-kafka (1.7.0 on the system librdkafka),
hence /usr/bin/python3. Produces N keyed messages tagged with this run's id
(acks=all, idempotence off, batched with linger), then consumes them in a
fresh consumer group with synchronous manual commits, and prints one JSON
line with the truth. client.id: kafkatap-confluent.
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer

CLIENT_ID = "kafkatap-confluent"
TIMEOUT = float(os.environ.get("CLIENT_TIMEOUT", "60"))


def main():
    if len(sys.argv) != 4 or not sys.argv[3].isdigit() or int(sys.argv[3]) < 1:
        print("usage: confluent.py BOOTSTRAP TOPIC N", file=sys.stderr)
        return 2
    bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = "confluent-%d-%d" % (os.getpid(), time.time_ns())
    group = "kafkatap-confluent-%d-%d" % (os.getpid(), int(time.time()))
    deadline = time.monotonic() + TIMEOUT
    delivered, failed = [0], []

    def on_delivery(err, msg):
        if err:
            failed.append(str(err))
        else:
            delivered[0] += 1

    producer = Producer({"bootstrap.servers": bootstrap,
                         "client.id": CLIENT_ID, "acks": "all",
                         "linger.ms": 20, "batch.num.messages": 100,
                         "message.timeout.ms": int(TIMEOUT * 1000 / 2)})
    for i in range(n):
        while True:
            try:
                producer.produce(topic, key=b"k%d" % i,
                                 value=("%s-%d" % (run, i)).encode(),
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(max(1.0, deadline - time.monotonic()))
    if left or failed or delivered[0] != n:
        print("confluent.py: produce: %d delivered, %d failed (%s), %d left"
              % (delivered[0], len(failed), failed[:1], left), file=sys.stderr)
        return 1

    consumer = Consumer({"bootstrap.servers": bootstrap,
                         "client.id": CLIENT_ID, "group.id": group,
                         "auto.offset.reset": "earliest",
                         "enable.auto.commit": False,
                         "session.timeout.ms": 10000})
    consumer.subscribe([topic])
    seen = set()
    commits = 0
    prefix = (run + "-").encode()
    try:
        while len(seen) < n and time.monotonic() < deadline:
            msgs = consumer.consume(num_messages=500, timeout=0.5)
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError("consume: %s" % m.error())
                if m.value().startswith(prefix):
                    seen.add(m.value())
            if msgs:
                consumer.commit(asynchronous=False)
                commits += 1
    finally:
        consumer.close()

    out = {"client": "confluent-kafka", "topic": topic, "produced": delivered[0],
           "consumed": len(seen), "group": group, "commits": commits,
           "client_id": CLIENT_ID}
    print(json.dumps(out, separators=(",", ":")), flush=True)
    if len(seen) != n:
        print("confluent.py: consumed %d of %d" % (len(seen), n), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - any failure is a failed run
        print("confluent.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
