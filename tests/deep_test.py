#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Deep decoding, live: librdkafka's mock cluster on lo, `kafkatap serve`
and `kafkatap trace` attached at the same time, real clients whose truth is
known exactly. Every check compares what kafkatap reports (scraped
/metrics, parsed; trace JSON lines) with that truth:

  1 codecs      none/gzip/snappy/lz4/zstd: produced records == N, fetched
                records == what the consumer read, compressed bytes < none
  2 multi       one-broker cluster: ProduceRequests holding two topics
  3 retry       injected NOT_LEADER errors: 2 partition errors, N records
  4 txn         transactional producer: transactional_id in the trace
  5 group       consumer group 2 -> 3 -> 2 members, generations, rebalances
  6 lag         committed offsets and high watermarks: lag == N - M
  7 clients     kcat, confluent-kafka, kafka-python, kafkajs truths
  8 software    ApiVersions v3+ client software names and versions
  9 agree       trace and serve agree on records per topic

Needs root (BPF), kcat, tshark, node (+ npm ci in tests/clients), Debian's
python3-confluent-kafka and python3-kafka, hence /usr/bin/python3.
Logs: tests/out/deep.*
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_test as L  # noqa: E402

from confluent_kafka import (OFFSET_BEGINNING, Consumer,  # noqa: E402
                             Producer, TopicPartition)
import confluent_kafka  # noqa: E402

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
N_CODEC = 300
N_MULTI = 150          # per topic
N_RETRY = 100
N_TXN = 120
N_LAG, M_LAG = 500, 200
N_CLIENT = 200
GROUP = "deep-group"
GROUP_PARTS = 6
TXN_ID = "kafkatap-txn-1"
# The mock delays a rebalance of a live group by session.timeout.ms - 1 s.
SESSION_MS = 3000

OUT = L.OUT
ENV = None
CK = L.Checks()         # 'ok ...' or 'FAIL ...' (the run goes on, exit 1)
check, failures = CK.check, CK.failed


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- metrics

parse = L.parse_metrics


class Metrics:
    def __init__(self, url):
        self.url = url
        self.last = {}

    def scrape(self):
        with urllib.request.urlopen(self.url, timeout=10) as r:
            self.last = parse(r.read().decode())
        return self

    def series(self, name, **want):
        return {l: v for (n, l), v in self.last.items()
                if n == name and all(dict(l).get(k) == v2 for k, v2 in want.items())}

    def sum(self, name, **want):
        return sum(self.series(name, **want).values())

    def get(self, name, **want):
        """The single series with exactly these labels (None if absent)."""
        for l, v in self.series(name, **want).items():
            if dict(l) == want:
                return v
        return None

    def settle(self, fn, want, timeout=5):
        """Scrape until fn(self) == want (or timeout), then once more after
        a pause: a value that overshoots afterwards is seen too."""
        end = time.time() + timeout
        while True:
            v = fn(self.scrape())
            if v == want or time.time() > end:
                break
            time.sleep(0.1)
        if v == want:
            time.sleep(0.6)
            v = fn(self.scrape())
        return v


# ---------------------------------------------------------------- trace

class Trace:
    def __init__(self, path):
        self.path = path

    def lines(self):
        out = []
        with open(self.path) as f:
            for raw in f:
                if raw.endswith("\n") and raw.strip():
                    out.append(json.loads(raw))
        return out

    def wait(self, pred, what, count=1, timeout=10):
        """Lines matching pred, once there are at least count of them."""
        end = time.time() + timeout
        while True:
            got = [j for j in self.lines() if pred(j)]
            if len(got) >= count or time.time() > end:
                return got
            time.sleep(0.2)


def trace_records(lines, api, topic, client_id=None):
    """Records per topic from trace lines that kafkatap counts: Produce
    partitions answered NONE (or acks=0 without a response), Fetch partitions
    answered NONE."""
    n = 0
    for j in lines:
        if j["api"] != api or (client_id and j["client_id"] != client_id):
            continue
        for t in j.get("topics", []):
            if t["topic"] == topic and t["records"] is not None and (
                    t["error"] == "NONE" or (j["status"] == "no_response" and t["error"] is None)):
                n += t["records"]
    return n


# ---------------------------------------------------------------- processes

