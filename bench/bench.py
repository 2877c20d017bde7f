#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Performance benchmark of logferry: five figures against their targets.

One invocation measures, on the same machine and in the same run as the
reference commands (cat, grep):

  1. throughput of the full pipeline (tail with exit_on_eof, built-in
     nginx_upstream parser, classify filter, per-upstream metrics, JSON
     lines to a file): CPU and wall time against grep's;
  2. the same pipeline into the null output: CPU time against grep's;
  3. peak RSS of the full pipeline over 2M lines and over 10M lines;
  4. steady load: logferry as a daemon tailing a file a writer appends to
     at 10 MB/s, into the null output (the file-to-blackhole setup of the
     published figures the target is compared with); its CPU (% of one
     core) and peak RSS;
  5. latency, during a second steady run into the file output: from a
     line's append to the tailed file until its record is in the output
     file; median and p99. That run's CPU is shown too: the cost of the
     whole pipeline, writing its JSON, under steady load.

The throughput cases run in R interleaved rounds (cat, grep, lf-file,
lf-null; then again), so slow drifts of a shared machine spread over all
of them; the table shows medians. Inputs come from the shared
deterministic generator (seed 1) and are cached in the output directory.
The results go to a table, a targets table (PASS/FAIL) and summary.json.

Usage: python3 bench/bench.py [--quick] [--no-10m] [--strict] ...
See bench/README.md.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

MB = 1000 * 1000  # rates and throughput: decimal megabytes
MIB = 1 << 20  # memory: the targets are in MiB

# The full pipeline of the performance targets. {input} and {output} are
# filled per case: the input section differs between a batch run
# (exit_on_eof) and the steady daemon, the output between file and null.
FULL_CONFIG = """\
# Written by bench/bench.py.
[service]
    log_level info
    metrics.enabled on
    metrics.labels upstream.address:upstream

[input]
    name tail
    tag nginx.access
    path {log}
    parser nginx_upstream
    read_from_head on
    exit_on_eof {exit_on_eof}

[filter]
    name classify
    match *

[output]
{output}"""

# The earlier benchmark pipeline (case lf-regex, not run by default): a
# regex [parser] of every field, no filter, no metrics, file output. It
# shows what the built-in parser, classify and metrics cost on top.
REGEX = (
    r'^(?<remote_addr>\S+) - (?<remote_user>\S+) \[(?<time_local>[^\]]+)\] '
    r'"(?<request>[^"]*)" (?<status>\d{3}) (?<body_bytes_sent>\d+) '
    r'"(?<http_referer>[^"]*)" "(?<http_user_agent>[^"]*)" '
    r'rt=(?<request_time>\S+) uct="(?<upstream_connect_time>[^"]*)" '
    r'uht="(?<upstream_header_time>[^"]*)" '
    r'urt="(?<upstream_response_time>[^"]*)" '
    r'ua="(?<upstream_addr>[^"]*)" us="(?<upstream_status>[^"]*)"$')

REGEX_CONFIG = """\
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
{output}"""

FILE_OUTPUT = """\
    name file
    match *
    path {path}
    format json_lines
"""

NULL_OUTPUT = """\
    name null
    match *
"""

SUMMARY_RE = re.compile(
    r"summary records_in=(\d+) records_out=(\d+) parse_errors=(\d+) "
    r"truncated=(\d+) dropped=(\d+)")

# Cases run in every round, in this order. lf-regex is only run when
# --cases names it.
ROUND_CASES = ("cat", "grep", "lf-file", "lf-null", "lf-regex")
# Phases run once, after the rounds.
ONCE_CASES = ("10m", "steady")
DEFAULT_CASES = ("cat", "grep", "lf-file", "lf-null", "10m", "steady")

# The targets of the performance issue.
TARGET_CPU_VS_GREP = 5.0
TARGET_WALL_VS_GREP = 3.0
TARGET_NULL_CPU_VS_GREP = 3.0
TARGET_RSS_MIB = 32.0
TARGET_STEADY_CPU_PCT = 5.0
TARGET_LATENCY_MEDIAN_MS = 50.0
TARGET_LATENCY_P99_MS = 200.0

GNU_TIME = "/usr/bin/time"


