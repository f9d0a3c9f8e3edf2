#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Seed corpora for the fuzz targets, from the real captures.

    fuzz/seeds.py CAPTURE_DIR OUT_DIR

CAPTURE_DIR holds pcap files (../shared/testdata/pcap-real-kafka); OUT_DIR
gets one folder per target (agent, codec, frame, observe, pcap), in each
target's input format (see the comment at the top of fuzz/fuzz_*.c). The
captures are read, never copied anywhere but OUT_DIR (.output/fuzz/corpus,
git-ignored). Without captures, only the synthetic seeds are written.

- pcap: each file (mode byte 1), the same packets rewritten as Linux cooked
  v1/v2, raw IP, BSD loopback, 802.1Q, IPv6, pcapng and as one large
  segment per stream direction; single packets in every link type (mode 0).
- frame: Ethernet frames with padding past one test run (IPv4, IPv6, VLAN
  stripped, IP length 0).
- codec: every Kafka frame (header + body), request and response.
- observe: the captures' exchanges, whole frames, paired by correlation id.
- agent: the exchanges as ring buffer records (REQUEST, DATA chunks with
  the frame's bytes, RESPONSE, CLOSE), both as ops and as raw structs laid
  out like include/kafkatap.h.
"""
import glob
import hashlib
import os
import struct
import sys

BROKER_PORTS = {9092, 9093, 36333}


# ---- reading captures ----

def read_pcap(path):
    """(linktype, [(ts_ns, bytes)]) of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0fffffff
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        pkts.append((sec * 10**9 + (frac if nano else frac * 1000), data[off:off + caplen]))
        off += caplen
    return linktype, pkts


def l3_of(linktype, pkt):
    """The IP packet inside a captured packet, or None."""
    if linktype == 1:
        et, off = struct.unpack(">H", pkt[12:14])[0], 14
        if et == 0x8100:
            et, off = struct.unpack(">H", pkt[16:18])[0], 18
        return pkt[off:] if et in (0x0800, 0x86DD) else None
    if linktype == 113:
        return pkt[16:]
    if linktype == 276:
        return pkt[20:]
    if linktype in (0, 108):
        return pkt[4:]
    if linktype in (101, 228, 229, 12, 14):
        return pkt
    return None


def parse_tcp(ip):
    """(src, dst, sport, dport, seq, flags, payload, v6) or None."""
    if not ip:
        return None
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            return None
        tot = struct.unpack(">H", ip[2:4])[0] or len(ip)
        src, dst, tcp, end, v6 = ip[12:16], ip[16:20], ip[ihl:], tot - ihl, False
    elif ip[0] >> 4 == 6:
        if ip[6] != 6:
            return None
        plen = struct.unpack(">H", ip[4:6])[0] or len(ip) - 40
        src, dst, tcp, end, v6 = ip[8:24], ip[24:40], ip[40:], plen, True
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    return src, dst, sport, dport, seq, tcp[13], tcp[doff:end], v6


def frames_of(stream):
    """Split a byte stream into Kafka frames (with their size field)."""
    out, off = [], 0
    while off + 4 <= len(stream):
        size = struct.unpack(">i", stream[off:off + 4])[0]
        if size < 4 or off + 4 + size > len(stream):
            break
        out.append(bytes(stream[off:off + 4 + size]))
        off += 4 + size
    return out


def exchanges_of(linktype, pkts):
    """[(api_key, version, corr, client_id, request, response or None)]."""
    streams, order = {}, []
    for ts, pkt in pkts:
        t = parse_tcp(l3_of(linktype, pkt))
        if not t or not t[6]:
            continue
        src, dst, sport, dport, seq, flags, payload, v6 = t
        if dport in BROKER_PORTS:
            key, d = (src, sport, dst, dport), 0
        elif sport in BROKER_PORTS:
            key, d = (dst, dport, src, sport), 1
        else:
            continue
        if key not in streams:
            streams[key] = [{}, {}]
            order.append(key)
        streams[key][d].setdefault(seq, payload)
    out = []
    for key in order:
        segs = streams[key]
        dirs = []
        for d in (0, 1):
            s = b""
            for seq in sorted(segs[d]):
                s += segs[d][seq]
            dirs.append(frames_of(s))
        resp = {struct.unpack(">i", f[4:8])[0]: f for f in dirs[1]}
        for q in dirs[0]:
            key_, ver, corr = struct.unpack(">hhi", q[4:12])
            cl = struct.unpack(">h", q[12:14])[0] if len(q) >= 14 else -1
            cid = q[14:14 + cl] if cl > 0 else b""
            out.append((key_, ver, corr, cid, q, resp.pop(corr, None)))
    return out


# ---- writing captures ----

def pcap_bytes(linktype, pkts, snaplen=262144):
    out = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, snaplen, linktype)
    for ts, p in pkts:
        out += struct.pack("<IIII", ts // 10**9, ts % 10**9, len(p), len(p)) + p
    return out


def pcapng_bytes(linktype, pkts):
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", t, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 262144))
    for ts, p in pkts:
        us = ts // 1000
        out += block(6, struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(p), len(p)) + p)
    return out


