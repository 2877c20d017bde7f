# SPDX-License-Identifier: Apache-2.0
"""A real Prometheus (Debian's package) scrapes logferry's /metrics every
second on 127.0.0.1 and answers PromQL queries with the expected values;
promtool checks the scraped text.

The Prometheus server is started once per session by the fixture below
and stopped by PID, also on failure. Debian package: prometheus
(binaries prometheus and promtool), installed if missing.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import deadline, wait_until
from test_metrics import (Daemon, free_port, gen_records, http_get,
                          service_conf, tail_conf, write_records)


def prometheus_install():
    """Installs Debian's prometheus package when it is missing."""
    if shutil.which("prometheus") and shutil.which("promtool"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["dpkg", "-s", "prometheus"], capture_output=True,
                      check=False).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-qq",
                        "--no-install-recommends", "prometheus"], env=env,
                       check=True, capture_output=True)


@pytest.fixture(scope="session")
def logferry_port():
    return free_port()


@pytest.fixture(scope="session")
def prometheus(logferry_port):
    """A Prometheus server scraping 127.0.0.1:logferry_port every 1 s.
    Yields its base URL."""
    prometheus_install()
    tmp = Path(tempfile.mkdtemp(prefix="lf-prom-"))
    port = free_port()
    (tmp / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: logferry\n"
        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
        % logferry_port)
    log = open(tmp / "prometheus.log", "w")
    proc = subprocess.Popen(
        ["prometheus", "--config.file=%s" % (tmp / "prometheus.yml"),
         "--storage.tsdb.path=%s" % (tmp / "data"),
         "--web.listen-address=127.0.0.1:%d" % port,
         "--log.level=warn"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    url = "http://127.0.0.1:%d" % port
    try:
        def ready():
            if proc.poll() is not None:
                pytest.fail("prometheus exited: %s"
                            % (tmp / "prometheus.log").read_text()[-2000:])
            try:
                return http_get(url + "/-/ready")[0] == 200
            except OSError:
                return False
        assert wait_until(ready, deadline(30), interval=0.2), \
            "prometheus not ready within 30 s"
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def promql(url, query):
    """Instant query: {upstream label or "": float value}."""
    _, body = http_get(url + "/api/v1/query?" +
                       urllib.parse.urlencode({"query": query}))
    data = json.loads(body)
    assert data["status"] == "success", data
    return {r["metric"].get("upstream", ""): float(r["value"][1])
            for r in data["data"]["result"]}


def line_502(upstream):
    return {"http.response.status_code": 502, "upstream.address": upstream,
            "upstream.error": "refused", "upstream.response_time": 0.001,
            "event.duration": 2000000}


def line_200(upstream):
    return {"http.response.status_code": 200, "upstream.address": upstream,
            "upstream.response_time": 0.02, "event.duration": 25000000}


def append(path, records):
    with open(path, "a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")


def test_prometheus_scrapes_and_answers_promql(prometheus, logferry_port,
                                               lf_bin, workdir):
    log = workdir / "access.jsonl"
    write_records(log, [line_502("10.0.0.1:80")] * 37 +
                  [line_502("10.0.0.2:80")] * 5 +
                  [line_200("10.0.0.1:80")] * 100)
    (workdir / "lf.conf").write_text(service_conf(logferry_port)
                                     + tail_conf(log))
    d = Daemon(lf_bin, workdir / "lf.conf", workdir / "lf.log")
    try:
        by_up = 'sum by (upstream) (logferry_upstream_requests_total' \
                '{code="502"})'
        got = wait_until(lambda: promql(prometheus, by_up) ==
                         {"10.0.0.1:80": 37.0, "10.0.0.2:80": 5.0},
                         deadline(30), interval=0.25)
        assert got, promql(prometheus, by_up)

        # More 502s for one upstream only: its rate rises, the other's
        # stays at zero.
        append(log, [line_502("10.0.0.1:80")] * 30)
        got = wait_until(lambda: promql(prometheus, by_up) ==
                         {"10.0.0.1:80": 67.0, "10.0.0.2:80": 5.0},
                         deadline(30), interval=0.25)
        assert got, promql(prometheus, by_up)
        rate = promql(prometheus,
                      'sum by (upstream) (rate(logferry_upstream_requests_'
                      'total{code="502"}[20s]))')
        assert rate["10.0.0.1:80"] > 0
        assert rate["10.0.0.2:80"] == 0
        # The histogram works with histogram_quantile: every 502 took
        # 1 ms, below the first bucket (5 ms).
        q = promql(prometheus,
                   'histogram_quantile(0.5, sum by (upstream, le) '
                   '(logferry_upstream_response_seconds_bucket'
                   '{upstream="10.0.0.2:80"}))')
        assert 0 < q["10.0.0.2:80"] <= 0.005
        ups = promql(prometheus, 'up{job="logferry"}')
        assert ups == {"": 1.0}

        # The exposition passes promtool's checks (format and lint).
        _, text = http_get("http://127.0.0.1:%d/metrics" % logferry_port)
        res = subprocess.run(["promtool", "check", "metrics"], input=text,
                             capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        assert d.stop() == 0
