#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Bounded resources under connection churn (issue 5 section 5).

Runs in a network namespace of its own (its lo, its sysctls: a wide port
range and tw_reuse for the 50 000+ connections). The broker is the test's
own asyncio server: it answers every Kafka request with an ApiVersions v0
response carrying the request's correlation id (size, corr, error 0, empty
array), except for client ids starting with "noreply".

1. accounting (kafkatap serve with its defaults): warm-up, 2 x 20 000 short
   connections (connect, one ApiVersions v0, read the answer, close), then
   10 000 idle connections held open. Checks:
   kafkatap_requests_total and the duration histogram count = requests
   sent; kafkatap_connections = 10 000 while they are open and 0 once they
   are closed; no eviction; RSS (VmRSS, broken down from smaps) does not
   grow over the short rounds, and stays under 32 MB (the ring buffer
   mapping included) at 10 000 connections.
2. caps (--max-conns 1000 --max-pending 500 --max-client-ids 50): 5 000 idle
   connections with distinct client ids: kafkatap_connections = 1000,
   kafkatap_connection_evictions_total = 4000, at most 51 client_id
   values with kafkatap_label_overflow_total{label="client_id"} > 0; then
   2 000 requests that get no answer: kafkatap_pending_evictions_total =
   1500.
3. full ring buffer (--ringbuf-mb 1): kafkatap stopped (SIGSTOP) for 2 s
   while 50 000 pipelined requests flow. All are answered, in about the
   time the same burst takes with kafkatap reading; the records the
   kernel could not hand over are counted (kafkatap_lost_events_total > 0,
   ringbuf_full= in --stats).