def v4_to_v6(ip):
    """The same TCP segment over IPv6 (fd00::/8 addresses)."""
    ihl = (ip[0] & 15) * 4
    tot = struct.unpack(">H", ip[2:4])[0] or len(ip)
    l4 = ip[ihl:tot]
    hdr = struct.pack(">IHBB", 6 << 28, len(l4), 6, 64)
    return hdr + b"\xfd" + b"\0" * 11 + ip[12:16] + b"\xfd" + b"\0" * 11 + ip[16:20] + l4


def relink(linktype, ip):
    if linktype == 113:
        return struct.pack(">HHH8sH", 0, 1, 6, b"\0" * 8, 0x86DD if ip[0] >> 4 == 6 else 0x0800) + ip
    if linktype == 276:
        return struct.pack(">HHIHBB8s", 0x86DD if ip[0] >> 4 == 6 else 0x0800, 0, 1, 1, 0, 6, b"\0" * 8) + ip
    if linktype == 0:
        return struct.pack("<I", 24 if ip[0] >> 4 == 6 else 2) + ip
    if linktype == 108:
        return struct.pack(">I", 24 if ip[0] >> 4 == 6 else 2) + ip
    if linktype == 1:
        return eth(ip)
    return ip


def eth(ip, vlan=False):
    et = b"\x86\xdd" if ip[0] >> 4 == 6 else b"\x08\x00"
    mac = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01"
    return mac + (b"\x81\x00\x00\x07" if vlan else b"") + et + ip


def merged_segments(linktype, pkts):
    """Per stream direction, all payload as one large TCP segment."""
    firsts, pay = {}, {}
    for ts, pkt in pkts:
        ip = l3_of(linktype, pkt)
        t = parse_tcp(ip)
        if not t or not t[6] or ip[0] >> 4 != 4:
            continue
        k = (t[0], t[1], t[2], t[3])
        if k not in firsts:
            firsts[k] = (ts, ip, t[4])
            pay[k] = {}
        pay[k].setdefault(t[4], t[6])
    out = []
    for k, (ts, ip, seq0) in firsts.items():
        data = b"".join(pay[k][s] for s in sorted(pay[k]))
        ihl = (ip[0] & 15) * 4
        doff = (ip[ihl + 12] >> 4) * 4
        hdr = bytearray(ip[:ihl + doff])
        hdr[2:4] = struct.pack(">H", (len(hdr) + len(data)) & 0xFFFF)
        hdr[ihl + 4:ihl + 8] = struct.pack(">I", seq0)
        out.append((ts, bytes(hdr) + data))
    return out


# ---- the targets' input formats ----

class Corpus:
    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.n = 0

    def add(self, data, tag=""):
        h = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(self.dir, "seed-%s%s" % (tag + "-" if tag else "", h)), "wb") as f:
            f.write(data)
        self.n += 1


def be16(v):
    return struct.pack(">H", v & 0xFFFF)


def be32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def agent_frame_op(op, conn, corr, api, ver, flags, size, cap, seq, cid):
    """fuzz_agent op 0 (REQUEST) or 2 (RESPONSE): see op_frame()."""
    out = bytes([op, 1, conn % 6, 0x80]) + be32(corr)
    out += bytes([api & 0xFF, ver & 0xFF, flags & 0xFF, 0xFF]) + be16(size)
    out += bytes([0x80]) + be16(cap) if cap else b"\0"
    out += bytes([0x10]) + be32(seq)
    if cid is None:
        out += b"\xff"
    else:
        out += bytes([min(len(cid), 0x7F)]) + cid[:64]
    return out


def agent_data_ops(conn, d, frame, cap):
    """fuzz_agent op 3 (DATA): the frame's first cap bytes in chunks."""
    out, off = b"", 0
    while off < cap:
        n = min(4096, cap - off)
        last = off + n >= cap
        out += bytes([3, 0, conn % 6 | d << 7, 0x00, 0xC0]) + be16(n)
        out += bytes([1 if last else 0]) + frame[off:off + n]
        off += n
    return out


