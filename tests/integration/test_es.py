# SPDX-License-Identifier: Apache-2.0
"""The es output against a real OpenSearch 2.x node (opensearch_fixture.py).

One node serves every test of this file (it takes ~20 s to start):

* 1,000,000 generated nginx lines through the built-in nginx_upstream
  parser arrive as exactly 1,000,000 documents, typed by the index
  template, with spot-checked values fetched by their generated _id; the
  same run measures docs/s against the file output.
* A generated ECS JSON-lines data set (source.ip, http.*, upstream.*, ...)
  is indexed, every mapped field has the template's type, and every
  aggregation of the Kibana dashboard (conf/kibana) runs and returns the
  numbers computed here in Python from the same data.
* Mapping conflicts: exactly the conflicting documents land in
  rejected_path with the server's reason; the others are indexed.
* Back-pressure: a write queue of 2 makes the node answer 429 to a burst
  of parallel bulks; nothing is lost or duplicated.
* Outage: the node is frozen (SIGSTOP) for 30 s mid-run, requests time
  out and are sent again; nothing is lost or duplicated.

Templates are loaded with tools/load-es-template.sh, with the bulk-load
settings (refresh_interval -1, no replicas); tests refresh before counting.
"""

import base64
import datetime
import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (LF_BIN, REPO, SANITIZED, UPSTREAM_RE, deadline,
                      describe, iso_timestamp, run_logferry, wait_until)
from opensearch_fixture import FixtureError, OpenSearchNode

MILLION = 100_000 if SANITIZED else 1_000_000
ECS_DOCS = 20_000
TAG = "nginx.access"
STATS_RE = re.compile(
    r"es stats indexed=(\d+) duplicates=(\d+) rejected=(\d+) "
    r"item_retries=(\d+) requests=(\d+) failed_requests=(\d+) "
    r"bytes_sent=(\d+)")
STATS_KEYS = ("indexed", "duplicates", "rejected", "item_retries",
              "requests", "failed_requests", "bytes_sent")


# --- the node and the template -------------------------------------------

@pytest.fixture(scope="session")
def node():
    try:
        n = OpenSearchNode.create(write_queue_size=2)
        n.start()
    except FixtureError as e:
        pytest.fail(str(e))
    try:
        n.wait_ready()
        yield n
    except FixtureError as e:
        pytest.fail(str(e))
    finally:
        n.destroy()