def start_kafkatap(env, ports):
    plist = ",".join(map(str, ports))
    serve, base, _ = L.start_serve(env, ports, ["--stats"], tag="deep.serve")
    trace_path = os.path.join(OUT, "deep.trace.jsonl")
    trace_err = os.path.join(OUT, "deep.trace.err")
    trace = env.spawn([L.KAFKATAP, "trace", "-v", "--stats", "-i", "lo", "-p", plist],
                      stdout=open(trace_path, "w"), stderr=open(trace_err, "w"))
    L.wait_for(lambda: "watching" in open(trace_err).read() or trace.poll() is not None,
               "kafkatap trace to attach")
    if trace.poll() is not None:
        raise RuntimeError("kafkatap trace exited: " + open(trace_err).read())
    return serve, trace, Metrics(base + "/metrics"), Trace(trace_path)


# ---------------------------------------------------------------- clients

def produce(bootstrap, client_id, msgs, timeout=30, **conf):
    """msgs: [(topic, key, value)]. Returns the count delivered; raises on
    any delivery error."""
    c = {"bootstrap.servers": bootstrap, "client.id": client_id, "acks": "all",
         "linger.ms": 50, "batch.num.messages": 40, "log_level": 3}
    c.update(conf)
    p = Producer(c)
    ok, bad = [0], []

    def cb(err, _msg):
        if err:
            bad.append(str(err))
        else:
            ok[0] += 1
    for t, k, v in msgs:
        while True:
            try:
                p.produce(t, key=k, value=v, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(timeout)
    if bad or left or ok[0] != len(msgs):
        raise RuntimeError("%s: %d delivered, %d left, errors %s" % (client_id, ok[0], left, bad[:3]))
    return ok[0]


def consume_all(bootstrap, client_id, topic, partitions, n, timeout=30):
    """A consumer without a group (assign from the beginning) reading until
    n distinct messages: (messages delivered, distinct)."""
    c = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id,
                  "group.id": client_id, "enable.auto.commit": False,
                  "enable.partition.eof": False, "log_level": 3})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    seen, total = set(), 0
    end = time.time() + timeout
    try:
        while len(seen) < n and time.time() < end:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    raise RuntimeError("%s: %s" % (client_id, m.error()))
                total += 1
                seen.add(m.value())
    finally:
        c.close()
    return total, len(seen)


def payload(tag, i):
    # Compressible: the same 200 bytes in every record, a distinct prefix.
    return ("%s-%06d|" % (tag, i)).encode() + b"kafkatap deep decoding " * 9


# ---------------------------------------------------------------- checks

def check_codecs(a, m, tr):
    bytes_by_codec = {}
    for codec in CODECS:
        topic = "deep-%s" % codec
        pid, cid = "deep-p-%s" % codec, "deep-c-%s" % codec
        msgs = [(topic, b"k%d" % i, payload(codec, i)) for i in range(N_CODEC)]
        sent = produce(a.bootstrap, pid, msgs, **{"compression.type": codec})
        total, distinct = consume_all(a.bootstrap, cid, topic, 3, N_CODEC)
        if not check(sent == N_CODEC and total == distinct == N_CODEC,
                     "%s: client truth: %d produced, consumer read %d (%d distinct)" % (
                         codec, sent, total, distinct)):
            continue
        got = m.settle(lambda s: s.sum("kafkatap_produced_records_total", topic=topic), N_CODEC)
        check(got == N_CODEC, "%s: produced_records_total{topic=%s} = %s, produced %d" % (
            codec, topic, got, N_CODEC))
        # Nothing else produced here: every series of the topic is the producer's.
        check(set(dict(l)["client_id"] for l in m.series(
            "kafkatap_produced_records_total", topic=topic)) == {pid},
            "%s: produced records are all under client_id=%s" % (codec, pid))
        # Every ProduceRequest's partitions decoded (the trace says which not).
        lines = [j for j in tr.lines() if j["api"] == "Produce" and j["client_id"] == pid]
        blind = [j for j in lines if not j.get("topics")]
        check(lines and not blind, "%s: %d of %d ProduceRequests decoded%s" % (
            codec, len(lines) - len(blind), len(lines), "" if not blind else
            "; not: %s" % ", ".join("%s corr %d (%d bytes, request_captured %s)" % (
                j["client"], j["correlation_id"], j["request_bytes"], j.get("request_captured"))
                for j in blind[:4])))
        # librdkafka fetches each partition from the offset after the last
        # batch it got and never re-fetches without an error, seek or
        # reassignment (none here); the mock returns whole batches: every
        # record reaches the consumer in exactly one Fetch response.
        fet = m.settle(lambda s: s.sum("kafkatap_fetched_records_total", topic=topic,
                                       client_id=cid), total)
        check(fet == total and fet >= N_CODEC,
              "%s: fetched_records_total{client_id=%s} = %s, consumer read %d" % (
                  codec, cid, fet, total))
        pb = m.sum("kafkatap_produced_bytes_total", topic=topic)
        fb = m.sum("kafkatap_fetched_bytes_total", topic=topic, client_id=cid)
        # The mock stores batches as sent: each comes back with the same size.
        check(pb > 0 and fb == pb, "%s: produced_bytes %d > 0, fetched_bytes %d == produced" % (
            codec, pb, fb))
        bytes_by_codec[codec] = pb
    for codec in CODECS[1:]:
        if codec in bytes_by_codec and "none" in bytes_by_codec:
            check(bytes_by_codec[codec] < bytes_by_codec["none"],
                  "%s: %d produced bytes < %d uncompressed" % (
                      codec, bytes_by_codec[codec], bytes_by_codec["none"]))


