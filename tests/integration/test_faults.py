# SPDX-License-Identifier: Apache-2.0
"""Fault tests 2-5 of docs/reliability.md (1, kill -9, is in
test_faults_kill9.py), each counting lines end to end (in = out):

2. a failing sink: records buffer on disk, retries back off with growing,
   jittered gaps, and everything arrives once the sink recovers;
3. corrupt and truncated chunk files are set aside and counted, the rest
   is shipped exactly once;
4. a full disk buffer pauses the tail with bounded memory, and nothing is
   lost after recovery;
5. SIGHUP with a broken config keeps the old pipeline, with a good one
   switches, losing nothing.

The failing sink is a file output whose path is a symlink to /dev/full
(writes fail with ENOSPC, also as root), repaired by renaming a regular
file over it. Helpers first, then the tests."""

import collections
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import LF_BIN, deadline, wait_until


class Agent:
    """logferry -c conf in the background, stderr to a file."""

    def __init__(self, conf, err_path):
        self.err_path = Path(err_path)
        self.err = open(self.err_path, "ab")
        self.proc = subprocess.Popen([str(LF_BIN), "-c", str(conf)],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.err)

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, pattern, timeout, count=1):
        """Waits until pattern (a regex) matched count lines of stderr."""
        rx = re.compile(pattern)

        def found():
            return len(rx.findall(self.stderr())) >= count \
                or self.proc.poll() is not None
        wait_until(found, deadline(timeout), interval=0.05)
        n = len(rx.findall(self.stderr()))
        assert n >= count, "no %d lines matching %r (got %d, %s); " \
            "stderr:\n%s" % (count, pattern, n, self.state(),
                             self.stderr()[-3000:])

    def state(self):
        rc = self.proc.poll()
        return "running" if rc is None else "exited rc=%s" % rc

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=deadline(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("logferry did not exit within %.0f s; "
                                 "stderr:\n%s" % (deadline(timeout),
                                                  self.stderr()[-3000:]))

    def stop(self, timeout=30):
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()

    def proc_status(self, key):
        """A field of /proc/PID/status in kB (VmHWM, VmRSS)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None

    def rchar(self):
        """Bytes the process read so far (/proc/PID/io)."""
        with open("/proc/%d/io" % self.pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
        return None


class BreakableSink:
    """The path of a file output that can fail and recover, also as root
    (permissions do not stop root): broken, the path is a symlink to
    /dev/full, where every write fails with ENOSPC (a RETRY); repaired, a
    regular file replaces the symlink and the output reopens it (it
    notices the new inode)."""

    def __init__(self, path):
        self.path = Path(path)

    def break_(self):
        tmp = self.path.with_suffix(".lnk")
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()
        os.symlink("/dev/full", tmp)
        os.replace(tmp, self.path)

    def repair(self):
        tmp = self.path.with_suffix(".new")
        tmp.write_bytes(b"")
        os.replace(tmp, self.path)


def write_lines(path, lines, append=True):
    with open(path, "a" if append else "w", encoding="ascii",
              newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


def read_lines(path):
    if os.path.islink(path):
        return []
    try:
        with open(path, encoding="ascii", errors="replace",
                  newline="\n") as f:
            return [line.rstrip("\n") for line in f]
    except FileNotFoundError:
        return []


def count_lines(path):
    if os.path.islink(path):
        return 0  # the broken sink (/dev/full reads forever)
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n")
                       for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def missing_and_dups(want, got):
    """(lines of want absent from got, extra copies, lines not in want)."""
    have = collections.Counter(got)
    missing = 0
    for line in want:
        if have[line] == 0:
            missing += 1
        else:
            have[line] -= 1
    want_set = set(want)
    dups = sum(n for line, n in have.items() if line in want_set)
    strangers = sum(n for line, n in have.items() if line not in want_set)
    return missing, dups, strangers


def storage_files(folder):
    """The chunk files (*.lfc) of one output's disk buffer folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".lfc")


def dir_bytes(folder):
    return sum(p.stat().st_size for p in storage_files(folder))


def sample_lines(gen_log, lines, seed):
    """`lines` generated nginx lines (from the shared cached generator)."""
    with open(gen_log(lines, seed=seed), encoding="ascii",
              newline="\n") as f:
        return [line.rstrip("\n") for line in f]


def wait_stable(fn, timeout, still=1.0):
    """Polls fn() until its value stays the same for `still` seconds."""
    end = time.monotonic() + timeout
    last, since = fn(), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.05)
        now = fn()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return now
    return last


# --- configurations ------------------------------------------------------

def fault_config(src, db, out, storage=None, extra_service="",
                 extra_output="", exit_on_eof=True):
    """tail (raw lines) -> file output in raw format, optionally with a
    disk buffer."""
    return ("[service]\n"
            "    log_level info\n"
            "    grace 2s\n"
            + ("    storage.path %s\n" % storage if storage else "")
            + extra_service +
            "\n[input]\n"
            "    name tail\n"
            "    tag app.log\n"
            "    path %s\n"
            "    db %s\n"
            "    db_sync_interval 50ms\n"
            "    read_from_head on\n"
            "    exit_on_eof %s\n\n"
            "[output]\n"
            "    name file\n"
            "    alias sink\n"
            "    match app.*\n"
            "    path %s\n"
            "    format raw\n" % (src, db, "on" if exit_on_eof else "off",
                                  out)
            + extra_output)