@pytest.fixture(scope="session")
def template(node):
    """The project's template, installed by its loader script for
    lftest-* with bulk-load settings."""
    res = subprocess.run(
        ["bash", str(REPO / "tools" / "load-es-template.sh"), "-u", node.url,
         "-n", "lftest", "-p", "lftest-*", "--replicas", "0",
         "--refresh-interval", "-1", "--setting",
         "translog.durability=async"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=60)
    assert res.returncode == 0, res.stdout
    got = node.ok("GET", "/_index_template/lftest")
    assert got["index_templates"][0]["index_template"]["index_patterns"] == \
        ["lftest-*"]
    return "lftest"


def es_config(url, src, index, parser="nginx_upstream", tag=TAG,
              extra="", service=""):
    parsers = ""
    if parser == "ecs_json":
        parsers = ("[parser]\n"
                   "    name ecs_json\n"
                   "    format json\n"
                   "    time_key @timestamp\n"
                   "    time_format iso8601\n\n")
    return ("[service]\n"
            "    log_level info\n"
            "    retry_base 200ms\n"
            "    retry_max_delay 1s\n" + service + "\n" + parsers +
            "[input]\n"
            "    name tail\n"
            "    tag %s\n"
            "    path %s\n"
            "    parser %s\n"
            "    read_from_head on\n"
            "    exit_on_eof on\n\n"
            "[output]\n"
            "    name es\n"
            "    match *\n"
            "    hosts %s\n"
            "    index %s\n" % (tag, src, parser, url, index) + extra)


def run_es(workdir, text, timeout, name="es.conf"):
    conf = workdir / name
    conf.write_text(text)
    res = run_logferry(["-c", conf], deadline(timeout))
    assert res.rc == 0, describe(res)
    return res


def es_stats(stderr):
    found = STATS_RE.findall(stderr)
    assert found, "no 'es stats' line in stderr:\n%s" % stderr[-3000:]
    return dict(zip(STATS_KEYS, map(int, found[-1])))


def refresh_count(node, index, query=None):
    node.ok("POST", "/%s/_refresh" % index)
    body = {"query": query} if query else None
    return node.ok("POST" if body else "GET", "/%s/_count" % index,
                   body)["count"]


def field_types(node, index):
    """{dotted.field: type} over every index matching `index`."""
    out = {}

    def walk(props, prefix):
        for name, m in props.items():
            path = prefix + name
            if "properties" in m:
                walk(m["properties"], path + ".")
            else:
                out.setdefault(path, m.get("type"))
    for idx in node.ok("GET", "/%s/_mapping" % index).values():
        walk(idx["mappings"].get("properties", {}), "")
    return out


def seq_stats(node, index):
    """count, min, max and sum of event.sequence: with count == N and sum
    == N(N-1)/2 over 0..N-1, no document is missing or doubled."""
    node.ok("POST", "/%s/_refresh" % index)
    res = node.ok("POST", "/%s/_search" % index, {
        "size": 0, "track_total_hits": True,
        "aggs": {"s": {"stats": {"field": "event.sequence"}}}})
    return res["hits"]["total"]["value"], res["aggregations"]["s"]


# --- generated _id, as es_bulk.c computes it -------------------------------

M64 = (1 << 64) - 1
C1, C2 = 0x87c37b91114253d5, 0x4cf5ad432745937f


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _fmix(k):
    k ^= k >> 33
    k = (k * 0xff51afd7ed558ccd) & M64
    k ^= k >> 33
    k = (k * 0xc4ceb9fe1a85ec53) & M64
    return k ^ (k >> 33)


def murmur3_128(data, seed):
    h1 = h2 = seed
    n = len(data)
    for i in range(0, n - n % 16, 16):
        k1 = int.from_bytes(data[i:i + 8], "little")
        k2 = int.from_bytes(data[i + 8:i + 16], "little")
        h1 ^= (_rotl((k1 * C1) & M64, 31) * C2) & M64
        h1 = (_rotl(h1, 27) + h2) & M64
        h1 = (h1 * 5 + 0x52dce729) & M64
        h2 ^= (_rotl((k2 * C2) & M64, 33) * C1) & M64
        h2 = (_rotl(h2, 31) + h1) & M64
        h2 = (h2 * 5 + 0x38495ab5) & M64
    tail = data[n - n % 16:]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (_rotl((k2 * C2) & M64, 33) * C1) & M64
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (_rotl((k1 * C1) & M64, 31) * C2) & M64
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & M64
    h2 = (h2 + h1) & M64
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & M64
    return h1, (h2 + h1) & M64


def doc_id(tag, offset, raw):
    h = murmur3_128(raw, 0)
    key = (tag.encode()[:128] + offset.to_bytes(8, "little") +
           h[0].to_bytes(8, "little") + h[1].to_bytes(8, "little"))
    g = murmur3_128(key, 0x6c6f6766657272)
    b = g[0].to_bytes(8, "little") + g[1].to_bytes(8, "little")
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def test_doc_id_matches_reference_murmur3():
    # MurmurHash3_x64_128("hello", seed 0), the reference implementation's
    # answer: proves the Python copy (and so the C one it mirrors) is it.
    assert murmur3_128(b"hello", 0) == (0xcbd8a7b341bd9b02,
                                        0x5b1e906a48ae1d19)


# --- the 1,000,000-line run ------------------------------------------------

def spot_lines(path, count, seed=7):
    """`count` (offset, raw bytes) pairs at random places in the file."""
    size = path.stat().st_size
    rnd = random.Random(seed)
    out = []
    with open(path, "rb") as f:
        for pos in sorted(rnd.randrange(size) for _ in range(count)):
            f.seek(pos)
            f.readline()  # skip to the next line start
            off = f.tell()
            line = f.readline()
            if line.endswith(b"\n"):
                out.append((off, line[:-1]))
    return out


def expected_nginx(raw):
    """What the built-in nginx_upstream parser makes of a line, for the
    fields the spot check compares."""
    m = UPSTREAM_RE.match(raw.decode())
    assert m, raw
    g = m.groupdict()
    method, url, _ = g["request"].split(" ")
    return {
        "@timestamp": iso_timestamp(g["time_local"]),
        "source.address": g["remote_addr"],
        "http.request.method": method,
        "url.original": url,
        "http.response.status_code": int(g["status"]),
        "http.response.body.bytes": int(g["body_bytes_sent"]),
        "upstream.address": g["upstream_addr"].split(", ")[-1],
    }


def test_million_nginx_lines_arrive_once_typed(node, template, gen_log,
                                               workdir):
    src = gen_log(MILLION)
    index = "lftest-nginx-%Y.%m.%d"
    t0 = time.monotonic()
    res = run_es(workdir, es_config(node.url, src, index,
                                    extra="    rejected_path %s\n"
                                    % (workdir / "rejected.jsonl")),
                 timeout=600)
    es_wall = time.monotonic() - t0
    st = es_stats(res.stderr)
    assert st["indexed"] == MILLION and st["rejected"] == 0, st
    assert refresh_count(node, "lftest-nginx-*") == MILLION

    types = field_types(node, "lftest-nginx-*")
    want = {"@timestamp": "date", "source.ip": "ip",
            "source.address": "keyword", "http.request.method": "keyword",
            "url.original": "keyword", "http.version": "keyword",
            "http.response.status_code": "long",
            "http.response.body.bytes": "long", "event.duration": "long",
            "upstream.address": "keyword", "upstream.addresses": "keyword",
            "upstream.status_code": "long", "upstream.attempts": "long",
            "upstream.response_time": "float",
            "upstream.connect_time": "float",
            "upstream.header_time": "float"}
    wrong = {k: (v, types.get(k)) for k, v in want.items()
             if types.get(k) != v}
    assert not wrong, "field: (template type, mapped type) %r" % wrong

    # Spot check: each sampled line is the document with its generated id.
    samples = spot_lines(src, 25)
    docs = node.ok("POST", "/lftest-nginx-*/_search", {
        "size": len(samples),
        "query": {"ids": {"values": [doc_id(TAG, off, raw)
                                     for off, raw in samples]}}})
    by_id = {h["_id"]: h["_source"] for h in docs["hits"]["hits"]}
    for off, raw in samples:
        got = by_id.get(doc_id(TAG, off, raw))
        assert got is not None, "line at offset %d not found by id" % off
        exp = expected_nginx(raw)
        diff = {k: (v, got.get(k)) for k, v in exp.items()
                if got.get(k) != v}
        assert not diff, "line %r: (want, got) %r" % (raw[:200], diff)

    # The file output on the same input, in the same run, for the ratio.
    out = workdir / "out.jsonl"
    conf = workdir / "file.conf"
    conf.write_text(
        "[input]\n    name tail\n    tag %s\n    path %s\n"
        "    parser nginx_upstream\n    read_from_head on\n"
        "    exit_on_eof on\n\n[output]\n    name file\n    match *\n"
        "    path %s\n" % (TAG, src, out))
    t0 = time.monotonic()
    fres = run_logferry(["-c", conf], deadline(300))
    file_wall = time.monotonic() - t0
    assert fres.rc == 0, describe(fres)
    with open(out, "rb") as f:
        assert sum(1 for _ in f) == MILLION
    report = ("es output: %d docs in %.1f s = %.0f docs/s (%d requests, "
              "%.0f MB sent); file output: %.1f s = %.0f docs/s"
              % (MILLION, es_wall, MILLION / es_wall, st["requests"],
                 st["bytes_sent"] / 1e6, file_wall, MILLION / file_wall))
    print("\n" + report)
    (workdir.parent / "es_throughput.txt").write_text(report + "\n")


# --- the ECS data set -------------------------------------------------------

UPSTREAMS = [  # address, name, 502 share, 504 share, 503 share
    ("10.0.1.11:8080", "api", 0.01, 0.005, 0.0),
    ("10.0.1.12:8080", "api", 0.02, 0.01, 0.0),
    ("10.0.2.21:8080", "web", 0.0, 0.0, 0.002),
    ("10.0.2.22:8080", "web", 0.08, 0.01, 0.0),
    ("10.0.3.31:9000", "auth", 0.005, 0.05, 0.01),
    ("10.0.4.41:8080", "search", 0.03, 0.03, 0.03),
]
URLS = ["/api/v1/users", "/api/v1/orders", "/api/v1/cart", "/login",
        "/search?q=shoes", "/search?q=hats", "/static/app.js", "/",
        "/api/v1/payments", "/checkout", "/api/v2/items", "/health",
        "/api/v1/users/42", "/api/v1/orders/7", "/account", "/logout"]
ERR_502 = ["connection_refused", "connection_reset", "premature_close"]
START = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
STEP_MS = 180  # 20,000 documents over one hour


def ecs_docs(n, seed=11, conflict_every=0):
    """Deterministic ECS documents (flat dotted keys, as the parsers emit
    them). With conflict_every, every such document carries a status the
    long mapping refuses."""
    rnd = random.Random(seed)
    for i in range(n):
        addr, name, p502, p504, p503 = rnd.choice(UPSTREAMS)
        r = rnd.random()
        if r < p502:
            status, err = 502, rnd.choice(ERR_502)
        elif r < p502 + p504:
            status, err = 504, "timeout"
        elif r < p502 + p504 + p503:
            status, err = 503, "no_live_upstreams"
        else:
            status = rnd.choice([200] * 16 + [301, 304, 404, 500])
            err = None
        rt = 60.0 if status == 504 else round(rnd.lognormvariate(-3, 1), 3)
        ts = START + datetime.timedelta(milliseconds=i * STEP_MS)
        ip = "198.51.%d.%d" % (rnd.randrange(256), rnd.randrange(1, 255))
        if i % 997 == 13:
            ip = "client-%d.example.net" % i  # not an IP: ignore_malformed
        d = {
            "@timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") +
            "%03dZ" % (ts.microsecond // 1000),
            "event.sequence": i,
            "http.request.id": "req-%07d" % i,
            "source.address": ip,
            "source.ip": ip,
            "http.request.method": rnd.choice(["GET"] * 8 + ["POST", "PUT"]),
            "url.original": rnd.choice(URLS),
            "http.version": "1.1",
            "http.response.status_code": status,
            "http.response.body.bytes": rnd.randrange(0, 50000),
            "user_agent.original": rnd.choice(["curl/8.5.0", "Mozilla/5.0",
                                               "Go-http-client/1.1"]),
            "event.duration": int(rt * 1e9) + rnd.randrange(1000000),
            "event.outcome": "failure" if status >= 500 else "success",
            "upstream.name": name,
            "upstream.address": addr,
            "upstream.addresses": [addr],
            "upstream.attempts": 1,
            "upstream.status_code": status,
            "upstream.status_codes": [status],
            "upstream.response_time": rt,
            "upstream.response_times": [rt],
            "upstream.connect_time": round(rt / 10, 3),
            "upstream.header_time": round(rt * 0.9, 3),
        }
        if err:
            d["upstream.error"] = err
        if conflict_every and i % conflict_every == 5:
            d["http.response.status_code"] = "n/a"
        yield d


def write_jsonl(path, docs):
    with open(path, "w") as f:
        for d in docs:
            f.write(json.dumps(d, separators=(",", ":")) + "\n")
    return path


@pytest.fixture(scope="module")
def ecs_index(node, template, tmp_path_factory):
    """ECS_DOCS documents indexed into lftest-ecs-*: (index, docs)."""
    work = tmp_path_factory.mktemp("ecs")
    docs = list(ecs_docs(ECS_DOCS))
    src = write_jsonl(work / "ecs.jsonl", docs)
    res = run_es(work, es_config(node.url, src, "lftest-ecs-%Y.%m.%d",
                                 parser="ecs_json", tag="ecs.access",
                                 extra="    compress gzip\n"), timeout=180)
    st = es_stats(res.stderr)
    assert st["indexed"] == ECS_DOCS, st
    node.ok("POST", "/lftest-ecs-*/_refresh")
    return "lftest-ecs-*", docs


def test_ecs_fields_get_template_types(node, ecs_index):
    index, docs = ecs_index
    assert refresh_count(node, index) == len(docs)
    types = field_types(node, index)
    template = json.loads((REPO / "conf" / "elasticsearch" /
                           "logferry-template.json").read_text())
    want = {}

    def walk(props, prefix):
        for name, m in props.items():
            if "properties" in m:
                walk(m["properties"], prefix + name + ".")
            else:
                want[prefix + name] = m["type"]
    walk(template["template"]["mappings"]["properties"], "")
    sent = set(k for d in docs for k in d)
    checked = [k for k in sent if k in want]
    assert len(checked) >= 20, checked
    wrong = {k: (want[k], types.get(k)) for k in checked
             if types.get(k) != want[k]}
    assert not wrong, "field: (template type, mapped type) %r" % wrong
    # Fields the template does not name become keywords, not text.
    assert types["http.request.id"] == "keyword"
    assert types["event.sequence"] == "long"

    # Spot checks: values as sent, and the hostname in source.ip was kept
    # in _source but not indexed as an IP (ignore_malformed).
    for i in (0, 13, 997 + 13, 12345, len(docs) - 1):
        hits = node.ok("POST", "/%s/_search" % index, {
            "query": {"term": {"http.request.id": "req-%07d" % i}}})
        assert hits["hits"]["total"]["value"] == 1, i
        got = hits["hits"]["hits"][0]["_source"]
        for k, v in docs[i].items():
            assert got.get(k) == v, (i, k, v, got.get(k))
    bad_ip = sum(1 for d in docs if "example.net" in d["source.ip"])
    assert refresh_count(node, index, {"exists": {"field": "source.ip"}}) \
        == len(docs) - bad_ip
    assert refresh_count(node, index, {"term": {"source.ip": docs[0][
        "source.ip"]}}) >= 1


# --- the dashboard's aggregations -------------------------------------------

class Kql:
    """The subset of KQL the dashboard uses, as query DSL:
    `f:v`, `f:*`, `f >= n` (<, <=, >, >=), `and`, `or`, `not`, parens."""

    TOKEN = re.compile(r"\s*(\(|\)|>=|<=|>|<|:|[^\s():<>]+)")

    def __init__(self, text):
        self.toks = self.TOKEN.findall(text or "")
        self.pos = 0

    @classmethod
    def dsl(cls, text):
        if not text or text.strip() in ("", "*"):
            return {"match_all": {}}
        p = cls(text)
        q = p.parse_or()
        assert p.pos == len(p.toks), "unparsed KQL: %r" % text
        return q

    def peek(self):
        return self.toks[self.pos].lower() if self.pos < len(self.toks) \
            else None

    def take(self):
        self.pos += 1
        return self.toks[self.pos - 1]

    def parse_or(self):
        parts = [self.parse_and()]
        while self.peek() == "or":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else \
            {"bool": {"should": parts, "minimum_should_match": 1}}

    def parse_and(self):
        parts = [self.parse_not()]
        while self.peek() == "and":
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else {"bool": {"filter": parts}}

    def parse_not(self):
        if self.peek() == "not":
            self.take()
            return {"bool": {"must_not": [self.parse_not()]}}
        if self.peek() == "(":
            self.take()
            q = self.parse_or()
            assert self.take() == ")"
            return q
        field, op, value = self.take(), self.take(), self.take()
        if op == ":":
            if value == "*":
                return {"exists": {"field": field}}
            return {"match_phrase": {field: value.strip('"')}}
        rng = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}[op]
        return {"range": {field: {rng: value}}}