def check_multi(b, m, tr):
    # librdkafka (kcat, confluent-kafka) puts one partition in each
    # ProduceRequest; kafka-python drains every partition the broker leads
    # into one request: two topics on a one-broker cluster share requests.
    # One request in flight, so that no two requests share a segment (see
    # check 1 for that case).
    from kafka import KafkaProducer
    ta, tb = "deep-multi-a", "deep-multi-b"
    p = KafkaProducer(bootstrap_servers=b.bootstrap.split(","), client_id="deep-multi",
                      acks="all", linger_ms=100, max_in_flight_requests_per_connection=1,
                      retries=0)
    futs = []
    for i in range(N_MULTI):
        futs.append(p.send(ta, key=b"a%d" % i, value=payload("a", i)))
        futs.append(p.send(tb, key=b"b%d" % i, value=payload("b", i)))
    p.flush(30)
    sent = {ta: 0, tb: 0}
    for f in futs:
        sent[f.get(timeout=10).topic] += 1
    p.close(10)
    check(sent == {ta: N_MULTI, tb: N_MULTI}, "multi: client truth: delivered %s" % sent)
    for t in (ta, tb):
        got = m.settle(lambda s, t=t: s.sum("kafkatap_produced_records_total", topic=t), N_MULTI)
        check(got == N_MULTI, "multi: produced_records_total{topic=%s} = %s, produced %d" % (
            t, got, N_MULTI))
    lines = tr.wait(lambda j: j["api"] == "Produce" and j["client_id"] == "deep-multi",
                    "multi Produce lines", timeout=5)
    both = [j for j in lines if len({t["topic"] for t in j.get("topics", [])}) >= 2]
    check(len(both) >= 1, "multi: %d of %d Produce requests carry both topics" % (
        len(both), len(lines)))
    for t in (ta, tb):
        n = trace_records(lines, "Produce", t)
        check(n == N_MULTI, "multi: trace records for %s = %d, produced %d" % (t, n, N_MULTI))


def check_retry(a, m, tr):
    topic = "deep-retry"
    ans = a.command("push_errors 0 NOT_LEADER_FOR_PARTITION,NOT_LEADER_FOR_PARTITION")
    if not check(ans == "OK", "retry: mock accepts push_errors (%s)" % ans):
        return
    msgs = [(topic, b"k%d" % i, payload("retry", i)) for i in range(N_RETRY)]
    sent = produce(a.bootstrap, "deep-retry", msgs, **{"linger.ms": 20, "retry.backoff.ms": 50,
                                                       "batch.num.messages": 1000})
    # The log end offset (ListOffsets, by a separate client) is the truth of
    # what the mock appended: failed attempts appended nothing.
    c = Consumer({"bootstrap.servers": a.bootstrap, "client.id": "deep-retry-wm",
                  "group.id": "deep-retry-wm", "log_level": 3})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    check(sent == N_RETRY and (lo, hi) == (0, N_RETRY),
          "retry: client truth: %d delivered, log offsets %d..%d" % (sent, lo, hi))
    errs = m.settle(lambda s: s.get("kafkatap_partition_errors_total", api="Produce", topic=topic,
                                    error="NOT_LEADER_OR_FOLLOWER"), 2)
    check(errs == 2, "retry: partition_errors_total{api=Produce,topic=%s,"
          "error=NOT_LEADER_OR_FOLLOWER} = %s, injected 2" % (topic, errs))
    other = {dict(l)["error"]: v for l, v in m.series("kafkatap_partition_errors_total",
                                                      topic=topic).items()}
    check(set(other) == {"NOT_LEADER_OR_FOLLOWER"}, "retry: no other partition errors: %s" % other)
    got = m.sum("kafkatap_produced_records_total", topic=topic)
    check(got == N_RETRY, "retry: produced_records_total = %s, delivered %d (failed attempts "
          "not counted)" % (got, N_RETRY))
    lines = tr.wait(lambda j: j["api"] == "Produce" and j["client_id"] == "deep-retry",
                    "retry Produce lines", 3)
    failed = [j for j in lines if any(t["error"] == "NOT_LEADER_OR_FOLLOWER"
                                      for t in j.get("topics", []))]
    check(len(failed) == 2 and all(j["status"] == "ok" for j in failed),
          "retry: trace has %d Produce exchanges answered NOT_LEADER_OR_FOLLOWER (corr %s)" % (
              len(failed), [j["correlation_id"] for j in failed]))
    n = trace_records(lines, "Produce", topic)
    check(n == N_RETRY, "retry: trace records answered NONE = %d" % n)