KT_VERSION = 2  # KT_FORMAT_VERSION in include/kafkatap.h


def kt_conn(conn):
    """KT_EV_CONN (struct kt_rec_conn), little endian like the kernel writes it."""
    c = struct.pack("<16s16sHHB3x", bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]),
                    40000 + conn, 9092, 4)
    return struct.pack("<BBxxIQ", 6, KT_VERSION, 1, 0x100 + conn) + c


def kt_client_id(conn, cid):
    """KT_EV_CLIENT_ID (struct kt_rec_client_id)."""
    return struct.pack("<BBhIQ64s", 7, KT_VERSION, -1 if cid is None else len(cid), 0,
                       0x100 + conn, (cid or b"")[:64])


def kt_frame(typ, d, conn, ts, seq, size, api, ver, corr, cid, acks, flags, cap):
    """A frame record (struct kt_rec_frame), its client_id record first for a request."""
    rec = struct.pack("<BBHiQQIihhhBxII", typ, KT_VERSION, flags, size, 0x100 + conn, ts, seq,
                      corr, api, ver, acks, 0, cap, 0)
    return ([kt_client_id(conn, cid)] if typ == 1 else []) + [rec]


def kt_data(d, conn, ts, seq, off, data, flags):
    """A data record (struct kt_rec_data) with one run."""
    return struct.pack("<BBBBIQII", 3, KT_VERSION, d, 1, seq, 0x100 + conn, 0, 0) + \
        struct.pack("<IHH", off, len(data), flags) + data


def kt_stream(typ, d, conn, ts, seq, flags):
    """KT_EV_CLOSE or KT_EV_GAP (struct kt_rec_stream)."""
    return struct.pack("<BBBxHxxIxxxxQQ", typ, KT_VERSION, d, flags, seq, 0x100 + conn, ts)


def raw_op(rec):
    return bytes([6, 1]) + be16(len(rec)) + rec + b"\0"


def agent_seeds(corp, exchanges, tag):
    ops = bytes([0x33, 0x62, 0, 0])     # expiry 4 ms, capture cap 1 MiB (see the cfg bytes)
    raw = bytes([0x33, 0x62, 0, 0])
    seq = {0: 1000, 1: 5000}
    for i, (api, ver, corr, cid, q, a) in enumerate(exchanges):
        conn = i % 3
        ops += agent_frame_op(0, conn, corr, api, ver, 0x08, len(q) - 4, len(q), seq[0], cid)
        ops += agent_data_ops(conn, 0, q, len(q))
        ts = 10**9 + i * 10**6
        raw += raw_op(kt_conn(conn))
        for rec in kt_frame(1, 0, conn, ts, seq[0], len(q) - 4, api, ver, corr, cid, 1,
                            0x08 | 0x02, len(q)):
            raw += raw_op(rec)
        for off in range(0, len(q), 4096):
            chunk = q[off:off + 4096]
            raw += raw_op(kt_data(0, conn, ts, seq[0], off, chunk,
                                  1 if off + len(chunk) >= len(q) else 0))
        seq[0] += len(q)
        if a is not None:
            ops += agent_frame_op(2, conn, corr, api, ver, 0x0C, len(a) - 4, len(a), seq[1], None)
            ops += agent_data_ops(conn, 1, a, len(a))
            for rec in kt_frame(2, 1, conn, ts + 500000, seq[1], len(a) - 4, api, ver, corr,
                                None, 0, 0x0C, len(a)):
                raw += raw_op(rec)
            raw += raw_op(kt_data(1, conn, ts + 500000, seq[1], 0, a[:4096], 1))
            seq[1] += len(a)
        ops += bytes([5, 2])                        # tick
    ops += bytes([4, 1, 0]) + be32(seq[0]) + b"\1"  # CLOSE (FIN)
    ops += bytes([0x0C, 1, 0x80]) + be32(seq[1]) + b"\0"    # GAP
    ops += bytes([5, 0xF1])                         # tick past every expiry
    raw += raw_op(kt_stream(4, 0, 0, 2 * 10**9, seq[0], 1))
    corp.add(ops, tag + "-ops")
    corp.add(raw, tag + "-raw")


