#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""kafkatap serve against a real Prometheus server (Debian's prometheus):
  - Prometheus scrapes kafkatap; its query API must agree with the truth of
    the workload: requests per API equal tshark's count of the same
    traffic, histogram counts equal the requests tshark saw answered;
  - promtool check metrics finds nothing in a scrape taken under traffic;
  - scrapes taken concurrently during traffic are each consistent (per API
    and broker: requests = answered + unanswered + no_response, histogram
    buckets cumulative and ending at _count) and counters never decrease;
  - the label budget: 300+ distinct client_ids give at most cap + 1 series
    per family for that label, the overflow counter rises, RSS stays flat.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_test as L  # noqa: E402

CAP = 50


def get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


parse = L.parse_metrics


def consistency(samples):
    """Errors in one scrape: requests = ok + unanswered + no_response per
    (api, broker); histograms cumulative and ending at _count."""
    errs = []
    total, ok, other = {}, {}, {}
    buckets = {}
    for (name, labels), v in samples.items():
        d = dict(labels)
        key = (d.get("api"), d.get("broker"))
        if name == "kafkatap_requests_total":
            total[key] = total.get(key, 0) + v
        elif name == "kafkatap_request_duration_seconds_count":
            ok[key] = ok.get(key, 0) + v
        elif name in ("kafkatap_unanswered_requests_total", "kafkatap_no_response_requests_total"):
            other[key] = other.get(key, 0) + v
        elif name == "kafkatap_empty_fetches_total":
            # Answered long polls that found nothing: out of the histogram.
            key = ("Fetch", d.get("broker"))
            ok[key] = ok.get(key, 0) + v
        elif name == "kafkatap_request_duration_seconds_bucket":
            le = d.pop("le")
            buckets.setdefault(frozenset(d.items()), []).append(
                (float("inf") if le == "+Inf" else float(le), v))
    for key in set(total) | set(ok) | set(other):
        if total.get(key, 0) != ok.get(key, 0) + other.get(key, 0):
            errs.append("%s: requests %s != answered %s + others %s" % (
                key, total.get(key), ok.get(key), other.get(key)))
    for lbl, bs in buckets.items():
        bs.sort()
        vals = [v for _, v in bs]
        if vals != sorted(vals):
            errs.append("buckets not cumulative: %s" % dict(lbl))
        cnt = samples.get(("kafkatap_request_duration_seconds_count", lbl))
        if vals[-1] != cnt:
            errs.append("+Inf bucket %s != count %s for %s" % (vals[-1], cnt, dict(lbl)))
    return errs


def scraper(url, stop, results, errors):
    last = {}
    while not stop.is_set():
        try:
            s = parse(get(url))
        except Exception as e:  # noqa: BLE001
            errors.append("scrape failed: %s" % e)
            return
        errors.extend(consistency(s))
        for k, v in s.items():
            if k[0].endswith("_total") or k[0].endswith("_count") or k[0].endswith("_bucket"):
                if v < last.get(k, 0):
                    errors.append("counter went down: %s %s -> %s" % (k, last[k], v))
                last[k] = v
        results.append(len(s))
        time.sleep(0.05)