def kql_match(text, doc):
    """Evaluates the same KQL subset on a Python document."""
    q = Kql.dsl(text)

    def ev(q):
        if "match_all" in q:
            return True
        if "exists" in q:
            return q["exists"]["field"] in doc
        if "match_phrase" in q:
            (f, v), = q["match_phrase"].items()
            return str(doc.get(f)) == v
        if "range" in q:
            (f, c), = q["range"].items()
            (op, v), = c.items()
            x = doc.get(f)
            if not isinstance(x, (int, float)):
                return False
            v = float(v)
            return {"gte": x >= v, "lte": x <= v, "gt": x > v,
                    "lt": x < v}[op]
        b = q["bool"]
        if "should" in b:
            return any(ev(s) for s in b["should"])
        if "filter" in b:
            return all(ev(s) for s in b["filter"])
        return not ev(b["must_not"][0])
    return ev(q)


def vis_request(vis):
    """The search Kibana sends for a standard visualization: the saved
    search source's query, bucket aggregations nested in the order of the
    aggs list, metrics inside the innermost bucket. date_histogram's
    "auto" interval is a minute here (what Kibana picks for one hour)."""
    state = json.loads(vis["attributes"]["visState"])
    source = json.loads(vis["attributes"]["kibanaSavedObjectMeta"]
                        ["searchSourceJSON"])
    query = source.get("query", {})
    assert query.get("language", "kuery") == "kuery"
    metrics, buckets = {}, []
    for agg in state["aggs"]:
        if not agg.get("enabled", True):
            continue
        p, t = agg["params"], agg["type"]
        if agg["schema"] in ("metric", "radius"):
            if t == "count":
                continue
            if t == "percentiles":
                metrics[agg["id"]] = {"percentiles": {
                    "field": p["field"], "percents": p["percents"]}}
            else:
                metrics[agg["id"]] = {t: {"field": p["field"]}}
            continue
        if t == "date_histogram":
            iv = "1m" if p["interval"] == "auto" else p["interval"]
            body = {"date_histogram": {"field": p["field"],
                                       "fixed_interval": iv,
                                       "min_doc_count": p["min_doc_count"]}}
        elif t == "terms":
            order = {"_count": p["order"]} if p["orderBy"] in ("1", "_count") \
                else {p["orderBy"]: p["order"]}
            body = {"terms": {"field": p["field"], "size": p["size"],
                              "order": order}}
        elif t == "filters":
            body = {"filters": {"filters": {
                f["label"]: Kql.dsl(f["input"]["query"])
                for f in p["filters"]}}}
        else:
            raise AssertionError("aggregation %s not translated" % t)
        buckets.append((agg["id"], body))
    inner = metrics
    for aid, body in reversed(buckets):
        if inner:
            body["aggs"] = inner
        inner = {aid: body}
    return state, {"size": 0, "track_total_hits": True,
                   "query": Kql.dsl(query.get("query")), "aggs": inner}