def die(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.exit(1)


def generate(lines, shared_dir, out_dir):
    """The cached input log of `lines` lines, generated if missing or of the
    wrong size."""
    gen = shared_dir / "bench" / "gen_access_log.py"
    if not gen.is_file():
        die("generator not found: %s (use --shared DIR)" % gen)
    # A changed generator makes a different file: its digest is in the name.
    digest = hashlib.sha1(gen.read_bytes()).hexdigest()[:10]
    name = "access-nginx_upstream-seed1-n%d-%s" % (lines, digest)
    log, meta = out_dir / (name + ".log"), out_dir / (name + ".json")
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


def parse_summary(stderr):
    """(records_in, records_out, parse_errors) of the last summary line
    logferry logged, or None."""
    found = SUMMARY_RE.findall(stderr)
    if not found:
        return None
    return tuple(map(int, found[-1][:3]))


class Throughput:
    """The batch cases: each runs over the whole input file and exits."""

    def __init__(self, args, log, lines):
        self.args = args
        self.log = log
        self.lines = lines
        self.bytes = log.stat().st_size
        self.c_env = dict(os.environ, LC_ALL="C")
        self.out_json = args.out / "out.jsonl"
        self.grep_count = None
        self.counts = {}  # case -> (records_in, records_out) of its last run
        file_output = FILE_OUTPUT.format(path=self.out_json)
        self.confs = {
            "lf-file": self.write_conf("lf-file", FULL_CONFIG.format(
                log=log, exit_on_eof="on", output=file_output)),
            "lf-null": self.write_conf("lf-null", FULL_CONFIG.format(
                log=log, exit_on_eof="on", output=NULL_OUTPUT)),
            "lf-regex": self.write_conf("lf-regex", REGEX_CONFIG.format(
                regex=REGEX, log=log, output=file_output)),
        }
        self.checked = set()

    def write_conf(self, case, text):
        conf = self.args.out / ("%s.conf" % case)
        conf.write_text(text)
        return conf

    def run(self, case):
        """Runs one case once; returns (wall, cpu, user, sys, rss)."""
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
        return self.run_logferry(case, self.confs[case], self.lines)

    def run_logferry(self, case, conf, lines):
        if self.out_json.exists():
            self.out_json.unlink()
        with tempfile.TemporaryFile() as err:
            rc, *m = run_child([str(self.args.bin), "-c", str(conf)],
                               stderr=err)
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
        if rc != 0:
            die("%s: logferry exited %d; stderr:\n%s" % (case, rc,
                                                          stderr[-3000:]))
        counts = parse_summary(stderr)
        if counts is None:
            die("%s: no summary line on stderr:\n%s" % (case,
                                                        stderr[-3000:]))
        records_in, records_out, parse_errors = counts
        if records_in != lines or records_out != lines or parse_errors:
            die("%s: summary says records_in=%d records_out=%d "
                "parse_errors=%d, want %d, %d and 0"
                % (case, records_in, records_out, parse_errors, lines,
                   lines))
        self.counts[case] = (records_in, records_out)
        # Counting the output costs seconds: once per case is enough.
        if case in ("lf-file", "lf-regex") and case not in self.checked:
            n = count_lines(self.out_json)
            if n != lines:
                die("%s: %d lines in %s, want %d" % (case, n, self.out_json,
                                                     lines))
        self.checked.add(case)
        return m

    def run_big(self, log, lines):
        """The full pipeline once over a bigger file (figure 3: peak RSS
        must not grow with the file). Returns (wall, cpu, user, sys,
        rss)."""
        conf = self.write_conf("lf-file-big", FULL_CONFIG.format(
            log=log, exit_on_eof="on",
            output=FILE_OUTPUT.format(path=self.out_json)))
        run_child(["cat", str(log)])  # into the page cache, as for the rest
        m = self.run_logferry("lf-file-big", conf, lines)
        if not self.args.keep and self.out_json.exists():
            self.out_json.unlink()  # gigabytes
        return m


# --- steady load and latency (figures 4 and 5) ---------------------------

# The request field as the nginx_upstream parser splits it (method, URI,
# version); the URI of a sampled line gets a marker appended.
REQUEST_RE = re.compile(rb'"([^\s"]+) ([^\s"]+) HTTP/[^\s"]+"')
MARKER_RE = re.compile(rb"lfseq=(\d+)")


def mark_line(line, seq):
    """line with `lfseq=seq` appended to its request URI, so that its record
    can be recognised in the output (url.original); None if the line has no
    request line to mark (e.g. "-" or TLS bytes on a plain port)."""
    m = REQUEST_RE.search(line)
    if m is None:
        return None
    sep = b"&" if b"?" in m.group(2) else b"?"
    return line[:m.end(2)] + sep + b"lfseq=%d" % seq + line[m.end(2):]


class LineSource:
    """Whole lines of the input log from its start, again from the start
    after its end (a small --quick input runs out in a second)."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.lines = []
        self.pos = 0

    def next(self):
        if self.pos == len(self.lines):
            self.lines = self.f.readlines(4 << 20)
            if not self.lines:
                self.f.seek(0)
                self.lines = self.f.readlines(4 << 20)
            self.pos = 0
        line = self.lines[self.pos]
        self.pos += 1
        return line if line.endswith(b"\n") else line + b"\n"

    def close(self):
        self.f.close()


class OutputReader(threading.Thread):
    """Follows logferry's output file: counts its lines and notes when each
    marked record first appears (time.monotonic()). Polls with os.read
    every millisecond, a resolution well under the latency target."""

    def __init__(self, path, poll_s=0.001):
        super().__init__(daemon=True)
        self.path = path
        self.poll_s = poll_s
        self.lines = 0
        self.seen = {}  # marker seq -> monotonic time first read
        self.stopping = threading.Event()

    def run(self):
        fd = None
        rest = b""
        while True:
            if fd is None:
                try:
                    fd = os.open(self.path, os.O_RDONLY)
                except FileNotFoundError:
                    if self.stopping.is_set():
                        return
                    time.sleep(self.poll_s)
                    continue
            data = os.read(fd, 1 << 20)
            if not data:
                # Stop only once the end is read after the stop request,
                # so that the last records are counted too.
                if self.stopping.is_set():
                    os.close(fd)
                    return
                time.sleep(self.poll_s)
                continue
            now = time.monotonic()
            self.lines += data.count(b"\n")
            # A marker split across two reads must not be cut: look only at
            # whole lines, keep the partial last one for the next read.
            data = rest + data
            end = data.rfind(b"\n") + 1
            rest = data[end:]
            for m in MARKER_RE.finditer(data, 0, end):
                self.seen.setdefault(int(m.group(1)), now)

    def stop(self):
        self.stopping.set()
        self.join()


def proc_cpu_s(pid):
    """(user, system) CPU seconds of process pid so far, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        # The command name (field 2) may hold spaces: split after its ')'.
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 (utime, stime); fields[0] is field 3.
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def proc_thread_cpu_s(pid):
    """{thread name: (user, system) CPU seconds so far} of process pid's
    threads (logferry names them by stage: in_tail:0, worker:0, ...);
    threads of the same name are added up."""
    tck = os.sysconf("SC_CLK_TCK")
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:  # the thread ended meanwhile
            continue
        name = head.split("(", 1)[1]
        fields = rest.split()
        user, system = out.get(name, (0.0, 0.0))
        out[name] = (user + int(fields[11]) / tck,
                     system + int(fields[12]) / tck)
    return out


def proc_read_bytes(pid):
    """Bytes process pid has read so far (rchar of /proc/PID/io)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return None


def proc_peak_rss(pid):
    """VmHWM of process pid in bytes: the peak resident set size so far."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list: a value
    that was measured, and never below the true one for small samples."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class Steady:
    """Figures 4 and 5: logferry as a daemon (exit_on_eof off) tails a file
    that a writer appends to at a fixed rate. Measures logferry's CPU over
    the steady window (after a warm-up) and its peak RSS; with the file
    output (output "file") also the latency of marked lines from the
    tailed file to the output file. With the null output nothing can be
    followed: the counts of logferry's summary line prove that every line
    was read and delivered."""

    TICK_S = 0.010  # the writer appends what is due every 10 ms
    SAMPLE_EVERY = 100  # one line in 100 carries a latency marker
    DRAIN_S = 10.0  # how long the output may lag once the writer stops
    # Null output: once the writer stops, logferry has read everything
    # when its read byte count (rchar) has not moved for QUIET_S, six
    # times the tail's default read_interval (at most DRAIN_S); the counts
    # are checked after it.
    QUIET_S = 0.3

    def __init__(self, args, src, output="file"):
        self.args = args
        self.src = src
        self.output = output
        self.dir = args.out / "steady"
        self.dir.mkdir(parents=True, exist_ok=True)
        suffix = "" if output == "file" else "-" + output
        self.tailed = self.dir / "access.log"
        self.out_json = self.dir / "out.jsonl"
        self.stderr_path = self.dir / ("stderr%s.log" % suffix)
        self.conf = self.dir / ("lf-steady%s.conf" % suffix)
        self.seconds = args.steady_seconds
        # The first seconds include start-up and cold caches.
        self.warmup_s = min(2.0, self.seconds / 2)
        self.rate = args.rate_mb * MB
        self.errors = []

    def run(self):
        for path in (self.tailed, self.out_json):
            if path.exists():
                path.unlink()
        # Empty before logferry starts, so every line is appended while it
        # follows the file.
        self.tailed.write_bytes(b"")
        output = (FILE_OUTPUT.format(path=self.out_json)
                  if self.output == "file" else NULL_OUTPUT)
        self.conf.write_text(FULL_CONFIG.format(
            log=self.tailed, exit_on_eof="off", output=output))
        with open(self.stderr_path, "wb") as err:
            proc = subprocess.Popen([str(self.args.bin), "-c",
                                     str(self.conf)],
                                    stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err)
        reader = OutputReader(self.out_json) if self.output == "file" \
            else None
        try:
            self.wait_following(proc)
            if reader:
                reader.start()
            result = self.write(proc)
            result["output"] = self.output
            if reader:
                self.drain(proc, reader, result["lines_written"])
            else:
                self.settle(proc)
            result["peak_rss_mib"] = self.peak_rss(proc)
            result.update(self.stop(proc))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if reader and reader.is_alive():
                reader.stop()
        self.check(result, reader)
        # On a failed check the files stay, to be looked at.
        if not self.args.keep and not self.errors:
            for path in (self.tailed, self.out_json):
                path.unlink(missing_ok=True)
        return result

    def stderr_tail(self):
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def wait_following(self, proc):
        """Waits until the tail input has opened the file (its "following"
        log line), so that the first appended lines do not measure
        start-up."""
        want = "following %s" % self.tailed
        end = time.monotonic() + 10
        while want not in self.stderr_path.read_text(errors="replace"):
            if proc.poll() is not None:
                die("steady: logferry exited %d at start; stderr:\n%s"
                    % (proc.returncode, self.stderr_tail()))
            if time.monotonic() > end:
                die("steady: no '%s' in logferry's log within 10 s" % want)
            time.sleep(0.01)

    def write(self, proc):
        """Appends whole lines at self.rate for self.seconds, every TICK_S
        the bytes due so far, and samples logferry's CPU time at the end of
        the warm-up and at the end. Returns the writer's figures."""
        source = LineSource(self.src)
        fd = os.open(self.tailed, os.O_WRONLY | os.O_APPEND)
        sent = {}  # marker seq -> monotonic time just before its write
        written = seq = next_mark = ticks = 0
        cpu0 = threads0 = None
        t0 = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                elapsed = now - t0
                if elapsed >= self.seconds:
                    break
                if cpu0 is None and elapsed >= self.warmup_s:
                    cpu0 = (now, proc_cpu_s(proc.pid))
                    threads0 = proc_thread_cpu_s(proc.pid)
                # Whole lines up to the bytes due: a late tick catches up.
                batch, marked, size = [], [], 0
                while written + size < self.rate * elapsed:
                    line = source.next()
                    if seq >= next_mark:
                        m = mark_line(line, seq)
                        if m is not None:
                            line = m
                            marked.append(seq)
                            next_mark = seq + self.SAMPLE_EVERY
                    batch.append(line)
                    size += len(line)
                    seq += 1
                if batch:
                    t_write = time.monotonic()
                    data = b"".join(batch)
                    while data:
                        data = data[os.write(fd, data):]
                    for s in marked:
                        sent[s] = t_write
                    written += size
                if proc.poll() is not None:
                    die("steady: logferry exited %d while the writer ran; "
                        "stderr:\n%s" % (proc.returncode, self.stderr_tail()))
                ticks += 1
                time.sleep(max(0.0, t0 + ticks * self.TICK_S
                               - time.monotonic()))
            cpu1 = (time.monotonic(), proc_cpu_s(proc.pid))
            threads1 = proc_thread_cpu_s(proc.pid)
            if cpu0 is None:  # a run too short to pass its warm-up
                cpu0, threads0 = cpu1, threads1
        finally:
            os.close(fd)
            source.close()
        self.sent = sent
        self.window_start = cpu0[0]
        window = cpu1[0] - cpu0[0]
        user = cpu1[1][0] - cpu0[1][0]
        system = cpu1[1][1] - cpu0[1][1]
        # % of one core per thread over the window: (user, system).
        threads = {
            name: tuple(100.0 * (t[i] - threads0.get(name, (0, 0))[i])
                        / window for i in (0, 1))
            for name, t in sorted(threads1.items())} if window > 0 else {}
        return {
            "seconds": self.seconds,
            "warmup_s": self.warmup_s,
            "window_s": window,
            "rate_mb_s_target": self.args.rate_mb,
            "rate_mb_s": written / MB / (cpu1[0] - t0),
            "lines_written": seq,
            "bytes_written": written,
            "cpu_s": user + system,
            "user_s": user,
            "sys_s": system,
            "cpu_pct": (100.0 * (user + system) / window
                        if window > 0 else None),
            # With the file output, the kernel's part is mostly writing the
            # output into the page cache: ext4 takes more per byte once the
            # file is large.
            "user_pct": 100.0 * user / window if window > 0 else None,
            "sys_pct": 100.0 * system / window if window > 0 else None,
            # Where it goes, thread by thread, and the kernel's share of it.
            "thread_pct": {name: sum(t) for name, t in threads.items()},
            "thread_sys_pct": {name: t[1] for name, t in threads.items()},
        }

    def drain(self, proc, reader, lines):
        """Waits (up to DRAIN_S) until every written line is in the output."""
        end = time.monotonic() + self.DRAIN_S
        while reader.lines < lines and time.monotonic() < end:
            if proc.poll() is not None:
                die("steady: logferry exited %d before the output was "
                    "complete; stderr:\n%s" % (proc.returncode,
                                               self.stderr_tail()))
            time.sleep(0.01)

    def settle(self, proc):
        """Waits (up to DRAIN_S) until logferry has read nothing for
        QUIET_S."""
        end = time.monotonic() + self.DRAIN_S
        last, since = proc_read_bytes(proc.pid), time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.05)
            now = proc_read_bytes(proc.pid)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= self.QUIET_S:
                return

    def peak_rss(self, proc):
        rss = proc_peak_rss(proc.pid)
        return None if rss is None else rss / MIB

    def stop(self, proc):
        """SIGTERM, as an init system stops the daemon; it must exit 0."""
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            self.errors.append("logferry did not exit within 30 s of "
                               "SIGTERM")
        counts = parse_summary(self.stderr_path.read_text(errors="replace"))
        return {"exit_code": rc,
                "records_in": counts[0] if counts else None,
                "records_out": counts[1] if counts else None,
                "parse_errors": counts[2] if counts else None}

    def check(self, result, reader):
        """Records in result the output count and latencies, and in
        self.errors what went wrong."""
        lines = result["lines_written"]
        want = {"exit_code": 0, "records_in": lines, "records_out": lines,
                "parse_errors": 0}
        if self.output == "file":
            result["lines_out"] = count_lines(self.out_json) \
                if self.out_json.exists() else 0
            want["lines_out"] = lines
        for key, value in want.items():
            if result[key] != value:
                self.errors.append("%s is %s, want %s"
                                   % (key, result[key], value))
        if reader is not None:
            result["latency"] = self.latency(reader)
        if self.errors:
            result["errors"] = self.errors
            result["stderr_tail"] = self.stderr_tail()

    def latency(self, reader):
        """The latency of the marked lines written after the warm-up (those
        written during it measure start-up, not the steady state); a line
        that never reached the output is an error."""
        latencies, missing = [], 0
        for s, t_write in self.sent.items():
            if t_write < self.window_start:
                continue
            t_seen = reader.seen.get(s)
            if t_seen is None:
                missing += 1
            else:
                latencies.append((t_seen - t_write) * 1000)
        if missing:
            self.errors.append("%d marked lines never reached the output"
                               % missing)
        lat = {"samples": len(latencies), "missing": missing,
               "every_nth_line": self.SAMPLE_EVERY}
        if latencies:
            lat.update(median_ms=statistics.median(latencies),
                       p99_ms=percentile(latencies, 99),
                       max_ms=max(latencies))
        return lat


