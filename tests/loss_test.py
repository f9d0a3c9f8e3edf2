#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Packet loss and duplication on the wire (issue 5 section 2).

There is no netem here: nftables rules in network namespaces of the test's
own inject the faults. Four namespaces in a line, joined by veths:

  client (clients, socat) -- router 1 [tap: ktl-x] -- router 2 -- broker
                                                       (mock cluster, socat)

The mock cluster listens on 127.0.0.1 in the broker namespace; socat relays
it across the routers; the clients (a synchronous and a pipelining
librdkafka producer, confluent.py, kcat.sh) run in the client namespace.
kafkatap (trace) and tshark both watch router 1's link to router 2, so they
see the same packets, and tshark's decode (with out-of-order reassembly) is
the reference. The routers are needed because a drop in the sender's own
namespace (output hook, netdev egress) is reported back to its TCP, which
just sends the segment later: nothing is ever missing at a tap there.

  loss_test.py            both phases
  loss_test.py loss       3% random drop in each router's forward chain, both
                          directions. Router 1 drops requests before the tap
                          and responses after it, router 2 the reverse: the
                          tap misses a segment (kafkatap meets a sequence gap
                          and resyncs) or sees it twice (the original and
                          TCP's retransmission).
                          Asserts: >= 98% of the requests tshark decodes are
                          in kafkatap's trace; of those, no field differs
                          (api_key, api_version, correlation_id, client_id,
                          request_bytes), none is paired with a response
                          other than tshark's (size), none reported twice;
                          >= 97% of what tshark pairs is paired; gaps seen.
  loss_test.py dup        10% of segments duplicated each way (netdev egress
                          'dup to' the same device, before the tap, so both
                          observers see both copies).
                          Asserts: no (client, broker, correlation_id) twice,
                          kafkatap's requests = tshark's distinct requests,
                          every field and pairing equal to tshark's.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_test as L  # noqa: E402

LOSS_PCT = 3		# at each of the four drop points
DUP_PCT = 10		# each direction
MIN_REPORTED = 0.98
# A segment lost before the tap comes back as a retransmission after later
# ones: its frames are reported late (KT_FF_LATE) from the hole the gap
# left. What stays missed is a frame whose head was split across segments
# around the gap. Seen: 99.7-100% (97-99% before late frames).
# Of the requests tshark pairs, kafkatap pairs at least this share:
MIN_PAIRED = 0.97
N_SYNC = 200		# sequential single-message Produce requests
N_PIPE = 2000		# 1 KiB messages, 5 per request, 5 requests in flight
N_CONFLUENT = 150
N_KCAT = 150

# A real librdkafka producer that waits for each message: one ProduceRequest
# per message, so the request count does not depend on batching.
SYNC_PRODUCER = r"""
import json, sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "client.id": "kafkatap-loss-sync",
              "linger.ms": 0, "acks": "all", "message.timeout.ms": 60000})
n, ok = int(sys.argv[3]), [0]
def cb(err, msg):
    if not err:
        ok[0] += 1
for i in range(n):
    p.produce(sys.argv[2], value=b"m%d" % i, on_delivery=cb)
    p.flush(30)
print(json.dumps({"client": "sync-producer", "produced": ok[0], "consumed": ok[0]}))
sys.exit(0 if ok[0] == n else 1)
"""

# The same client pipelining: up to 5 multi-segment ProduceRequests in flight
# on a connection, so that a segment lost before the tap is followed by
# later ones (a sequence gap), not just retransmitted into the same place.
PIPE_PRODUCER = r"""
import json, sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "client.id": "kafkatap-loss-pipe",
              "linger.ms": 2, "batch.num.messages": 5, "max.in.flight": 5, "acks": "all",
              "enable.idempotence": False, "message.timeout.ms": 60000,
              "queue.buffering.max.messages": 100})
n, ok = int(sys.argv[3]), [0]
def cb(err, msg):
    if not err:
        ok[0] += 1
for i in range(n):
    while True:
        try:
            p.produce(sys.argv[2], key=b"k%d" % i, value=(b"%06d" % i) * 170, on_delivery=cb)
            break
        except BufferError:
            p.poll(0.01)
    p.poll(0)
p.flush(60)
print(json.dumps({"client": "pipe-producer", "produced": ok[0], "consumed": ok[0]}))
sys.exit(0 if ok[0] == n else 1)
"""


def log(*a):
    print(*a, flush=True)


class NetEnv(L.Env):
    """live_test.Env, plus nft tables, and every process left in the
    test's namespaces (socat's forked children) killed by pid."""

    def __init__(self):
        super().__init__()
        self.tables = []	# (ns, family, name)

    def nft(self, ns, ruleset):
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset,
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("nft in %s: %s\n%s" % (ns, r.stderr.strip(), ruleset))
        m = re.match(r"\s*table (\w+) (\w+)", ruleset)
        self.tables.append((ns, m.group(1), m.group(2)))

    def close(self):
        for ns, fam, name in reversed(self.tables):
            subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", fam, name],
                           capture_output=True)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        # What is left in the namespaces was started by this test (socat's
        # forked children): kill it by pid, then delete the namespaces.
        for ns in self.netns:
            r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
        super().close()