def observe_seed(exchanges):
    out = b""
    for api, ver, corr, cid, q, a in exchanges:
        bits = (0 if a is not None else 2) | 0x10 | (0x20 if a is not None else 0)
        out += bytes([api & 0xFF, ver & 0xFF, bits, 1]) + be16(len(q)) + q
        out += be16(len(a)) + a if a is not None else be16(0)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: seeds.py CAPTURE_DIR OUT_DIR")
    src, root = sys.argv[1], sys.argv[2]
    c = {n: Corpus(root, n) for n in ("agent", "codec", "frame", "observe", "pcap")}
    files = sorted(glob.glob(os.path.join(src, "*.pcap")) + glob.glob(os.path.join(src, "*.pcapng")))
    all_ex = []
    for path in files:
        tag = os.path.basename(path).rsplit(".", 1)[0]
        with open(path, "rb") as f:
            c["pcap"].add(b"\x01" + f.read(), tag)
        lt, pkts = read_pcap(path)
        if lt is None:
            continue
        ips = [(ts, l3_of(lt, p)) for ts, p in pkts]
        ips = [(ts, ip) for ts, ip in ips if ip]
        for nlt in (113, 276, 101, 0, 108):
            c["pcap"].add(b"\x01" + pcap_bytes(nlt, [(ts, relink(nlt, ip)) for ts, ip in ips]),
                          "%s-lt%d" % (tag, nlt))
        c["pcap"].add(b"\x01" + pcapng_bytes(1, [(ts, eth(ip)) for ts, ip in ips]), tag + "-ng")
        c["pcap"].add(b"\x01" + pcap_bytes(1, [(ts, eth(ip, vlan=True)) for ts, ip in ips]),
                      tag + "-vlan")
        v6 = [(ts, v4_to_v6(ip)) for ts, ip in ips if ip[0] >> 4 == 4]
        c["pcap"].add(b"\x01" + pcap_bytes(101, v6), tag + "-v6")
        big = merged_segments(lt, pkts)
        c["pcap"].add(b"\x01" + pcap_bytes(1, [(ts, eth(ip)) for ts, ip in big]), tag + "-merged")
        for i, (ts, ip) in enumerate(ips[:4]):
            for k, nlt in enumerate((0, 1, 101, 108, 113, 228, 229, 276)):
                c["pcap"].add(bytes([0, k, 6]) + relink(nlt, ip), "%s-pkt" % tag)
            # frame: past one test run (3000 bytes) so that it is cut
            pad = max(0, 3500 - len(ip) - 14)
            c["frame"].add(be16(pad) + eth(ip), tag)
            if ip[0] >> 4 == 4:
                c["frame"].add(be16(pad) + eth(v4_to_v6(ip)), tag + "-v6")
                z = bytearray(ip)
                z[2:4] = b"\0\0"                    # IP length 0 (BIG TCP)
                c["frame"].add(be16(pad + 60000) + eth(bytes(z)), tag + "-len0")
                z6 = bytearray(v4_to_v6(ip))
                z6[4:6] = b"\0\0"
                c["frame"].add(be16(pad + 60000) + eth(bytes(z6)), tag + "-v6len0")
        ex = exchanges_of(lt, pkts)
        all_ex += ex
        for api, ver, corr, cid, q, a in ex:
            c["codec"].add(bytes([api & 0xFF, ver & 0xFF, 4 | 3 << 3]) + q[4:], tag + "-req")
            if a is not None:
                c["codec"].add(bytes([api & 0xFF, ver & 0xFF, 5 | 3 << 3]) + a[4:], tag + "-resp")
                c["observe"].add(observe_seed([(api, ver, corr, cid, q, a)]), tag)
        if ex:
            c["observe"].add(observe_seed(ex), tag + "-all")
            agent_seeds(c["agent"], ex, tag)
    # Without captures (or in addition): synthetic seeds.
    q = struct.pack(">ihhih4s", 18, 18, 3, 1, 4, b"fuzz") + b"\0\0\0\0"
    a = struct.pack(">ii", 8, 1) + b"\0\0\0\0"
    agent_seeds(c["agent"], [(18, 3, 1, b"fuzz", q, a), (0, 9, 2, b"p", q, None)], "synthetic")
    c["observe"].add(observe_seed([(18, 3, 1, b"fuzz", q, a)]), "synthetic")
    c["codec"].add(bytes([0xFF, 0, 0x20 | 3 << 3]) + be32(200) + b"\0" * 8 + be32(49) +
                   b"\0\0\0\0\x02" + b"\0" * 56, "records")
    print("seeds: %s (from %d captures)" % (
        ", ".join("%s %d" % (k, v.n) for k, v in c.items()), len(files)))


if __name__ == "__main__":
    main()