def check_txn(a, m, tr):
    topic = "deep-txn"
    p = Producer({"bootstrap.servers": a.bootstrap, "client.id": "deep-txn",
                  "transactional.id": TXN_ID, "linger.ms": 20, "log_level": 3})
    ok = [0]
    try:
        p.init_transactions(15)
        p.begin_transaction()
        for i in range(N_TXN):
            p.produce(topic, key=b"k%d" % i, value=payload("txn", i),
                      on_delivery=lambda e, _m: ok.__setitem__(0, ok[0] + (0 if e else 1)))
            p.poll(0)
        p.commit_transaction(15)
    except confluent_kafka.KafkaException as e:
        check(False, "txn: the mock did not complete the transaction: %s" % e)
        return
    p.flush(5)
    check(ok[0] == N_TXN, "txn: client truth: transaction committed, %d delivered" % ok[0])
    got = m.settle(lambda s: s.sum("kafkatap_produced_records_total", topic=topic), N_TXN)
    check(got == N_TXN, "txn: produced_records_total{topic=%s} = %s, produced %d" % (
        topic, got, N_TXN))
    lines = tr.wait(lambda j: j["client_id"] == "deep-txn" and j["api"] == "EndTxn",
                    "EndTxn", timeout=5)
    lines = [j for j in tr.lines() if j["client_id"] == "deep-txn"]
    for api in ("InitProducerId", "AddPartitionsToTxn", "Produce", "EndTxn"):
        got = [j for j in lines if j["api"] == api]
        tagged = [j for j in got if j.get("transactional_id") == TXN_ID]
        check(got and len(tagged) == len(got),
              "txn: %d of %d %s lines carry transactional_id %s" % (
                  len(tagged), len(got), api, TXN_ID))
    n = trace_records(lines, "Produce", topic)
    check(n == N_TXN, "txn: trace records = %d" % n)


class GroupMember:
    """A confluent-kafka consumer in GROUP, polled in its own thread."""

    def __init__(self, bootstrap, idx):
        self.idx = idx
        self.assigned = None
        self.assigns = 0
        self.stop = threading.Event()
        self.closed = threading.Event()
        self.error = None
        self.c = Consumer({"bootstrap.servers": bootstrap, "client.id": "deep-group-%d" % idx,
                           "group.id": GROUP, "session.timeout.ms": SESSION_MS,
                           "heartbeat.interval.ms": 300, "enable.auto.commit": False,
                           "auto.offset.reset": "earliest", "log_level": 3})
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def on_assign(self, _c, parts):
        self.assigned = sorted(p.partition for p in parts)
        self.assigns += 1

    def on_revoke(self, _c, _parts):
        self.assigned = None

    def run(self):
        try:
            self.c.subscribe(["deep-group"], on_assign=self.on_assign, on_revoke=self.on_revoke)
            while not self.stop.is_set():
                self.c.poll(0.1)
        except Exception as e:  # noqa: BLE001
            self.error = e
        finally:
            self.c.close()      # LeaveGroup
            self.closed.set()

    def leave(self):
        self.stop.set()
        self.closed.wait(15)


def wait_assigned(members, what, timeout=30):
    """Every member holds partitions, together all of them, none twice."""
    def done():
        a = [m.assigned for m in members]
        return all(a) and sorted(sum(a, [])) == list(range(GROUP_PARTS))
    L.wait_for(done, what, timeout)