def _minute(doc):
    return doc["@timestamp"][:16]  # 2025-06-01T00:07


def _buckets(agg):
    b = agg["buckets"]
    return b.items() if isinstance(b, dict) else \
        ((x.get("key_as_string", x["key"]), x) for x in b)


def flatten(aggs, ids, path=()):
    """Leaf buckets as {(key per bucket level): (doc_count, bucket)}."""
    if not ids:
        return {path: (aggs["doc_count"], aggs)}
    out = {}
    for key, b in _buckets(aggs[ids[0]]):
        if isinstance(key, str) and "T" in key and key[:4].isdigit():
            key = key[:16]
        out.update(flatten(b, ids[1:], path + (key,)))
    return out


def expected_counts(docs, state, query):
    """The same leaf counts computed in Python."""
    out = {}
    for d in docs:
        if not kql_match(query, d):
            continue
        keys = [()]
        for agg in state["aggs"]:
            if agg["schema"] in ("metric", "radius"):
                continue
            p = agg["params"]
            if agg["type"] == "date_histogram":
                ks = [_minute(d)]
            elif agg["type"] == "terms":
                ks = [d[p["field"]]] if p["field"] in d else []
            else:
                ks = [f["label"] for f in p["filters"]
                      if kql_match(f["input"]["query"], d)]
            keys = [k + (x,) for k in keys for x in ks]
        for k in keys:
            out[k] = out.get(k, 0) + 1
    return out


