# SPDX-License-Identifier: Apache-2.0
"""Per-upstream metrics end to end: logferry reads generated JSON-lines
access records (ECS field names), and every counter, histogram bucket and
sketch quantile it reports is compared with values computed here, in
Python, from the same records: counts exactly, quantiles within the
configured relative accuracy.

The generator and the /metrics parser are shared with test_prometheus.py.
"""

import collections
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import deadline, wait_until

ACCURACY = 0.01
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
QUANTILES = ("0.5", "0.9", "0.99", "0.999")
# kind -> (record field, metric prefix, field in ns?)
KINDS = {
    "request": ("event.duration", "logferry_upstream_request", True),
    "response": ("upstream.response_time", "logferry_upstream_response",
                 False),
    "connect": ("upstream.connect_time", "logferry_upstream_connect", False),
    "header": ("upstream.header_time", "logferry_upstream_header", False),
}
STATUS = ((200, 80), (201, 2), (204, 2), (304, 4), (404, 3), (429, 1),
          (499, 1), (500, 1), (502, 3), (503, 1), (504, 2))
UPSTREAMS = ["10.0.1.%d:8080" % i for i in range(1, 9)] + \
    ["10.0.2.%d:3000" % i for i in range(1, 4)] + ["[fd00::62]:4000"]


# --- generated records ----------------------------------------------------

def gen_records(n, seed=1, upstreams=None):
    """n access records as dicts with the ECS names the aggregator reads.
    About 5% have no upstream (answered by the proxy itself)."""
    rnd = random.Random(seed)
    ups = upstreams or UPSTREAMS
    codes = [c for c, w in STATUS for _ in range(w)]
    for i in range(n):
        status = rnd.choice(codes)
        rec = {"http.response.status_code": status,
               "http.response.body.bytes": rnd.randint(0, 50000),
               "event.duration": rnd.randint(100000, 3 * 10**9)}
        if rnd.random() < 0.05 and upstreams is None:
            yield rec
            continue
        rec["upstream.address"] = ups[i % len(ups)] if upstreams \
            else rnd.choice(ups)
        rec["upstream.attempts"] = rnd.choice((1, 1, 1, 1, 2, 3))
        rec["upstream.connect_time"] = round(rnd.random() * 0.01, 3)
        if status not in (502, 504):
            rec["upstream.header_time"] = round(rnd.lognormvariate(-4, 1), 3)
        rec["upstream.response_time"] = round(rnd.lognormvariate(-3, 1.2), 3)
        if status in (502, 503, 504):
            rec["upstream.error"] = {502: rnd.choice(("refused", "reset")),
                                     503: "no_live_upstreams",
                                     504: "timeout"}[status]
        yield rec


def write_records(path, records):
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
            n += 1
    return n


def expected_metrics(records):
    """What logferry must report: per upstream label value."""
    exp = collections.defaultdict(lambda: {
        "codes": collections.Counter(), "errors": collections.Counter(),
        "retries": 0, "bytes": 0, "requests": 0, "5xx": 0, "err": 0,
        "values": {k: [] for k in KINDS}})
    for rec in records:
        e = exp[rec.get("upstream.address", "-")]
        code = rec.get("http.response.status_code")
        e["requests"] += 1
        e["codes"][str(code) if code else "none"] += 1
        if code and 500 <= code <= 599:
            e["5xx"] += 1
        if rec.get("upstream.error"):
            e["errors"][rec["upstream.error"]] += 1
            e["err"] += 1
        e["retries"] += max(0, rec.get("upstream.attempts", 1) - 1)
        e["bytes"] += rec.get("http.response.body.bytes", 0)
        for kind, (field, _, is_ns) in KINDS.items():
            if field in rec:
                v = rec[field]
                e["values"][kind].append(v / 1e9 if is_ns else float(v))
    return exp


def exact_quantile(sorted_values, q):
    return sorted_values[int(math.floor(q * (len(sorted_values) - 1)))]


