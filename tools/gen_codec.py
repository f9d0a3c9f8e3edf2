#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Generate the Kafka message codec from Kafka's own JSON message specs.

Usage: tools/gen_codec.py SPEC_DIR ERRORS_TSV OUT_DIR

Writes OUT_DIR/kafka_msgs_gen.h, OUT_DIR/kafka_msgs_gen.c and
OUT_DIR/kafka_errors_gen.c (OUT_DIR is user/proto/gen). Per message (request,
response, data and header specs) the C struct is the union of its fields
over all versions; kc_decode_<Name>() reads a body with a given version and
gives absent fields their spec default. Encoders, random fill and compare
functions (for tests) are compiled under KC_WITH_ENCODERS. The runtime they
call is the hand-written user/proto/kc.[ch]. Output is deterministic.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_apis import load_errors, load_spec, parse_range  # noqa: E402

# spec type -> (C type, wire size)
FIXED = {
    "bool": ("bool", 1), "int8": ("int8_t", 1), "int16": ("int16_t", 2),
    "uint16": ("uint16_t", 2), "int32": ("int32_t", 4),
    "int64": ("int64_t", 8), "float64": ("double", 8),
    "uuid": ("struct kc_uuid", 16),
}
# spec type -> (C type, kc_{write,rand}_ and kc_..._eq name)
VAR = {"string": ("struct kc_str", "str"), "bytes": ("struct kc_bytes", "bytes"),
       "records": ("struct kc_records", "records")}
# arrays of primitives supported by kc.h: spec element type -> kc_arr_ suffix
PARR = {"int8": "int8", "int32": "int32", "int64": "int64",
        "uuid": "uuid", "string": "str"}
C_WORDS = set("""auto break case char const continue default do double else
enum extern float for goto if inline int long register restrict return short
signed sizeof static struct switch typedef union unsigned void volatile while
bool true false""".split())
KINDS = {"request": "KC_REQUEST", "response": "KC_RESPONSE",
         "data": "KC_DATA", "header": "KC_HEADER"}


def die(msg):
    sys.exit("gen_codec: " + msg)


def snake(name):
    name = name.replace("KRaft", "Kraft")
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return s + "_" if s in C_WORDS else s


def vrange(s):
    return parse_range(s) if s is not None else None


def inter(a, b):
    """Intersection of two (lo, hi|None) ranges, None if empty."""
    if a is None or b is None:
        return None
    lo = max(a[0], b[0])
    his = [h for h in (a[1], b[1]) if h is not None]
    hi = min(his) if his else None
    return None if hi is not None and hi < lo else (lo, hi)


def covers(rng, v):
    return rng is not None and rng[0] <= v and (rng[1] is None or v <= rng[1])


def cond(rng, valid):
    """C expression for `version in rng`, given version is in valid."""
    eff = inter(rng, valid)
    if eff is None:
        return "0"
    parts = []
    if eff[0] > valid[0]:
        parts.append("version >= %d" % eff[0])
    if eff[1] is not None and (valid[1] is None or eff[1] < valid[1]):
        parts.append("version <= %d" % eff[1])
    if not parts:
        return "1"
    return parts[0] if len(parts) == 1 else "(%s)" % " && ".join(parts)


def when(c, body, ind):
    """Wrap body lines (already indented by ind + 1) in `if (c)`."""
    if c == "0":
        return []
    if c == "1":
        return [line[1:] if line.startswith("\t") else line for line in body]
    if c.startswith("(") and c.endswith(")"):
        c = c[1:-1]
    if len(body) == 1:
        return ["\t" * ind + "if (%s)" % c] + body
    return ["\t" * ind + "if (%s) {" % c] + body + ["\t" * ind + "}"]


def grouped(blocks, ind):
    """when() over (cond, lines) pairs, adjacent equal conditions merged."""
    out, i = [], 0
    while i < len(blocks):
        c, body = blocks[i][0], list(blocks[i][1])
        while i + 1 < len(blocks) and blocks[i + 1][0] == c:
            i += 1
            body += blocks[i][1]
        out += when(c, body, ind)
        i += 1
    return out


def fcond(rng, f, msg):
    """cond() for a range within the versions field f is present in."""
    return cond(rng, inter(f.versions, msg.valid) or msg.valid)


