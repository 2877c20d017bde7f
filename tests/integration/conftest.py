# SPDX-License-Identifier: Apache-2.0
"""Fixtures and helpers shared by the integration tests.

The tests drive the real binary. CTest passes LF_BIN, LF_SHARED_DIR and
LF_SOURCE_DIR (tests/CMakeLists.txt); run by hand, they default to
<repo>/build/logferry and <repo>/../shared. Under sanitizers (LF_SANITIZED=1,
set by tools/test.sh for build-asan/) every deadline is four times longer.

Expected records are computed here, in Python, from the input lines: the
same regex, but typing, time conversion and JSON encoding done independently
of the C code.
"""

import collections
import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

REPO = Path(os.environ.get("LF_SOURCE_DIR")
            or Path(__file__).resolve().parents[2]).resolve()
LF_BIN = Path(os.environ.get("LF_BIN") or REPO / "build" / "logferry")
SHARED_DIR = Path(os.environ.get("LF_SHARED_DIR")
                  or REPO.parent / "shared").resolve()
GENERATOR = SHARED_DIR / "bench" / "gen_access_log.py"
SANITIZED = os.environ.get("LF_SANITIZED") == "1"
SLOW = 4 if SANITIZED else 1
# Generated logs are kept between runs (both builds' tests share them).
if os.environ.get("XDG_CACHE_HOME"):
    CACHE_DIR = Path(os.environ["XDG_CACHE_HOME"]) / "logferry-test"
else:
    CACHE_DIR = Path("/tmp/logferry-test-cache")


def deadline(seconds):
    """A timeout in seconds, stretched under sanitizers."""
    return seconds * SLOW


def wait_until(cond, timeout, interval=0.005):
    """Polls cond() until it returns a true value or timeout (seconds,
    already scaled by the caller) passes. Returns the last value of cond()."""
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value or time.monotonic() > end:
            return value
        time.sleep(interval)


# --- the nginx "upstream" log format -------------------------------------
#
# log_format upstream '$remote_addr - $remote_user [$time_local] "$request" '
#     '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
#     'rt=$request_time uct="$upstream_connect_time" '
#     'uht="$upstream_header_time" urt="$upstream_response_time" '
#     'ua="$upstream_addr" us="$upstream_status"';
#
# nginx escapes '"' inside values as \x22, so [^"]* is exact.
UPSTREAM_REGEX = (
    r'^(?<remote_addr>\S+) - (?<remote_user>\S+) \[(?<time_local>[^\]]+)\] '
    r'"(?<request>[^"]*)" (?<status>\d{3}) (?<body_bytes_sent>\d+) '
    r'"(?<http_referer>[^"]*)" "(?<http_user_agent>[^"]*)" '
    r'rt=(?<request_time>\S+) uct="(?<upstream_connect_time>[^"]*)" '
    r'uht="(?<upstream_header_time>[^"]*)" '
    r'urt="(?<upstream_response_time>[^"]*)" '
    r'ua="(?<upstream_addr>[^"]*)" us="(?<upstream_status>[^"]*)"$')
# Python spells named groups (?P<name>...).
UPSTREAM_RE = re.compile(UPSTREAM_REGEX.replace("(?<", "(?P<"))
UPSTREAM_FIELDS = list(UPSTREAM_RE.groupindex)
UPSTREAM_TYPES = {"status": int, "body_bytes_sent": int,
                  "request_time": float}
TIME_KEY = "time_local"
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


def parser_section(name="test_upstream"):
    """A [parser] section for UPSTREAM_REGEX with its types."""
    types = " ".join("%s:%s" % (k, t.__name__)
                     for k, t in UPSTREAM_TYPES.items())
    return ("[parser]\n"
            "    name %s\n"
            "    format regex\n"
            "    regex %s\n"
            "    time_key %s\n"
            "    time_format %s\n"
            "    types %s\n" % (name, UPSTREAM_REGEX, TIME_KEY, TIME_FORMAT,
                                types))


_ts_cache = {}