def top_terms_ok(state, got, want):
    """A terms aggregation with a size returns, per parent bucket, the
    `size` values with the most documents (ties may go either way). So:
    every returned leaf has its expected count, every expected leaf whose
    terms values were all returned is there, and at each terms level the
    returned values outweigh the ones left out."""
    if got == want:
        return True
    levels = [a for a in state["aggs"]
              if a["schema"] not in ("metric", "radius")]
    if any(want.get(k) != v for k, v in got.items()):
        return False
    kept = {}  # (level, parent prefix) -> values returned
    for k in got:
        for lv, a in enumerate(levels):
            if a["type"] == "terms":
                kept.setdefault((lv, k[:lv]), set()).add(k[lv])
    for k in want:
        if k not in got and all(
                k[lv] in kept.get((lv, k[:lv]), ())
                for lv, a in enumerate(levels) if a["type"] == "terms"):
            return False
    for (lv, prefix), values in kept.items():
        totals = {}
        for k, v in want.items():
            if k[:lv] == prefix:
                totals[k[lv]] = totals.get(k[lv], 0) + v
        size = levels[lv]["params"]["size"]
        if len(values) != min(size, len(totals)):
            return False
        left = [t for val, t in totals.items() if val not in values]
        if left and max(left) > min(totals[v] for v in values):
            return False
    return True