class Field:
    def __init__(self, msg, js, owner):
        self.name = js["name"]
        self.cname = snake(self.name)
        self.spec_type = t = js["type"]
        self.versions = vrange(js["versions"])
        self.vtext = js["versions"]
        self.nullable = vrange(js.get("nullableVersions"))
        self.tagged = vrange(js.get("taggedVersions"))
        self.tag = int(js["tag"]) if "tag" in js else None
        self.flexv = js.get("flexibleVersions")
        d = js.get("default")
        if isinstance(d, bool):
            d = "true" if d else "false"
        self.default = None if d is None else str(d)
        self.where = "%s.%s" % (owner, self.name)
        if (self.tag is None) != (self.tagged is None):
            die("%s: tag without taggedVersions or vice versa" % self.where)
        if self.tagged is not None and (self.tagged != self.versions or
                                        not 0 <= self.tag < 32):
            die("%s: partly tagged field or tag >= 32 unsupported" %
                self.where)
        self.struct = None
        elem = t[2:] if t.startswith("[]") else t
        if t in FIXED:
            self.kind = "fixed"
        elif t in VAR:
            self.kind = t
        elif t.startswith("[]") and elem in PARR and "fields" not in js:
            self.kind = "parray"
            self.elem = elem
        elif elem[:1].isupper():
            self.kind = "sarray" if t.startswith("[]") else "struct"
            self.struct = msg.struct_for(elem, js.get("fields"), self.where)
        else:
            die("%s: unsupported type %s" % (self.where, t))
        self.has_null = self.kind == "struct" and self.nullable is not None
        if self.tagged is not None and self.kind == "records":
            die("%s: tagged records" % self.where)

    def ctype(self):
        if self.kind == "fixed":
            return FIXED[self.spec_type][0]
        if self.kind in VAR:
            return VAR[self.kind][0]
        if self.kind == "parray":
            return "struct kc_arr_%s" % PARR[self.elem]
        if self.kind == "sarray":
            return "struct { struct %s *v; uint32_t n; bool null; }" % \
                self.struct.cname
        return "struct %s" % self.struct.cname

    def flex_expr(self, msg):
        if self.flexv is not None:
            return cond(vrange(self.flexv), msg.valid)
        return msg.flex_var

    def comment(self):
        c = "v" + self.vtext
        if self.nullable is not None:
            c += ", nullable %s" % fmt_range(self.nullable)
        if self.tag is not None:
            c += ", tag %d" % self.tag
        if self.flexv is not None:
            c += ", flexible %s" % self.flexv
        if self.default is not None:
            c += ", default %s" % (self.default or '""')
        return c


def fmt_range(r):
    if r[1] is None:
        return "v%d+" % r[0]
    return "v%d" % r[0] if r[0] == r[1] else "v%d-%d" % r


class Struct:
    def __init__(self, msg, name, top=False):
        self.msg = msg
        self.name = name
        self.cname = "kc_" + msg.name if top else "kc_%s_%s" % (msg.name,
                                                                 name)
        self.fields = None

    def parse(self, fields_js):
        self.fields = [Field(self.msg, js, self.name) for js in fields_js]
        names = [f.cname for f in self.fields]
        names += [f.cname + "_null" for f in self.fields if f.has_null]
        if len(set(names)) != len(names):
            die("%s: member names collide: %s" % (self.cname, names))
        tags = [f.tag for f in self.fields if f.tag is not None]
        if len(set(tags)) != len(tags):
            die("%s: duplicate tags" % self.cname)
        self.tagged = sorted((f for f in self.fields if f.tag is not None),
                             key=lambda f: f.tag)

    def min_size(self, v, memo):
        """Fewest bytes an instance takes on the wire in version v."""
        key = (self.cname, v)
        if key not in memo:
            flex = covers(self.msg.flex, v)
            n = 1 if flex else 0
            for f in self.fields:
                if not covers(f.versions, v) or f.tag is not None:
                    continue
                ff = covers(vrange(f.flexv), v) if f.flexv else flex
                if f.kind == "fixed":
                    n += FIXED[f.spec_type][1]
                elif f.kind == "string":
                    n += 1 if ff else 2
                elif f.kind == "struct":
                    n += 1 if covers(f.nullable, v) else \
                        f.struct.min_size(v, memo)
                else:
                    n += 1 if ff else 4
            memo[key] = n
        return memo[key]


class Message:
    def __init__(self, spec, fname):
        self.name = spec["name"]
        self.type = spec["type"]
        if self.type not in KINDS:
            die("%s: unknown type %s" % (fname, self.type))
        self.api_key = spec.get("apiKey", -1)
        self.valid = vrange(spec["validVersions"])
        if self.valid[1] is None:
            die("%s: open validVersions" % fname)
        self.flex = vrange(spec.get("flexibleVersions", "none"))
        self.flex_cond = cond(self.flex, self.valid)
        self.flex_var = "flex" if self.flex_cond not in ("0", "1") \
            else self.flex_cond
        self.structs = {}
        self.common = {}
        for c in spec.get("commonStructs", []):
            self.common[c["name"]] = Struct(self, c["name"])
        for c in spec.get("commonStructs", []):
            self.common[c["name"]].parse(c["fields"])
        self.top = Struct(self, self.name, top=True)
        self.top.parse(spec["fields"])
        self.order = []
        self._visit(self.top, set())

    def struct_for(self, name, fields_js, where):
        if fields_js is None:
            if name in self.common:
                return self.common[name]
            if name in self.structs:
                return self.structs[name]
            die("%s: unknown struct %s" % (where, name))
        if name in self.structs or name in self.common:
            die("%s: struct %s defined twice" % (where, name))
        s = Struct(self, name)
        self.structs[name] = s
        s.parse(fields_js)
        return s

    def _visit(self, s, seen):
        """Reachable structs, dependencies first."""
        if s.cname in seen:
            return
        seen.add(s.cname)
        for f in s.fields:
            if f.struct is not None:
                self._visit(f.struct, seen)
        self.order.append(s)

    def depth(self, s):
        return 1 + max([self.depth(f.struct) for f in s.fields if f.struct]
                       or [0])

    def elem_min(self, s, versions):
        """Fewest bytes of an element of s where the array is present."""
        memo = {}
        eff = inter(versions, self.valid)
        return min(s.min_size(v, memo)
                   for v in range(eff[0], eff[1] + 1)) if eff else 0