def setup(env, tag):
    """client ns -- router 1 -- router 2 -- broker ns. The tap is router 1's
    link to router 2 (ktl-x): a segment dropped in a router's forward chain
    is lost on the wire, its sender's TCP does not know (a drop in the
    sender's own namespace is reported to TCP, which then just sends the
    segment again later: no gap at any tap)."""
    pid = os.getpid()
    names = ["ktl%s%d%s" % (r, pid, tag[0]) for r in ("c", "r", "s", "b")]
    for ns in names:
        env.run(["ip", "netns", "add", ns])
        env.netns.append(ns)
        env.run(["ip", "link", "set", "lo", "up"], ns)
    cli, r1, r2, brk = names
    # Created directly inside the namespaces: nothing outside them is touched.
    links = [(cli, "ktl-c", "10.79.1.1", r1, "ktl-a", "10.79.1.2"),
             (r1, "ktl-x", "10.79.2.1", r2, "ktl-y", "10.79.2.2"),
             (r2, "ktl-z", "10.79.3.1", brk, "ktl-b", "10.79.3.2")]
    for ns1, d1, a1, ns2, d2, a2 in links:
        env.run(["ip", "link", "add", d1, "netns", ns1, "type", "veth", "peer", "name", d2,
                 "netns", ns2])
        for ns, d, a in ((ns1, d1, a1), (ns2, d2, a2)):
            env.run(["ip", "addr", "add", a + "/24", "dev", d], ns)
            env.run(["ip", "link", "set", d, "up"], ns)
    for ns in (r1, r2):
        env.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ns)
    env.run(["ip", "route", "add", "default", "via", "10.79.1.2"], cli)
    env.run(["ip", "route", "add", "10.79.3.0/24", "via", "10.79.2.2"], r1)
    env.run(["ip", "route", "add", "10.79.1.0/24", "via", "10.79.2.1"], r2)
    env.run(["ip", "route", "add", "default", "via", "10.79.3.1"], brk)
    topics = ["%s-%d" % (tag, i) for i in range(3)]
    bootstrap, ports = L.start_mock(env, brk, "loss-" + tag, topics)
    for p in ports:
        env.spawn(["socat", "TCP-LISTEN:%d,bind=10.79.3.2,fork,reuseaddr" % p,
                   "TCP:127.0.0.1:%d" % p], brk, stderr=subprocess.DEVNULL)
        env.spawn(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr" % p,
                   "TCP:10.79.3.2:%d" % p], cli, stderr=subprocess.DEVNULL)
    for p in ports:
        L.wait_for(lambda p=p: env.run(["bash", "-c", "echo > /dev/tcp/127.0.0.1/%d" % p], cli,
                                       check=False).returncode == 0, "the socat relay")
    return names, bootstrap, ports, topics