def load_dashboard():
    path = REPO / "conf" / "kibana" / "logferry-dashboard.ndjson"
    objs = [json.loads(line) for line in path.read_text().splitlines()
            if line.strip()]
    return objs


def test_dashboard_is_a_valid_saved_objects_export():
    objs = load_dashboard()
    by_id = {o["id"]: o for o in objs}
    dash = [o for o in objs if o["type"] == "dashboard"]
    assert len(dash) == 1
    panels = json.loads(dash[0]["attributes"]["panelsJSON"])
    refs = {r["name"]: r["id"] for r in dash[0]["references"]}
    assert len(panels) >= 6
    for p in panels:
        assert refs[p["panelRefName"]] in by_id, p
    for o in objs:
        for r in o["references"]:
            assert r["id"] in by_id, (o["id"], r)
    titles = " ".join(o["attributes"]["title"] for o in objs)
    for word in ("per upstream", "5xx rate", "502", "error", "percentiles",
                 "failing upstreams", "failing URLs"):
        assert word in titles, word


def test_dashboard_aggregations_return_expected_numbers(node, ecs_index):
    index, docs = ecs_index
    checked = 0
    for vis in (o for o in load_dashboard() if o["type"] == "visualization"):
        state, req = vis_request(vis)
        query = json.loads(vis["attributes"]["kibanaSavedObjectMeta"]
                           ["searchSourceJSON"])["query"]["query"]
        res = node.ok("POST", "/%s/_search" % index, req)
        want_total = sum(1 for d in docs if kql_match(query, d))
        assert res["hits"]["total"]["value"] == want_total, vis["id"]
        ids = [a["id"] for a in state["aggs"]
               if a["schema"] not in ("metric", "radius")]
        got = flatten(res["aggregations"], ids)
        want = expected_counts(docs, state, query)
        got_counts = {k: v[0] for k, v in got.items() if v[0] > 0}
        assert top_terms_ok(state, got_counts, want), \
            "%s: differing buckets %r" % (vis["id"], sorted(
                (k, got_counts.get(k), want.get(k))
                for k in set(got_counts) | set(want)
                if got_counts.get(k) != want.get(k))[:10])
        pct = [a for a in state["aggs"] if a["type"] == "percentiles"]
        if pct:
            check_percentiles(docs, pct[0], got)
        checked += 1
    assert checked >= 7