# ---------------------------------------------------------------- C text


def uses(lines, var):
    return any(re.search(r"(?<![>.\w])%s\b" % re.escape(var), ln)
               for ln in lines)


LOCALS = ("int32_t _cnt;", "uint32_t _cap;", "uint32_t _i;", "size_t _at;",
          "int8_t _nm;", "uint32_t _um;", "size_t _mark;", "uint32_t _nt;",
          "uint64_t _u;")


def locals_for(lines):
    """Declarations of the generated code's locals that lines use."""
    return ["\t" + d for d in LOCALS if uses(lines, d.split()[1][:-1])]


def flex_decl(msg, lines):
    if msg.flex_var == "flex" and uses(lines, "flex"):
        return ["\tconst int flex = %s;" % msg.flex_cond]
    return []


def c_default(f):
    """Assignments (after memset 0) giving field f its default."""
    d = f.default
    lv = "s->" + f.cname
    if f.kind == "struct":
        out = ["\tkc_init_%s(&%s);" % (f.struct.cname[3:], lv)]
        if d == "null" and f.has_null:
            out.append("\t%s_null = true;" % lv)
        elif d is not None:
            die("%s: unsupported struct default %s" % (f.where, d))
        return out
    if d is None or d == "":
        return []
    if d == "null":
        if f.kind in ("string", "bytes", "records"):
            return ["\t%s.len = -1;" % lv]
        if f.kind in ("parray", "sarray"):
            return ["\t%s.null = true;" % lv]
        die("%s: null default for %s" % (f.where, f.spec_type))
    if f.kind == "string":
        lit = d.replace("\\", "\\\\").replace('"', '\\"')
        return ['\t%s.p = "%s";' % (lv, lit),
                "\t%s.len = %d;" % (lv, len(d.encode()))]
    if f.spec_type == "bool":
        if d.lower() not in ("true", "false"):
            die("%s: bad bool default %s" % (f.where, d))
        return ["\t%s = true;" % lv] if d.lower() == "true" else []
    if f.spec_type == "float64":
        return ["\t%s = %r;" % (lv, float(d))] if float(d) else []
    if f.kind != "fixed" or f.spec_type == "uuid":
        die("%s: unsupported default %s" % (f.where, d))
    v = int(d, 0)
    if v == 0:
        return []
    if f.spec_type == "int64":
        return ["\t%s = INT64_C(%d);" % (lv, v)]
    if v == -2 ** 31:
        return ["\t%s = INT32_MIN;" % lv]
    return ["\t%s = %d;" % (lv, v)]