# --- the Prometheus text --------------------------------------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prom(text):
    """{(name, frozenset(labels.items())): float} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "bad sample line: %r" % line
        labels = {k: v.replace('\\"', '"').replace("\\n", "\n")
                  .replace("\\\\", "\\")
                  for k, v in LABEL_RE.findall(m.group(2) or "")}
        samples[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return samples


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def family(samples, name):
    """[(labels dict, value)] of one metric name."""
    return [(dict(k[1]), v) for k, v in samples.items() if k[0] == name]


# --- running logferry with its HTTP server --------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


def service_conf(port, extra=""):
    return ("[service]\n    log_level info\n    http_server on\n"
            "    http_listen 127.0.0.1:%d\n    metrics.enabled on\n"
            "    metrics.accuracy %g\n%s"
            % (port, ACCURACY, extra))


def tail_conf(path, exit_on_eof=False):
    return ("[parser]\n    name ecs_json\n    format json\n"
            "[input]\n    name tail\n    tag access\n    path %s\n"
            "    parser ecs_json\n    read_from_head on\n"
            "    exit_on_eof %s\n"
            "[output]\n    name null\n    match access\n"
            % (path, "on" if exit_on_eof else "off"))


class Daemon:
    """logferry running in the background; stopped by PID."""

    def __init__(self, lf_bin, conf_path, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([str(lf_bin), "-c", str(conf_path)],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=deadline(15))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def peak_rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None


@pytest.fixture
def daemon(lf_bin, workdir):
    started = []

    def start(conf_text):
        conf = workdir / "logferry.conf"
        conf.write_text(conf_text)
        d = Daemon(lf_bin, conf, workdir / "logferry.log")
        started.append(d)
        return d
    yield start
    for d in started:
        d.stop()


def scrape_when(port, cond, timeout, proc=None):
    """Scrapes /metrics until cond(samples) holds; returns (samples,
    text)."""
    last = {"text": ""}

    def attempt():
        if proc is not None and proc.poll() is not None:
            pytest.fail("logferry exited early (rc=%s)" % proc.returncode)
        try:
            _, text = http_get("http://127.0.0.1:%d/metrics" % port)
        except OSError:
            return None
        last["text"] = text
        s = parse_prom(text)
        return (s, text) if cond(s) else None
    got = wait_until(attempt, deadline(timeout), interval=0.2)
    assert got, "condition not met within %ss; last scrape tail:\n%s" % (
        timeout, last["text"][-2000:])
    return got


def total_requests(samples):
    return sum(v for _, v in family(samples,
                                    "logferry_upstream_requests_total"))


# --- tests ---------------------------------------------------------------

N = 60000


def check_counters(samples, exp):
    for up, e in exp.items():
        for code, n in e["codes"].items():
            assert sample(samples, "logferry_upstream_requests_total",
                          upstream=up, code=code) == n, (up, code)
        for cls, n in e["errors"].items():
            assert sample(samples, "logferry_upstream_errors_total",
                          upstream=up, error=cls) == n, (up, cls)
        assert sample(samples, "logferry_upstream_retries_total",
                      upstream=up) == e["retries"], up
        assert sample(samples, "logferry_upstream_response_bytes_total",
                      upstream=up) == e["bytes"], up
    got_ups = {lab["upstream"] for lab, _ in
               family(samples, "logferry_upstream_requests_total")}
    assert got_ups == set(exp)


def check_histograms(samples, exp):
    for up, e in exp.items():
        for kind, (_, prefix, _) in KINDS.items():
            vals = e["values"][kind]
            name = prefix + "_seconds"
            for le in BUCKETS:
                want = sum(1 for v in vals if v <= le)
                got = sample(samples, name + "_bucket", upstream=up,
                             le="%g" % le)
                assert got == want, (up, kind, le, got, want)
            assert sample(samples, name + "_bucket", upstream=up,
                          le="+Inf") == len(vals)
            assert sample(samples, name + "_count", upstream=up) == len(vals)
            got_sum = sample(samples, name + "_sum", upstream=up)
            assert math.isclose(got_sum, math.fsum(vals), rel_tol=1e-9,
                                abs_tol=1e-9), (up, kind)


def check_quantiles(samples, exp):
    worst = 0.0
    for up, e in exp.items():
        for kind, (_, prefix, _) in KINDS.items():
            vals = sorted(e["values"][kind])
            name = prefix + "_window_seconds"
            assert sample(samples, name + "_count", upstream=up,
                          window="lifetime") == len(vals)
            for q in QUANTILES:
                got = sample(samples, name, upstream=up, window="lifetime",
                             quantile=q)
                if not vals:
                    assert math.isnan(got)
                    continue
                want = exact_quantile(vals, float(q))
                err = abs(got - want)
                assert err <= ACCURACY * want + 1e-12, \
                    (up, kind, q, got, want)
                if want > 0:
                    worst = max(worst, err / want)
    return worst


def test_counters_and_quantiles_match_exact_values(daemon, workdir):
    """Every counter, bucket and lifetime quantile on /metrics against
    values computed from the same records."""
    records = list(gen_records(N, seed=7))
    log = workdir / "access.jsonl"
    write_records(log, records)
    exp = expected_metrics(records)
    port = free_port()
    d = daemon(service_conf(port) + tail_conf(log))
    samples, text = scrape_when(port, lambda s: total_requests(s) == N, 60,
                                d.proc)
    assert sample(samples, "logferry_input_records_total",
                  plugin="in_tail:0") == N
    assert sample(samples, "logferry_output_records_total",
                  plugin="out_null:0") == N
    check_counters(samples, exp)
    check_histograms(samples, exp)
    worst = check_quantiles(samples, exp)
    print("worst relative quantile error %.5f (accuracy %g)"
          % (worst, ACCURACY))
    # The run is far shorter than a minute: the 1m window holds it all,
    # and its error and 5xx ratios are those of the whole file.
    for up, e in exp.items():
        assert sample(samples, "logferry_upstream_window_requests",
                      upstream=up, window="1m") == e["requests"]
        assert math.isclose(sample(samples, "logferry_upstream_error_ratio",
                                   upstream=up, window="1m"),
                            e["err"] / e["requests"], rel_tol=1e-12)
        assert math.isclose(sample(samples, "logferry_upstream_5xx_ratio",
                                   upstream=up, window="5m"),
                            e["5xx"] / e["requests"], rel_tol=1e-12)
    assert sample(samples, "logferry_metrics_series") == len(exp)
    assert sample(samples, "logferry_metrics_overflow_records_total") == 0


def test_metric_records_carry_the_same_totals(daemon, workdir):
    """metrics.flush_interval: one record per upstream reaches a file
    output (tag metrics.upstream) with totals equal to the exact counts."""
    records = list(gen_records(20000, seed=3))
    log = workdir / "access.jsonl"
    out = workdir / "metrics.jsonl"
    write_records(log, records)
    exp = expected_metrics(records)
    port = free_port()
    conf = (service_conf(port, "    metrics.flush_interval 1s\n")
            + tail_conf(log) + "[output]\n    name file\n"
            "    match metrics.*\n    path %s\n" % out)
    d = daemon(conf)

    def latest():
        if d.proc.poll() is not None:
            pytest.fail("logferry exited early")
        last = {}
        try:
            with open(out, encoding="utf-8") as f:
                for line in f:
                    rec = json.loads(line)
                    last[rec["upstream.address"]] = rec
        except (OSError, ValueError):
            return None
        total = sum(r["upstream.requests"] for r in last.values())
        return last if total == len(records) else None
    last = wait_until(latest, deadline(40), interval=0.2)
    assert last, "no flush with all %d requests" % len(records)
    assert set(last) == set(exp)
    for up, e in exp.items():
        rec = last[up]
        assert rec["event.kind"] == "metric"
        assert rec["upstream.requests_by_code"] == dict(e["codes"])
        assert rec["upstream.errors_by_class"] == dict(e["errors"])
        assert rec["upstream.errors"] == e["err"]
        assert rec["upstream.5xx"] == e["5xx"]
        assert rec["upstream.retries"] == e["retries"]
        assert rec["upstream.response_bytes"] == e["bytes"]
        lat = rec["upstream.latency.response_time"]["lifetime"]
        vals = sorted(e["values"]["response"])
        assert lat["count"] == len(vals)
        for q in QUANTILES:
            key = "p%g" % (float(q) * 100)
            if not vals:
                assert lat[key] is None
                continue
            want = exact_quantile(vals, float(q))
            assert abs(lat[key] - want) <= ACCURACY * want + 1e-12, (up, q)
        assert rec["upstream.windows"]["1m"]["requests"] == e["requests"]


def test_exit_on_eof_run_ends_with_final_metric_records(lf_bin, workdir):
    records = list(gen_records(5000, seed=5))
    log = workdir / "access.jsonl"
    out = workdir / "metrics.jsonl"
    write_records(log, records)
    conf = ("[service]\n    metrics.enabled on\n"
            "    metrics.flush_interval 1h\n" + tail_conf(log, True)
            + "[output]\n    name file\n    match metrics.*\n"
            "    path %s\n" % out)
    (workdir / "eof.conf").write_text(conf)
    res = subprocess.run([str(lf_bin), "-c", str(workdir / "eof.conf")],
                         capture_output=True, text=True,
                         timeout=deadline(30))
    assert res.returncode == 0, res.stderr[-2000:]
    total = 0
    if out.exists():
        with open(out, encoding="utf-8") as f:
            total = sum(json.loads(line)["upstream.requests"] for line in f)
    assert total == len(records)


DISTINCT = 100000
MAX_SERIES = 1000


def test_distinct_upstreams_are_bounded_by_max_series(daemon, workdir):
    """100,000 distinct upstreams, max_series 1000: 1000 series with exact
    counts, the rest counted in __overflow__, and peak RSS bounded."""
    ups = ["10.%d.%d.%d:80" % (i >> 16, (i >> 8) & 255, i & 255)
           for i in range(DISTINCT)]
    n = 2 * DISTINCT
    records = list(gen_records(n, seed=11, upstreams=ups))
    log = workdir / "access.jsonl"
    write_records(log, records)
    per_up = collections.Counter(r["upstream.address"] for r in records)
    port = free_port()
    d = daemon(service_conf(port, "    metrics.max_series %d\n" % MAX_SERIES)
               + tail_conf(log))
    samples, _ = scrape_when(port, lambda s: total_requests(s) == n, 90,
                             d.proc)
    rss_kib = d.peak_rss_kib()
    named = collections.Counter()
    for lab, v in family(samples, "logferry_upstream_requests_total"):
        named[lab["upstream"]] += v
    overflow = named.pop("__overflow__")
    assert len(named) == MAX_SERIES
    for up, v in named.items():
        assert v == per_up[up], up
    assert overflow == n - sum(named.values())
    assert sample(samples,
                  "logferry_metrics_overflow_records_total") == overflow
    assert sample(samples, "logferry_metrics_series") == MAX_SERIES
    print("peak RSS with %d distinct upstreams, max_series %d: %.1f MiB"
          % (DISTINCT, MAX_SERIES, rss_kib / 1024))
    # Chunk pool (16 x 256 KiB) + 1000 series + caches: far below what
    # 100,000 series would take (1.1 GiB without the guard). Under
    # ASan freed memory sits in its quarantine (256 MiB): no bound there.
    if os.environ.get("LF_SANITIZED") != "1":
        assert rss_kib / 1024 < 80


def test_health_reload_and_unknown_paths(daemon, workdir):
    log = workdir / "access.jsonl"
    write_records(log, gen_records(10))
    port = free_port()
    d = daemon(service_conf(port) + tail_conf(log))
    scrape_when(port, lambda s: total_requests(s) == 10, 30, d.proc)
    status, body = http_get("http://127.0.0.1:%d/api/v1/health" % port)
    assert status == 200 and json.loads(body) == {"status": "ok"}
    with pytest.raises(urllib.error.HTTPError) as e:
        http_get("http://127.0.0.1:%d/nothing" % port)
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        http_get("http://127.0.0.1:%d/api/v1/reload" % port)
    assert e.value.code == 405
    assert d.proc.poll() is None