def api_versions_flood(port, prefix, n):
    """ApiVersions v0 requests with n distinct client_ids on one connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    for i in range(n):
        cid = ("%s-%d" % (prefix, i)).encode()
        body = struct.pack(">hhih", 18, 0, i + 1, len(cid)) + cid
        s.sendall(struct.pack(">i", len(body)) + body)
    got = 0
    buf = b""
    s.settimeout(10)
    while got < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">i", buf[:4])[0]:
            buf = buf[4 + struct.unpack(">i", buf[:4])[0]:]
            got += 1
    s.close()
    return got


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def prom_query(base, q):
    r = json.loads(get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})))
    return {tuple(sorted(x["metric"].items())): float(x["value"][1]) for x in r["data"]["result"]}


def main():
    for tool in ("prometheus", "promtool", "tshark"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            print("prom_test: %s is missing: run tools/install-deps.sh (make test does)" % tool)
            return 1
    env = L.Env()
    errors = []
    tmp = tempfile.mkdtemp(prefix="kafkatap-prom-")
    try:
        bootstrap, ports = L.start_mock(env, None, "prom", ["prom-0", "prom-1"])
        pcap = os.path.join(L.OUT, "prom.pcapng")
        tsh = L.start_tshark(env, None, "lo", ports, pcap)
        kt, mbase, _ = L.start_serve(env, ports, ["--max-client-ids", str(CAP), "--stats"],
                                     tag="prom.kafkatap")
        murl = mbase + "/metrics"
        _, pbase = L.start_prometheus(env, tmp, urllib.parse.urlsplit(mbase).netloc,
                                      tag="prom.server")

        # Traffic, with concurrent scrapes checking each snapshot.
        stop, sizes = threading.Event(), []
        threads = [threading.Thread(target=scraper, args=(murl, stop, sizes, errors)) for _ in range(3)]
        for t in threads:
            t.start()
        env.run([os.path.join(L.CLIENTS, "kcat.sh"), bootstrap, "prom-0", "60"], None, timeout=120)
        mid = get(murl)
        env.run([os.path.join(L.CLIENTS, "confluent.py"), bootstrap, "prom-1", "60"], None, timeout=120)
        stop.set()
        for t in threads:
            t.join()
        print("  %d concurrent scrapes during traffic checked" % len(sizes))
        if len(sizes) < 10:
            errors.append("too few scrapes completed: %d" % len(sizes))
        with open(os.path.join(L.OUT, "prom.mid.txt"), "w") as f:
            f.write(mid)
        pc = subprocess.run(["promtool", "check", "metrics"], input=mid, capture_output=True, text=True)
        print("  promtool check metrics: rc %d %s" % (pc.returncode, (pc.stdout + pc.stderr).strip()))
        if pc.returncode != 0 or (pc.stdout + pc.stderr).strip():
            errors.append("promtool check metrics: " + pc.stdout + pc.stderr)

        # Settle (closes linger 200 ms), let Prometheus scrape, compare.
        time.sleep(3)
        env.stop(tsh)
        pdus = L.tshark_pdus(pcap, ports)
        want_req, want_ok = {}, {}
        reqs = {(p["src"], p["dst"], p["corr"]): p for p in pdus if p["req"]}
        for p in reqs.values():
            want_req[p["key"]] = want_req.get(p["key"], 0) + 1
        for p in pdus:
            if not p["req"] and (p["dst"], p["src"], p["corr"]) in reqs:
                k = reqs[(p["dst"], p["src"], p["corr"])]["key"]
                want_ok[k] = want_ok.get(k, 0) + 1
        time.sleep(2.5)
        got_req = prom_query(pbase, "sum by (api) (kafkatap_requests_total)")
        got_ok = prom_query(pbase, "sum by (api) (kafkatap_request_duration_seconds_count)")
        empty = sum(prom_query(pbase, "sum(kafkatap_empty_fetches_total)").values())
        got_ok[(("api", "Fetch"),)] = got_ok.get((("api", "Fetch"),), 0) + empty
        print("  Fetch responses with no records (kept out of the histogram): %d" % empty)
        # Map api names to keys through kafkatap's own trace of the names.
        from_trace = {}
        for line in subprocess.run([L.KAFKATAP, "replay", "-p", ",".join(map(str, ports)), pcap],
                                   capture_output=True, text=True).stdout.splitlines():
            j = json.loads(line)
            from_trace[j["api_key"]] = j["api"]
        for key, n in sorted(want_req.items()):
            api = from_trace.get(key)
            g = got_req.get((("api", api),), 0)
            print("  %-16s requests: prometheus %4d, tshark %4d | answered: prometheus %4d, tshark %4d" % (
                api, g, n, got_ok.get((("api", api),), 0), want_ok.get(key, 0)))
            if g != n:
                errors.append("%s: Prometheus says %s requests, tshark saw %d" % (api, g, n))
            if got_ok.get((("api", api),), 0) != want_ok.get(key, 0):
                errors.append("%s: histogram count %s, tshark paired %d" % (
                    api, got_ok.get((("api", api),), 0), want_ok.get(key, 0)))

        # Budget: many distinct client ids, then many more: RSS stays flat.
        if api_versions_flood(ports[0], "budget", 300) != 300:
            errors.append("ApiVersions flood: not all answered")
        time.sleep(0.5)
        s = parse(get(murl))
        for fam in ("kafkatap_requests_total", "kafkatap_request_bytes_total",
                    "kafkatap_response_bytes_total"):
            cids = {dict(l).get("client_id") for (n, l) in s if n == fam}
            print("  %s: %d client_id values (cap %d + other)" % (fam, len(cids), CAP))
            if len(cids) > CAP + 1 or "other" not in cids:
                errors.append("%s has %d client_id values, cap %d" % (fam, len(cids), CAP))
        ov = s.get(("kafkatap_label_overflow_total", frozenset({("label", "client_id")})), 0)
        print("  kafkatap_label_overflow_total{label=\"client_id\"} = %d" % ov)
        if ov <= 0:
            errors.append("label overflow counter did not rise")
        rss0 = rss_kb(kt.pid)
        for round_ in range(4):
            api_versions_flood(ports[0], "churn%d" % round_, 5000)
        get(murl)
        rss1 = rss_kb(kt.pid)
        print("  RSS %d kB after 300 client ids, %d kB after 20000 more" % (rss0, rss1))
        if rss1 - rss0 > 4096:
            errors.append("RSS grew by %d kB with the client_id budget full" % (rss1 - rss0))
        if env.stop(kt) != 0:
            errors.append("kafkatap serve exit status %s" % kt.returncode)
    finally:
        env.close()
        subprocess.run(["rm", "-rf", tmp])
    for e in errors[:40]:
        print("  ERROR " + e)
    print("%d errors" % len(errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