# --- results -------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def summarize_case(runs, lines, nbytes):
    row = {
        "runs": len(runs),
        "lines": lines,
        "wall_s": median([r[0] for r in runs]),
        "cpu_s": median([r[1] for r in runs]),
        "user_s": median([r[2] for r in runs]),
        "sys_s": median([r[3] for r in runs]),
        # The targets are about the peak: the largest of the rounds.
        "max_rss_mib": max(r[4] for r in runs) / MIB,
        "wall_all_s": [round(r[0], 4) for r in runs],
        "cpu_all_s": [round(r[1], 4) for r in runs],
    }
    row["lines_per_s"] = lines / row["wall_s"]
    row["mb_per_s"] = nbytes / MB / row["wall_s"]
    return row


def summarize(results, tp):
    rows = {}
    for case, runs in results.items():
        rows[case] = summarize_case(runs, tp.lines, tp.bytes)
        if case in tp.counts:
            rows[case]["records_in"], rows[case]["records_out"] = \
                tp.counts[case]
    grep = rows.get("grep")
    for row in rows.values():
        if grep:
            row["wall_vs_grep"] = row["wall_s"] / grep["wall_s"]
            row["cpu_vs_grep"] = (row["cpu_s"] / grep["cpu_s"]
                                  if grep["cpu_s"] > 0 else None)
    return rows


