# SPDX-License-Identifier: Apache-2.0
"""The kafka output against a real Apache Kafka broker (KRaft, single node,
started by kafka_fixture.py on 127.0.0.1).

* One million generated nginx lines (exit_on_eof) reach the topic: read
  back with kcat, counted and compared record by record with an
  independent parse in Python; every record batch in the broker's log
  segments is zstd-compressed; all records of one upstream are in one
  partition, in input order. The same input also goes to the file output,
  and both throughputs are printed.
* The default message key (upstream.address of the built-in nginx_upstream
  parser) keys each message by its upstream.
* The broker is stopped for 30 s in the middle of a run and started again:
  logferry keeps running, nothing is lost, memory stays bounded (peak RSS
  printed).

Budget: about two and a half minutes on 2 cores, broker start included.
"""

import collections
import json
import os
import subprocess
import time

import pytest

from conftest import (deadline, describe, expected_record,
                      link_or_copy, parse_summary, parser_section,
                      record_hash, run_logferry, wait_until, write_config)
from kafka_fixture import kafka_broker, record_batches  # noqa: F401

LINES = 1_000_000
OUTAGE_LINES = 500_000  # about 6 s of sending: the outage falls inside
OUTAGE_S = 30
MAX_WALL_S = 180  # the million-line run to Kafka, normal build
RSS_LIMIT_KB = 256 * 1024
KEY_FIELD = "upstream_addr"  # what parser_section() names $upstream_addr


def kafka_config(src, broker, topic, extra_output="", extra_service="",
                 parser="test_upstream"):
    """tail -> parser -> kafka. parser is test_upstream (conftest's regex,
    nginx names) or a built-in one."""
    return ("[service]\n"
            "    log_level info\n" + extra_service + "\n"
            + (parser_section("test_upstream") if parser == "test_upstream"
               else "") +
            "\n[input]\n"
            "    name tail\n"
            "    tag nginx.access\n"
            "    path %s\n"
            "    parser %s\n"
            "    read_from_head on\n"
            "    exit_on_eof on\n\n"
            "[output]\n"
            "    name kafka\n"
            "    match nginx.*\n"
            "    brokers %s\n"
            "    topic %s\n"
            "    stats_interval 1s\n" % (src, parser, broker.bootstrap, topic)
            + extra_output)


def file_config(src, out):
    return ("[service]\n"
            "    log_level info\n\n" + parser_section("test_upstream") +
            "\n[input]\n"
            "    name tail\n"
            "    tag nginx.access\n"
            "    path %s\n"
            "    parser test_upstream\n"
            "    read_from_head on\n"
            "    exit_on_eof on\n\n"
            "[output]\n"
            "    name file\n"
            "    match nginx.*\n"
            "    path %s\n" % (src, out))


def assert_all_delivered(res, lines):
    assert res.rc == 0, describe(res)
    summary = parse_summary(res.stderr)
    assert summary is not None, "no summary line; " + describe(res)
    assert summary["records_in"] == lines, summary
    assert summary["records_out"] == lines, summary
    assert summary["parse_errors"] == 0, summary
    assert summary["dropped"] == 0, summary


def read_messages(path):
    """Yields (partition, offset, key, payload text) from a kcat dump."""
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            part, offset, key, payload = line.rstrip("\n").split("\t", 3)
            yield int(part), int(offset), key, payload


def throughput(lines, nbytes, wall):
    return "%.0f lines/s, %.1f MB/s (%.1f s)" % (
        lines / wall, nbytes / wall / 1e6, wall)


# --- one million lines --------------------------------------------------


class MillionRun:
    """What the module's runs produced; filled by the million fixture."""


@pytest.fixture(scope="module")
def expected(gen_log):
    """(path of the million-line log, [(upstream_addr, record_hash)] of
    each line in input order), from the independent parse in conftest."""
    src = gen_log(LINES, seed=1)
    want = []
    with open(src, encoding="ascii", newline="\n") as f:
        for raw in f:
            rec = expected_record(raw.rstrip("\n"))
            want.append((rec.get(KEY_FIELD), record_hash(rec)))
    return src, want