def faults(env, kind, names, ports):
    cli, r1, r2, brk = names
    pset = "{ %s }" % ", ".join(map(str, ports))
    if kind == "loss":
        drop = "numgen random mod 100 < %d drop" % LOSS_PCT
        # Router 1 drops requests before the tap and responses after it;
        # router 2 the other way round. Each direction: 3% unseen by the
        # tap (kafkatap meets a gap), 3% seen, then seen again (retransmit).
        for ns in (r1, r2):
            env.nft(ns, """table inet ktloss {
  chain loss { type filter hook forward priority 0; tcp dport %s %s; tcp sport %s %s; }
}""" % (pset, drop, pset, drop))
    else:
        # netdev egress runs before TC egress, and the copy goes out through
        # dev_queue_xmit again: kafkatap and tshark see both copies.
        # Requests: router 1's egress to router 2 (the tap); responses: router
        # 2's egress to router 1 (both copies arrive at the tap).
        dup = "numgen random mod 100 < %d dup to \"%%s\"" % DUP_PCT
        env.nft(r1, """table netdev ktdup {
  chain eg { type filter hook egress device "ktl-x" priority 0; tcp dport %s %s; }
}""" % (pset, dup % "ktl-x"))
        env.nft(r2, """table netdev ktdup {
  chain eg { type filter hook egress device "ktl-y" priority 0; tcp sport %s %s; }
}""" % (pset, dup % "ktl-y"))


def nft_counters(env, ns):
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                       capture_output=True, text=True)
    return r.stdout


def run_workload(env, ns, bootstrap, topics):
    """The three clients at once, each on its own topic. Their truth lines."""
    jobs = [
        ("sync-producer", ["/usr/bin/python3", "-c", SYNC_PRODUCER, bootstrap, topics[0],
                           str(N_SYNC)]),
        ("pipe-producer", ["/usr/bin/python3", "-c", PIPE_PRODUCER, bootstrap, topics[0],
                           str(N_PIPE)]),
        ("confluent-kafka", [os.path.join(L.CLIENTS, "confluent.py"), bootstrap, topics[1],
                             str(N_CONFLUENT)]),
        ("kcat", [os.path.join(L.CLIENTS, "kcat.sh"), bootstrap, topics[2], str(N_KCAT)]),
    ]
    procs = []
    t0 = time.time()
    for name, cmd in jobs:
        procs.append((name, env.spawn(cmd, ns, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)))
    truths = []
    for name, p in procs:
        out, err = p.communicate(timeout=100)
        lines = out.strip().splitlines()
        if p.returncode != 0 or not lines:
            raise RuntimeError("%s failed (%s): %s %s" % (name, p.returncode, out[-500:],
                                                          err[-1500:]))
        truth = json.loads(lines[-1])
        log("  %-16s %s" % (name, json.dumps(truth)))
        # (kcat.sh says how many acks=0 messages the broker dropped; see there)
        if truth.get("produced") - truth.get("acks0_dropped", 0) != truth.get("consumed"):
            raise RuntimeError("%s: produced != consumed: %s" % (name, truth))
        truths.append(truth)
    log("  workload took %.1fs" % (time.time() - t0))
    return truths


def tshark_pdus(pcap, ports):
    """live_test.tshark_pdus, with tshark reassembling out-of-order segments
    (off by default): after a loss, later segments arrive before the
    retransmission, and tshark would otherwise give up on those PDUs."""
    real_run = subprocess.run

    def run(cmd, **kw):
        if cmd[:1] == ["tshark"]:
            cmd = cmd[:1] + ["-o", "tcp.reassemble_out_of_order:TRUE"] + cmd[1:]
        return real_run(cmd, **kw)
    subprocess.run = run
    try:
        return L.tshark_pdus(pcap, ports)
    finally:
        subprocess.run = real_run


def kstats(err_path):
    """--stats lines of kafkatap's stderr, as {name: value} per side."""
    out = {}
    text = open(err_path).read()
    for side in ("kernel", "agent"):
        m = re.search(r"kafkatap: %s:(.*)" % side, text)
        if m:
            for k, v in re.findall(r"([a-z_]+)=(\d+)", m.group(1)):
                out["%s.%s" % (side, k)] = int(v)
    return out, [l for l in text.splitlines() if "kafkatap:" in l and "=" in l]


