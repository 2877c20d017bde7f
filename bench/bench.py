#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Throughput benchmark: logferry against cat and grep on the same file.

Generates (once, cached in bench/out/) N lines of nginx access log with the
upstream fields using the shared deterministic generator (seed 1), then runs
R rounds, each round running every case once, interleaved:

  cat      cat FILE > /dev/null                       reading the file
  grep     grep -c -E '" (502|504) ' FILE             a fast text scan
  lf-file  logferry: tail, regex parser of every field with types,
           JSON lines to bench/out/out.jsonl
  lf-null  the same pipeline into the null output

Each run's wall time, CPU time (user+sys of the child, from wait4) and peak
RSS are recorded; the table shows medians (RSS: the largest), lines/s and
MB/s of input, and ratios to grep and cat. The JSON summary goes to stdout
after the table and to bench/out/summary.json.

Usage: python3 bench/bench.py [--lines N] [--runs R] [--keep]
"""

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"

REGEX = (
    r'^(?<remote_addr>\S+) - (?<remote_user>\S+) \[(?<time_local>[^\]]+)\] '
    r'"(?<request>[^"]*)" (?<status>\d{3}) (?<body_bytes_sent>\d+) '
    r'"(?<http_referer>[^"]*)" "(?<http_user_agent>[^"]*)" '
    r'rt=(?<request_time>\S+) uct="(?<upstream_connect_time>[^"]*)" '
    r'uht="(?<upstream_header_time>[^"]*)" '
    r'urt="(?<upstream_response_time>[^"]*)" '
    r'ua="(?<upstream_addr>[^"]*)" us="(?<upstream_status>[^"]*)"$')

CONFIG = """\
# Written by bench/bench.py.
[service]
    log_level info

[parser]
    name bench_upstream
    format regex
    regex {regex}
    time_key time_local
    time_format %d/%b/%Y:%H:%M:%S %z
    types status:int body_bytes_sent:int request_time:float

[input]
    name tail
    tag nginx.access
    path {log}
    parser bench_upstream
    read_from_head on
    exit_on_eof on

