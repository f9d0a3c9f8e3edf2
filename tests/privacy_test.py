#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Privacy (issue 5, section 4): record keys, values and headers, and SASL
credentials, never appear in any of kafkatap's outputs.

Live, on lo, against librdkafka's mock cluster, twice: once with
`--capture all=full` (the worst case: every frame's bytes reach the agent)
and once with the default capture. Each round runs `kafkatap serve` and
`kafkatap trace` at once (tcx links coexist), produces and consumes
messages whose keys, values and record headers carry a canary (with
confluent-kafka and with kcat -K: -H), and sends SASL exchanges whose PLAIN
password is a second canary to a local listener on a watched port. Then it
searches every output for both canaries (as text, hex and base64):
stdout and stderr of both processes, /metrics in Prometheus text and
OpenMetrics, /healthz, files open in kafkatap, and new files under /tmp,
/var/tmp, /dev/shm and the working directory. tshark's capture of the same
traffic must contain the canaries: the traffic really carried them.

Replayed: a pcap of SaslHandshake v0/v1 and SaslAuthenticate v0/v1/v2
(requests and responses, and a legacy raw PLAIN token) through
`kafkatap replay --capture all=full`, JSON and text: the password appears
nowhere, the SASL requests do.
"""
import base64
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from live_test import (Checks, Env, KAFKATAP, OUT, ROOT, free_port,  # noqa: E402
                       start_mock, wait_for)
from hostile_test import Pcap, Sink, parse_stats  # noqa: E402

RUN = "%08x" % random.SystemRandom().getrandbits(32)
CANARY = "CANARY-7f3a9-" + RUN		# record keys, values, headers
PASSWORD = "CANARY-PASSWORD-91b"	# SASL PLAIN
N_MSGS = 20
CK = Checks()
check, failures, ok = CK.check, CK.failed, CK.ok


def needles():
    """Each secret as text, hex (both cases) and base64 (all three alignments)."""
    out = []
    for s in (CANARY.encode(), PASSWORD.encode()):
        out += [s, s.hex().encode(), s.hex().upper().encode()]
        for skip in range(3):
            b = base64.b64encode(s[skip:])
            out.append(b[4:-4])	# the part that does not depend on neighbours
    return out


NEEDLES = needles()


def leaks(data):
    if isinstance(data, str):
        data = data.encode(errors="replace")
    return [n.decode() for n in NEEDLES if n in data]


def no_leak(what, data):
    found = leaks(data)
    check(not found, "no canary in %s (%d bytes)" % (what, len(data)),
          "found %s" % found)


# ---------------------------------------------------------------- SASL bytes

def kstr(s):
    return struct.pack(">h", -1) if s is None else struct.pack(">h", len(s)) + s


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def req(api, ver, corr, body, flexible=False, client_id=b"sasl-client"):
    h = struct.pack(">hhi", api, ver, corr) + kstr(client_id) + (b"\0" if flexible else b"")
    return struct.pack(">i", len(h) + len(body)) + h + body


def resp(corr, body, flexible=False):
    h = struct.pack(">i", corr) + (b"\0" if flexible else b"")
    return struct.pack(">i", len(h) + len(body)) + h + body


PLAIN_TOKEN = b"\0alice\0" + PASSWORD.encode()


def sasl_conversations():
    """Lists of (request, response) as a client and a broker exchange them."""
    def apiv(i):
        # Its correlation id tells the broker which conversation this is.
        return (req(18, 0, 100 + i, b""), resp(100 + i, struct.pack(">hi", 0, 0)))
    hs1 = (req(17, 1, 2, kstr(b"PLAIN")), resp(2, struct.pack(">hi", 0, 1) + kstr(b"PLAIN")))
    convs = []
    # SaslAuthenticate v0 and v1: auth_bytes BYTES; v1's response adds session_lifetime_ms.
    convs.append([apiv(0), hs1, (req(36, 0, 3, struct.pack(">i", len(PLAIN_TOKEN)) + PLAIN_TOKEN),
                              resp(3, struct.pack(">hhi", 0, -1, 0)))])
    convs.append([apiv(1), hs1, (req(36, 1, 3, struct.pack(">i", len(PLAIN_TOKEN)) + PLAIN_TOKEN),
                              resp(3, struct.pack(">hhiq", 0, -1, 0, 0)))])
    # v2 is flexible: compact bytes, tagged fields in header and body.
    convs.append([apiv(2), hs1, (req(36, 2, 3, uvarint(len(PLAIN_TOKEN) + 1) + PLAIN_TOKEN + b"\0",
                                  flexible=True),
                              resp(3, struct.pack(">h", 0) + b"\0" + b"\x01" + struct.pack(">q", 0)
                                   + b"\0", flexible=True))])
    # Legacy: SaslHandshake v0, then the token raw, size-prefixed, no Kafka header.
    hs0 = (req(17, 0, 2, kstr(b"PLAIN")), resp(2, struct.pack(">hi", 0, 1) + kstr(b"PLAIN")))
    convs.append([apiv(3), hs0, (struct.pack(">i", len(PLAIN_TOKEN)) + PLAIN_TOKEN,
                              struct.pack(">i", 0))])
    return convs


class SaslBroker(Sink):
    """Plays the broker's part of whichever conversation a client starts."""

    def __init__(self, convs):
        self.convs = convs
        super().__init__()

    def serve(self, c):
        try:
            c.settimeout(10)
            first = recv_exact(c, 12)	# size, api_key, api_version, correlation_id
            conv = self.convs[struct.unpack(">i", first[8:12])[0] - 100]
            for i, (rq, rs) in enumerate(conv):
                if (first if i == 0 else b"") + recv_exact(c, len(rq) - (12 if i == 0 else 0)) != rq:
                    break
                c.sendall(rs)
            recv_exact(c, 1 << 20, eof_ok=True)
        except OSError:
            pass
        c.close()


def recv_exact(s, n, eof_ok=False):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            if eof_ok:
                return buf
            raise OSError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


def sasl_live(port, convs):
    for i, conv in enumerate(convs):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for rq, rs in conv:
            s.sendall(rq)
            got = recv_exact(s, len(rs))
            if got != rs:
                raise RuntimeError("SASL broker answered %r, not %r" % (got, rs))
        s.shutdown(socket.SHUT_WR)
        recv_exact(s, 1 << 20, eof_ok=True)
        s.close()


# ---------------------------------------------------------------- clients

CONFLUENT = r"""
import json, sys
from confluent_kafka import Consumer, Producer
bs, topic, canary, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = Producer({"bootstrap.servers": bs, "client.id": "privacy-confluent", "acks": "all",
              "compression.codec": "none", "linger.ms": 5})
for i in range(n):
    p.produce(topic, key=("K-%s-%d" % (canary, i)).encode(),
              value=("V-%s-%d-" % (canary, i)).encode() + b"x" * 50,
              headers=[("H-" + canary, ("HV-%s" % canary).encode()), ("plain", b"h")])
left = p.flush(20)
c = Consumer({"bootstrap.servers": bs, "client.id": "privacy-confluent",
              "group.id": "privacy-%s" % topic, "auto.offset.reset": "earliest",
              "session.timeout.ms": 6000})
c.subscribe([topic])
seen = 0
import time
end = time.time() + 25
while seen < n and time.time() < end:
    for m in c.consume(100, 0.5):
        if m.error():
            continue
        hs = dict(m.headers() or [])
        if canary.encode() in m.key() and canary.encode() in m.value() and \
           hs.get("H-" + canary, b"").endswith(canary.encode()):
            seen += 1
c.close()
print(json.dumps({"produced": n - left, "consumed": seen}))
"""


def run_confluent(env, bootstrap, topic):
    r = env.run(["/usr/bin/python3", "-c", CONFLUENT, bootstrap, topic, CANARY, str(N_MSGS)],
                timeout=60)
    truth = json.loads(r.stdout.strip().splitlines()[-1])
    check(truth["produced"] == N_MSGS and truth["consumed"] == N_MSGS,
          "confluent-kafka produced and consumed %d canary records (key, value, headers): %s"
          % (N_MSGS, truth))


def run_kcat(env, bootstrap, topic):
    lines = "".join("KK-%s-%d:VV-%s-%d\n" % (CANARY, i, CANARY, i) for i in range(N_MSGS))
    common = ["-b", bootstrap, "-X", "client.id=privacy-kcat", "-X", "compression.codec=none"]
    r = subprocess.run(["kcat", "-P", "-t", topic, "-K:", "-H", "kh-%s=khv-%s" % (CANARY, CANARY)]
                       + common, input=lines, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "kcat -P -K: -H produced %d canary records" % N_MSGS, r.stderr)
    r = subprocess.run(["kcat", "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%k|%s|%h\n"] + common, capture_output=True, text=True, timeout=30)
    got = [l for l in r.stdout.splitlines() if l.count(CANARY) == 4]
    check(r.returncode == 0 and len(got) == N_MSGS,
          "kcat -C read them back, canary in key, value and header (%d)" % len(got),
          r.stderr[-500:])


# ---------------------------------------------------------------- outputs

def scrape(url, accept=None):
    rq = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(rq, timeout=10) as r:
        return r.read()


def open_files(pid, allowed):
    """Regular files kafkatap has open, but for its stdout/stderr."""
    out = []
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            t = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if t.startswith("/") and not t.startswith("/dev/") and t not in allowed and \
           os.path.isfile(t):
            flags = open("/proc/%d/fdinfo/%s" % (pid, fd)).read().split("flags:")[1].split()[0]
            out.append("%s (fd %s, flags %s)" % (t, fd, flags))
    return out


def new_files_with_secrets(since, exclude):
    hits = []
    roots = ["/tmp", "/var/tmp", "/dev/shm", ROOT]
    for root in roots:
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if x not in (".git", "node_modules")]
            for f in files:
                p = os.path.join(d, f)
                if p in exclude:
                    continue
                try:
                    st = os.lstat(p)
                    if not os.path.isfile(p) or os.path.islink(p) or \
                       max(st.st_mtime, st.st_ctime) < since or st.st_size > 64 << 20:
                        continue
                    with open(p, "rb") as fh:
                        found = leaks(fh.read())
                except OSError:
                    continue
                if found:
                    hits.append("%s: %s" % (p, found))
    return hits


