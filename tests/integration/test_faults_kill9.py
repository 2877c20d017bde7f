# SPDX-License-Identifier: Apache-2.0
"""Fault test 1 (docs/reliability.md): logferry ships a million lines to
the file output through the disk buffer and is killed with SIGKILL at
random points five times in a row, then runs to the end. Every input line
must be in the output (at least once); duplicates are counted and
reported per crash. The disk buffer really is in the path: chunks are
spilled, and chunk files left by a kill are replayed by the next run."""

import os
import random
import re
import subprocess
import time

from conftest import (LF_BIN, count_output_records, deadline,
                      expected_record, link_or_copy, parse_summary,
                      parser_section, record_hash, rc_name,
                      write_config)
from test_kill9 import file_size, kill_mid_file

LINES = 1_000_000
KILLS = 5
SEED = 20251129
SPILLED = re.compile(r"summary .* spilled_chunks=(\d+) replayed_chunks=(\d+)")


def kill9_config(src, db, out, storage):
    return ("[service]\n"
            "    log_level info\n"
            "    storage.path %s\n\n" % storage
            + parser_section("test_upstream") +
            "\n[input]\n"
            "    name tail\n"
            "    tag nginx.access\n"
            "    path %s\n"
            "    parser test_upstream\n"
            "    db %s\n"
            "    db_sync_interval 20ms\n"
            "    read_from_head on\n"
            "    exit_on_eof on\n\n"
            "[output]\n"
            "    name file\n"
            "    alias sink\n"
            "    match nginx.*\n"
            "    path %s\n"
            "    format json_lines\n"
            # Spill as soon as two chunks wait: most data goes via disk.
            "    mem_buf_limit 300K\n" % (src, db, out))


def chunk_files(folder):
    try:
        return [n for n in os.listdir(folder) if n.endswith(".lfc")]
    except FileNotFoundError:
        return []


def test_kill9_five_times_through_disk_buffer_loses_no_line(gen_log,
                                                            workdir):
    src = link_or_copy(gen_log(LINES, seed=1), workdir / "access.log")
    db, out = workdir / "tail.db", workdir / "out.jsonl"
    storage = workdir / "storage"
    folder = storage / "out_file.sink"
    err_path = workdir / "stderr.log"
    conf = write_config(workdir / "logferry.conf",
                        kill9_config(src, db, out, storage))
    in_bytes = file_size(src)

    rng = random.Random(SEED)
    left_on_disk = 0
    for i in range(1, KILLS + 1):
        grow = int(in_bytes * rng.uniform(0.03, 0.12))
        ran = kill_mid_file(conf, out, err_path, grow, i)
        n = len(chunk_files(folder))
        left_on_disk += n
        print("round %d: killed after %.2f s, output %d bytes, %d chunk "
              "files on disk" % (i, ran, file_size(out), n))

    t0 = time.monotonic()
    proc = subprocess.run([str(LF_BIN), "-c", str(conf)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=deadline(300))
    stderr = proc.stderr.decode("utf-8", "replace")
    with open(err_path, "ab") as err:
        err.write(proc.stderr)
    print("final run: %s in %.1f s" % (rc_name(proc.returncode),
                                        time.monotonic() - t0))
    assert proc.returncode == 0, stderr[-3000:]
    summary = parse_summary(stderr)
    assert summary is not None, stderr[-3000:]
    assert chunk_files(folder) == [], "chunks left on disk after the run"

    all_err = err_path.read_text(encoding="utf-8", errors="replace")
    spilled = sum(int(s) for s, _ in SPILLED.findall(all_err))
    counts, n_bad, bad = count_output_records(out)
    missing, n_missing, dups = [], 0, 0
    with open(src, encoding="ascii", newline="\n") as f:
        for raw in f:
            c = counts.pop(record_hash(expected_record(raw.rstrip("\n"))), 0)
            if c == 0:
                n_missing += 1
                if len(missing) < 5:
                    missing.append(raw.rstrip("\n")[:300])
            else:
                dups += c - 1
    n_extra = sum(counts.values())
    print("kill -9 x%d through the disk buffer: %d duplicates (%.0f per "
          "crash), %d missing, %d torn lines, %d chunk files found on disk "
          "after kills, %d chunks spilled in the final run"
          % (KILLS, dups, dups / KILLS, n_missing, n_bad, left_on_disk,
             spilled))
    assert n_missing == 0, "missing:\n%s" % "\n".join(missing)
    assert n_extra == 0
    assert n_bad <= KILLS, bad
    # The disk buffer was in the path.
    assert spilled > 0 or left_on_disk > 0
    out.unlink()