def target(figure, key, label, measured, unit, limit, shown=None):
    """One row of the targets table: measured must be <= limit. A row
    without a limit is shown for reference and neither passes nor fails."""
    return {"figure": figure, "key": key, "label": label,
            "measured": measured, "unit": unit, "target": limit,
            "shown": shown,
            "pass": None if measured is None or limit is None
            else measured <= limit}


def figures(rows, steady, steady_null, args):
    """The targets of the issue, each with what was measured (None when its
    case was not run)."""
    def get(case, key):
        row = rows.get(case)
        return None if row is None else row.get(key)

    def vs_grep(case, what):
        """'6.1x (4.40 s / 0.72 s)' for what (wall or cpu), or None."""
        ratio = get(case, "%s_vs_grep" % what)
        if ratio is None:
            return None
        return "%.1fx (%.2f s / %.2f s)" % (
            ratio, get(case, "%s_s" % what), get("grep", "%s_s" % what))

    st = steady or {}
    sn = steady_null or {}
    lat = st.get("latency", {})
    rate = "%g MB/s" % args.rate_mb
    return [
        target(1, "full_cpu_vs_grep", "1. full pipeline CPU / grep CPU",
               get("lf-file", "cpu_vs_grep"), "x", TARGET_CPU_VS_GREP,
               vs_grep("lf-file", "cpu")),
        target(1, "full_wall_vs_grep", "1. full pipeline wall / grep wall",
               get("lf-file", "wall_vs_grep"), "x", TARGET_WALL_VS_GREP,
               vs_grep("lf-file", "wall")),
        target(2, "null_cpu_vs_grep", "2. null output CPU / grep CPU",
               get("lf-null", "cpu_vs_grep"), "x", TARGET_NULL_CPU_VS_GREP,
               vs_grep("lf-null", "cpu")),
        target(3, "rss_mib", "3. peak RSS, full pipeline, %s lines"
               % "{:,}".format(args.lines),
               get("lf-file", "max_rss_mib"), "MiB", TARGET_RSS_MIB),
        target(3, "rss_big_mib", "3. peak RSS, full pipeline, %s lines"
               % "{:,}".format(args.big_lines),
               get("lf-file-big", "max_rss_mib"), "MiB", TARGET_RSS_MIB),
        target(4, "steady_cpu_pct", "4. steady %s, null output: CPU, %% of "
               "one core" % rate, sn.get("cpu_pct"), "%",
               TARGET_STEADY_CPU_PCT),
        target(4, "steady_rss_mib", "4. steady %s, null output: peak RSS"
               % rate, sn.get("peak_rss_mib"), "MiB", TARGET_RSS_MIB),
        target(4, "steady_file_cpu_pct", "4. steady %s, file output: CPU, "
               "%% of one core (reference)" % rate, st.get("cpu_pct"), "%",
               None, None if st.get("cpu_pct") is None else
               "%.1f %% (system %.1f %%)" % (st["cpu_pct"], st["sys_pct"])),
        target(4, "steady_file_rss_mib", "4. steady %s, file output: peak "
               "RSS" % rate, st.get("peak_rss_mib"), "MiB", TARGET_RSS_MIB),
        target(5, "latency_median_ms", "5. latency, median",
               lat.get("median_ms"), "ms", TARGET_LATENCY_MEDIAN_MS),
        target(5, "latency_p99_ms", "5. latency, p99",
               lat.get("p99_ms"), "ms", TARGET_LATENCY_P99_MS),
    ]


