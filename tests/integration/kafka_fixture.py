# SPDX-License-Identifier: Apache-2.0
"""A real Apache Kafka broker for the integration tests.

One single-node KRaft broker (broker and controller in one JVM) per test
session, on 127.0.0.1 ports picked free. Its jars come from Maven Central
through services/kafka.sh (cached in ${LF_CACHE_DIR:-~/.cache/logferry}/kafka
and ~/.m2: a second run downloads nothing). The storage folder is formatted
once per Kafka version into the cache and copied for each session, which
saves a JVM start. The broker is stopped by its PID at the end, also when a
test failed; a test may stop and start it (an outage) in between.

Helpers read what the broker holds: kcat (Debian package) consumes topics,
and record_batches() walks the log segment files themselves, to see the
compression codec of every record batch as the producer sent it.
"""

import base64
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import deadline, wait_until

KAFKA_VERSION = os.environ.get("LF_KAFKA_VERSION", "4.1.1")
CACHE = Path(os.environ.get("LF_CACHE_DIR")
             or Path.home() / ".cache" / "logferry") / "kafka"
KAFKA_SH = Path(__file__).resolve().parent / "services" / "kafka.sh"
# Debian packages the Kafka tests need.
DEBIAN_PACKAGES = ("kcat", "maven", "openjdk-17-jre-headless")
JVM_OPTS = ["-Xmx512m", "-Xms256m", "-XX:+UseSerialGC",
            # C1 only: starts in less time on 2 busy cores.
            "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"]
# Compression codec ids in a record batch's attributes (bits 0-2).
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def ensure_debian_packages(packages=DEBIAN_PACKAGES):
    """Installs the missing ones with apt-get (once; idempotent)."""
    missing = [p for p in packages
               if subprocess.run(["dpkg", "-s", p], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL).returncode != 0]
    if not missing:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "-y", "-q"]
    if subprocess.run(apt + ["install", "--no-install-recommends"] + missing,
                      env=env, capture_output=True).returncode != 0:
        subprocess.run(apt + ["update"], env=env, capture_output=True)
        res = subprocess.run(apt + ["install", "--no-install-recommends"]
                             + missing, env=env, capture_output=True,
                             text=True)
        if res.returncode != 0:
            pytest.fail("apt-get install %s failed:\n%s"
                        % (" ".join(missing), res.stderr[-2000:]))


def kafka_libs():
    """The folder of the broker's jars, fetched with Maven if needed."""
    res = subprocess.run(["bash", str(KAFKA_SH), "fetch"], text=True,
                         capture_output=True,
                         env=dict(os.environ, LF_KAFKA_VERSION=KAFKA_VERSION,
                                  LF_CACHE_DIR=str(CACHE.parent)))
    if res.returncode != 0:
        pytest.fail("fetching Kafka %s: %s" % (KAFKA_VERSION, res.stderr))
    return Path(res.stdout.strip())