@pytest.fixture(scope="module")
def million(kafka_broker, lf_bin, expected, tmp_path_factory):  # noqa: F811
    """Runs the million lines to Kafka, then to a file (same input, same
    parser), and reads the topic back with kcat."""
    work = tmp_path_factory.mktemp("kafka_million")
    run = MillionRun()
    run.src = link_or_copy(expected[0], work / "access.log")
    run.src_bytes = os.path.getsize(run.src)
    conf = write_config(work / "kafka.conf", kafka_config(
        run.src, kafka_broker, "million",
        "    message_key %s\n" % KEY_FIELD))
    run.kafka = run_logferry(["-c", conf], deadline(MAX_WALL_S * 2))
    assert_all_delivered(run.kafka, LINES)

    out = work / "out.jsonl"
    conf = write_config(work / "file.conf", file_config(run.src, out))
    run.file = run_logferry(["-c", conf], deadline(MAX_WALL_S))
    assert_all_delivered(run.file, LINES)
    out.unlink()

    dump = work / "million.tsv"
    t0 = time.monotonic()
    run.consumed = kafka_broker.consume("million", dump)
    run.consume_s = time.monotonic() - t0
    # (partition, offset, key, record_hash, the record's upstream_addr)
    run.got, run.bad = [], []
    for part, offset, key, payload in read_messages(dump):
        try:
            rec = json.loads(payload)
        except ValueError:
            run.bad.append(payload[:300])
            continue
        run.got.append((part, offset, key, record_hash(rec),
                        rec.get(KEY_FIELD)))
    dump.unlink()
    run.broker = kafka_broker
    return run


def test_million_lines_arrive_in_the_topic_exactly_once(million, expected):
    assert million.consumed == LINES, \
        "%d messages in the topic for %d lines" % (million.consumed, LINES)
    assert not million.bad, "payloads that are not JSON: %r" % million.bad[:5]
    got = collections.Counter(g[3] for g in million.got)
    want = collections.Counter(h for _, h in expected[1])
    missing = sum((want - got).values())
    extra = sum((got - want).values())
    assert missing == 0 and extra == 0, (
        "%d expected records missing or different, %d unexpected messages"
        % (missing, extra))


def test_messages_are_zstd_compressed_on_the_broker(million):
    codecs = collections.Counter()
    batches = 0
    for seg in million.broker.segment_files("million"):
        for codec, count in record_batches(seg):
            codecs[codec] += count
            batches += 1
    assert codecs == {"zstd": LINES}, \
        "records per codec in the log segments: %r" % dict(codecs)
    # Batched, not one message per request.
    assert batches < LINES / 50, "%d batches for %d records" % (batches, LINES)


def test_one_upstream_lands_in_one_partition_in_input_order(million,
                                                            expected):
    want = collections.defaultdict(list)  # key -> record hashes, in order
    for key, h in expected[1]:
        want[key].append(h)
    got = collections.defaultdict(list)
    partitions = collections.defaultdict(set)
    last_offset = {}
    for part, offset, key, h, field in million.got:
        assert offset > last_offset.get(part, -1), "kcat out of order"
        last_offset[part] = offset
        assert key == field, "message key %r, record's %s %r" % (
            key, KEY_FIELD, field)
        partitions[key].add(part)
        got[key].append(h)
    spread = {k: sorted(p) for k, p in partitions.items() if len(p) > 1}
    assert not spread, "upstreams in several partitions: %r" % spread
    assert len(set(p for s in partitions.values() for p in s)) > 1, \
        "every upstream in one partition: keys were not spread"
    assert set(got) == set(want)
    for key in want:
        assert got[key] == want[key], \
            "records of upstream %r not in input order" % key


def test_throughput_to_kafka_against_the_file_output(million, capsys):
    k, f = million.kafka, million.file
    with capsys.disabled():
        print("\nkafka output: %s; file output: %s (input bytes); kcat "
              "read back %d messages in %.1f s; broker started in %.1f s"
              % (throughput(LINES, million.src_bytes, k.wall),
                 throughput(LINES, million.src_bytes, f.wall),
                 million.consumed, million.consume_s,
                 million.broker.started_in_s))
    assert k.wall < deadline(MAX_WALL_S), \
        "kafka run took %.1f s, limit %d s" % (k.wall, MAX_WALL_S)


# --- the default key ----------------------------------------------------