class Gen:
    def __init__(self, msgs):
        self.msgs = msgs
        self.h = []
        self.c = []
        self.enc = []

    # -- decoding
    def rd_field(self, msg, f, lv, flex, ind, tagged):
        t = "\t" * ind
        nul = fcond(f.nullable, f, msg)
        fail = [t + "\treturn -1;"]
        if f.kind == "fixed":
            return [t + "if (kc_read_%s(r, &%s))" % (f.spec_type, lv)] + fail
        if f.kind in VAR:
            fn = "records_field" if f.kind == "records" else VAR[f.kind][1]
            return [t + "if (kc_read_%s(r, %s, %s, &%s))" %
                    (fn, flex, nul, lv)] + fail
        if f.kind == "parray":
            return [t + "if (kc_read_arr_%s(r, %s, %s, &%s))" %
                    (PARR[f.elem], flex, nul, lv)] + fail
        e = f.struct.cname[3:]
        if f.kind == "struct" and not f.has_null:
            return [t + "if (kc_dec_%s(r, version, &%s))" % (e, lv)] + fail
        if f.kind == "struct":
            out = [t + "%s_null = false;" % lv]
            if tagged:
                mark = [t + "\tif (kc_read_uvarint(r, &_um))",
                        t + "\t\treturn -1;", t + "\t%s_null = !_um;" % lv]
            else:
                mark = [t + "\tif (kc_read_int8(r, &_nm))",
                        t + "\t\treturn -1;", t + "\t%s_null = _nm < 0;" % lv]
            if nul == "1":
                out += [ln[1:] for ln in mark]
            elif nul != "0":
                out += [t + "if (%s) {" % nul] + mark + [t + "}"]
            return out + [t + "if (!%s_null && kc_dec_%s(r, version, &%s))"
                          % (lv, e, lv)] + fail
        return [
            t + "if (kc_read_count(r, %s, %s, &_cnt))" % (flex, nul),
            t + "\treturn -1;",
            t + "%s.null = _cnt < 0;" % lv,
            t + "if (_cnt > 0) {",
            t + "\t%s.v = kc_alloc_elems(r, _cnt, sizeof(*%s.v), %d, &_cap);"
            % (lv, lv, msg.elem_min(f.struct, f.versions)),
            t + "\tif (!%s.v)" % lv,
            t + "\t\treturn -1;",
            t + "\tfor (_i = 0; _i < (uint32_t)_cnt; _i++) {",
            t + "\t\tif (_i == _cap) {",
            t + "\t\t\tr->truncated = 1;",
            t + "\t\t\treturn -1;",
            t + "\t\t}",
            t + "\t\t_at = r->pos;",
            t + "\t\tkc_init_%s(&%s.v[_i]);" % (e, lv),
            t + "\t\tif (kc_dec_%s(r, version, &%s.v[_i])) {" % (e, lv),
            t + "\t\t\t%s.n = _i + (r->pos > _at);" % lv,
            t + "\t\t\treturn -1;",
            t + "\t\t}",
            t + "\t\t%s.n = _i + 1;" % lv,
            t + "\t}",
            t + "}",
        ]

    def gen_decoder(self, msg, s):
        blocks = []
        for f in s.fields:
            if f.tag is not None:
                continue
            rd = self.rd_field(msg, f, "s->" + f.cname, f.flex_expr(msg),
                               1, False)
            blocks.append((cond(f.versions, msg.valid),
                           ["\t" + ln for ln in rd]))
        body = grouped(blocks, 1)
        fn = "kc_tag_" + s.cname[3:] if s.tagged else "NULL"
        tags = ["\tif (kc_read_tags(r, version, %s, s, &s->_unknown_tags))"
                % fn, "\t\treturn -1;"]
        body += when(msg.flex_var, ["\t" + ln for ln in tags], 1)
        body.append("\treturn 0;")
        out = []
        if s.tagged:
            out += self.gen_tag_fn(msg, s)
        out += ["static int kc_dec_%s(struct kc_reader *r, int16_t version,"
                % s.cname[3:], "\t\tstruct %s *s)" % s.cname, "{"]
        decl = flex_decl(msg, body) + locals_for(body)
        return out + decl + ([""] if decl else []) + body + ["}", ""]

    def gen_tag_fn(self, msg, s):
        body = ["\tswitch (tag) {"]
        for f in s.tagged:
            body.append("\tcase %d:" % f.tag)
            c = cond(f.tagged, msg.valid)
            if c == "0":
                body.append("\t\treturn 0;")
                continue
            if c != "1":
                body += ["\t\tif (!(%s))" % c.strip("()"),
                         "\t\t\treturn 0;"]
            body += self.rd_field(msg, f, "s->" + f.cname, "1", 2, True)
            body += ["\t\ts->_tagged |= 1u << %d;" % f.tag, "\t\treturn 1;"]
        body += ["\tdefault:", "\t\treturn 0;", "\t}"]
        return ["static int kc_tag_%s(struct kc_reader *r, uint32_t tag,"
                % s.cname[3:], "\t\tint16_t version, void *obj)", "{",
                "\tstruct %s *s = obj;" % s.cname] + locals_for(body) + \
            [""] + body + ["}", ""]

    # -- encoding
    def wr_field(self, msg, f, lv, flex, ind, tagged):
        t = "\t" * ind
        if f.kind == "fixed":
            amp = "&" if f.spec_type == "uuid" else ""
            return [t + "kc_write_%s(w, %s%s);" % (f.spec_type, amp, lv)]
        if f.kind in VAR:
            return [t + "kc_write_%s(w, %s, &%s);" % (VAR[f.kind][1], flex,
                                                     lv)]
        if f.kind == "parray":
            return [t + "kc_write_arr_%s(w, %s, &%s);" % (PARR[f.elem], flex,
                                                         lv)]
        e = f.struct.cname[3:]
        if f.kind == "struct":
            nul = fcond(f.nullable, f, msg)
            mk = "kc_write_uvarint(w, %s)" if tagged else "kc_write_int8(w, %s)"
            enc = [t + "kc_enc_%s(w, version, &%s);" % (e, lv)]
            if nul == "0":
                return enc
            test = "%s_null" % lv if nul == "1" else "%s && %s_null" % (nul, lv)
            out = [t + "if (%s) {" % test,
                   t + "\t" + mk % ("0" if tagged else "-1") + ";",
                   t + "} else {"]
            if nul == "1":
                out.append(t + "\t" + mk % "1" + ";")
            else:
                out += [t + "\tif (%s)" % nul, t + "\t\t" + mk % "1" + ";"]
            return out + ["\t" + ln for ln in enc] + [t + "}"]
        return [t + "kc_write_count(w, %s, %s.null ? -1 : (int64_t)%s.n);"
                % (flex, lv, lv),
                t + "for (_i = 0; !%s.null && _i < %s.n; _i++)" % (lv, lv),
                t + "\tkc_enc_%s(w, version, &%s.v[_i]);" % (e, lv)]

    def gen_encoder(self, msg, s):
        blocks = []
        for f in s.fields:
            if f.tag is not None:
                continue
            wr = self.wr_field(msg, f, "s->" + f.cname, f.flex_expr(msg),
                               2, False)
            blocks.append((cond(f.versions, msg.valid), wr))
        body = grouped(blocks, 1)
        tests = []
        for f in s.tagged:
            c = cond(f.tagged, msg.valid)
            test = "s->_tagged & 1u << %d" % f.tag
            if c != "0":
                tests.append((f, test if c == "1" else "(%s) && %s" % (test,
                                                                     c)))
        tb = ["\t\t_nt = 0;"]
        for f, test in tests:
            tb += ["\t\tif (%s)" % test, "\t\t\t_nt++;"]
        tb.append("\t\tkc_write_uvarint(w, _nt);")
        for f, test in tests:
            tb += ["\t\tif (%s) {" % test,
                   "\t\t\t_mark = kc_write_tag_begin(w, %d);" % f.tag]
            tb += self.wr_field(msg, f, "s->" + f.cname, "1", 3, True)
            tb += ["\t\t\tkc_write_tag_end(w, _mark);", "\t\t}"]
        if s.tagged or msg.flex_cond != "0":
            if not s.tagged:
                tb = ["\t\tkc_write_uvarint(w, 0);"]
            body += when(msg.flex_var, tb, 1)
        decl = flex_decl(msg, body) + locals_for(body)
        return ["static void kc_enc_%s(struct kc_writer *w, int16_t version,"
                % s.cname[3:], "\t\tconst struct %s *s)" % s.cname, "{"] + \
            decl + (["", ] if decl else []) + body + ["}", ""]

    # -- compare and random fill (tests)
    def gen_cmp(self, msg, s):
        body = []
        for f in s.fields:
            a, b = "a->" + f.cname, "b->" + f.cname
            what = '"%s.%s"' % (s.cname[3:], f.cname)
            k = f.kind
            if k == "fixed" and f.spec_type == "uuid":
                ne = "memcmp(%s.b, %s.b, 16)" % (a, b)
            elif k == "fixed" and f.spec_type == "float64":
                ne = "memcmp(&%s, &%s, sizeof(double))" % (a, b)
            elif k == "fixed":
                ne = "%s != %s" % (a, b)
            elif k in VAR:
                ne = "!kc_%s_eq(&%s, &%s)" % (VAR[k][1], a, b)
            elif k == "parray":
                ne = "!kc_arr_%s_eq(&%s, &%s)" % (PARR[f.elem], a, b)
            elif k == "struct" and f.has_null:
                ne = "%s_null != %s_null" % (a, b)
            elif k == "struct":
                ne = None
            else:
                ne = "%s.null != %s.null || %s.n != %s.n" % (a, b, a, b)
            if ne:
                body += ["\tif (%s)" % ne,
                         "\t\treturn kc_diff(where, %s);" % what]
            e = f.struct.cname[3:] if f.struct else None
            if k == "struct":
                body += ["\tif (kc_cmp_%s(&%s, &%s, where))" % (e, a, b),
                         "\t\treturn 1;"]
            elif k == "sarray":
                body += ["\tfor (_i = 0; _i < %s.n; _i++)" % a,
                         "\t\tif (kc_cmp_%s(&%s.v[_i], &%s.v[_i], where))"
                         % (e, a, b), "\t\t\treturn 1;"]
        if msg.flex_cond != "0":
            body += ["\tif (a->_unknown_tags != b->_unknown_tags)",
                     '\t\treturn kc_diff(where, "%s._unknown_tags");'
                     % s.cname[3:]]
        if s.tagged:
            body += ["\tif (a->_tagged != b->_tagged)",
                     '\t\treturn kc_diff(where, "%s._tagged");' % s.cname[3:]]
        return ["static int kc_cmp_%s(const struct %s *a," % (s.cname[3:],
                                                              s.cname),
                "\t\tconst struct %s *b, const char **where)" % s.cname,
                "{"] + locals_for(body) + ([""] if uses(body, "_i") else []) \
            + body + ["\treturn 0;", "}", ""]

    def fill_field(self, msg, f, lv, ind):
        t = "\t" * ind
        nul = fcond(f.nullable, f, msg)
        k = f.kind
        if k == "fixed":
            st = f.spec_type
            if st == "uuid":
                return [t + "kc_rand_uuid(rnd, &%s);" % lv]
            if st == "float64":
                return [t + "_u = kc_rand_next(rnd);",
                        t + "memcpy(&%s, &_u, sizeof(_u));" % lv]
            if st == "bool":
                return [t + "%s = kc_rand_next(rnd) & 1;" % lv]
            return [t + "%s = (%s)kc_rand_next(rnd);" % (lv, FIXED[st][0])]
        if k in VAR:
            return [t + "kc_rand_%s(rnd, %s, &%s);" % (VAR[k][1], nul, lv)]
        if k == "parray":
            return [t + "kc_rand_arr_%s(rnd, %s, &%s);" % (PARR[f.elem], nul,
                                                          lv)]
        e = f.struct.cname[3:]
        if k == "struct" and not f.has_null:
            return [t + "kc_fill_%s(rnd, version, &%s);" % (e, lv)]
        if k == "struct":
            return [t + "%s_null = %s && !kc_rand_below(rnd, 4);" % (lv, nul),
                    t + "if (!%s_null)" % lv,
                    t + "\tkc_fill_%s(rnd, version, &%s);" % (e, lv)]
        return [
            t + "_cnt = kc_rand_count(rnd, %s);" % nul,
            t + "%s.null = _cnt < 0;" % lv,
            t + "%s.v = _cnt > 0 ? kc_arena_alloc(rnd->arena, _cnt, "
            "sizeof(*%s.v)) : NULL;" % (lv, lv),
            t + "for (_i = 0; %s.v && _i < (uint32_t)_cnt; _i++, %s.n++) {"
            % (lv, lv),
            t + "\tkc_init_%s(&%s.v[_i]);" % (e, lv),
            t + "\tkc_fill_%s(rnd, version, &%s.v[_i]);" % (e, lv),
            t + "}",
        ]

    def gen_fill(self, msg, s):
        blocks = []
        for f in s.fields:
            c = cond(f.versions, msg.valid)
            ff = self.fill_field(msg, f, "s->" + f.cname, 2)
            if f.tag is not None:
                c = cond(f.tagged, msg.valid)
                if c == "0":
                    continue
                c = "kc_rand_below(rnd, 2)" if c == "1" else \
                    "%s && kc_rand_below(rnd, 2)" % c
                ff.append("\t\ts->_tagged |= 1u << %d;" % f.tag)
            blocks.append((c, ff))
        body = grouped(blocks, 1)
        decl = locals_for(body)
        return ["static void kc_fill_%s(struct kc_rand *rnd, int16_t version,"
                % s.cname[3:], "\t\tstruct %s *s)" % s.cname, "{"] + decl + \
            ([""] if decl else []) + body + ["}", ""]

    # -- per message
    def gen_struct_h(self, msg, s):
        out = ["struct %s {" % s.cname]
        for f in s.fields:
            out.append("\t%s %s;\t/* %s */" % (f.ctype(), f.cname, f.comment()))
            if f.has_null:
                out.append("\tbool %s_null;" % f.cname)
        if msg.flex_cond != "0":
            out.append("\tuint32_t _unknown_tags;\t/* unknown tagged fields "
                       "skipped */")
        if s.tagged:
            out.append("\tuint32_t _tagged;\t/* bit n: tag n present */")
        if len(out) == 1:
            out.append("\tchar _empty;\t/* no fields in any version */")
        return out + ["};", ""]

    def gen_init(self, s):
        body = []
        for f in s.fields:
            body += c_default(f)
        return ["void kc_init_%s(struct %s *s)" % (s.cname[3:], s.cname), "{",
                "\tmemset(s, 0, sizeof(*s));"] + body + ["}", ""]

    def gen_message(self, msg):
        n = msg.name
        lo, hi = msg.valid
        flex = msg.flex[0] if msg.flex else -1
        api = " api_key %d," % msg.api_key if msg.api_key >= 0 else ""
        self.h.append("/* %s (%s,%s v%d-%d, flexible %s) */" %
                      (n, msg.type, api, lo, hi,
                       "v%d+" % flex if flex >= 0 else "never"))
        for s in msg.order:
            self.h += self.gen_struct_h(msg, s)
        for s in msg.order:
            self.h.append("void kc_init_%s(struct %s *s);" % (s.cname[3:],
                                                             s.cname))
        self.h += [
            "int kc_decode_%s(struct kc_reader *r, int16_t version," % n,
            "\t\tstruct kc_%s *out);" % n, "#ifdef KC_WITH_ENCODERS",
            "int kc_encode_%s(struct kc_writer *w, int16_t version," % n,
            "\t\tconst struct kc_%s *in);" % n, "#endif", ""]
        self.c += ["/* ---- %s ---- */" % n, ""]
        for s in msg.order:
            self.c.append("static int kc_dec_%s(struct kc_reader *r, "
                          "int16_t version, struct %s *s);"
                          % (s.cname[3:], s.cname))
        self.c.append("")
        for s in msg.order:
            self.c += self.gen_init(s)
            self.c += self.gen_decoder(msg, s)
        vchk = ("version < %d || version > %d" % (lo, hi)) if lo > 0 \
            else "version < 0 || version > %d" % hi
        self.c += [
            "int kc_decode_%s(struct kc_reader *r, int16_t version," % n,
            "\t\tstruct kc_%s *out)" % n, "{",
            "\tkc_init_%s(out);" % n,
            "\tif (%s)" % vchk, "\t\treturn kc_bad_version(r);",
            "\tif (kc_dec_%s(r, version, out))" % n, "\t\treturn -1;",
            "\treturn kc_status(r);", "}", "",
            "static int kc_any_decode_%s(struct kc_reader *r, int16_t version,"
            % n, "\t\tvoid *out)", "{",
            "\treturn kc_decode_%s(r, version, out);" % n, "}", ""]
        e = self.enc
        e += ["/* ---- %s ---- */" % n, ""]
        for s in msg.order:
            e += ["static void kc_enc_%s(struct kc_writer *w, int16_t version,"
                  " const struct %s *s);" % (s.cname[3:], s.cname),
                  "static int kc_cmp_%s(const struct %s *a, const struct %s "
                  "*b, const char **where);" % (s.cname[3:], s.cname, s.cname),
                  "static void kc_fill_%s(struct kc_rand *rnd, int16_t "
                  "version, struct %s *s);" % (s.cname[3:], s.cname)]
        e.append("")
        for s in msg.order:
            e += self.gen_encoder(msg, s)
            e += self.gen_cmp(msg, s)
            e += self.gen_fill(msg, s)
        e += [
            "int kc_encode_%s(struct kc_writer *w, int16_t version," % n,
            "\t\tconst struct kc_%s *in)" % n, "{",
            "\tif (%s)" % vchk, "\t\treturn -1;",
            "\tkc_enc_%s(w, version, in);" % n,
            "\treturn w->error ? -1 : 0;", "}", "",
            "static int kc_any_encode_%s(struct kc_writer *w, int16_t version,"
            % n, "\t\tconst void *in)", "{",
            "\treturn kc_encode_%s(w, version, in);" % n, "}", "",
            "static void kc_any_fill_%s(struct kc_rand *rnd, int16_t version,"
            % n, "\t\tvoid *out)", "{", "\tkc_init_%s(out);" % n,
            "\tkc_fill_%s(rnd, version, out);" % n, "}", "",
            "static int kc_any_cmp_%s(const void *a, const void *b," % n,
            "\t\tconst char **where)", "{",
            "\treturn kc_cmp_%s(a, b, where);" % n, "}", ""]

    def gen_dispatch(self):
        by = {}
        for m in self.msgs:
            if m.type in ("request", "response"):
                by[(m.api_key, m.type)] = m
        c, e = self.c, self.enc

        def switch(head, cases, default):
            out = head + ["{", "\tswitch (api_key) {"]
            for k, ret in cases:
                out += ["\tcase %d:" % k] + ["\t\t" + ln for ln in ret]
            return out + ["\tdefault:"] + ["\t\t" + ln for ln in default] \
                + ["\t}", "}", ""]
        for kind in ("request", "response"):
            ms = sorted((k, m.name) for (k, t), m in by.items() if t == kind)
            c += switch(["int kc_decode_%s(int16_t api_key, int16_t version,"
                         % kind, "\t\tstruct kc_reader *r, void *out)"],
                        [(k, ["return kc_decode_%s(r, version, out);" % n])
                         for k, n in ms],
                        ["if (!r->error)", "\tr->error = KC_ERR_API;",
                         "return -1;"])
            c += switch(["size_t kc_%s_size(int16_t api_key)" % kind],
                        [(k, ["return sizeof(struct kc_%s);" % n])
                         for k, n in ms], ["return 0;"])
            e += switch(["int kc_encode_%s(int16_t api_key, int16_t version,"
                         % kind, "\t\tstruct kc_writer *w, const void *in)"],
                        [(k, ["return kc_encode_%s(w, version, in);" % n])
                         for k, n in ms], ["return -1;"])
        # header versions, as ApiMessageType.{request,response}HeaderVersion
        for kind, hi, lo in (("request", 2, 1), ("response", 1, 0)):
            cases = []
            for k in sorted(k for (k, t) in by if t == kind):
                m = by[(k, kind)]
                ret = ["return api_version >= %d ? %d : %d;" % (
                    m.flex[0], hi, lo) if m.flex else "return %d;" % lo]
                if kind == "request" and k == 7:  # ControlledShutdown v0
                    ret = ["if (api_version == 0)", "\treturn 0;"] + ret
                if kind == "response" and k == 18:  # ApiVersions: always v0
                    ret = ["return 0;"]
                cases.append((k, ret))
            c += switch(["int kc_%s_header_version(int16_t api_key, "
                         "int16_t api_version)" % kind], cases, ["return -1;"])
        c += ["const struct kc_msg_info kc_msgs[KC_NUM_MSGS] = {"]
        e += ["const struct kc_msg_test kc_msg_tests[KC_NUM_MSGS] = {"]
        for m in self.msgs:
            c.append('\t{ "%s", %d, %s, %d, %d, %d, sizeof(struct kc_%s), '
                     "kc_any_decode_%s }," % (
                         m.name, m.api_key, KINDS[m.type], m.valid[0],
                         m.valid[1], m.flex[0] if m.flex else -1, m.name,
                         m.name))
            e.append("\t{ kc_any_encode_%s, kc_any_fill_%s, kc_any_cmp_%s },"
                     % (m.name, m.name, m.name))
        c += ["};", ""]
        e += ["};"]


