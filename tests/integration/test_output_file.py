# SPDX-License-Identifier: Apache-2.0
"""The file output: records land as valid JSON lines, also after a crash
left a torn last line in the file."""
import json
import signal
import subprocess
from pathlib import Path

from conftest import deadline, run_logferry, wait_until, write_config


def config(repo_root, out):
    return """
[input]
    name tail
    path %s/conf/sample/access.log
    parser nginx_upstream
    read_from_head on
    exit_on_eof on
[output]
    name file
    match *
    path %s
""" % (repo_root, out)


def test_torn_last_line_does_not_swallow_the_next_record(repo_root, workdir):
    out = workdir / "out.jsonl"
    out.write_bytes(b'{"@timestamp":"2025-06-01T00:00:00.000Z","remote_ad')
    conf = workdir / "lf.conf"
    write_config(conf, config(repo_root, out))
    res = run_logferry(["-c", conf], timeout=60)
    assert res.rc == 0, res.stderr
    lines = out.read_bytes().split(b"\n")
    assert lines[0] == b'{"@timestamp":"2025-06-01T00:00:00.000Z","remote_ad'
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[1:-1]]
    assert len(records) == 200
    assert all("remote_addr" in r or "source.ip" in r for r in records)


def test_unwritable_path_fails_start_with_reason(repo_root, workdir):
    conf = workdir / "lf.conf"
    write_config(conf, config(repo_root, workdir / "missing-dir" / "o.jsonl"))
    res = run_logferry(["-c", conf], timeout=60)
    assert res.rc == 2
    assert "missing-dir/o.jsonl" in res.stderr
    assert "No such file or directory" in res.stderr


def allocated(path):
    return path.stat().st_blocks * 512


def test_preallocate_reserves_blocks_past_the_end(repo_root, workdir):
    """The default reserves blocks ahead of the end without changing the
    size or the content; preallocate 0 reserves nothing."""
    outs = {}
    for name, extra in (("on", ""), ("off", "    preallocate 0\n")):
        out = workdir / ("out-%s.jsonl" % name)
        conf = workdir / ("lf-%s.conf" % name)
        write_config(conf, config(repo_root, out) + extra)
        res = run_logferry(["-c", conf], timeout=60)
        assert res.rc == 0, res.stderr
        outs[name] = out
    data = outs["on"].read_bytes()
    assert data == outs["off"].read_bytes()
    assert len(data.split(b"\n")) == 201
    size = outs["on"].stat().st_size
    assert size == len(data)
    # 8 MiB by default: at least 4 MiB past the end (the file system may
    # round), and no more than a block or so without it.
    assert allocated(outs["on"]) >= size + (4 << 20)
    assert allocated(outs["off"]) <= size + (64 << 10)


def test_preallocate_is_not_tried_on_a_character_device(repo_root, workdir):
    conf = workdir / "lf.conf"
    write_config(conf, config(repo_root, "/dev/null"))
    res = run_logferry(["-c", conf], timeout=60)
    assert res.rc == 0, res.stderr
    assert "records_out=200" in res.stderr


def test_threads_carry_their_stage_names(lf_bin, repo_root, workdir):
    """top -H and /proc/<pid>/task/*/comm tell the stages apart: the input
    and the output by instance, the workers by number, the spiller of an
    output with a disk buffer by its output."""
    out = workdir / "out.jsonl"
    conf = workdir / "lf.conf"
    text = config(repo_root, out).replace("exit_on_eof on", "exit_on_eof off")
    write_config(conf, "[service]\n    workers 2\n    storage.path %s\n"
                 % (workdir / "buf") + text)
    proc = subprocess.Popen([str(lf_bin), "-c", str(conf)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        def names():
            found = set()
            for task in Path("/proc/%d/task" % proc.pid).iterdir():
                try:
                    found.add((task / "comm").read_text().strip())
                except OSError:  # the thread ended meanwhile
                    pass
            return found
        want = {"in_tail:0", "worker:0", "worker:1", "out_file:0",
                "sp:out_file:0"}
        assert wait_until(lambda: want <= names(), deadline(10)), \
            "threads: %s" % sorted(names())
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=deadline(30))
    assert proc.returncode == 0, err.decode(errors="replace")
    assert len(out.read_bytes().split(b"\n")) == 201