def round_live(env, tag, capture, bootstrap, ports, sasl, since):
    print("live round: %s" % tag, flush=True)
    cap = ["--capture", capture] if capture else []
    allp = ",".join(str(p) for p in ports + [sasl.port])
    trace, trace_err = os.path.join(OUT, "privacy-%s.jsonl" % tag), None
    trace_err = trace + ".err"
    serve_out = os.path.join(OUT, "privacy-%s.serve.out" % tag)
    serve_err = serve_out + ".err"
    mport = free_port()
    srv = env.spawn([KAFKATAP, "serve", "--listen", "127.0.0.1:%d" % mport, "-i", "lo", "-p", allp,
                     "-v", "--stats"] + cap, stdout=open(serve_out, "w"), stderr=open(serve_err, "w"))
    trc = env.spawn([KAFKATAP, "trace", "-i", "lo", "-p", allp, "-v", "--stats"] + cap,
                    stdout=open(trace, "w"), stderr=open(trace_err, "w"))
    for p, e in ((srv, serve_err), (trc, trace_err)):
        wait_for(lambda: "watching" in open(e).read() or p.poll() is not None, "kafkatap to attach")
        if p.poll() is not None:
            raise RuntimeError("kafkatap exited: " + open(e).read())
    ok("serve and trace attached together (%s)" % (capture or "default capture"))
    pcap = os.path.join(OUT, "privacy-%s.pcapng" % tag)
    tsh_err = pcap + ".err"
    flt = " or ".join("tcp port %d" % p for p in ports + [sasl.port])
    tsh = env.spawn(["tshark", "-i", "lo", "-B", "64", "-f", flt, "-w", pcap, "-q"],
                    stdout=subprocess.DEVNULL, stderr=open(tsh_err, "w"))
    wait_for(lambda: "Capturing on" in open(tsh_err).read(), "tshark to capture")
    time.sleep(0.3)

    run_confluent(env, bootstrap, "privacy-%s-c" % tag)
    run_kcat(env, bootstrap, "privacy-%s-k" % tag)
    sasl_live(sasl.port, sasl.convs)
    ok("SASL PLAIN exchanges (SaslAuthenticate v0, v1, v2, legacy raw token) sent live")
    time.sleep(1)

    base = "http://127.0.0.1:%d" % mport
    bodies = {
        "/metrics (text 0.0.4)": scrape(base + "/metrics"),
        "/metrics (OpenMetrics)": scrape(base + "/metrics",
                                         "application/openmetrics-text; version=1.0.0"),
        "/healthz": scrape(base + "/healthz"),
    }
    check(b"kafkatap_requests_total" in bodies["/metrics (text 0.0.4)"] and
          b"# EOF" in bodies["/metrics (OpenMetrics)"], "scraped /metrics in both formats")
    check(b'api="SaslAuthenticate"' in bodies["/metrics (text 0.0.4)"],
          "metrics count the SaslAuthenticate requests: kafkatap saw them")
    std = {ROOT + "/" + os.path.relpath(x, ROOT) for x in (trace, trace_err, serve_out, serve_err)}
    for name, p in (("serve", srv), ("trace", trc)):
        files = open_files(p.pid, std)
        check(not files, "%s has no file open but its stdout/stderr" % name, "\n".join(files))
    for name, p in (("serve", srv), ("trace", trc)):
        rc = env.stop(p, signal.SIGINT)
        check(rc == 0, "%s exited 0 (%s)" % (name, rc))
    env.stop(tsh)

    # The traffic carried the secrets: a raw read of tshark's capture finds them.
    raw = open(pcap, "rb").read()
    check(CANARY.encode() in raw and PASSWORD.encode() in raw,
          "tshark's capture holds the record canary and the password (the test proves something)")
    dec = ["tshark", "-r", pcap]
    for p in ports:
        dec += ["-d", "tcp.port==%d,kafka" % p]
    dec = subprocess.run(dec + ["-Y", "kafka.request_key == 0", "-T", "fields",
                                "-e", "kafka.request_key"], capture_output=True, text=True)
    check(dec.returncode == 0 and dec.stdout.strip() != "",
          "tshark decodes Produce requests in it")

    lines = [json.loads(l) for l in open(trace) if l.strip()]
    apis = {l["api"] for l in lines}
    check({"Produce", "Fetch", "SaslHandshake", "SaslAuthenticate"} <= apis,
          "the trace has Produce, Fetch, SaslHandshake, SaslAuthenticate (%d lines)" % len(lines),
          str(sorted(apis)))
    for name, path in (("trace stdout", trace), ("trace stderr", trace_err),
                       ("serve stdout", serve_out), ("serve stderr", serve_err)):
        no_leak(name, open(path, "rb").read())
    for name, body in bodies.items():
        no_leak(name, body)
    kernel, _ = parse_stats(open(trace_err).read())
    if capture:
        check(kernel.get("data_records", 0) > 0,
              "with %s the kernel did hand frame bytes over (%d chunks)" % (
                  capture, kernel.get("data_records", 0)))
    check(kernel.get("sasl_redacted", 0) >= 3, "the kernel kept SaslAuthenticate header-only "
          "(sasl_redacted=%d)" % kernel.get("sasl_redacted", 0))
    return [pcap]