HEADER_DOC = """\
/*
 * GENERATED by tools/gen_codec.py from Apache Kafka's JSON message specs
 * (clients/src/main/resources/common/message). Do not edit: rerun
 *   /usr/bin/python3 tools/gen_codec.py SPEC_DIR ERRORS_TSV user/proto/gen
 *
 * One struct per message spec: the union of its fields over all versions,
 * named kc_<Message> and kc_<Message>_<Struct> for nested structs. A field
 * not in the decoded version holds its spec default (else 0, empty, not
 * null); _tagged tells which tagged fields were on the wire. Decoders take
 * the buffer positioned at the body (after the request/response header,
 * itself kc_RequestHeader / kc_ResponseHeader, of the version given by
 * kc_{request,response}_header_version()). Errors: see kc.h.
 */"""


C_HEAD = """#include <string.h>
#include "proto/gen/kafka_msgs_gen.h"

static int kc_bad_version(struct kc_reader *r)
{
	if (!r->error)
		r->error = KC_ERR_VERSION;
	return -1;
}
"""

ENC_HEAD = """#ifdef KC_WITH_ENCODERS

static int kc_diff(const char **where, const char *what)
{
	*where = what;
	return 1;
}
"""

HEADER_TAIL = """enum kc_msg_kind { KC_REQUEST, KC_RESPONSE, KC_DATA, KC_HEADER };

/* Every message spec, sorted by name. */
struct kc_msg_info {
	const char *name;
	int16_t api_key;	/* -1: data and header structs */
	int8_t kind;		/* enum kc_msg_kind */
	int16_t min_version;
	int16_t max_version;
	int16_t flexible_min;	/* -1: never flexible */
	size_t size;		/* sizeof the struct */
	int (*decode)(struct kc_reader *r, int16_t version, void *out);
};

#define KC_NUM_MSGS %d
/* The deepest struct nesting in the specs: bounds the decoders' calls. */
#define KC_MAX_DEPTH %d
extern const struct kc_msg_info kc_msgs[KC_NUM_MSGS];

/* Body decoders by api_key; -1 with KC_ERR_API if unknown. */
int kc_decode_request(int16_t api_key, int16_t version,
		struct kc_reader *r, void *out);
int kc_decode_response(int16_t api_key, int16_t version,
		struct kc_reader *r, void *out);
/* sizeof the body struct; 0 if api_key is unknown. */
size_t kc_request_size(int16_t api_key);
size_t kc_response_size(int16_t api_key);
/* RequestHeader (0-2) and ResponseHeader (0-1) versions; -1 unknown. */
int kc_request_header_version(int16_t api_key, int16_t api_version);
int kc_response_header_version(int16_t api_key, int16_t api_version);

#ifdef KC_WITH_ENCODERS
int kc_encode_request(int16_t api_key, int16_t version,
		struct kc_writer *w, const void *in);
int kc_encode_response(int16_t api_key, int16_t version,
		struct kc_writer *w, const void *in);

/* Test hooks, parallel to kc_msgs[]. */
struct kc_msg_test {
	int (*encode)(struct kc_writer *w, int16_t version, const void *in);
	void (*fill)(struct kc_rand *rnd, int16_t version, void *out);
	int (*cmp)(const void *a, const void *b, const char **where);
};

extern const struct kc_msg_test kc_msg_tests[KC_NUM_MSGS];
#endif

#endif /* KAFKATAP_KAFKA_MSGS_GEN_H */"""


