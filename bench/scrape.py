#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Scrape timings of kafkatap serve's /metrics, for bench/run.sh.

    scrape.py URL PID N
    scrape.py --every SECONDS URL     (a scraper in the background, until SIGTERM)

For each format (Prometheus text 0.0.4, then OpenMetrics 1.0 asked for with
the Accept header Prometheus sends), two warm-up scrapes, then N scrapes one
after the other. Per format: wall time of each scrape (connect to the last
body byte; median, min, max), body bytes, the series exposed (sample lines:
neither a comment nor blank nor '# EOF'), the Content-Type served, and the
CPU kafkatap (PID) used per scrape: utime+stime from /proc/PID/stat over the
N scrapes, divided by N (clock ticks of 10 ms: only meaningful summed over
many scrapes). Prints one JSON object.
"""
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

ACCEPT = {
    "text": "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "openmetrics": "application/openmetrics-text;version=1.0.0,"
                   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
}


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])	# utime, stime


def scrape(host, port, path, accept):
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", path, headers={"Accept": accept})
    r = c.getresponse()
    body = r.read()
    t1 = time.perf_counter()
    ctype = r.getheader("Content-Type", "")
    status = r.status
    c.close()
    return t1 - t0, status, ctype, body


def every(seconds, url):
    """Scrape (text format) every `seconds` until SIGTERM/SIGINT."""
    import signal
    u = urllib.parse.urlsplit(url)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    n = 0
    try:
        while True:
            try:
                scrape(u.hostname, u.port, u.path, ACCEPT["text"])
                n += 1
            except OSError:
                pass
            time.sleep(seconds)
    except KeyboardInterrupt:
        pass


def main():
    if sys.argv[1] == "--every":
        every(float(sys.argv[2]), sys.argv[3])
        return
    url, pid, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    u = urllib.parse.urlsplit(url)
    hz = os.sysconf("SC_CLK_TCK")
    out = {}
    for fmt, accept in ACCEPT.items():
        for _ in range(2):
            scrape(u.hostname, u.port, u.path, accept)
        times, sizes, bad = [], [], 0
        body, ctype = b"", ""
        c0 = cpu_ticks(pid)
        for _ in range(n):
            dt, status, ctype, body = scrape(u.hostname, u.port, u.path, accept)
            if status != 200:
                bad += 1
                continue
            times.append(dt)
            sizes.append(len(body))
        c1 = cpu_ticks(pid)
        lines = body.decode("utf-8", "replace").split("\n")
        series = sum(1 for ln in lines if ln and not ln.startswith("#"))
        out[fmt] = {
            "scrapes": len(times),
            "failed": bad,
            "median_ms": round(statistics.median(times) * 1e3, 2) if times else None,
            "min_ms": round(min(times) * 1e3, 2) if times else None,
            "max_ms": round(max(times) * 1e3, 2) if times else None,
            "bytes": sizes[-1] if sizes else None,
            "series": series,
            "families": sum(1 for ln in lines if ln.startswith("# TYPE ")),
            "content_type": ctype,
            "cpu_ms_per_scrape": round((c1 - c0) * 1e3 / hz / max(n, 1), 2),
            "cpu_ticks": c1 - c0,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
