#!/usr/bin/env python3
"""Generate the Kafka codec's message tables from Kafka's message definitions.

Usage:
    python3 scripts/kafka_codec_gen.py KAFKA_MESSAGE_DIR

KAFKA_MESSAGE_DIR is `clients/src/main/resources/common/message` of an Apache
Kafka checkout (the protocol's specification: one JSON file per request and
response).  Writes src/kafka/codec/kcschema.c (field tables) and
src/include/eventlog/kafka/kcschema.h (field index macros).  The output is
committed, so building needs no Kafka checkout; re-run this after changing
APIS below.

Only the versions in APIS are emitted; each range starts at the oldest
version Kafka 4.0 still serves (KIP-896).
"""

import json
import os
import re
import sys

# name, api key, min version we serve, max version we serve
APIS = [
    ("Produce", 0, 3, 11),
    ("Fetch", 1, 4, 17),
    ("ListOffsets", 2, 1, 10),
    ("Metadata", 3, 0, 12),
    ("SaslHandshake", 17, 0, 1),
    ("ApiVersions", 18, 0, 4),
    ("CreateTopics", 19, 2, 7),
    ("DeleteTopics", 20, 1, 6),
    ("InitProducerId", 22, 0, 5),
    ("OffsetForLeaderEpoch", 23, 2, 4),
    ("DescribeConfigs", 32, 1, 4),
    ("SaslAuthenticate", 36, 0, 2),
    ("DescribeCluster", 60, 0, 1),
]

PRIM = {
    "bool": "KC_T_BOOL", "int8": "KC_T_INT8", "int16": "KC_T_INT16",
    "uint16": "KC_T_UINT16", "int32": "KC_T_INT32", "uint32": "KC_T_UINT32",
    "int64": "KC_T_INT64", "float64": "KC_T_FLOAT64", "uuid": "KC_T_UUID",
    "string": "KC_T_STRING", "bytes": "KC_T_BYTES", "records": "KC_T_RECORDS",
}

VMAX = 0x7FFF


def load(path):
    with open(path) as f:
        text = f.read()
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return json.loads(text)


def vrange(spec):
    """A Kafka version spec ("3+", "0-4", "none", "7") as (lo, hi), or None."""
    if spec is None or spec == "none":
        return None
    if spec.endswith("+"):
        return int(spec[:-1]), VMAX
    if "-" in spec:
        lo, hi = spec.split("-")
        return int(lo), int(hi)
    return int(spec), int(spec)