def check(kind, trace, pdus):
    """Errors and figures from kafkatap's trace against tshark's decode."""
    errors, notes = [], []
    lines = [json.loads(x) for x in open(trace) if x.strip()]
    got, twice, first = {}, [], {}
    for g in lines:
        k = (g["client"], g["broker"], g["correlation_id"])
        if k in got:
            twice.append((k, first[k], g))
        else:
            first[k] = g
        got[k] = g
    reqs = {(p["src"], p["dst"], p["corr"]): p for p in pdus if p["req"]}
    resps = {(p["dst"], p["src"], p["corr"]): p for p in pdus if not p["req"]}
    tshark_dups = sum(1 for p in pdus if p["req"]) - len(reqs)
    for k, a, b in twice:
        errors.append("reported twice: %s: %s %s, then %s %s%s" % (
            k, a["status"], a.get("reason", ""), b["status"], b.get("reason", ""),
            " (resync)" if b.get("resync") else ""))
    extra = [g for k, g in got.items() if k not in reqs]
    for g in extra:
        errors.append("kafkatap reports a request tshark did not decode: %s" % json.dumps(g))
    reported = mism = wrong_pair = unpaired = pair_unverified = 0
    for k, p in reqs.items():
        g = got.get(k)
        if g is None:
            notes.append("missed: %s %s v%d corr %d" % (k[0], p["key"], p["ver"], p["corr"]))
            continue
        reported += 1
        want = {"api_key": p["key"], "api_version": p["ver"], "request_bytes": p["len"],
                "client_id": p["cid"], "correlation_id": p["corr"]}
        for f, v in want.items():
            if g[f] != v:
                mism += 1
                errors.append("field mismatch %s: %s = %r, tshark %r" % (k, f, g[f], v))
        r = resps.get(k)
        if g["status"] == "ok":
            if r is None:
                pair_unverified += 1
                errors.append("%s: kafkatap paired it with a %r-byte response, tshark decoded "
                              "no response" % (k, g["response_bytes"]))
            elif g["response_bytes"] != r["len"]:
                wrong_pair += 1
                errors.append("wrong pairing %s: kafkatap response %r bytes, tshark %d" % (
                    k, g["response_bytes"], r["len"]))
        elif r is not None and g["status"] != "ok":
            unpaired += 1
            notes.append("not paired: %s %s (%s), tshark saw a %d-byte response" % (
                k, g["status"], g.get("reason"), r["len"]))
    share = reported / len(reqs) if reqs else 0.0
    fig = {"tshark_requests": len(reqs), "tshark_duplicate_pdus": tshark_dups,
           "reported": reported, "share": share, "trace_lines": len(lines),
           "twice": len(twice), "extra": len(extra), "field_mismatches": mism,
           "wrong_pairings": wrong_pair, "paired_unverified": pair_unverified,
           "answered_not_paired": unpaired,
           "tshark_paired": sum(1 for k in reqs if k in resps)}
    if len(reqs) < 500:
        errors.append("only %d requests decoded by tshark: the workload is too small" % len(reqs))
    if kind == "loss":
        if share < MIN_REPORTED:
            errors.append("kafkatap reported %.2f%% of tshark's requests, want >= %.0f%%" % (
                100 * share, 100 * MIN_REPORTED))
        tp = fig["tshark_paired"]
        fig["paired_share"] = (tp - unpaired) / tp if tp else 0.0
        if fig["paired_share"] < MIN_PAIRED:
            errors.append("kafkatap paired %.2f%% of what tshark paired, want >= %.0f%%" % (
                100 * fig["paired_share"], 100 * MIN_PAIRED))
    else:
        if reported != len(reqs) or len(got) != len(reqs):
            errors.append("duplication: kafkatap has %d distinct requests, tshark %d (%d in "
                          "common)" % (len(got), len(reqs), reported))
        if unpaired:
            errors.append("duplication: %d requests tshark paired are not paired" % unpaired)
    return errors, notes, fig