def die_with_parent():
    """In the child before exec: SIGTERM when the test process dies, even
    killed (e.g. by CTest's timeout), so no broker outlives its run."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_properties(data_dir, port, controller_port):
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@127.0.0.1:%d" % controller_port,
        "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d"
        % (port, controller_port),
        "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % port,
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,"
        "PLAINTEXT:PLAINTEXT",
        "log.dirs=%s" % data_dir,
        # Topics are made on first use, with 4 partitions.
        "auto.create.topics.enable=true",
        "num.partitions=4",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=1",
        "share.coordinator.state.topic.replication.factor=1",
        "group.initial.rebalance.delay.ms=0",
        "num.network.threads=2",
        "num.io.threads=2",
        # Keep every segment: the tests read them.
        "log.retention.ms=-1",
        "",
    ])


def formatted_template(libs):
    """A formatted, empty storage folder for this Kafka version, made once
    (kafka.tools.StorageTool) and copied for each broker. With a static
    controller.quorum.voters it holds no port, so any ports fit."""
    template = CACHE / KAFKA_VERSION / "formatted"
    with open(CACHE / KAFKA_VERSION / ".format.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may format
        if not (template / "meta.properties").is_file():
            format_storage(libs, template)
    return template


def format_storage(libs, template):
    tmp = template.parent / "formatted.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    props = tmp.parent / "format.properties"
    props.write_text(server_properties(tmp, 19092, 19093))
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(
        b"=").decode()
    res = subprocess.run(["java"] + JVM_OPTS + [
        "-cp", str(libs / "*"), "kafka.tools.StorageTool", "format",
        "-t", cluster_id, "-c", str(props)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail("kafka storage format failed:\n%s%s"
                    % (res.stdout[-2000:], res.stderr[-2000:]))
    shutil.rmtree(template, ignore_errors=True)
    os.replace(tmp, template)


class KafkaBroker:
    """One broker process; start() and stop() may be called again."""

    def __init__(self, workdir, libs):
        self.dir = Path(workdir)
        self.libs = libs
        self.data = self.dir / "data"
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.proc = None
        self.log_path = self.dir / "broker.log"
        self.props = self.dir / "server.properties"
        self.props.write_text(server_properties(self.data, self.port,
                                                self.controller_port))
        shutil.copytree(formatted_template(libs), self.data)

    def start(self, timeout=60):
        """Starts the JVM and waits until the broker answers metadata
        requests. Returns the seconds it took."""
        assert self.proc is None or self.proc.poll() is not None
        t0 = time.monotonic()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["java"] + JVM_OPTS + ["-cp", str(self.libs / "*"), "kafka.Kafka",
                                   str(self.props)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent)
        log.close()
        if not wait_until(self.is_ready, deadline(timeout), interval=0.2):
            self.stop()
            pytest.fail("kafka did not answer on %s within %d s; log tail:\n%s"
                        % (self.bootstrap, timeout, self.log_tail()))
        return time.monotonic() - t0

    def is_ready(self):
        if self.proc.poll() is not None:
            pytest.fail("kafka exited with %s; log tail:\n%s"
                        % (self.proc.returncode, self.log_tail()))
        res = subprocess.run(["kcat", "-L", "-b", self.bootstrap, "-m", "2"],
                             capture_output=True, text=True)
        return res.returncode == 0 and "1 brokers" in res.stdout

    def stop(self, timeout=30):
        """Stops the broker by its PID: SIGTERM (a clean shutdown), SIGKILL
        if it is still there after timeout."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=deadline(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n=3000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def end_offsets(self, topic, partitions=4):
        """{partition: high watermark}; partitions the broker does not
        know yet count 0."""
        ends = {}
        for p in range(partitions):
            res = subprocess.run(["kcat", "-Q", "-b", self.bootstrap, "-t",
                                  "%s:%d:-1" % (topic, p)],
                                 capture_output=True, text=True, timeout=30)
            ends[p] = 0
            for line in res.stdout.splitlines():
                parts = line.split()
                # "topic [p] offset N"
                if len(parts) >= 4 and parts[2] == "offset":
                    ends[p] = int(parts[3])
        return ends

    def consume(self, topic, out_path, timeout=300):
        """Reads the topic from the beginning to its end with kcat into
        out_path, one message a line: partition TAB offset TAB key TAB
        payload. Returns the number of messages."""
        with open(out_path, "wb") as out:
            res = subprocess.run(
                ["kcat", "-C", "-b", self.bootstrap, "-t", topic, "-o",
                 "beginning", "-e", "-q", "-f", "%p\t%o\t%k\t%s\n",
                 "-X", "fetch.max.bytes=52428800"],
                stdout=out, stderr=subprocess.PIPE, timeout=deadline(timeout))
        if res.returncode != 0:
            pytest.fail("kcat -C %s: rc=%d %s" % (topic, res.returncode,
                                                   res.stderr[-2000:]))
        with open(out_path, "rb") as f:
            return sum(1 for _ in f)

    def segment_files(self, topic):
        return sorted(self.data.glob("%s-*/*.log" % topic))


def record_batches(path):
    """Yields (codec name, record count) for each record batch of a log
    segment (message format v2: baseOffset int64, batchLength int32,
    partitionLeaderEpoch int32, magic int8, crc int32, attributes int16, ...,
    recordsCount int32 at byte 57)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 61 <= len(data):
        length, = struct.unpack_from(">i", data, pos + 8)
        magic = data[pos + 16]
        attributes, = struct.unpack_from(">h", data, pos + 21)
        count, = struct.unpack_from(">i", data, pos + 57)
        if length <= 0 or magic != 2:
            break
        yield CODECS.get(attributes & 7, "?"), count
        pos += 12 + length


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    """The session's broker, started once, stopped by PID at the end."""
    ensure_debian_packages()
    libs = kafka_libs()
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"), libs)
    try:
        broker.started_in_s = broker.start()
        yield broker
    finally:
        broker.stop()


__all__ = ["KafkaBroker", "kafka_broker", "record_batches"]
