#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Replay every real capture in ../shared/testdata/pcap-real-kafka and
compare kafkatap's trace with Wireshark's decode beside it (NAME.tshark.tsv):
api_key, api_version, correlation_id, client_id, sizes, timestamps, pairing
and latency, field by field; and the deep decoding: topics and error codes
(from the .tsv), consumer groups and client software (tshark's own decode
of the file). kafkatap must report nothing Wireshark did not.
"""
import csv
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "testdata", "pcap-real-kafka")
KAFKATAP = os.environ.get("KAFKATAP", os.path.join(ROOT, "kafkatap"))
PORTS = "9092,36333"
ERRORS = os.path.join(ROOT, "..", "shared", "kafka-protocol", "errors.tsv")


def error_names():
    names = {}
    with open(ERRORS) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            names[int(row["code"])] = row["name"]
    return names


def tshark_more(pcap):
    """{frame: (group, software_name, software_version)} from tshark itself."""
    out = subprocess.run(["tshark", "-r", pcap, "-d", "tcp.port==9092,kafka", "-d",
                          "tcp.port==36333,kafka", "-T", "fields", "-e", "frame.number",
                          "-e", "kafka.consumer_group", "-e", "kafka.client_software_name",
                          "-e", "kafka.client_software_version"],
                         capture_output=True, text=True, timeout=60)
    res = {}
    for line in out.stdout.splitlines():
        f = (line.split("\t") + ["", "", "", ""])[:4]
        res[f[0]] = (f[1] or None, f[2] or None, f[3] or None)
    return res


def tshark_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def check(pcap, names, more):
    errors = []
    rows = tshark_rows(pcap[:-len(".pcap")] + ".tshark.tsv")
    out = subprocess.run([KAFKATAP, "replay", "-p", PORTS, pcap],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return ["kafkatap replay exited %d: %s" % (out.returncode, out.stderr)]
    got = [json.loads(line) for line in out.stdout.splitlines()]
    by_corr = {}
    for g in got:
        key = (g["client"], g["correlation_id"])
        if key in by_corr:
            errors.append("correlation id %s reported twice" % (key,))
        by_corr[key] = g
    frames = {r["frame.number"]: r for r in rows}
    requests = [r for r in rows if r["kafka.request_key"] != ""]
    responses = [r for r in rows if r["kafka.request_key"] == ""]
    if len(got) != len(requests):
        errors.append("%d requests reported, Wireshark decodes %d" % (len(got), len(requests)))
    for r in requests:
        client = "%s:%s" % (r["ip.src"], r["tcp.srcport"])
        g = by_corr.get((client, int(r["kafka.correlation_id"])))
        if not g:
            errors.append("frame %s: request %s not reported" % (r["frame.number"], client))
            continue
        want = {
            "broker": "%s:%s" % (r["ip.dst"], r["tcp.dstport"]),
            "api_key": int(r["kafka.request_key"]),
            "api_version": int(r["kafka.api_version"]),
            "client_id": r["kafka.client_id"] or None,
            "request_bytes": int(r["kafka.len"]),
        }
        for k, v in want.items():
            if g[k] != v:
                errors.append("frame %s: %s = %r, Wireshark %r" % (r["frame.number"], k, g[k], v))
        if abs(g["ts"] - float(r["frame.time_epoch"])) > 1e-6:
            errors.append("frame %s: ts %.6f, Wireshark %s" % (r["frame.number"], g["ts"], r["frame.time_epoch"]))
        topics = {t["topic"] for t in g.get("topics", [])}
        if r["kafka.topic_name"] and r["kafka.topic_name"] not in topics:
            errors.append("frame %s: topic %s not in %s" % (r["frame.number"], r["kafka.topic_name"], topics))
        grp, swn, swv = more.get(r["frame.number"], (None, None, None))
        for k, v in (("group", grp), ("software_name", swn), ("software_version", swv)):
            if v is not None and g.get(k) != v:
                errors.append("frame %s: %s = %r, Wireshark %r" % (r["frame.number"], k, g.get(k), v))
    for r in responses:
        client = "%s:%s" % (r["ip.dst"], r["tcp.dstport"])
        g = by_corr.get((client, int(r["kafka.correlation_id"])))
        if not g:
            errors.append("frame %s: response %s has no request reported" % (r["frame.number"], client))
            continue
        topics = {t["topic"] for t in g.get("topics", [])}
        if r["kafka.topic_name"] and r["kafka.topic_name"] not in topics:
            errors.append("frame %s: topic %s not in %s" % (r["frame.number"], r["kafka.topic_name"], topics))
        if r["kafka.error"]:
            want_err = names.get(int(r["kafka.error"]))
            got_errs = {g.get("error")} | {t.get("error") for t in g.get("topics", [])}
            if want_err not in got_errs:
                errors.append("frame %s: error %s (%s) not in %s" % (
                    r["frame.number"], r["kafka.error"], want_err, got_errs))
        if g["status"] != "ok" or g["response_bytes"] != int(r["kafka.len"]):
            errors.append("frame %s: response not paired (status %s, %r bytes, Wireshark %s)" % (
                r["frame.number"], g["status"], g["response_bytes"], r["kafka.len"]))
            continue
        # Where Wireshark paired it, with the same request frame.
        req = frames.get(r["kafka.request_frame"])
        if req is not None and int(req["kafka.correlation_id"]) != g["correlation_id"]:
            errors.append("frame %s: paired with another request than Wireshark's" % r["frame.number"])
        req = req or next(q for q in requests if q["kafka.correlation_id"] == r["kafka.correlation_id"])
        lat = (float(r["frame.time_epoch"]) - float(req["frame.time_epoch"])) * 1e6
        if abs(g["latency_us"] - lat) > 1.0:
            errors.append("frame %s: latency %.3f us, capture says %.3f us" % (r["frame.number"], g["latency_us"], lat))
    return errors


def main():
    pcaps = sorted(glob.glob(os.path.join(DATA, "*.pcap")))
    if not pcaps:
        print("SKIP replay_real: no captures in %s (they live beside the project "
              "in ../shared; a user's checkout has none)" % os.path.normpath(DATA))
        return 77
    names = error_names()
    failed = 0
    for p in pcaps:
        errs = check(p, names, tshark_more(p))
        print("%-4s %s" % ("ok" if not errs else "FAIL", os.path.basename(p)))
        for e in errs:
            print("     " + e)
        failed += bool(errs)
    print("%d/%d captures agree with Wireshark" % (len(pcaps) - failed, len(pcaps)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