def phase(kind):
    env = NetEnv()
    errors = []
    try:
        log("%s phase" % kind)
        names, bootstrap, ports, topics = setup(env, kind)
        cli, r1 = names[0], names[1]
        pcap = os.path.join(L.OUT, "loss-%s.pcapng" % kind)
        trace = os.path.join(L.OUT, "loss-%s.jsonl" % kind)
        tsh = L.start_tshark(env, r1, "ktl-x", ports, pcap)
        kt, kt_err = L.start_kafkatap(env, r1, ["ktl-x"], ports, trace)
        faults(env, kind, names, ports)
        run_workload(env, cli, bootstrap, topics)
        time.sleep(1)
        with open(os.path.join(L.OUT, "loss-%s.nft.txt" % kind), "w") as f:
            for ns in names:
                f.write("# %s\n%s" % (ns, nft_counters(env, ns)))
        rc = env.stop(kt)
        if rc != 0:
            errors.append("kafkatap exit status %s" % rc)
        env.stop(tsh)
        pdus = tshark_pdus(pcap, ports)
        errs, notes, fig = check(kind, trace, pdus)
        errors += errs
        st, stat_lines = kstats(kt_err)
        for s in stat_lines:
            log("  " + s)
        log("  tshark decoded %d distinct requests (%d PDUs seen twice), %d of them paired"
            % (fig["tshark_requests"], fig["tshark_duplicate_pdus"], fig["tshark_paired"]))
        log("  kafkatap reported %d = %.2f%% (%d trace lines; %d twice, %d not in tshark's "
            "decode)" % (fig["reported"], 100 * fig["share"], fig["trace_lines"], fig["twice"],
                         fig["extra"]))
        log("  field mismatches %d, wrong pairings %d, paired without a tshark response %d, "
            "answered but not paired %d%s" % (
                fig["field_mismatches"], fig["wrong_pairings"], fig["paired_unverified"],
                fig["answered_not_paired"], " (%.2f%% of tshark's pairs paired)" % (
                    100 * fig["paired_share"]) if "paired_share" in fig else ""))
        log("  kernel: gaps=%d resyncs=%d retransmits=%d overlaps=%d unsynced_segments=%d "
            "ringbuf_full=%d" % tuple(st.get("kernel." + k, 0) for k in (
                "gaps", "resyncs", "retransmits", "overlaps", "unsynced_segments",
                "ringbuf_full")))
        for n in notes[:15]:
            log("  note: " + n)
        if kind == "loss" and st.get("kernel.gaps", 0) == 0:
            errors.append("no sequence gap seen: the loss was not injected before the tap")
        if kind == "loss" and st.get("kernel.late_frames", 0) == 0:
            errors.append("no late frame: no retransmission filling a gap was read")
        if kind == "dup" and st.get("kernel.retransmits", 0) + st.get("kernel.overlaps", 0) == 0:
            errors.append("no duplicate segment seen: the duplication did not happen")
        if not errors:
            if kind == "loss":
                log("ok loss: %.2f%% of %d requests reported (>= %.0f%%), 0 field mismatches, "
                    "0 wrong pairings" % (100 * fig["share"], fig["tshark_requests"],
                                          100 * MIN_REPORTED))
            else:
                log("ok dup: %d requests, each once, equal to tshark's; fields and pairings "
                    "equal" % fig["reported"])
    except Exception as e:  # noqa: BLE001 - a failed setup is a failed test
        errors.append("%s: %s" % (type(e).__name__, e))
    finally:
        env.close()
    for e in errors[:30]:
        log("  ERROR " + e)
    if len(errors) > 30:
        log("  ... %d more errors" % (len(errors) - 30))
    return errors


def main():
    # tests/run.sh's timeout sends SIGTERM: unwind, so that finally cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(L.OUT, exist_ok=True)
    for tool in ("tshark", "socat", "nft", "kcat"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            log("loss_test: %s is missing: run tools/install-deps.sh" % tool)
            return 1
    kinds = sys.argv[1:] or ["loss", "dup"]
    if any(k not in ("loss", "dup") for k in kinds):
        log(__doc__)
        return 2
    t0 = time.time()
    failed = [k for k in kinds if phase(k)]
    log("loss_test: %s in %.1fs" % ("FAILED: " + " ".join(failed) if failed else "ok",
                                    time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