class JoinWire:
    """tshark, live on lo, decoding the JoinGroup responses on the wire:
    the truth of generations and of the leader's member lists. tshark's
    output lags the wire: a marker request (ApiVersions v0 with a known
    correlation id) tells when it has caught up."""

    def __init__(self, ports):
        self.ports = ports
        self.marker = 0x5eed0000
        self.path = os.path.join(OUT, "deep.joingroup.txt")
        err = os.path.join(OUT, "deep.tshark.err")
        cmd = ["tshark", "-i", "lo", "-l", "-f", " or ".join("tcp port %d" % p for p in ports)]
        for p in ports:
            cmd += ["-d", "tcp.port==%d,kafka" % p]
        cmd += ["-Y", 'kafka.response_key == 11 || kafka.client_id == "deep-sync"',
                "-T", "fields", "-E", "separator=|", "-e", "kafka.error",
                "-e", "kafka.generation_id", "-e", "kafka.member_id", "-e", "kafka.correlation_id"]
        self.p = ENV.spawn(cmd, stdout=open(self.path, "w"), stderr=open(err, "w"))
        L.wait_for(lambda: "Capturing on" in open(err).read(), "tshark to capture")
        time.sleep(0.3)

    def sync(self):
        self.marker += 1
        cid = b"deep-sync"
        body = struct.pack(">hhih", 18, 0, self.marker, len(cid)) + cid
        with socket.create_connection(("127.0.0.1", self.ports[0]), timeout=5) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            s.recv(4096)
        want = "|%d" % self.marker
        L.wait_for(lambda: any(l.rstrip("\n").endswith(want) for l in open(self.path)),
                   "tshark to decode the marker", 20)

    def truth(self):
        """(members listed by the newest generation's leader, newest
        generation, generations seen - 1) from successful responses."""
        self.sync()
        gens, members = set(), {}
        for line in open(self.path):
            f = line.rstrip("\n").split("|")
            if len(f) != 4 or f[0] != "0" or not f[1]:
                continue
            g = int(f[1])
            gens.add(g)
            ids = f[2].split(",") if f[2] else []
            if len(ids) > 1:        # the leader's: its own id, then the list
                members[g] = len(ids) - 1
        if not gens:
            return None
        return (members.get(max(gens)), max(gens), len(gens) - 1)


def check_group(a, m, tr):
    def state(s):
        return (s.get("kafkatap_consumer_group_members", group=GROUP),
                s.get("kafkatap_consumer_group_generation", group=GROUP),
                s.get("kafkatap_consumer_group_rebalances_total", group=GROUP))
    # Expected: members as listed by the newest generation's leader
    # response, the newest generation, and one rebalance per generation
    # after the first (kafkatap watched the group from its creation, and
    # does not count the first generation it sees). tshark gives those.
    # The mock starts a group at generation 1 and elects a leader (+1) once
    # per step when nothing is slow: 2 members joining within its initial
    # 3 s delay -> 2; a 3rd joining a stable group -> 3; one leaving -> 4.
    # Under load it may take an extra election: the wire says.
    wire = JoinWire(a.ports)
    members = []
    nominal = [(2, 2, 0), (3, 3, 1), (2, 4, 2)]

    def step(k, what):
        want = wire.truth()
        got = m.settle(state, want)
        check(want is not None and got == want,
              "group: %s: (members, generation, rebalances) = %s, on the wire %s%s" % (
                  what, got, want, "" if want == nominal[k] else
                  " (the mock took extra elections; nominal %s)" % (nominal[k],)))
    try:
        members += [GroupMember(a.bootstrap, 1), GroupMember(a.bootstrap, 2)]
        wait_assigned(members, "2 members to hold the partitions")
        step(0, "2 members joined")
        before = [x.assigns for x in members]
        members.append(GroupMember(a.bootstrap, 3))
        L.wait_for(lambda: members[2].assigned and all(
            x.assigns > b for x, b in zip(members, before)), "the third member's rebalance", 30)
        wait_assigned(members, "3 members to hold the partitions")
        step(1, "a 3rd member joined")
        before = [x.assigns for x in members[:2]]
        members[2].leave()
        L.wait_for(lambda: all(x.assigns > b for x, b in zip(members[:2], before)),
                   "the rebalance after a LeaveGroup", 30)
        wait_assigned(members[:2], "2 members to hold the partitions again")
        step(2, "one member left")
        errs = [x.error for x in members if x.error]
        check(not errs, "group: consumers ran without errors %s" % errs)
    finally:
        for x in members:
            x.stop.set()
        for x in members:
            x.closed.wait(15)
        ENV.stop(wire.p)
    lines = tr.lines()
    leaves = [j for j in lines if j["api"] == "LeaveGroup" and j.get("group") == GROUP]
    check(len(leaves) >= 1 and leaves[0]["client_id"] == "deep-group-3",
          "group: the trace shows deep-group-3's LeaveGroup first (%d LeaveGroup lines)" % len(leaves))