def test_default_key_is_the_upstream_address(kafka_broker, lf_bin,
                                             gen_log, workdir):  # noqa: F811
    """Built-in nginx_upstream parser, no message_key: the key is the
    record's upstream.address, and one upstream stays in one partition."""
    lines = 20_000
    src = workdir / "access.log"
    with open(gen_log(LINES, seed=1), "rb") as fin, open(src, "wb") as fout:
        for _ in range(lines):
            fout.write(fin.readline())
    conf = write_config(workdir / "kafka.conf", kafka_config(
        src, kafka_broker, "default_key", parser="nginx_upstream"))
    res = run_logferry(["-c", conf], deadline(60))
    assert_all_delivered(res, lines)
    assert kafka_broker.consume("default_key", workdir / "d.tsv") == lines
    partitions = collections.defaultdict(set)
    last_ts = {}
    keyed = 0
    for part, _, key, payload in read_messages(workdir / "d.tsv"):
        value = json.loads(payload).get("upstream.address")
        want = value if isinstance(value, str) else ""
        assert key == want, (key, payload[:300])
        keyed += key != ""
        partitions[key].add(part)
        if key:  # keyless messages spread over the partitions
            ts = json.loads(payload)["@timestamp"]
            assert ts >= last_ts.get(key, ""), "upstream %r out of order" % key
            last_ts[key] = ts
    assert keyed > lines * 0.9, "only %d of %d messages had a key" % (
        keyed, lines)
    assert all(len(p) == 1 for k, p in partitions.items() if k), partitions


# --- a broker outage ----------------------------------------------------


def proc_status_kb(pid, field):
    """VmRSS / VmHWM of pid in kB, or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def test_broker_outage_of_30s_loses_nothing(kafka_broker, lf_bin, expected,
                                            workdir, capsys):  # noqa: F811
    src = workdir / "access.log"
    with open(expected[0], "rb") as fin, open(src, "wb") as fout:
        for _ in range(OUTAGE_LINES):
            fout.write(fin.readline())
    # Short timeouts so the outage goes through logferry's retries (and its
    # breaker) and delivery resumes soon after the broker is back.
    conf = write_config(workdir / "kafka.conf", kafka_config(
        src, kafka_broker, "outage",
        "    message_key %s\n"
        "    delivery_timeout 5s\n"
        "    retry_max_delay 2s\n"
        "    breaker.cooldown 2s\n"
        "    rdkafka.reconnect.backoff.max.ms 1000\n" % KEY_FIELD))
    proc = subprocess.Popen([str(lf_bin), "-c", str(conf)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=open(workdir / "lf.err", "w"))
    peak = {"rss": 0, "hwm": 0}

    def sample():
        for field, name in (("VmRSS", "rss"), ("VmHWM", "hwm")):
            kb = proc_status_kb(proc.pid, field)
            if kb:
                peak[name] = max(peak[name], kb)
        return proc.poll() is not None

    try:
        def some_delivered():
            sample()
            return sum(kafka_broker.end_offsets("outage").values()) >= 50_000
        assert wait_until(some_delivered, deadline(60), interval=0.2), \
            "no progress before the outage"
        kafka_broker.stop()
        down_at = time.monotonic()
        before = sum(1 for _ in open(workdir / "lf.err"))
        # The outage itself: 30 s during which logferry must stay up.
        exited = wait_until(
            lambda: sample() or time.monotonic() - down_at >= OUTAGE_S,
            OUTAGE_S + 5, interval=0.5)
        assert proc.poll() is None, "logferry exited during the outage " \
            "(rc=%s)" % proc.returncode
        assert exited  # the 30 s passed
        kafka_broker.start()
        assert wait_until(sample, deadline(180), interval=0.5), \
            "logferry did not finish after the broker came back"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    err = (workdir / "lf.err").read_text(errors="replace")
    assert proc.returncode == 0, err[-3000:]
    summary = parse_summary(err)
    assert summary and summary["records_out"] == OUTAGE_LINES, err[-3000:]
    assert summary["dropped"] == 0, summary
    assert "retry" in "".join(err.splitlines(True)[before:]), \
        "no retry during the outage:\n" + err[-3000:]

    consumed = kafka_broker.consume("outage", workdir / "o.tsv")
    counts = collections.Counter(
        record_hash(json.loads(p)) for _, _, _, p in
        read_messages(workdir / "o.tsv"))
    missing = sum(1 for _, h in expected[1][:OUTAGE_LINES] if counts[h] == 0)
    assert missing == 0, "%d records lost in the outage" % missing
    duplicates = consumed - OUTAGE_LINES
    with capsys.disabled():
        print("\noutage: %d lines, broker down %d s, %d messages in the "
              "topic (%d duplicates), logferry peak RSS %.1f MiB (VmHWM), "
              "highest sampled RSS %.1f MiB"
              % (OUTAGE_LINES, OUTAGE_S, consumed, duplicates,
                 peak["hwm"] / 1024, peak["rss"] / 1024))
    assert peak["hwm"] < RSS_LIMIT_KB, "peak RSS %d kB" % peak["hwm"]