def write(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    spec_dir, errors_tsv, out_dir = sys.argv[1:]
    msgs = []
    for fname in sorted(os.listdir(spec_dir)):
        if fname.endswith(".json"):
            msgs.append(Message(load_spec(os.path.join(spec_dir, fname)),
                                fname))
    msgs.sort(key=lambda m: m.name)
    names = [s.cname for m in msgs for s in m.order]
    if len(set(names)) != len(names):
        die("struct names collide")
    g = Gen(msgs)
    g.h = ["/* SPDX-License-Identifier: Apache-2.0 */", HEADER_DOC,
           "#ifndef KAFKATAP_KAFKA_MSGS_GEN_H",
           "#define KAFKATAP_KAFKA_MSGS_GEN_H", "", "#include \"proto/kc.h\"", ""]
    g.c = ["// SPDX-License-Identifier: Apache-2.0",
           HEADER_DOC.split(" *\n")[0] + " */"] + C_HEAD.split("\n")
    g.enc = ENC_HEAD.split("\n")
    for m in msgs:
        g.gen_message(m)
    g.gen_dispatch()
    depth = max(m.depth(m.top) for m in msgs)
    g.h += (HEADER_TAIL % (len(msgs), depth)).split("\n")
    write(os.path.join(out_dir, "kafka_msgs_gen.h"), g.h)
    write(os.path.join(out_dir, "kafka_msgs_gen.c"),
          g.c + g.enc + ["", "#endif /* KC_WITH_ENCODERS */"])
    write_errors(errors_tsv, os.path.join(out_dir, "kafka_errors_gen.c"))


def write_errors(tsv, path):
    errs = load_errors(tsv)
    lo, hi = min(errs), max(errs)
    out = ["// SPDX-License-Identifier: Apache-2.0",
           "/*", " * GENERATED by tools/gen_codec.py from Apache Kafka's "
           "error codes (errors.tsv,", " * from Errors.java). Do not edit.",
           " */", '#include "proto/kc.h"', "",
           "static const char *const kc_error_names[%d] = {" % (hi - lo + 1)]
    for code in sorted(errs):
        out.append('\t[%d] = "%s",\t/* %d */' % (code - lo, errs[code], code))
    out += ["};", "",
            "/* NULL for a code the specs do not name (gaps, out of range). */",
            "const char *kc_error_name(int16_t code)", "{",
            "\tif (code < %d || code > %d)" % (lo, hi), "\t\treturn NULL;",
            "\treturn kc_error_names[code - (%d)];" % lo, "}"]
    write(path, out)


if __name__ == "__main__":
    main()