def fmt_ratio(x):
    return "-" if x is None else "%.1fx" % x


def fmt_num(x):
    return "-" if x is None else "%.1f" % x


def print_rows(head, lines):
    """A plain-text table: first column left-aligned, the others right."""
    lines = [head] + lines
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    for i, l in enumerate(lines):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(l, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def print_cases(rows):
    head = ("case", "lines", "wall s", "cpu s", "user s", "sys s",
            "RSS MiB", "lines/s", "MB/s", "wall/grep", "cpu/grep")
    lines = []
    for case, r in rows.items():
        lines.append((case, "{:,}".format(r["lines"]), "%.3f" % r["wall_s"],
                      "%.3f" % r["cpu_s"], "%.3f" % r["user_s"],
                      "%.3f" % r["sys_s"], "%.1f" % r["max_rss_mib"],
                      "{:,.0f}".format(r["lines_per_s"]),
                      "%.1f" % r["mb_per_s"],
                      fmt_ratio(r.get("wall_vs_grep")),
                      fmt_ratio(r.get("cpu_vs_grep"))))
    print_rows(head, lines)


def print_steady(st):
    lat = st.get("latency", {"samples": 0})
    print("steady load, %s output: %.1f MB/s (target %g) for %.0f s, window "
          "%.1f s after %.0f s of warm-up" % (st["output"], st["rate_mb_s"],
                                             st["rate_mb_s_target"],
                                             st["seconds"], st["window_s"],
                                             st["warmup_s"]))
    out = ("output lines %s, " % "{:,}".format(st["lines_out"])
           if "lines_out" in st else "")
    print("  lines written %s, %srecords_in %s, records_out %s, "
          "parse_errors %s, exit code %s" % (
              "{:,}".format(st["lines_written"]), out, st["records_in"],
              st["records_out"], st["parse_errors"], st["exit_code"]))
    print("  logferry CPU %.2f s = %s%% of one core (user %s%%, system "
          "%s%%); peak RSS %s MiB" % (
              st["cpu_s"], fmt_num(st["cpu_pct"]), fmt_num(st["user_pct"]),
              fmt_num(st["sys_pct"]), fmt_num(st["peak_rss_mib"])))
    if st.get("thread_pct"):
        sys_pct = st.get("thread_sys_pct", {})
        print("  by thread (system part): %s" % ", ".join(
            "%s %s%% (%s%%)" % (name, fmt_num(pct),
                                fmt_num(sys_pct.get(name)))
            for name, pct in st["thread_pct"].items()))
    if lat["samples"]:
        print("  latency over %d marked lines: median %.1f ms, p99 %.1f ms, "
              "max %.1f ms" % (lat["samples"], lat["median_ms"],
                               lat["p99_ms"], lat["max_ms"]))
    for err in st.get("errors", []):
        print("  CHECK FAILED: %s" % err)


def print_targets(figs):
    lines = []
    for f in figs:
        if f["measured"] is None:
            measured, result = "not run", "SKIP"
        else:
            measured = f["shown"] or ("%.1f %s" % (f["measured"], f["unit"]))
            result = "PASS" if f["pass"] else "FAIL"
        if f["target"] is None:
            limit = "-"
            if f["measured"] is not None:
                result = "-"
        elif f["unit"] == "x":
            limit = "<= %gx" % f["target"]
        else:
            limit = "<= %g %s" % (f["target"], f["unit"])
        lines.append((f["label"], measured, limit, result))
    print_rows(("figure", "measured", "target", "result"), lines)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# --- command line --------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="logferry's performance figures against cat and grep, "
                    "with their targets.")
    p.add_argument("--lines", type=int,
                   help="input lines (default 2000000; --quick: 20000)")
    p.add_argument("--runs", type=int,
                   help="interleaved rounds of the throughput cases "
                        "(default 5; --quick: 1)")
    p.add_argument("--big-lines", type=int, default=10_000_000,
                   help="input lines of the single peak-RSS run on a big "
                        "file (default 10000000)")
    p.add_argument("--no-10m", action="store_true",
                   help="skip the run on the big file")
    p.add_argument("--steady-seconds", type=float,
                   help="duration of each steady-load run, null and "
                        "file output (default 30; --quick: 4; 0 skips "
                        "them)")
    p.add_argument("--rate-mb", type=float, default=10.0,
                   help="append rate of the steady run in MB/s (10^6 "
                        "bytes; default 10)")
    p.add_argument("--cases", default=",".join(DEFAULT_CASES),
                   help="comma-separated subset of %s (default %s)"
                        % (",".join(ROUND_CASES + ONCE_CASES),
                           ",".join(DEFAULT_CASES)))
    p.add_argument("--quick", action="store_true",
                   help="small sizes for a smoke test: 20000 lines, 1 "
                        "round, 4 s steady, no big file, output in "
                        "bench/out/quick unless --out is given")
    p.add_argument("--keep", action="store_true",
                   help="keep the output files of the last runs (out.jsonl, "
                        "steady/); the generated inputs are always kept")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a target is missed")
    p.add_argument("--bin", type=Path, default=REPO / "build" / "logferry",
                   help="logferry binary (default build/logferry)")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                   help="shared directory with bench/gen_access_log.py "
                        "(default ../shared)")
    p.add_argument("--out", type=Path,
                   help="directory of the cached inputs, configurations, "
                        "outputs and summary.json (default bench/out)")
    args = p.parse_args(argv)
    quick = args.quick
    if args.lines is None:
        args.lines = 20_000 if quick else 2_000_000
    if args.runs is None:
        args.runs = 1 if quick else 5
    if args.steady_seconds is None:
        args.steady_seconds = 4.0 if quick else 30.0
    if args.out is None:
        args.out = BENCH_DIR / "out" / "quick" if quick else BENCH_DIR / "out"
    args.out = args.out.resolve()
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(ROUND_CASES + ONCE_CASES)
    if unknown or not cases:
        p.error("unknown case(s): %s" % ",".join(sorted(unknown)))
    if quick or args.no_10m:
        cases = [c for c in cases if c != "10m"]
    if args.steady_seconds <= 0:
        cases = [c for c in cases if c != "steady"]
    args.cases = cases
    if args.lines < 1 or args.runs < 1 or args.big_lines < 1:
        p.error("--lines, --runs and --big-lines must be at least 1")
    if args.rate_mb <= 0:
        p.error("--rate-mb must be positive")
    return args