SUMMARY_CORRUPT = re.compile(r"summary .* corrupt_chunks=(\d+)")
RETRY_LINE = re.compile(r"^(\S+) \[out_file:sink\] warn: flush failed, "
                        r"retry (\d+) in (\d+) ms", re.M)


def log_time(stamp):
    """'2026-11-29T23:24:14.631Z' -> seconds (for gaps only)."""
    hms = stamp.split("T")[1].rstrip("Z")
    h, m, s = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


# --- 2. a failing sink: back-off with jitter, then everything arrives ----

def test_failing_sink_backs_off_with_growing_jittered_gaps(gen_log,
                                                          workdir):
    lines = sample_lines(gen_log, 20000, seed=21)
    src, out = workdir / "in.log", workdir / "out.log"
    write_lines(src, lines, append=False)
    sink = BreakableSink(out)
    sink.break_()
    conf = workdir / "faults.conf"
    conf.write_text(fault_config(
        src, workdir / "tail.db", out, storage=workdir / "storage",
        extra_output="    retry_base 40ms\n    retry_max_delay 3s\n"
                     "    breaker.failures 0\n"))
    agent = Agent(conf, workdir / "stderr.log")
    try:
        agent.wait_log(r"flush failed, retry 7 in", 60)
        sink.repair()
        rc = agent.wait(60)
    finally:
        agent.close()
    stderr = agent.stderr()
    assert rc == 0, "rc=%s; stderr:\n%s" % (rc, stderr[-3000:])
    retries = [(log_time(t), int(n), int(ms))
               for t, n, ms in RETRY_LINE.findall(stderr)]
    delays = [ms for _, _, ms in retries[:7]]
    print("retry delays (ms), attempts 1-7: %s" % delays)
    # Each delay is under its doubling envelope: 40 ms * 2^(n-1).
    for _, n, ms in retries:
        assert ms <= min(3000, 40 * 2 ** (n - 1)), retries
    # Full jitter: not a fixed schedule; and the gaps grow.
    assert len(set(delays)) >= 5, "delays are not jittered: %s" % delays
    early, late = sum(delays[:3]) / 3, sum(delays[4:7]) / 3
    assert late > early, "gaps do not grow: %s" % delays
    # The waits really happen: the next attempt comes after the delay.
    for (t0, _, ms), (t1, _, _) in zip(retries, retries[1:]):
        assert t1 - t0 >= ms / 1000 - 0.005, (
            "retry came %.3f s after a %d ms delay" % (t1 - t0, ms))
    got = read_lines(out)
    missing, dups, strangers = missing_and_dups(lines, got)
    print("after recovery: %d lines, %d missing, %d duplicates"
          % (len(got), missing, dups))
    assert missing == 0 and strangers == 0


# --- 3. corrupt and truncated chunk files --------------------------------

def header_records(path):
    """Record count in a chunk file's header (u32 at offset 16)."""
    data = path.read_bytes()
    return int.from_bytes(data[16:20], "little")


def test_corrupt_and_truncated_chunks_are_set_aside(gen_log, workdir):
    lines = sample_lines(gen_log, 20000, seed=31)
    src, out = workdir / "in.log", workdir / "out.log"
    write_lines(src, lines, append=False)
    storage = workdir / "storage"
    folder = storage / "out_file.sink"
    sink = BreakableSink(out)
    sink.break_()
    conf = workdir / "faults.conf"
    conf.write_text(fault_config(src, workdir / "tail.db", out,
                                 storage=storage,
                                 extra_service="    chunk_size 128K\n",
                                 extra_output="    breaker.failures 0\n"))
    # Run 1: the sink is down, everything goes to the disk buffer.
    agent = Agent(conf, workdir / "stderr1.log")
    try:
        n = wait_stable(lambda: len(storage_files(folder)), deadline(60),
                        still=1.0)
        assert n >= 6, "only %d chunk files; stderr:\n%s" % (
            n, agent.stderr()[-3000:])
        assert agent.stop() == 0
    finally:
        agent.close()
    files = storage_files(folder)
    # Corrupt four of them, each differently, and add two strangers.
    flipped, truncated = files[1], files[3]
    lost = header_records(flipped) + header_records(truncated)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    data = truncated.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    (folder / "0000000000000002.lfc").write_bytes(os.urandom(5000))
    (folder / "0000000000000003.lfc").write_bytes(b"")
    # Run 2: the sink is back; the agent starts, sets the four aside,
    # ships the rest and exits (exit_on_eof, nothing new to read).
    sink.repair()
    agent = Agent(conf, workdir / "stderr2.log")
    try:
        rc = agent.wait(60)
    finally:
        agent.close()
    stderr = agent.stderr()
    assert rc == 0, "rc=%s; stderr:\n%s" % (rc, stderr[-3000:])
    corrupt = SUMMARY_CORRUPT.findall(stderr)
    aside = sorted(p.name for p in (folder / "corrupt").iterdir())
    print("set aside: %s; summary corrupt_chunks=%s" % (aside, corrupt))
    assert corrupt and int(corrupt[-1]) == 4, stderr[-3000:]
    assert len(aside) == 4
    assert storage_files(folder) == []
    got = read_lines(out)
    missing, dups, strangers = missing_and_dups(lines, got)
    print("shipped %d of %d lines; %d lost with the 2 damaged chunks"
          % (len(got), len(lines), lost))
    assert strangers == 0 and dups == 0
    assert missing == lost and len(got) == len(lines) - lost