def cident(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


class Gen:
    def __init__(self):
        self.structs = []     # (cname, [field lines]) in definition order
        self.macros = []      # (macro, index, comment)

    def struct(self, msgname, sname, fields, path):
        cname = "kcs_%s_%s" % (msgname, sname) if sname != msgname else "kcs_%s" % msgname
        if any(c == cname for c, _, _ in self.structs):
            raise SystemExit("%s: struct %s defined twice" % (msgname, sname))
        if len(fields) > 64:
            raise SystemExit("%s: struct %s has over 64 fields (kcmsg.c's tag lookup)" % (msgname, sname))
        lines = []
        for i, f in enumerate(fields):
            t = f["type"]
            arr = t.startswith("[]")
            base = t[2:] if arr else t
            sub = "NULL"
            if base in PRIM:
                ctype = PRIM[base]
            else:
                if "fields" not in f:
                    raise SystemExit("%s: struct %s without inline fields" % (msgname, base))
                sub = "&" + self.struct(msgname, base, f["fields"], path + [base])
                ctype = "KC_T_STRUCT"
            v = vrange(f.get("versions"))
            if v is None:
                raise SystemExit("%s.%s: no versions" % (msgname, f["name"]))
            n = vrange(f.get("nullableVersions")) or (-1, -1)
            tv = vrange(f.get("taggedVersions")) or (-1, -1)
            tag = f.get("tag", -1)
            if tag != -1 and tv == (-1, -1):
                raise SystemExit("%s.%s: tag without taggedVersions" % (msgname, f["name"]))
            if "flexibleVersions" in f:
                raise SystemExit("%s.%s: field-level flexibleVersions unsupported" % (msgname, f["name"]))
            d = f.get("default")
            idef = 0
            sdef = "NULL"
            if d is not None:
                if base in ("bool",):
                    idef = 1 if d in ("true", True) else 0
                elif base in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
                    idef = d if isinstance(d, int) else int(d, 0)
                elif base == "string":
                    if d != "null":
                        sdef = '"%s"' % d
                elif base == "float64":
                    raise SystemExit("float64 default unsupported")
            flags = []
            if arr:
                flags.append("KC_F_ARRAY")
            if f.get("ignorable"):
                flags.append("KC_F_IGNORABLE")
            if base == "string" and d == "null":
                flags.append("KC_F_DEFNULL")
            lines.append('\t{"%s", %s, %s, %d, %d, %d, %d, %d, %d, %d, INT64_C(%d), %s, %s},' % (
                f["name"], ctype, " | ".join(flags) or "0", v[0], v[1], n[0], n[1],
                tv[0], tv[1], tag, idef, sdef, sub))
            self.macros.append(("KCF_%s_%s" % (cident(msgname), cident(f["name"]))
                                if sname == msgname else
                                "KCF_%s_%s_%s" % (cident(msgname), cident(sname), cident(f["name"])),
                                i, None))
        self.structs.append((cname, sname, lines))
        return cname


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    mdir = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    g = Gen()
    apis = []
    for name, key, lo, hi in APIS:
        req = load(os.path.join(mdir, name + "Request.json"))
        resp = load(os.path.join(mdir, name + "Response.json"))
        for m in (req, resp):
            if m["apiKey"] != key:
                raise SystemExit("%s: api key %d, expected %d" % (m["name"], m["apiKey"], key))
            vv = vrange(m["validVersions"])
            if not (vv[0] <= lo and hi <= vv[1]):
                raise SystemExit("%s: valid %s, we want %d-%d" % (m["name"], m["validVersions"], lo, hi))
        flex = vrange(req["flexibleVersions"])
        if vrange(resp["flexibleVersions"]) != flex:
            raise SystemExit("%s: request and response flexible versions differ" % name)
        rq = g.struct(req["name"], req["name"], req["fields"], [])
        rs = g.struct(resp["name"], resp["name"], resp["fields"], [])
        apis.append((name, key, lo, hi, flex[0] if flex else -1, rq, rs))

    out = []
    out.append("/*\n * kcschema.c: Kafka message tables, generated by scripts/kafka_codec_gen.py\n"
               " * from Kafka's message definitions (the protocol specification).\n"
               " * Do not edit by hand: change the generator and re-run it.\n */\n")
    out.append('#include "eventlog/kafka/kcschema.h"\n')
    for cname, sname, lines in g.structs:
        out.append("static const kc_field %s_fields[] = {" % cname)
        out.extend(lines)
        out.append("};\n")
    # structs referenced before definition: declare all first
    decls = ["static const kc_schema %s;" % c for c, _, _ in g.structs]
    defs = ['static const kc_schema %s = {"%s", %d, %s_fields};' % (c, s, len(l), c)
            for c, s, l in g.structs]
    body = out[:2] + decls + [""] + out[2:] + defs + [""]
    body.append("const kc_api kc_apis[] = {")
    for name, key, lo, hi, fl, rq, rs in apis:
        body.append('\t{%d, "%s", %d, %d, %d, &%s, &%s},' % (key, name, lo, hi, fl, rq, rs))
    body.append("};\n")
    body.append("const int kc_napis = %d;" % len(apis))
    with open(os.path.join(root, "src/kafka/codec/kcschema.c"), "w") as f:
        f.write("\n".join(body) + "\n")

    h = ["/*\n * kcschema.h: field indexes of the Kafka message tables (kc_struct.f[]),\n"
         " * generated by scripts/kafka_codec_gen.py.  Do not edit by hand.\n */",
         "#ifndef EVENTLOG_KAFKA_KCSCHEMA_H", "#define EVENTLOG_KAFKA_KCSCHEMA_H", "",
         '#include "eventlog/kafka/kctypes.h"', ""]
    for name, key, lo, hi, fl, rq, rs in apis:
        h.append("#define KC_API_%s %d" % (cident(name).upper(), key))
    h.append("")
    seen = {}
    for m, i, _ in g.macros:
        if m in seen:
            if seen[m] != i:
                raise SystemExit("macro %s means %d and %d" % (m, seen[m], i))
            continue
        seen[m] = i
        h.append("#define %s %d" % (m, i))
    h += ["", "#endif"]
    with open(os.path.join(root, "src/include/eventlog/kafka/kcschema.h"), "w") as f:
        f.write("\n".join(h) + "\n")


if __name__ == "__main__":
    main()