def check_lag(a, m, tr):
    topic, group = "deep-lag", "deep-lag-group"
    # Record i has CreateTime t0 + i s (in the past); batches of at most
    # 10 records, so a partition's batches all fit the tracker's memory.
    t0 = int(time.time() * 1000) - (N_LAG + 60) * 1000
    ts = {}      # (partition, offset) -> CreateTime ms (delivery reports: where record i went)
    p = Producer({"bootstrap.servers": a.bootstrap, "client.id": "deep-lag-prod",
                  "acks": "all", "linger.ms": 20, "batch.num.messages": 10, "log_level": 3})

    def cb(err, msg):
        if not err:      # (the mock answers a made-up LogAppendTime: use our own)
            ts[(msg.partition(), msg.offset())] = t0 + 1000 * int(msg.key()[1:])
    for i in range(N_LAG):
        p.produce(topic, key=b"k%d" % i, value=payload("lag", i), timestamp=t0 + 1000 * i,
                  on_delivery=cb)
        p.poll(0)
    p.flush(30)
    got = m.settle(lambda s: s.sum("kafkatap_produced_records_total", topic=topic), len(ts))
    check(len(ts) == N_LAG and got == N_LAG, "lag: %d delivered (batches of 10, pipelined), "
          "produced_records_total{topic=%s} = %s" % (len(ts), topic, got))
    c = Consumer({"bootstrap.servers": a.bootstrap, "client.id": "deep-lag-cons",
                  "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": SESSION_MS,
                  "log_level": 3})
    c.subscribe([topic])
    per = {}
    end = time.time() + 30
    try:
        while sum(per.values()) < M_LAG and time.time() < end:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            # Messages of a partition come in offset order: per partition,
            # the M read are a prefix and offset + 1 is the next to read.
            per[msg.partition()] = msg.offset() + 1
        # The cached high watermarks are those of the consumer's Fetch
        # responses, for the partitions it got records of (librdkafka
        # fetches all three at once: kafkatap sees each one's high
        # watermark even when the consumer stopped before reading it).
        hwm = {p: c.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1]
               for p in range(3)}
        offsets = [TopicPartition(topic, p, per.get(p, 0)) for p in range(3)]
        c.commit(offsets=offsets, asynchronous=False)
    finally:
        c.close()
    read = sum(per.values())
    # The high watermarks' truth is the producer's: the last offset it was
    # told of + 1. The consumer's cached ones are shown beside (-1001 where
    # it got no records of a partition before stopping).
    ends = {q: 1 + max([o for (pp, o) in ts if pp == q], default=-1) for q in range(3)}
    check(read == M_LAG and sum(ends.values()) == N_LAG,
          "lag: client truth: read %d, committed %s, high watermarks %s (the consumer's "
          "cached: %s)" % (read, {p: per.get(p, 0) for p in range(3)}, ends, hwm))
    want = N_LAG - M_LAG
    got = m.settle(lambda s: s.get("kafkatap_consumer_group_lag_records", group=group,
                                   topic=topic), want)
    check(got == want, "lag: consumer_group_lag_records{group=%s,topic=%s} = %s, want %d "
          "(hwm from Fetch)" % (group, topic, got, want))
    # lag_seconds needs the newest batch of each partition seen in a Fetch
    # response; the consumer above stopped early (the mock sends one batch
    # per partition per Fetch), so until now it is understated, as the
    # README says. A reader outside the group fetches everything.
    before = m.scrape().get("kafkatap_consumer_group_lag_seconds", group=group, topic=topic)
    total, distinct = consume_all(a.bootstrap, "deep-lag-reader", topic, 3, N_LAG)
    check(total == distinct == N_LAG, "lag: a reader outside the group read %d (%d distinct)" % (
        total, distinct))
    # Per partition: newest batch's max timestamp minus that of the batch
    # holding the committed offset c, which is ts(c) .. ts(c + 9) (batches
    # of <= 10 records, timestamps rising with offsets). The topic: the max.
    # A partition read to its end (committed = last offset + 1) has no lag.
    last = {q: max(o for (pp, o) in ts if pp == q) for q in range(3)}
    hi = max((ts[(q, last[q])] - ts[(q, min(per.get(q, 0), last[q]))]) / 1000
             for q in range(3))
    lo = max((ts[(q, last[q])] - ts[(q, min(per.get(q, 0) + 9, last[q]))]) / 1000
             for q in range(3))
    time.sleep(1)
    secs = m.scrape().get("kafkatap_consumer_group_lag_seconds", group=group, topic=topic)
    check(secs is not None and lo <= secs <= hi,
          "lag: consumer_group_lag_seconds = %s (before the reader: %s), truth between %.0f "
          "and %.0f" % (secs, before, lo, hi))
    # ListOffsets (LATEST) gives the same high watermarks.
    w = Consumer({"bootstrap.servers": a.bootstrap, "client.id": "deep-lag-wm",
                  "group.id": "deep-lag-wm", "log_level": 3})
    ends = [w.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            for p in range(3)]
    w.close()
    lol = tr.wait(lambda j: j["api"] == "ListOffsets" and j["client_id"] == "deep-lag-wm",
                  "ListOffsets", count=3, timeout=5)
    got = m.settle(lambda s: s.get("kafkatap_consumer_group_lag_records", group=group,
                                   topic=topic), want)
    check(sum(ends) == N_LAG and len(lol) >= 3 and got == want,
          "lag: after %d ListOffsets (ends %s): lag_records still %s" % (len(lol), ends, got))