def logferry_version(binary):
    try:
        return subprocess.run([str(binary), "--version"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        die("cannot run %s --version: %s (build it first: "
            "bash tools/run.sh --version)" % (binary, e))


def run_rounds(args, tp):
    """R rounds, each running every case once, in order, so that a slow
    drift of the machine spreads over all cases."""
    cases = [c for c in args.cases if c in ROUND_CASES]
    # Load the input into the page cache so that no case pays for the disk.
    tp.run("cat")
    results = {c: [] for c in cases}
    for i in range(args.runs):
        for case in cases:
            m = tp.run(case)
            results[case].append(m)
            print("run %d/%d %-8s wall %.3f s  cpu %.3f s" % (
                i + 1, args.runs, case, m[0], m[1]), flush=True)
    if not args.keep and tp.out_json.exists():
        tp.out_json.unlink()
    return results


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    uses_lf = any(c.startswith("lf-") or c in ONCE_CASES for c in args.cases)
    version = logferry_version(args.bin) if uses_lf else None
    log = generate(args.lines, args.shared, args.out)
    big_log = None
    if "10m" in args.cases:
        big_log = generate(args.big_lines, args.shared, args.out)
    tp = Throughput(args, log, args.lines)

    results = run_rounds(args, tp)
    rows = summarize(results, tp)
    # The steady run before the big file: the big run leaves gigabytes of
    # written and deleted output for the kernel to flush and discard, and
    # the steady run would pay for part of it.
    steady = steady_null = None
    if "steady" in args.cases:
        print("steady load for %g s at %g MB/s, null output ..."
              % (args.steady_seconds, args.rate_mb), flush=True)
        steady_null = Steady(args, log, "null").run()
        print("steady load for %g s at %g MB/s, file output ..."
              % (args.steady_seconds, args.rate_mb), flush=True)
        steady = Steady(args, log, "file").run()
    if big_log is not None:
        print("one run over %s lines ..." % "{:,}".format(args.big_lines),
              flush=True)
        m = tp.run_big(big_log, args.big_lines)
        row = summarize_case([m], args.big_lines, big_log.stat().st_size)
        row["records_in"], row["records_out"] = tp.counts["lf-file-big"]
        rows["lf-file-big"] = row
    figs = figures(rows, steady, steady_null, args)

    print()
    print("input: %s lines, %.1f MB (nginx_upstream, seed 1)"
          % ("{:,}".format(tp.lines), tp.bytes / MB))
    if rows:
        print("rounds: %d; medians, RSS: the largest" % args.runs)
        print_cases(rows)
    for st in (steady_null, steady):
        if st is not None:
            print()
            print_steady(st)
    print()
    print_targets(figs)

    summary = {
        "input": {"path": str(log), "lines": tp.lines, "bytes": tp.bytes,
                  "format": "nginx_upstream", "seed": 1},
        "runs": args.runs,
        "quick": args.quick,
        "grep_count": tp.grep_count,
        "logferry_version": version,
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(),
                    "kernel": platform.release()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cases": rows,
        "steady": steady,
        "steady_null": steady_null,
        "figures": figs,
    }
    path = args.out / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print("summary: %s" % path)
    failed = [st for st in (steady_null, steady)
              if st is not None and st.get("errors")]
    for st in failed:
        sys.stderr.write("bench: steady run (%s output) failed its checks:"
                         "\n  %s\nlogferry's stderr (tail):\n%s\n"
                         % (st["output"], "\n  ".join(st["errors"]),
                            st["stderr_tail"]))
    if failed:
        return 1
    if args.strict and any(f["pass"] is False for f in figs):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
