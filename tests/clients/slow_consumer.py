#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Slow consumer for the demo: slow_consumer.py BOOTSTRAP TOPIC [options]

A confluent-kafka (Debian python3-confluent-kafka) consumer in a group that
sleeps --delay seconds after each message, for --duration seconds, then
leaves the group and prints one JSON line. Prefetching is kept tiny so its
slowness shows on the wire: small FetchResponses spaced out over time and
committed offsets (auto commit every second) that trail the log end.
client.id: kafkatap-slow-consumer. Exit 0 even if the topic was empty,
1 if it never got partitions assigned (no broker, or more members than
partitions in the group).
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError

CLIENT_ID = "kafkatap-slow-consumer"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("--duration", type=float, default=20.0,
                    help="seconds to run (default 20)")
    ap.add_argument("--delay", type=float, default=0.5,
                    help="seconds to sleep after each message (default 0.5)")
    ap.add_argument("--group", default="kafkatap-slow-consumer",
                    help="consumer group (default kafkatap-slow-consumer)")
    args = ap.parse_args()
    if args.duration <= 0 or args.duration > 3600 or args.delay < 0:
        ap.error("need 0 < --duration <= 3600 and --delay >= 0")

    consumer = Consumer({"bootstrap.servers": args.bootstrap,
                         "client.id": CLIENT_ID, "group.id": args.group,
                         "auto.offset.reset": "earliest",
                         "enable.auto.commit": True,
                         "auto.commit.interval.ms": 1000,
                         # the mock makes a re-join of an existing group
                         # wait about session.timeout.ms - 1s: keep it low
                         "session.timeout.ms": 6000,
                         # keep the local queue (and so each fetch) small
                         "queued.min.messages": 1,
                         "queued.max.messages.kbytes": 1,
                         "fetch.message.max.bytes": 1024,
                         "fetch.max.bytes": 1024,
                         "message.max.bytes": 1000,
                         "fetch.wait.max.ms": 100})
    assigned = []

    def on_assign(c, parts):
        assigned[:] = sorted(p.partition for p in parts)

    consumer.subscribe([args.topic], on_assign=on_assign)
    joined = False
    start = time.monotonic()
    end = start + args.duration
    consumed = 0
    try:
        while time.monotonic() < end:
            m = consumer.poll(min(0.5, max(0.0, end - time.monotonic())))
            joined = joined or bool(assigned)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError("consume: %s" % m.error())
            consumed += 1
            time.sleep(min(args.delay, max(0.0, end - time.monotonic())))
    finally:
        consumer.close()
    out = {"client": "slow-consumer", "topic": args.topic, "consumed": consumed,
           "group": args.group, "delay": args.delay,
           "duration": round(time.monotonic() - start, 2),
           "partitions": assigned, "client_id": CLIENT_ID}
    print(json.dumps(out, separators=(",", ":")), flush=True)
    if not joined:
        print("slow_consumer.py: never got a partition assignment",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - any failure is a failed run
        print("slow_consumer.py: %s: %s" % (type(e).__name__, e),
              file=sys.stderr)
        sys.exit(1)
