# SPDX-License-Identifier: Apache-2.0
"""At-least-once across crashes: logferry is killed with SIGKILL three times
while it is in the middle of a million-line file, then run to the end. Every
input line must be in the output at least once; duplicates are allowed
(records delivered after the last committed offset are sent again) and
counted."""

import os
import random
import signal
import subprocess
import time

from conftest import (LF_BIN, count_output_records, deadline,
                      expected_record, link_or_copy, parse_summary,
                      parser_section, record_hash, rc_name, wait_until,
                      write_config)

LINES = 1_000_000
KILLS = 3
SEED = 20250601


def kill9_config(src, db, out):
    return ("[service]\n"
            "    log_level info\n\n"
            + parser_section("test_upstream") +
            "\n[input]\n"
            "    name tail\n"
            "    tag nginx.access\n"
            "    path %s\n"
            "    parser test_upstream\n"
            "    db %s\n"
            # Each killed run lasts a fraction of a second: persist offsets
            # often enough that the restarts really resume from the file.
            "    db_sync_interval 20ms\n"
            "    read_from_head on\n"
            "    exit_on_eof on\n\n"
            "[output]\n"
            "    name file\n"
            "    match nginx.*\n"
            "    path %s\n"
            "    format json_lines\n" % (src, db, out))


def file_size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def tail_text(path, limit=3000):
    with open(path, "rb") as f:
        f.seek(max(0, file_size(path) - limit))
        return f.read().decode("utf-8", "replace")


def kill_mid_file(conf, out, err_path, grow_bytes, round_no):
    """Starts logferry, waits until its output has grown by grow_bytes
    since the start, and kills it with SIGKILL. Returns the seconds it ran."""
    start = file_size(out)
    with open(err_path, "ab") as err:
        proc = subprocess.Popen([str(LF_BIN), "-c", str(conf)],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    t0 = time.monotonic()
    try:
        grown = wait_until(
            lambda: file_size(out) - start >= grow_bytes
            or proc.poll() is not None, deadline(120))
        ran = time.monotonic() - t0
        assert proc.poll() is None, (
            "round %d: logferry ended (%s) after %.2f s, before it could "
            "be killed mid-file (output grew %d of %d bytes); stderr:\n%s"
            % (round_no, rc_name(proc.returncode), ran,
               file_size(out) - start, grow_bytes, tail_text(err_path)))
        assert grown, ("round %d: output grew only %d bytes in %.0f s"
                       % (round_no, file_size(out) - start, ran))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return ran


def test_kill9_three_times_loses_no_line(gen_log, workdir):
    src = link_or_copy(gen_log(LINES, seed=1), workdir / "access.log")
    db = workdir / "tail.db"
    out = workdir / "out.jsonl"
    err_path = workdir / "stderr.log"
    conf = write_config(workdir / "logferry.conf",
                        kill9_config(src, db, out))
    in_bytes = file_size(src)

    rng = random.Random(SEED)
    print("kill -9 schedule: seed %d" % SEED)
    for i in range(1, KILLS + 1):
        # Kill after the output grew by 3% to 20% of the input's size:
        # JSON output is larger than the input, so three rounds stay well
        # inside the file.
        grow = int(in_bytes * rng.uniform(0.03, 0.20))
        ran = kill_mid_file(conf, out, err_path, grow, i)
        print("round %d: killed after %.2f s, output grew >= %d bytes, "
              "now %d bytes, db %s" % (i, ran, grow, file_size(out),
                                       "present" if db.exists() else
                                       "absent"))

    with open(err_path, "ab") as err:
        t0 = time.monotonic()
        proc = subprocess.run([str(LF_BIN), "-c", str(conf)],
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE,
                              timeout=deadline(300))
        err.write(proc.stderr)
    stderr = proc.stderr.decode("utf-8", "replace")
    print("final run: %s in %.1f s" % (rc_name(proc.returncode),
                                        time.monotonic() - t0))
    assert proc.returncode == 0, "final run %s; stderr:\n%s" % (
        rc_name(proc.returncode), stderr[-3000:])
    summary = parse_summary(stderr)
    assert summary is not None, "no summary line:\n" + stderr[-3000:]
    print("final run summary: %s" % summary)

    counts, n_bad, bad = count_output_records(out)
    missing, n_missing, dups = [], 0, 0
    with open(src, encoding="ascii", newline="\n") as f:
        for raw in f:
            key = record_hash(expected_record(raw.rstrip("\n")))
            c = counts.pop(key, 0)
            if c == 0:
                n_missing += 1
                if len(missing) < 5:
                    missing.append(raw.rstrip("\n")[:300])
            else:
                dups += c - 1
    n_extra = sum(counts.values())
    print("output: %d records, %d duplicates, %d lines that are not JSON "
          "(torn by a kill), %d records matching no input line"
          % (LINES + dups + n_extra - n_missing, dups, n_bad, n_extra))
    for line in bad:
        print("  not JSON: %r" % line)

    assert n_missing == 0, (
        "%d input lines are not in the output (%d torn lines: a restarted "
        "file output must not append to a partial last line). First "
        "missing:\n%s" % (n_missing, n_bad, "\n".join(missing)))
    assert n_extra == 0, "%d output records match no input line" % n_extra
    assert n_bad <= KILLS, "%d lines are not JSON: %r" % (n_bad, bad)
    # The state file must have been used: the last run resumed mid-file.
    assert summary["records_in"] < LINES, (
        "the final run read all %d lines again: offsets in %s were not "
        "resumed" % (summary["records_in"], db))
    out.unlink()  # hundreds of MB; a failing run keeps it for a look