def replay_sasl():
    print("replayed SASL", flush=True)
    path = os.path.join(OUT, "privacy-sasl.pcap")
    pc = Pcap(path)
    for i, conv in enumerate(sasl_conversations()):
        pc.stream(43000 + i, 9092, [rq for rq, _ in conv], [rs for _, rs in conv], v6=i % 2 == 1)
    pc.close()
    raw = open(path, "rb").read()
    check(PASSWORD.encode() in raw, "the SASL capture holds the password")
    ts = subprocess.run(["tshark", "-r", path, "-d", "tcp.port==9092,kafka", "-V"],
                        capture_output=True, text=True)
    check("SASL Authenticate" in ts.stdout or "SaslAuthenticate" in ts.stdout,
          "tshark decodes SaslAuthenticate in it")
    for extra in (["--capture", "all=full"], ["--capture", "all=full", "--format", "text"],
                  ["--capture", "SaslAuthenticate=full"], []):
        r = subprocess.run([KAFKATAP, "replay", path, "--stats", "-v"] + extra,
                           capture_output=True, text=True, timeout=60)
        what = "replay %s" % " ".join(extra)
        check(r.returncode == 0, "%s exits 0" % what, r.stderr[-800:])
        check(r.stdout.count("SaslAuthenticate") == 3,
              "%s reports the 3 SaslAuthenticate requests" % what, r.stdout)
        no_leak(what + " stdout", r.stdout)
        no_leak(what + " stderr", r.stderr)
    return [path]


def main():
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    since = t0 - 1
    env = Env()
    sasl = SaslBroker(sasl_conversations())
    written = []
    try:
        written += replay_sasl()
        bootstrap, ports = start_mock(env, None, "privacy", [
            "privacy-%s-%s" % (t, k) for t in ("full", "default") for k in "ck"])
        written += round_live(env, "full", "all=full", bootstrap, ports, sasl, since)
        written += round_live(env, "default", None, bootstrap, ports, sasl, since)
        hits = new_files_with_secrets(since, set(written) | {os.path.abspath(__file__)})
        check(not hits, "no new file under /tmp, /var/tmp, /dev/shm or %s holds a canary" % ROOT,
              "\n".join(hits))
    except Exception as e:  # noqa: BLE001 - any error is a failure, with its reason
        failures.append("%s: %s" % (type(e).__name__, e))
        print("FAIL %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        sasl.close()
        env.close()
    print("%d failure(s) in %.1fs" % (len(failures), time.time() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