def check_percentiles(docs, agg, got):
    """Each bucket's percentiles lie within the neighbouring order
    statistics of the bucket's values (t-digest is close, not exact)."""
    field = agg["params"]["field"]
    per_min = {}
    for d in docs:
        per_min.setdefault(_minute(d), []).append(d[field])
    for (minute,), (_, bucket) in got.items():
        vals = sorted(per_min[minute])
        values = bucket[agg["id"]]["values"]
        for pc in agg["params"]["percents"]:
            v = values[str(float(pc))]
            lo = vals[max(0, int(len(vals) * (pc - 3) / 100))]
            hi = vals[min(len(vals) - 1, int(len(vals) * (pc + 3) / 100))]
            assert lo - 1e-6 <= v <= hi + 1e-6, (minute, pc, v, lo, hi)


# --- rejected documents --------------------------------------------------------

def test_mapping_conflicts_go_to_rejected_file(node, template, workdir):
    n, every = 10_000, 97
    docs = list(ecs_docs(n, seed=3, conflict_every=every))
    src = write_jsonl(workdir / "conflict.jsonl", docs)
    rejected = workdir / "rejected.jsonl"
    res = run_es(workdir, es_config(
        node.url, src, "lftest-conflict", parser="ecs_json", tag="ecs.bad",
        extra="    rejected_path %s\n" % rejected), timeout=120)
    bad = {d["http.request.id"] for d in docs
           if d["http.response.status_code"] == "n/a"}
    st = es_stats(res.stderr)
    assert st["rejected"] == len(bad) and st["indexed"] == n - len(bad), st
    lines = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert len(lines) == len(bad)
    got = {x["document"]["http.request.id"] for x in lines}
    assert got == bad
    for x in lines:
        assert x["status"] == 400, x
        assert x["error"]["type"] == "mapper_parsing_exception", x
        assert "http.response.status_code" in x["error"]["reason"], x
        assert x["action"]["index"]["_index"] == "lftest-conflict"
    assert refresh_count(node, "lftest-conflict") == n - len(bad)
    # Exactly the others were indexed.
    assert refresh_count(node, "lftest-conflict", {"terms": {
        "http.request.id": sorted(bad)}}) == 0