"""
import os
import re
import resource
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

SHORT = 20000
IDLE = 10000
IDLE_CAPPED = 5000
CAP_CONNS, CAP_PENDING, CAP_CIDS = 1000, 500, 50
NOREPLY_CONNS, NOREPLY_PER = 100, 20
BURST_CONNS, BURST_PER = 50, 1000
SOURCES = ["127.0.0.%d" % i for i in range(2, 18)]	# spread the 4-tuples
# Leak bound: two rounds of 20 000 short connections (40 000 connections,
# requests, exchanges) must not grow RSS by this much from the warm-up: a
# leak of 52 bytes or more per connection or request fails. Seen: 0-300 kB.
LEAK_KB = 2048
# kafkatap's memory at 10 000 connections with its defaults (the issue's
# target and the README's bound), the ring buffer mapping included (the
# default 8 MiB ring is 16 MB of it: see rss()). Seen: ~25 MB.
RSS_KB = 32 * 1024
# The burst with kafkatap stopped may take this much longer than with it
# reading, and must end well before the 2 s stop does: a kernel side that
# waited for the reader would hold it until SIGCONT. Seen: 0.12-0.34 s
# stopped, 0.27-1.12 s reading (the agent competes for the 2 CPUs).
BURST_SLACK = 1.5
BURST_SLACK_S = 0.5
BURST_MAX_S = 1.5

BROKER = r"""
import asyncio, resource, struct, sys
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
RESP = struct.Struct(">iihi")
class Conn(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.buf = t, b""
    def data_received(self, d):
        buf, off, out = self.buf + d, 0, []
        while len(buf) - off >= 4:
            n = struct.unpack_from(">i", buf, off)[0]
            if len(buf) - off < 4 + n:
                break
            corr, cl = struct.unpack_from(">ih", buf, off + 8)
            if not (cl > 0 and buf[off + 14:off + 14 + cl].startswith(b"noreply")):
                out.append(RESP.pack(10, corr, 0, 0))
            off += 4 + n
        self.buf = buf[off:]
        if out:
            self.t.write(b"".join(out))
async def main():
    srv = await asyncio.get_running_loop().create_server(Conn, "127.0.0.1", int(sys.argv[1]),
                                                         backlog=4096)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
"""


def log(*a):
    print(*a, flush=True)


free_port = L.free_port


def request(corr, cid):
    body = struct.pack(">hhih", 18, 0, corr, len(cid)) + cid
    return struct.pack(">i", len(body)) + body


class Fail(Exception):
    pass


# ---- the client side: blocking sockets, a few threads (4000+ connections/s
# here, the Python broker being the limit) ----

IP_BIND_ADDRESS_NO_PORT = 24


def connect(port, i):
    s = socket.socket()
    # Spread the connections over source addresses; the port is picked at
    # connect(), not bind(), which is much cheaper with many in TIME_WAIT.
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind((SOURCES[i % len(SOURCES)], 0))
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    return s


def recv_n(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            break
        buf += c
    return buf


def threaded(n, fn, threads=4):
    """fn(i) for i in range(n) on a few threads; their results, in order."""
    out, errs = [None] * n, []

    def work(k):
        try:
            for i in range(k, n, threads):
                out[i] = fn(i)
        except Exception as e:  # noqa: BLE001
            errs.append(e)
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise Fail("client: %s: %s" % (type(errs[0]).__name__, errs[0]))
    return out


def short_round(port, n, cid=b"churn"):
    """n short connections; how many were answered with the right id."""
    req = request(7, cid)

    def one(i):
        s = connect(port, i)
        try:
            s.sendall(req)
            return recv_n(s, 14)[:8] == struct.pack(">ii", 10, 7)
        finally:
            s.close()
    return sum(threaded(n, one))


def open_idle(port, n, cid_fmt):
    """n connections, each answered once, left open."""
    def one(i):
        s = connect(port, i)
        s.sendall(request(1, (cid_fmt % i if "%" in cid_fmt else cid_fmt).encode()))
        if recv_n(s, 14)[:8] != struct.pack(">ii", 10, 1):
            s.close()
            raise Fail("idle connection %d: no answer" % i)
        return s
    return threaded(n, one)


def close_all(conns):
    for s in conns:
        if s is not None:
            s.close()


def pipelined(port, nconns, per, cid, answered=True):
    """nconns connections, per requests written at once on each. answered:
    read the answers and close, returning how many came; otherwise return
    the open sockets."""
    data = b"".join(request(k + 1, cid) for k in range(per))

    def one(i):
        s = connect(port, i)
        s.sendall(data)
        if not answered:
            return s
        try:
            return len(recv_n(s, 14 * per)) // 14
        finally:
            s.close()
    return threaded(nconns, one, threads=min(nconns, 10))


# ---- kafkatap ----

class Tap:
    def __init__(self, tag, port, extra):
        self.tag = tag
        self.p, self.url, self.err = L.start_serve(None, [port], ["--stats"] + extra,
                                                   tag="churn-%s.kafkatap" % tag, timeout=30)
        log("  kafkatap %s: %s" % (tag, " ".join(self.p.args[2:])))

    def metrics(self):
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        try:
            return L.parse_metrics(text)
        except ValueError as e:
            raise Fail(str(e))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGCONT)
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stats_lines(self):
        return [l for l in open(self.err).read().splitlines() if "=" in l]


def total(m, name, **want):
    return sum(v for (n, lbl), v in m.items()
               if n == name and all(dict(lbl).get(k) == x for k, x in want.items()))


def label_values(m, name, label):
    return {dict(lbl).get(label) for (n, lbl) in m if n == name}


def rss(pid):
    """VmRSS and its parts, kB: the ring buffer mapping (the bpf-map
    mappings: libbpf maps the ring buffer's data pages twice, back to back,
    and all of it is in RSS from the start), anonymous memory (the agent's
    tables, malloc), the rest (libraries, file pages)."""
    st = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile"):
            st[k] = int(v.split()[0])
    ring = ring_pss = 0
    name = None
    for line in open("/proc/%d/smaps" % pid):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            name = line.split()[5] if len(line.split()) > 5 else ""
        elif line.startswith("Rss:") and name == "anon_inode:bpf-map":
            ring += int(line.split()[1])
        elif line.startswith("Pss:") and name == "anon_inode:bpf-map":
            ring_pss += int(line.split()[1])
    return {"rss": st["VmRSS"], "anon": st["RssAnon"], "file": st["RssFile"], "ring": ring,
            "ring_pss": ring_pss, "own": st["VmRSS"] - ring}


def kernel_maps_kb(pid):
    """memlock of the BPF maps kafkatap holds (kernel memory, not RSS)."""
    kb = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:bpf-map":
                continue
            for line in open("/proc/%d/fdinfo/%s" % (pid, fd)):
                if line.startswith("memlock:"):
                    kb += int(line.split()[1]) // 1024
        except OSError:
            pass
    return kb


def fmt_rss(r):
    return "VmRSS %d kB (ring buffer mapping %d kB [Pss %d kB], anon %d kB, other files %d kB;" \
        " without the ring mapping %d kB)" % (r["rss"], r["ring"], r["ring_pss"], r["anon"],
                                              r["file"] - r["ring"], r["own"])


class Checks:
    def __init__(self):
        self.errors = []

    def ok(self, cond, good, bad):
        if cond:
            log("ok " + good)
        else:
            log("FAIL " + bad)
            self.errors.append(bad)


def settle():
    # A closed connection lingers 200 ms in the agent (close grace); the
    # agent ticks every 20 ms.
    time.sleep(0.6)


# ---- the phases ----

def phase_accounting(port, ck):
    log("accounting: kafkatap serve with its defaults")
    tap = Tap("accounting", port, [])
    try:
        pid = tap.p.pid
        samples = []
        sent = 0

        def sample(what):
            r = rss(pid)
            samples.append((what, r))
            log("  RSS %-34s %s" % (what + ":", fmt_rss(r)))
            return r

        sample("started")
        sent += short_round(port, 2000)
        settle()
        r_warm = sample("after warm-up (2000 short)")
        rounds = []
        for rnd in (1, 2):
            t0 = time.time()
            st = short_round(port, SHORT)
            log("  %d short connections in %.1fs" % (SHORT, time.time() - t0))
            ck.ok(st == SHORT, "round %d: all %d short connections answered" % (rnd, SHORT),
                  "short round %d: %d of %d answered" % (rnd, st, SHORT))
            sent += st
            settle()
            rounds.append(sample("after round %d (%d short)" % (rnd, SHORT)))
            m = tap.metrics()
            ck.ok(total(m, "kafkatap_connections") == 0,
                  "kafkatap_connections = 0 with every connection closed",
                  "kafkatap_connections = %s after short round %d, want 0" % (
                      total(m, "kafkatap_connections"), rnd))
        # Leaks: freed memory is reused, so the rounds run before the peak
        # (a leak could hide in the holes the 10 000 idle ones leave).
        grow = rounds[1]["rss"] - r_warm["rss"]
        log("  RSS growth: round 1 %+d kB, round 2 %+d kB" % (
            rounds[0]["rss"] - r_warm["rss"], rounds[1]["rss"] - rounds[0]["rss"]))
        ck.ok(grow < LEAK_KB, "RSS after %d short connections: %+d kB since warm-up (< %d)" % (
                  2 * SHORT, grow, LEAK_KB),
              "RSS grew by %d kB over %d short connections: a leak?" % (grow, 2 * SHORT))

        t0 = time.time()
        conns = open_idle(port, IDLE, "idle")
        sent += len(conns)
        log("  %d idle connections open in %.1fs" % (IDLE, time.time() - t0))
        time.sleep(0.3)
        r_idle = sample("with %d idle open" % IDLE)
        kmaps = kernel_maps_kb(pid)
        m = tap.metrics()
        g = total(m, "kafkatap_connections")
        ck.ok(g == IDLE, "kafkatap_connections = %d with %d idle connections open" % (g, IDLE),
              "kafkatap_connections = %s with %d idle connections open" % (g, IDLE))
        close_all(conns)
        settle()
        sample("idle closed")
        m = tap.metrics()
        ck.ok(total(m, "kafkatap_connections") == 0,
              "kafkatap_connections = 0 once the idle connections are closed",
              "kafkatap_connections = %s after closing them all" %
              total(m, "kafkatap_connections"))
        req = total(m, "kafkatap_requests_total")
        ok_ = total(m, "kafkatap_request_duration_seconds_count")
        log("  requests sent %d; kafkatap_requests_total %d, answered (histogram count) %d, "
            "lost events %d, connection evictions %d, pending evictions %d" % (
                sent, req, ok_, total(m, "kafkatap_lost_events_total"),
                total(m, "kafkatap_connection_evictions_total"),
                total(m, "kafkatap_pending_evictions_total")))
        ck.ok(req == sent and ok_ == sent,
              "kafkatap_requests_total = histogram count = %d requests sent" % sent,
              "requests sent %d, kafkatap_requests_total %d, histogram count %d" % (
                  sent, req, ok_))
        ck.ok(total(m, "kafkatap_connection_evictions_total") == 0 and
              total(m, "kafkatap_pending_evictions_total") == 0,
              "no eviction below the caps", "evictions below the caps")
        peak = max(r["rss"] for _, r in samples)
        log("  at %d connections: VmRSS %d kB, %d kB of it the ring buffer mapping, %d kB "
            "without it (%+d kB anon since warm-up: %d bytes per connection); BPF maps "
            "(kernel memory, memlock) %d kB; peak VmRSS %d kB" % (
                IDLE, r_idle["rss"], r_idle["ring"], r_idle["own"],
                r_idle["anon"] - r_warm["anon"],
                (r_idle["anon"] - r_warm["anon"]) * 1024 // IDLE, kmaps, peak))
        ck.ok(r_idle["rss"] <= RSS_KB,
              "VmRSS at %d connections: %d kB <= %d kB (ring buffer mapping included)" % (
                  IDLE, r_idle["rss"], RSS_KB),
              "VmRSS is %d kB at %d connections, > %d kB (%d kB without the ring buffer "
              "mapping)" % (r_idle["rss"], IDLE, RSS_KB, r_idle["own"]))
        rc = tap.stop()
        ck.ok(rc == 0, "kafkatap exited 0", "kafkatap exit status %s" % rc)
        for s in tap.stats_lines():
            log("  " + s)
    finally:
        tap.kill()


def phase_caps(port, ck):
    log("caps: --max-conns %d --max-pending %d --max-client-ids %d" % (
        CAP_CONNS, CAP_PENDING, CAP_CIDS))
    tap = Tap("caps", port, ["--max-conns", str(CAP_CONNS), "--max-pending", str(CAP_PENDING),
                             "--max-client-ids", str(CAP_CIDS), "--ringbuf-mb", "4"])
    try:
        conns = open_idle(port, IDLE_CAPPED, "idle-%d")
        time.sleep(0.3)
        m = tap.metrics()
        g = total(m, "kafkatap_connections")
        ev = total(m, "kafkatap_connection_evictions_total")
        cids = label_values(m, "kafkatap_requests_total", "client_id")
        ov = total(m, "kafkatap_label_overflow_total", label="client_id")
        log("  %d idle open: kafkatap_connections %d, connection evictions %d, client_id "
            "values %d, label overflow %d, RSS %d kB" % (IDLE_CAPPED, g, ev, len(cids), ov,
                                                         rss(tap.p.pid)["rss"]))
        ck.ok(g == CAP_CONNS, "kafkatap_connections = %d = --max-conns" % g,
              "kafkatap_connections = %s with %d open and --max-conns %d" % (
                  g, IDLE_CAPPED, CAP_CONNS))
        ck.ok(ev == IDLE_CAPPED - CAP_CONNS, "kafkatap_connection_evictions_total = %d" % ev,
              "kafkatap_connection_evictions_total = %s, want %d" % (ev, IDLE_CAPPED - CAP_CONNS))
        ck.ok(len(cids) <= CAP_CIDS + 1 and "other" in cids and ov > 0,
              "%d client_id values (cap %d + other), kafkatap_label_overflow_total{label="
              "\"client_id\"} = %d" % (len(cids), CAP_CIDS, ov),
              "client_id values %d (cap %d), overflow %s" % (len(cids), CAP_CIDS, ov))
        close_all(conns)
        settle()
        m = tap.metrics()
        ck.ok(total(m, "kafkatap_connections") == 0, "kafkatap_connections back to 0",
              "kafkatap_connections = %s after closing" % total(m, "kafkatap_connections"))

        held = pipelined(port, NOREPLY_CONNS, NOREPLY_PER, b"noreply", answered=False)
        n = NOREPLY_CONNS * NOREPLY_PER
        end = time.time() + 5
        while time.time() < end and total(tap.metrics(), "kafkatap_pending_evictions_total") < \
                n - CAP_PENDING:
            time.sleep(0.1)
        time.sleep(0.3)
        pe = total(tap.metrics(), "kafkatap_pending_evictions_total")
        ck.ok(pe == n - CAP_PENDING, "%d unanswered requests, --max-pending %d: "
              "kafkatap_pending_evictions_total = %d" % (n, CAP_PENDING, pe),
              "kafkatap_pending_evictions_total = %s, want %d" % (pe, n - CAP_PENDING))
        close_all(held)
        rc = tap.stop()
        ck.ok(rc == 0, "kafkatap exited 0", "kafkatap exit status %s" % rc)
        for s in tap.stats_lines():
            log("  " + s)
    finally:
        tap.kill()


def phase_ring(port, ck):
    n = BURST_CONNS * BURST_PER
    log("full ring buffer: --ringbuf-mb 1, %d pipelined requests" % n)
    tap = Tap("ring", port, ["--ringbuf-mb", "1"])
    try:
        t0 = time.monotonic()
        got = pipelined(port, BURST_CONNS, BURST_PER, b"burst")
        t_run = time.monotonic() - t0
        time.sleep(0.5)
        lost0 = total(tap.metrics(), "kafkatap_lost_events_total")
        log("  kafkatap reading: %d answered in %.2fs, lost events %d" % (sum(got), t_run, lost0))
        tap.p.send_signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            got = pipelined(port, BURST_CONNS, BURST_PER, b"burst")
            t_stop = time.monotonic() - t0
            time.sleep(max(0.0, 2.0 - t_stop))
        finally:
            tap.p.send_signal(signal.SIGCONT)
        log("  kafkatap stopped:  %d answered in %.2fs" % (sum(got), t_stop))
        ck.ok(sum(got) == n, "all %d requests answered with kafkatap stopped" % n,
              "%d of %d requests answered with kafkatap stopped" % (sum(got), n))
        ck.ok(t_stop <= min(BURST_MAX_S, BURST_SLACK * t_run + BURST_SLACK_S),
              "the burst took %.2fs with kafkatap stopped, %.2fs with it reading: not held up"
              % (t_stop, t_run),
              "the burst took %.2fs with kafkatap stopped vs %.2fs reading (bound: %.1fs, "
              "or %.1f x + %.1fs): held up by the full ring buffer?" % (
                  t_stop, t_run, BURST_MAX_S, BURST_SLACK, BURST_SLACK_S))
        time.sleep(0.5)
        m = tap.metrics()
        lost = total(m, "kafkatap_lost_events_total")
        log("  kafkatap_lost_events_total %d (was %d); requests counted %d of %d sent" % (
            lost, lost0, total(m, "kafkatap_requests_total"), 2 * n))
        ck.ok(lost > lost0, "lost records counted and exported: kafkatap_lost_events_total = %d"
              % lost, "kafkatap_lost_events_total did not rise (%s -> %s)" % (lost0, lost))
        rc = tap.stop()
        ck.ok(rc == 0, "kafkatap exited 0 after SIGSTOP/SIGCONT", "kafkatap exit status %s" % rc)
        stats = tap.stats_lines()
        for s in stats:
            log("  " + s)
        rb = re.search(r"ringbuf_full=(\d+)", "\n".join(stats))
        ck.ok(rb is not None and int(rb.group(1)) >= lost,
              "--stats says ringbuf_full=%s" % (rb.group(1) if rb else None),
              "--stats has no ringbuf_full= (or less than the metric)")
    finally:
        tap.kill()


def inner(phases):
    # Each side (this process, the broker) holds up to IDLE sockets. Raising
    # the hard limit may not be allowed (no CAP_SYS_RESOURCE in a container).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE + 2000
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    except (ValueError, OSError):
        if hard < want:
            log("churn_test: RLIMIT_NOFILE hard limit %d < %d needed" % (hard, want))
            return 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.makedirs(L.OUT, exist_ok=True)
    port = free_port()
    broker = subprocess.Popen(["/usr/bin/python3", "-c", BROKER, str(port)],
                              stdout=subprocess.PIPE, text=True)
    ck = Checks()
    try:
        if broker.stdout.readline().strip() != "ready":
            raise Fail("the test broker did not start")
        log("broker on 127.0.0.1:%d" % port)
        for name in phases:
            t0 = time.time()
            {"accounting": phase_accounting, "caps": phase_caps, "ring": phase_ring}[name](
                port, ck)
            log("  (%s: %.1fs)" % (name, time.time() - t0))
    except Exception as e:  # noqa: BLE001 - any failure fails the test
        ck.errors.append("%s: %s" % (type(e).__name__, e))
        log("ERROR %s: %s" % (type(e).__name__, e))
    finally:
        broker.kill()
        broker.wait()
    if ck.errors:
        log("%d failed:" % len(ck.errors))
        for e in ck.errors:
            log("  " + e)
        return 1
    return 0


def main():
    # tests/run.sh's timeout sends SIGTERM: unwind, so that finally cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = sys.argv[1:]
    if args[:1] == ["--inner"]:
        return inner(args[1:])
    phases = args or ["accounting", "caps", "ring"]
    if any(p not in ("accounting", "caps", "ring") for p in phases):
        log(__doc__)
        return 2
    if os.geteuid() != 0:
        log("churn_test: needs root (BPF, a network namespace)")
        return 1
    ns = "ktchurn%d" % os.getpid()
    t0 = time.time()
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["sysctl", "-qw", "net.ipv4.ip_local_port_range=10000 65000"],
                    ["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"],
                    ["sysctl", "-qw", "net.core.somaxconn=4096"]):
            subprocess.run(["ip", "netns", "exec", ns] + cmd, check=True)
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                             os.path.abspath(__file__), "--inner"] + phases,
                            timeout=400).returncode
    finally:
        # Whatever is left in the namespace was started by this test.
        r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    log("churn_test: %s in %.1fs" % ("ok" if rc == 0 else "FAILED", time.time() - t0))
    return rc


if __name__ == "__main__":
    sys.exit(main())