[output]
{output}
"""

SUMMARY_RE = re.compile(
    r"summary records_in=(\d+) records_out=(\d+) parse_errors=(\d+) "
    r"truncated=(\d+) dropped=(\d+)")

CASES = ("cat", "grep", "lf-file", "lf-null")


def die(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.exit(1)


def generate(lines, shared_dir):
    """The cached input log, generated if missing or of the wrong size."""
    gen = shared_dir / "bench" / "gen_access_log.py"
    if not gen.is_file():
        die("generator not found: %s (use --shared DIR)" % gen)
    # A changed generator makes a different file: its digest is in the name.
    digest = hashlib.sha1(gen.read_bytes()).hexdigest()[:10]
    name = "access-nginx_upstream-seed1-n%d-%s" % (lines, digest)
    log, meta = OUT_DIR / (name + ".log"), OUT_DIR / (name + ".json")
    try:
        info = json.loads(meta.read_text())
        if info["lines"] == lines and log.stat().st_size == info["bytes"]:
            return log
    except (OSError, ValueError, KeyError):
        pass
    print("generating %d lines into %s ..." % (lines, log), flush=True)
    t0 = time.monotonic()
    tmp = log.with_suffix(".tmp")
    subprocess.run([sys.executable, str(gen), "-n", str(lines), "--seed",
                    "1", "--format", "nginx_upstream", "-o", str(tmp)],
                   check=True)
    os.replace(tmp, log)
    meta.write_text(json.dumps({"lines": lines, "seed": 1,
                                "format": "nginx_upstream",
                                "bytes": log.stat().st_size}))
    print("generated in %.1f s" % (time.monotonic() - t0), flush=True)
    return log


GNU_TIME = "/usr/bin/time"


def run_child(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
              env=None):
    """Runs argv to its end. Returns (exit code, wall s, cpu s, user s,
    sys s, peak RSS bytes) of that child alone. CPU comes from wait4. The
    RSS wait4 reports for a child of Python also counts the Python pages
    it had before exec, so peak RSS comes from GNU time (a small parent)
    when it is installed (tools/setup.sh installs it)."""
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        rss_file = tempfile.NamedTemporaryFile(prefix="bench-rss-")
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file.name] + list(argv)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=stderr, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = ru.ru_maxrss * 1024
    if rss_file is not None:
        with rss_file:
            text = rss_file.read().decode().split()
        # GNU time notes a non-zero exit on a line of its own first.
        rss = int(text[-1]) * 1024 if text and text[-1].isdigit() else rss
    return (proc.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_utime,
            ru.ru_stime, rss)


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return n
            n += block.count(b"\n")


class Bench:
    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.lines = args.lines
        self.bytes = log.stat().st_size
        self.c_env = dict(os.environ, LC_ALL="C")
        self.out_json = OUT_DIR / "out.jsonl"
        self.confs = {}
        outputs = {
            "lf-file": "    name file\n    match *\n    path %s\n"
                       "    format json_lines\n" % self.out_json,
            "lf-null": "    name null\n    match *\n",
        }
        for case, output in outputs.items():
            conf = OUT_DIR / ("%s.conf" % case)
            conf.write_text(CONFIG.format(regex=REGEX, log=log,
                                          output=output))
            self.confs[case] = conf
        self.checked = set()

    def run(self, case):
        if case == "cat":
            rc, *m = run_child(["cat", str(self.log)], env=self.c_env)
            if rc != 0:
                die("cat failed: rc %d" % rc)
            return m
        if case == "grep":
            with tempfile.TemporaryFile() as out:
                rc, *m = run_child(["grep", "-c", "-E", '" (502|504) ',
                                    str(self.log)], stdout=out,
                                   env=self.c_env)
                out.seek(0)
                self.grep_count = int(out.read() or b"0")
            if rc not in (0, 1):
                die("grep failed: rc %d" % rc)
            return m
        return self.run_logferry(case)

    def run_logferry(self, case):
        if self.out_json.exists():
            self.out_json.unlink()
        with tempfile.TemporaryFile() as err:
            rc, *m = run_child([str(self.args.bin), "-c",
                                str(self.confs[case])], stderr=err)
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
        if rc != 0:
            die("%s: logferry exited %d; stderr:\n%s" % (case, rc,
                                                          stderr[-3000:]))
        found = SUMMARY_RE.findall(stderr)
        if not found:
            die("%s: no summary line on stderr:\n%s" % (case,
                                                        stderr[-3000:]))
        records_in, records_out, parse_errors = map(int, found[-1][:3])
        if records_in != self.lines or parse_errors != 0:
            die("%s: summary says records_in=%d parse_errors=%d, want %d "
                "and 0" % (case, records_in, parse_errors, self.lines))
        if case == "lf-file" and case not in self.checked:
            n = count_lines(self.out_json)
            if n != self.lines:
                die("lf-file: %d lines in %s, want %d" % (n, self.out_json,
                                                          self.lines))
        self.checked.add(case)
        return m


def median(values):
    return statistics.median(values) if values else float("nan")


def summarize(results, bench):
    rows = {}
    for case, runs in results.items():
        rows[case] = {
            "runs": len(runs),
            "wall_s": median([r[0] for r in runs]),
            "cpu_s": median([r[1] for r in runs]),
            "user_s": median([r[2] for r in runs]),
            "sys_s": median([r[3] for r in runs]),
            "max_rss_mb": max(r[4] for r in runs) / 2 ** 20,
            "wall_all_s": [round(r[0], 4) for r in runs],
            "cpu_all_s": [round(r[1], 4) for r in runs],
        }
        row = rows[case]
        row["lines_per_s"] = bench.lines / row["wall_s"]
        row["mb_per_s"] = bench.bytes / 2 ** 20 / row["wall_s"]
    for case, row in rows.items():
        for base in ("grep", "cat"):
            if base in rows:
                b = rows[base]
                row["wall_vs_%s" % base] = row["wall_s"] / b["wall_s"]
                row["cpu_vs_%s" % base] = (row["cpu_s"] / b["cpu_s"]
                                           if b["cpu_s"] > 0 else None)
    return rows


def fmt_ratio(x):
    return "-" if x is None else "%.1fx" % x


def print_table(rows):
    head = ("case", "wall s", "cpu s", "user s", "sys s", "RSS MB",
            "lines/s", "MB/s", "wall/grep", "cpu/grep", "wall/cat",
            "cpu/cat")
    lines = [head]
    for case, r in rows.items():
        lines.append((case, "%.3f" % r["wall_s"], "%.3f" % r["cpu_s"],
                      "%.3f" % r["user_s"], "%.3f" % r["sys_s"],
                      "%.1f" % r["max_rss_mb"],
                      "{:,.0f}".format(r["lines_per_s"]),
                      "%.1f" % r["mb_per_s"],
                      fmt_ratio(r.get("wall_vs_grep")),
                      fmt_ratio(r.get("cpu_vs_grep")),
                      fmt_ratio(r.get("wall_vs_cat")),
                      fmt_ratio(r.get("cpu_vs_cat"))))
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    for i, l in enumerate(lines):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(l, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None):
    p = argparse.ArgumentParser(
        description="logferry throughput against cat and grep.")
    p.add_argument("--lines", type=int, default=2_000_000,
                   help="input lines (default 2000000)")
    p.add_argument("--runs", type=int, default=5,
                   help="rounds; each runs every case once (default 5)")
    p.add_argument("--keep", action="store_true",
                   help="keep bench/out/out.jsonl (the file output) after "
                        "the runs; the generated input is always kept")
    p.add_argument("--cases", default=",".join(CASES),
                   help="comma-separated subset of %s" % ",".join(CASES))
    p.add_argument("--bin", type=Path, default=REPO / "build" / "logferry",
                   help="logferry binary (default build/logferry)")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                   help="shared directory with bench/gen_access_log.py")
    args = p.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown or not cases:
        p.error("unknown case(s): %s" % ",".join(sorted(unknown)))
    if args.lines < 1 or args.runs < 1:
        p.error("--lines and --runs must be at least 1")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    version = None
    if any(c.startswith("lf-") for c in cases):
        try:
            version = subprocess.run([str(args.bin), "--version"],
                                     capture_output=True, text=True,
                                     check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as e:
            die("cannot run %s --version: %s (build it first: "
                "bash tools/run.sh --version)" % (args.bin, e))
    log = generate(args.lines, args.shared)
    bench = Bench(args, log)

    # Load the input into the page cache so that no case pays for the disk.
    bench.run("cat")
    results = {c: [] for c in cases}
    for i in range(args.runs):
        for case in cases:
            m = bench.run(case)
            results[case].append(m)
            print("run %d/%d %-8s wall %.3f s  cpu %.3f s" % (
                i + 1, args.runs, case, m[0], m[1]), flush=True)
    if not args.keep and bench.out_json.exists():
        bench.out_json.unlink()

    rows = summarize(results, bench)
    print()
    print("%d lines, %.1f MB, %d runs per case, medians" % (
        bench.lines, bench.bytes / 2 ** 20, args.runs))
    print_table(rows)
    summary = {
        "input": {"path": str(log), "lines": bench.lines,
                  "bytes": bench.bytes, "format": "nginx_upstream",
                  "seed": 1},
        "runs": args.runs,
        "grep_count": getattr(bench, "grep_count", None),
        "logferry_version": version,
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(),
                    "kernel": platform.release()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cases": rows,
    }
    text = json.dumps(summary, indent=2, sort_keys=False)
    (OUT_DIR / "summary.json").write_text(text + "\n")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
