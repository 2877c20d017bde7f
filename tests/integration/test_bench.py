# SPDX-License-Identifier: Apache-2.0
"""bench/bench.py --quick measures all five figures of the performance
targets end to end: throughput against grep, the null output, peak RSS,
steady load and latency, with records in equal to records out.

The targets themselves are not asserted: the quick sizes are too small for
meaningful ratios, and a shared CI machine is too noisy."""

import json
import math
import subprocess
import sys

from conftest import REPO, SANITIZED, deadline

LINES = 20_000


def run_bench(lf_bin, shared_dir, out_dir):
    argv = [sys.executable, str(REPO / "bench" / "bench.py"), "--quick",
            "--bin", str(lf_bin), "--shared", str(shared_dir),
            "--out", str(out_dir)]
    if SANITIZED:
        # A sanitized build is several times slower: a lower rate keeps
        # the steady run a test of the measurement, not of keeping up.
        argv += ["--rate-mb", "2"]
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=deadline(120))


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x)


def test_quick_bench_reports_every_figure(lf_bin, shared_dir, tmp_path):
    res = run_bench(lf_bin, shared_dir, tmp_path)
    assert res.returncode == 0, "rc=%d\nstdout:\n%s\nstderr:\n%s" % (
        res.returncode, res.stdout[-3000:], res.stderr[-3000:])
    summary = json.loads((tmp_path / "summary.json").read_text())

    # Every figure has a number; only the big-file RSS run is skipped.
    figs = {f["key"]: f for f in summary["figures"]}
    assert {f["figure"] for f in figs.values()} == {1, 2, 3, 4, 5}
    for key, fig in figs.items():
        if key == "rss_big_mib":
            assert fig["measured"] is None and fig["pass"] is None
            continue
        assert is_number(fig["measured"]), fig
        assert fig["label"] in res.stdout
        if key == "steady_file_cpu_pct":  # shown for reference, no target
            assert fig["target"] is None and fig["pass"] is None, fig
            continue
        assert fig["pass"] in (True, False), fig

    # The batch runs: every line became one record out.
    cases = summary["cases"]
    assert set(cases) == {"cat", "grep", "lf-file", "lf-null"}
    for case in ("lf-file", "lf-null"):
        assert cases[case]["records_in"] == LINES, cases[case]
        assert cases[case]["records_out"] == LINES, cases[case]
        assert cases[case]["cpu_vs_grep"] > 0

    # The steady run: everything written came out, once, and logferry
    # stopped cleanly on SIGTERM.
    steady = summary["steady"]
    written = steady["lines_written"]
    assert written > LINES  # the small input was cycled through
    assert steady["exit_code"] == 0
    assert steady["parse_errors"] == 0
    assert steady["records_in"] == written
    assert steady["records_out"] == written
    assert steady["lines_out"] == written
    assert "errors" not in steady, steady["errors"]
    assert steady["cpu_pct"] > 0
    assert steady["user_s"] > 0 and steady["sys_s"] >= 0
    assert abs(steady["user_s"] + steady["sys_s"] - steady["cpu_s"]) < 1e-9
    assert abs(steady["user_pct"] + steady["sys_pct"]
               - steady["cpu_pct"]) < 1e-6
    assert steady["output"] == "file"
    assert figs["steady_file_cpu_pct"]["measured"] == steady["cpu_pct"]
    lat = steady["latency"]
    assert lat["missing"] == 0
    assert lat["samples"] >= 20, lat
    assert 0 <= lat["median_ms"] <= lat["p99_ms"] <= lat["max_ms"]

    # The steady run into the null output (figure 4): the summary line's
    # counts prove that every line written was read and delivered.
    null = summary["steady_null"]
    assert null["output"] == "null"
    assert null["lines_written"] > LINES
    assert null["exit_code"] == 0 and null["parse_errors"] == 0
    assert null["records_in"] == null["lines_written"]
    assert null["records_out"] == null["lines_written"]
    assert "errors" not in null, null["errors"]
    assert "lines_out" not in null and "latency" not in null
    assert null["cpu_pct"] > 0
    assert figs["steady_cpu_pct"]["measured"] == null["cpu_pct"]
    assert figs["steady_rss_mib"]["measured"] == null["peak_rss_mib"]
    assert set(null["thread_sys_pct"]) == set(null["thread_pct"])

    # The cached input stays in the chosen directory; the outputs do not.
    assert not (tmp_path / "out.jsonl").exists()
    assert not (tmp_path / "steady" / "out.jsonl").exists()