def check_clients(a, m, tr):
    clients = [
        ("kcat", [os.path.join(L.CLIENTS, "kcat.sh")]),
        ("confluent", [os.path.join(L.CLIENTS, "confluent.py")]),
        ("kafka-python", [os.path.join(L.CLIENTS, "kafka_python.py")]),
        ("kafkajs", ["node", os.path.join(L.CLIENTS, "kafkajs.js")]),
    ]
    for name, cmd in clients:
        topic = "deep-cli-%s" % name
        t0 = time.time()
        r = subprocess.run(cmd + [a.bootstrap, topic, str(N_CLIENT)], capture_output=True,
                           text=True, timeout=150)
        with open(os.path.join(OUT, "deep.client-%s.err" % name), "w") as f:
            f.write(r.stderr)
        try:
            truth = json.loads(r.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            truth = {}
        if not check(r.returncode == 0 and truth.get("produced") == N_CLIENT,
                     "%s: client truth (%.1fs): %s" % (name, time.time() - t0, truth or r.stderr[-300:])):
            continue
        if name == "kcat":
            want = {"kafkatap-kcat": truth["produced_acks_all"],
                    "kafkatap-kcat-acks0": truth["produced_acks0"]}
        else:
            want = {truth["client_id"]: truth["produced"]}
        for cid, n in want.items():
            got = m.settle(lambda s, cid=cid: s.get("kafkatap_produced_records_total",
                                                    topic=topic, client_id=cid), n)
            check(got == n, "%s: produced_records_total{topic=%s,client_id=%s} = %s, produced %d"
                  % (name, topic, cid, got, n))
        got = m.sum("kafkatap_produced_records_total", topic=topic)
        check(got == truth["produced"], "%s: produced_records_total{topic=%s} summed = %s" % (
            name, topic, got))
        fet = m.sum("kafkatap_fetched_records_total", topic=topic, client_id=truth["client_id"])
        check(fet >= truth["consumed"], "%s: fetched_records_total{client_id=%s} = %s >= %d consumed"
              % (name, truth["client_id"], fet, truth["consumed"]))


def check_software(a, m, tr):
    m.scrape()
    lines = tr.lines()
    lib = confluent_kafka.libversion()[0]
    # confluent-kafka-python names itself (KIP-511 fields it sets on top of
    # librdkafka); kcat leaves librdkafka's defaults. Same system librdkafka.
    want = {
        "kafkatap-confluent": ("confluent-kafka-python",
                               "%s-rdkafka-%s" % (confluent_kafka.version()[0], lib)),
        "kafkatap-kcat": ("librdkafka", lib),
        "deep-txn": ("confluent-kafka-python",
                     "%s-rdkafka-%s" % (confluent_kafka.version()[0], lib)),
    }
    for cid, (name, ver) in want.items():
        v3 = [j for j in lines if j["api"] == "ApiVersions" and j["client_id"] == cid and
              j["api_version"] >= 3]
        sent = {(j.get("software_name"), j.get("software_version")) for j in v3}
        check(v3 and sent == {(name, ver)},
              "software: %s sent ApiVersions v3+ %d times, trace says %s" % (cid, len(v3), sent))
        got = m.series("kafkatap_client_info", client_id=cid)
        check({(dict(l)["software_name"], dict(l)["software_version"]): v
               for l, v in got.items()} == {(name, ver): 1},
              "software: client_info{client_id=%s,software_name=%s,software_version=%s} == 1, "
              "alone" % (cid, name, ver))
    # kafkajs 2.x and kafka-python 2.0 stop at ApiVersions v2 / v1: no software fields.
    for cid in ("kafkatap-kafkajs", "kafkatap-kafka-python"):
        vers = sorted({j["api_version"] for j in lines if j["api"] == "ApiVersions" and
                       j["client_id"] == cid})
        got = m.series("kafkatap_client_info", client_id=cid)
        if vers and max(vers) >= 3:
            check(len(got) == 1, "software: %s sends ApiVersions v%s: client_info %s" % (
                cid, vers, got))
        else:
            check(vers and not got, "software: %s sends ApiVersions v%s (< 3): no client_info "
                  "series (%d)" % (cid, vers, len(got)))
    # Both processes decode the same: every v3 request's software in the
    # trace is a client_info series, and every series is in the trace.
    from_trace = {(j["client_id"], j.get("software_name"), j.get("software_version"))
                  for j in lines if j["api"] == "ApiVersions" and j["api_version"] >= 3}
    from_metrics = {(dict(l)["client_id"], dict(l)["software_name"], dict(l)["software_version"])
                    for l in m.series("kafkatap_client_info")}
    check(from_trace == from_metrics, "software: trace and serve agree on %d (client_id, "
          "software) pairs%s" % (len(from_metrics), "" if from_trace == from_metrics else
                                 ": only trace %s, only serve %s" % (
                                     from_trace - from_metrics, from_metrics - from_trace)))


def check_agree(a, m, tr):
    """Every topic: trace and serve count the same produced and fetched records."""
    time.sleep(1.5)
    m.scrape()
    lines = tr.lines()
    bad = []
    topics = {dict(l)["topic"] for l in m.series("kafkatap_produced_records_total")}
    for t in sorted(topics):
        for api, fam in (("Produce", "kafkatap_produced_records_total"),
                         ("Fetch", "kafkatap_fetched_records_total")):
            x, y = trace_records(lines, api, t), m.sum(fam, topic=t)
            if x != y:
                bad.append("%s %s: trace %d, metrics %d" % (t, api, x, y))
    check(topics and not bad, "agree: trace and serve count the same records for %d topics %s" % (
        len(topics), bad))


def main():
    if os.geteuid() != 0:
        log("deep_test: needs root (BPF)")
        return 77
    for tool in ("kcat", "node", "tshark"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            log("deep_test: %s is missing: run tools/install-deps.sh" % tool)
            return 1
    global ENV
    os.makedirs(OUT, exist_ok=True)
    env = ENV = L.Env()
    t_all = time.time()
    a = b = None
    try:
        topics = [("deep-%s" % c, 3) for c in CODECS] + [
            ("deep-retry", 1), ("deep-txn", 3), (GROUP, GROUP_PARTS), ("deep-lag", 3)] + [
            ("deep-cli-%s" % c, 3) for c in ("kcat", "confluent", "kafka-python", "kafkajs")]
        a = L.Mock(env, "deep.a", 3, topics, commands=True)
        b = L.Mock(env, "deep.b", 1, [("deep-multi-a", 2), ("deep-multi-b", 2)])
        serve, trace, m, tr = start_kafkatap(env, a.ports + b.ports)
        log("mock clusters %s and %s; kafkatap serve and trace attached" % (
            a.bootstrap, b.bootstrap))
        for name, fn, mc in (("1 codecs", check_codecs, a), ("2 multi-topic", check_multi, b),
                             ("3 retries", check_retry, a), ("4 transactions", check_txn, a),
                             ("5 group", check_group, a), ("6 lag", check_lag, a),
                             ("7 clients", check_clients, a), ("8 software", check_software, a),
                             ("9 agree", check_agree, a)):
            t0 = time.time()
            log("== %s" % name)
            try:
                fn(mc, m, tr)
            except Exception as e:  # noqa: BLE001 - report, go on with the next check
                check(False, "%s: %s: %s" % (name, type(e).__name__, e))
            log("   (%.1fs)" % (time.time() - t0))
        for p, what in ((serve, "serve"), (trace, "trace")):
            rc = env.stop(p)
            check(rc == 0, "kafkatap %s exits 0 (%s)" % (what, rc))
        stats = [x for x in open(os.path.join(OUT, "deep.trace.err")).read().splitlines()
                 if "lost" in x or "gap" in x]
        log("   trace stats: " + "; ".join(stats[:4]))
    finally:
        for mk in (a, b):
            if mk:
                mk.quit()
        env.close()
    log("%d failures, %.1fs" % (len(failures), time.time() - t_all))
    return 1 if failures else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    rc = main()
    sys.stdout.flush()
    os._exit(rc)        # librdkafka handles of a failed check must not hang the exit
