#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The demo's traffic: demo_workload.py BOOTSTRAP

Runs until interrupted, with confluent-kafka (Debian python3-confluent-kafka):
  - "checkout" producing ~40 orders/s to topic orders (acks=all, batched),
  - "clickstream" producing ~20 events/s to topic clicks with acks=0,
  - consumer group "billing" (two members) reading orders,
  - the slow consumer group "audit" reading orders, one message per second,
    so its committed offsets fall behind.
"""
import random
import signal
import sys
import threading
import time

from confluent_kafka import Consumer, Producer

stop = threading.Event()


def producer(bootstrap, client_id, topic, rate, acks):
    p = Producer({"bootstrap.servers": bootstrap, "client.id": client_id,
                  "acks": acks, "linger.ms": 20})
    n = 0
    while not stop.is_set():
        p.produce(topic, key=str(n % 97).encode(),
                  value=("%s-%d-%s" % (client_id, n, "x" * random.randint(20, 400))).encode())
        p.poll(0)
        n += 1
        time.sleep(1.0 / rate)
    p.flush(5)


def consumer(bootstrap, client_id, group, topic, delay):
    c = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id,
                  "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": True, "auto.commit.interval.ms": 1000,
                  "fetch.max.bytes": 1 << 20, "message.max.bytes": 1 << 20,
                  "max.partition.fetch.bytes": 1 << 14, "queued.max.messages.kbytes": 64,
                  "session.timeout.ms": 6000})
    c.subscribe([topic])
    while not stop.is_set():
        m = c.poll(0.2)
        if m is not None and not m.error() and delay:
            time.sleep(delay)
    c.close()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    bs = sys.argv[1]
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: stop.set())
    threads = [
        threading.Thread(target=producer, args=(bs, "checkout", "orders", 40, "all")),
        threading.Thread(target=producer, args=(bs, "clickstream", "clicks", 20, "0")),
        threading.Thread(target=consumer, args=(bs, "billing-1", "billing", "orders", 0)),
        threading.Thread(target=consumer, args=(bs, "billing-2", "billing", "orders", 0)),
        threading.Thread(target=consumer, args=(bs, "audit", "audit", "orders", 1.0)),
    ]
    for t in threads:
        t.start()
    while not stop.is_set():
        stop.wait(0.5)
    for t in threads:
        t.join(5)


if __name__ == "__main__":
    main()
