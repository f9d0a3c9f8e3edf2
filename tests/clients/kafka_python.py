#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""kafka-python workload: kafka_python.py BOOTSTRAP TOPIC N

Uses Debian's python3-kafka (kafka-python 2.0.2), hence /usr/bin/python3.
Produces N keyed messages tagged with this run's id (acks=all, batched with
linger), then consumes them in a fresh consumer group with manual commits,
and prints one JSON line with the truth. client.id: kafkatap-kafka-python.
"""
import json
import os
import sys
import time

from kafka import KafkaConsumer, KafkaProducer

CLIENT_ID = "kafkatap-kafka-python"
TIMEOUT = float(os.environ.get("CLIENT_TIMEOUT", "60"))


def main():
    if len(sys.argv) != 4 or not sys.argv[3].isdigit() or int(sys.argv[3]) < 1:
        print("usage: kafka_python.py BOOTSTRAP TOPIC N", file=sys.stderr)
        return 2
    bootstrap, topic, n = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
    run = "kafka-python-%d-%d" % (os.getpid(), time.time_ns())
    group = "kafkatap-kafka-python-%d-%d" % (os.getpid(), int(time.time()))
    deadline = time.monotonic() + TIMEOUT

    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id=CLIENT_ID,
                             acks="all", linger_ms=20, retries=5,
                             request_timeout_ms=15000, max_block_ms=15000)
    futures = [producer.send(topic, key=b"k%d" % i,
                             value=("%s-%d" % (run, i)).encode())
               for i in range(n)]
    producer.flush(timeout=TIMEOUT)
    for f in futures:
        f.get(timeout=max(1.0, deadline - time.monotonic()))
    producer.close(timeout=10)
    produced = len(futures)

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap,
                             client_id=CLIENT_ID, group_id=group,
                             auto_offset_reset="earliest",
                             enable_auto_commit=False,
                             request_timeout_ms=30000,
                             session_timeout_ms=10000,
                             heartbeat_interval_ms=3000)
    seen = set()
    commits = 0
    prefix = (run + "-").encode()
    while len(seen) < n and time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=500)
        for msgs in batch.values():
            for m in msgs:
                if m.value.startswith(prefix):
                    seen.add(m.value)
        if batch:
            consumer.commit()
            commits += 1
    consumer.close(autocommit=False)

    out = {"client": "kafka-python", "topic": topic, "produced": produced,
           "consumed": len(seen), "group": group, "commits": commits,
           "client_id": CLIENT_ID}
    print(json.dumps(out, separators=(",", ":")), flush=True)
    if len(seen) != n:
        print("kafka_python.py: consumed %d of %d" % (len(seen), n),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - any failure is a failed run
        print("kafka_python.py: %s: %s" % (type(e).__name__, e),
              file=sys.stderr)
        sys.exit(1)