# --- back-pressure and outage ---------------------------------------------------

def write_rejections(node):
    stats = node.ok("GET", "/_nodes/stats/thread_pool")
    return sum(n["thread_pool"]["write"]["rejected"]
               for n in stats["nodes"].values())


def test_429_back_pressure_loses_and_duplicates_nothing(node, template,
                                                        workdir):
    n = 40_000
    src = write_jsonl(workdir / "bp.jsonl", ecs_docs(n, seed=5))
    before = write_rejections(node)
    res = run_es(workdir, es_config(
        node.url, src, "lftest-bp", parser="ecs_json", tag="ecs.bp",
        extra="    workers 16\n    bulk_max_bytes 64K\n"
              "    item_retry_base 20ms\n"), timeout=300)
    rejected_429 = write_rejections(node) - before
    st = es_stats(res.stderr)
    assert rejected_429 > 0, "the node never pushed back: %r" % st
    assert st["item_retries"] + st["failed_requests"] > 0, st
    count, s = seq_stats(node, "lftest-bp")
    assert count == n, (count, st)
    assert (s["min"], s["max"], s["sum"]) == (0, n - 1, n * (n - 1) // 2)
    print("\n429 test: %d write rejections by the node, %r"
          % (rejected_429, st))


def test_frozen_node_loses_and_duplicates_nothing(node, template, workdir):
    """The node is stopped (SIGSTOP) for 30 s in the middle of a run (10 s
    under sanitizers):
    requests time out, possibly after the node took them, and are sent
    again once it runs (SIGCONT). Generated ids make the resent documents
    overwrite themselves: the count is exact."""
    n = 60_000
    outage_s = 10 if SANITIZED else 30
    src = write_jsonl(workdir / "outage.jsonl", ecs_docs(n, seed=9))
    node.ok("PUT", "/lftest-outage", {"settings": {
        "index.refresh_interval": "1s"}})
    conf = workdir / "outage.conf"
    conf.write_text(es_config(node.url, src, "lftest-outage",
                              parser="ecs_json", tag="ecs.outage",
                              extra="    timeout 3s\n"
                                    "    connect_timeout 1s\n"
                                    "    breaker.cooldown 1s\n"))
    err_path = workdir / "outage.stderr"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([str(LF_BIN), "-c", str(conf)],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    frozen = False
    try:
        assert wait_until(lambda: refresh_count(node, "lftest-outage") >
                          5000, deadline(60), 0.2), "nothing indexed"
        node.proc.send_signal(signal.SIGSTOP)
        frozen = True
        t_down = time.monotonic()
        assert wait_until(lambda: "flush failed" in err_path.read_text(),
                          deadline(20), 0.2), err_path.read_text()[-2000:]
        assert proc.poll() is None, "logferry ended during the outage"
        # The outage itself lasts a set time: nothing to poll for.
        time.sleep(max(0.0, outage_s - (time.monotonic() - t_down)))
        node.proc.send_signal(signal.SIGCONT)
        frozen = False
        proc.wait(deadline(300))
    finally:
        if frozen:
            node.proc.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    stderr = err_path.read_text()
    assert proc.returncode == 0, stderr[-3000:]
    st = es_stats(stderr)
    assert st["failed_requests"] > 0, st
    count, s = seq_stats(node, "lftest-outage")
    assert count == n, (count, st)
    assert (s["min"], s["max"], s["sum"]) == (0, n - 1, n * (n - 1) // 2)
    print("\nfrozen node test: %d s stopped, %r" % (outage_s, st))
