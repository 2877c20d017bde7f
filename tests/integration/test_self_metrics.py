# SPDX-License-Identifier: Apache-2.0
"""logferry's own gauges reported by plugins (the ABI's stats callback):
the tail input's lag per file, on /metrics, checked by promtool."""
import os
import subprocess

from conftest import wait_until
from test_metrics import daemon  # noqa: F401 (the fixture)
from test_metrics import family, free_port, scrape_when, service_conf
from test_prometheus import prometheus_install


def lag_of(samples, path):
    for labels, value in family(samples, "logferry_tail_lag_bytes"):
        if labels.get("file") == path:
            return value
    return None


def test_tail_lag_is_the_undelivered_bytes_of_each_file(daemon, workdir):
    log = workdir / "access.log"
    lines = ["line %d of the log\n" % i for i in range(1000)]
    log.write_text("".join(lines))
    size = log.stat().st_size
    sink = workdir / "sink.jsonl"
    os.symlink("/dev/full", sink)  # every write fails: nothing delivered
    port = free_port()
    conf = (service_conf(port) + "    retry_base 50ms\n"
            "[input]\n    name tail\n    tag access\n    path %s\n"
            "    read_from_head on\n"
            "[output]\n    name file\n    match access\n    path %s\n"
            % (log, sink))
    d = daemon(conf)
    samples, text = scrape_when(
        port, lambda s: lag_of(s, str(log)) == size, 30, d.proc)
    # The sink recovers: a real file replaces the link, the lag goes to 0.
    real = workdir / "sink.real"
    real.write_text("")
    os.replace(real, sink)
    scrape_when(port, lambda s: lag_of(s, str(log)) == 0, 60, d.proc)
    assert wait_until(lambda: sum(1 for _ in open(sink)) == 1000, 30)
    prometheus_install()
    res = subprocess.run(["promtool", "check", "metrics"], input=text,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