def iso_timestamp(time_local):
    """'01/Jun/2025:00:00:03 +0000' -> '2025-06-01T00:00:03.000Z'."""
    ts = _ts_cache.get(time_local)
    if ts is None:
        dt = datetime.datetime.strptime(time_local, TIME_FORMAT)
        dt = dt.astimezone(datetime.timezone.utc)
        ts = dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (
            dt.microsecond // 1000)
        if len(_ts_cache) > 100000:
            _ts_cache.clear()
        _ts_cache[time_local] = ts
    return ts


def expected_record(line):
    """The record logferry should emit for one input line (no newline),
    keys in output order. A line that does not match becomes a parse
    error record, whose @timestamp (the time of reading) is None here."""
    m = UPSTREAM_RE.match(line)
    if m is None:
        return {"@timestamp": None, "message": line,
                "error.type": "parse_error"}
    rec = {"@timestamp": iso_timestamp(m.group(TIME_KEY))}
    for key, value in zip(UPSTREAM_FIELDS, m.groups()):
        if key == TIME_KEY:
            continue
        typ = UPSTREAM_TYPES.get(key)
        if typ is not None:
            value = None if value == "-" else typ(value)
        rec[key] = value
    return rec


def record_key(rec):
    """A hashable identity of a record: its keys in order and its values,
    independent of how a JSON number was spelled (3 or 3.0). Parse error
    records are identified by their message alone (their @timestamp is the
    time of reading)."""
    if rec.get("error.type") == "parse_error":
        return ("parse_error", rec.get("message"))
    items = []
    for key, value in rec.items():
        typ = UPSTREAM_TYPES.get(key)
        if typ is not None and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            value = typ(value)
        items.append((key, value))
    return tuple(items)


def record_hash(rec):
    """hash(record_key(rec)): small enough to count a million records."""
    return hash(record_key(rec))


def count_output_records(out, limit=5):
    """Reads a JSON-lines file. Returns (Counter of record_hash, number of
    lines that are not a JSON object, the first `limit` of them)."""
    counts = collections.Counter()
    n_bad, bad = 0, []
    with open(out, encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
            except ValueError:
                n_bad += 1
                if len(bad) < limit:
                    bad.append(line[:300])
                continue
            counts[record_hash(rec)] += 1
    return counts, n_bad, bad


def output_examples(out, hashes, limit=5):
    """The first `limit` lines of out whose record_hash is in hashes."""
    found = []
    with open(out, encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            try:
                if record_hash(json.loads(line)) in hashes:
                    found.append(line[:300])
            except (ValueError, AttributeError):
                continue
            if len(found) >= limit:
                break
    return found


def record_diff(want, got):
    """Human-readable differences between an expected and an actual record
    (empty list if they match, key order included)."""
    out = []
    if want.get("error.type") == "parse_error":
        for key in ("message", "error.type"):
            if got.get(key) != want[key]:
                out.append("%s: want %r, got %r" % (key, want[key],
                                                    got.get(key)))
        return out
    for key in want:
        if key not in got:
            out.append("missing field %r (want %r)" % (key, want[key]))
            continue
        w, g = want[key], got[key]
        typ = UPSTREAM_TYPES.get(key)
        if w is None or g is None:
            ok = w is None and g is None
        elif typ is int:
            ok = type(g) is int and g == w
        elif typ is float:
            ok = type(g) in (int, float) and g == w
        else:
            ok = type(g) is str and g == w
        if not ok:
            out.append("%s: want %r, got %r" % (key, w, g))
    extra = [k for k in got if k not in want]
    if extra:
        out.append("unexpected fields %r" % extra)
    if not out and list(got) != list(want):
        out.append("key order: want %r, got %r" % (list(want), list(got)))
    return out


# --- the summary line logferry logs on exit ------------------------------

SUMMARY_RE = re.compile(
    r"summary records_in=(\d+) records_out=(\d+) parse_errors=(\d+) "
    r"truncated=(\d+) dropped=(\d+)")


def parse_summary(stderr):
    """The counters of the last summary line in stderr, or None."""
    found = SUMMARY_RE.findall(stderr)
    if not found:
        return None
    names = ("records_in", "records_out", "parse_errors", "truncated",
             "dropped")
    return dict(zip(names, map(int, found[-1])))


# --- running logferry ----------------------------------------------------

Result = namedtuple("Result", "rc stdout stderr wall")


def run_logferry(args, timeout, cwd=None, env=None):
    """Runs logferry with args; returns Result(rc, stdout, stderr, wall).
    A run past timeout (seconds, scaled by the caller) is killed and fails
    the test with what it printed."""
    cmd = [str(LF_BIN)] + [str(a) for a in args]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail("%s: no exit within %.0f s; stderr tail:\n%s"
                    % (" ".join(cmd), timeout, err[-3000:]))
    return Result(proc.returncode, out, err, time.monotonic() - t0)


def describe(res):
    """rc and the tail of stderr, for assertion messages."""
    return "rc=%s, stderr:\n%s" % (res.rc, res.stderr[-3000:])


def rc_name(rc):
    if rc is not None and rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            pass
    return "rc=%s" % rc


def write_config(path, text):
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path


def link_or_copy(src, dst):
    """Puts src at dst: a hard link when possible (same file system),
    otherwise a copy. logferry only reads it."""
    dst = Path(dst)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


# --- generated logs, cached ----------------------------------------------

def generated_log(lines, seed=1, fmt="nginx_upstream"):
    """Path of a log of `lines` lines from the shared generator, made once
    and kept in CACHE_DIR (keyed by lines, seed, format and the generator's
    digest). Concurrent test
    processes wait on a lock instead of generating twice."""
    if not GENERATOR.is_file():
        pytest.fail("generator not found: %s (set LF_SHARED_DIR)" % GENERATOR)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # A changed generator makes different files: its digest is in the name.
    digest = hashlib.sha1(GENERATOR.read_bytes()).hexdigest()[:10]
    name = "%s-seed%d-n%d-%s" % (fmt, seed, lines, digest)
    path = CACHE_DIR / (name + ".log")
    meta = CACHE_DIR / (name + ".json")
    with open(CACHE_DIR / (name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            info = json.loads(meta.read_text())
            if info.get("lines") == lines and \
                    path.stat().st_size == info.get("bytes"):
                return path
        except (OSError, ValueError):
            pass
        tmp = CACHE_DIR / (name + ".tmp")
        t0 = time.monotonic()
        subprocess.run([sys.executable, str(GENERATOR), "-n", str(lines),
                        "--seed", str(seed), "--format", fmt,
                        "-o", str(tmp)], check=True)
        os.replace(tmp, path)
        meta.write_text(json.dumps({"lines": lines, "seed": seed,
                                    "format": fmt,
                                    "bytes": path.stat().st_size}))
        print("generated %s (%d lines) in %.1f s"
              % (path, lines, time.monotonic() - t0))
        return path


# --- fixtures ------------------------------------------------------------

@pytest.fixture(scope="session")
def lf_bin():
    if not LF_BIN.is_file() or not os.access(LF_BIN, os.X_OK):
        pytest.fail("logferry binary not found at %s: build first "
                    "(cmake -S . -B build && cmake --build build) or set "
                    "LF_BIN" % LF_BIN)
    return LF_BIN


@pytest.fixture(scope="session")
def shared_dir():
    return SHARED_DIR


@pytest.fixture(scope="session")
def repo_root():
    return REPO


@pytest.fixture
def workdir(tmp_path):
    """A fresh directory for this test's configs, logs and outputs."""
    return tmp_path


@pytest.fixture(scope="session")
def gen_log():
    """gen_log(lines, seed=1, fmt="nginx_upstream") -> cached Path."""
    return generated_log


@pytest.fixture
def logferry(lf_bin, workdir):
    """logferry(config_text_or_None, *args, timeout=30, cwd=None, env=None)
    writes config text (if any) to workdir/logferry.conf, runs
    `logferry -c that_file *args` (or just *args without a config) and
    returns Result(rc, stdout, stderr, wall). timeout is scaled here."""
    def run(config=None, *args, timeout=30, cwd=None, env=None,
            name="logferry.conf"):
        argv = list(args)
        if config is not None:
            conf = write_config(workdir / name, config)
            argv = ["-c", conf] + argv
        return run_logferry(argv, deadline(timeout), cwd=cwd, env=env)
    return run