# --- 4. disk-buffer limit: the tail pauses, memory stays bounded ---------

def test_full_disk_buffer_pauses_tail_with_bounded_memory(gen_log,
                                                          workdir):
    lines = sample_lines(gen_log, 300000, seed=41)
    src, out = workdir / "in.log", workdir / "out.log"
    write_lines(src, lines, append=False)
    in_bytes = src.stat().st_size
    storage = workdir / "storage"
    folder = storage / "out_file.sink"
    limit = 2 << 20
    sink = BreakableSink(out)
    sink.break_()
    conf = workdir / "faults.conf"
    conf.write_text(fault_config(
        src, workdir / "tail.db", out, storage=storage,
        extra_output="    storage.total_limit_size 2M\n"
                     "    retry_max_delay 500ms\n"
                     "    breaker.failures 0\n"))
    agent = Agent(conf, workdir / "stderr.log")
    try:
        agent.wait_log(r"disk buffer full", 60)
        read1 = wait_stable(agent.rchar, deadline(30), still=1.5)
        hwm = agent.proc_status("VmHWM")
        used = dir_bytes(folder)
        print("paused: read %.1f MB of %.1f MB, disk buffer %d bytes "
              "(limit %d), peak RSS %d kB"
              % (read1 / 1e6, in_bytes / 1e6, used, limit, hwm))
        assert used <= limit, "disk buffer %d bytes > limit %d" % (used,
                                                                   limit)
        assert read1 < in_bytes / 2, "the tail did not pause"
        assert count_lines(out) == 0
        assert hwm < 120 * 1024, "peak RSS %d kB" % hwm
        sink.repair()
        rc = agent.wait(120)
    finally:
        agent.close()
    assert rc == 0, agent.stderr()[-3000:]
    got = read_lines(out)
    missing, dups, strangers = missing_and_dups(lines, got)
    print("after recovery: %d lines, %d missing, %d duplicates"
          % (len(got), missing, dups))
    assert missing == 0 and strangers == 0


# --- 5. SIGHUP: a broken config keeps the old pipeline, a good one switches

def test_sighup_refuses_broken_config_and_switches_to_good_one(gen_log,
                                                               workdir):
    lines = sample_lines(gen_log, 30000, seed=51)
    part = [lines[:10000], lines[10000:20000], lines[20000:]]
    src = workdir / "in.log"
    out1, out2 = workdir / "out1.log", workdir / "out2.log"
    db = workdir / "tail.db"
    write_lines(src, part[0], append=False)
    conf = workdir / "faults.conf"
    good1 = fault_config(src, db, out1, storage=workdir / "storage",
                         exit_on_eof=False)
    conf.write_text(good1)
    agent = Agent(conf, workdir / "stderr.log")
    try:
        assert wait_until(lambda: count_lines(out1) >= 10000, deadline(60))
        # A broken file: refused with file:line, the old pipeline goes on.
        conf.write_text(good1 + "    colour blue\n")
        agent.signal(signal.SIGHUP)
        agent.wait_log(r"new configuration refused.*faults\.conf:\d+: "
                       r"unknown key 'colour'", 30)
        write_lines(src, part[1])
        assert wait_until(lambda: count_lines(out1) >= 20000, deadline(60)), \
            "old pipeline stopped after a refused reload"
        # A good one: switches to out2.
        conf.write_text(fault_config(src, db, out2,
                                     storage=workdir / "storage",
                                     exit_on_eof=False))
        agent.signal(signal.SIGHUP)
        agent.wait_log(r"new configuration is valid: switching", 30)
        agent.wait_log(r"\[engine\] info: started", 30, count=2)
        write_lines(src, part[2])
        assert wait_until(lambda: count_lines(out2) >= 10000, deadline(60))
        assert agent.stop() == 0
    finally:
        agent.close()
    got1, got2 = read_lines(out1), read_lines(out2)
    missing, dups, strangers = missing_and_dups(lines, got1 + got2)
    print("out1 %d lines, out2 %d lines: %d missing, %d duplicates"
          % (len(got1), len(got2), missing, dups))
    assert missing == 0 and strangers == 0
    # Nothing after the switch went to the old output.
    assert set(got1).isdisjoint(part[2])
