# SPDX-License-Identifier: Apache-2.0
"""A real OpenSearch node on 127.0.0.1 for the es output's tests.

The distribution is OpenSearch's integration-test zip from Maven Central
(org.opensearch.distribution.integ-test-zip:opensearch:VERSION:zip: the
server with only the transport-netty4 module, no security plugin), fetched
once with `mvn dependency:copy` and unpacked under
${LF_CACHE_DIR:-~/.cache/logferry}/opensearch, so a second run downloads
nothing. It runs on the machine's Java 17.

OpenSearch refuses to run as root: as root, the node runs as the system
user `lfsearch` (created once with useradd), from a per-session directory
under /tmp that holds hard links to the cached distribution (the cache under
/root is not readable by that user), its own config, data and logs.

    node = OpenSearchNode.create(write_queue_size=2)
    node.start(); node.wait_ready()
    node.request("GET", "/_cluster/health")
    node.stop()        SIGTERM to the PID, SIGKILL after 60 s

Run by hand: python3 opensearch_fixture.py fetch | serve
"""

import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

VERSION = os.environ.get("LF_OPENSEARCH_VERSION", "2.19.6")
ARTIFACT = ("org.opensearch.distribution.integ-test-zip:opensearch:%s:zip"
            % VERSION)
CACHE_DIR = Path(os.environ.get("LF_CACHE_DIR")
                 or Path.home() / ".cache" / "logferry")
RUN_USER = "lfsearch"
HEAP = os.environ.get("LF_OPENSEARCH_HEAP", "1g")
SANITIZED = os.environ.get("LF_SANITIZED") == "1"


class FixtureError(Exception):
    """OpenSearch could not be fetched or started; the message says why."""


def _log(msg):
    print("[opensearch] %s" % msg, file=sys.stderr, flush=True)


# --- fetching ------------------------------------------------------------

def _unzip(zpath, dest):
    """Unpacks zpath into dest, keeping the files' Unix modes (zipfile
    does not, and bin/opensearch must stay executable)."""
    with zipfile.ZipFile(zpath) as z:
        for info in z.infolist():
            out = z.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(out, mode)


def distribution():
    """Path of the unpacked distribution, fetched and unpacked on first
    use. Concurrent test processes wait on a lock."""
    base = CACHE_DIR / "opensearch"
    home = base / ("opensearch-%s" % VERSION)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / "bin" / "opensearch").is_file() and \
                (home / ".complete").is_file():
            return home
        zpath = base / ("opensearch-%s.zip" % VERSION)
        if not zpath.is_file():
            _fetch(base)
        tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=base))
        try:
            _unzip(zpath, tmp)
            if home.exists():
                shutil.rmtree(home)
            os.replace(tmp / ("opensearch-%s" % VERSION), home)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        (home / ".complete").write_text(ARTIFACT + "\n")
        return home


def ensure_deb(package, program):
    """Installs a Debian package once if `program` is missing (as root,
    the way tools/setup.sh would); returns the program's path or None."""
    found = shutil.which(program)
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    if subprocess.run(["dpkg", "-s", package], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        _log("installing %s" % package)
        subprocess.run(["apt-get", "install", "-y", "-q", package],
                       stdin=subprocess.DEVNULL, check=False,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return shutil.which(program)


def _fetch(base):
    mvn = ensure_deb("maven", "mvn")
    if not mvn:
        raise FixtureError("mvn not found: install maven (apt-get install "
                           "maven) to fetch %s" % ARTIFACT)
    _log("fetching %s from Maven Central" % ARTIFACT)
    cmd = [mvn, "-B", "-q", "dependency:copy", "-Dartifact=" + ARTIFACT,
           "-DoutputDirectory=" + str(base)]
    res = subprocess.run(cmd, cwd=base, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=900)
    if res.returncode != 0:
        raise FixtureError("%s failed (rc %d):\n%s"
                           % (" ".join(cmd), res.returncode,
                              res.stdout[-3000:]))


# --- the node ------------------------------------------------------------

def java_home():
    """A Java 17+ for OpenSearch 2.x: the machine's 17 if present, else
    JAVA_HOME, else the one on PATH."""
    for cand in ("/usr/lib/jvm/java-17-openjdk-amd64",
                 "/usr/lib/jvm/java-17-openjdk-arm64",
                 os.environ.get("JAVA_HOME")):
        if cand and Path(cand, "bin", "java").is_file():
            return cand
    java = ensure_deb("openjdk-17-jre-headless", "java")
    if not java:
        raise FixtureError("no java found: install openjdk-17-jre-headless")
    return str(Path(os.path.realpath(java)).parents[1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_user():
    """(uid, gid) to run as: ourselves unless root, else lfsearch."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(RUN_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", RUN_USER],
                       check=True)
        pw = pwd.getpwnam(RUN_USER)
    return pw.pw_uid, pw.pw_gid


def _link_tree(src, dst):
    """dst mirrors src with hard links (a copy across file systems)."""
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
    shutil.copytree(src, dst, copy_function=link, symlinks=True)


JVM_OPTIONS = """\
-Xms{heap}
-Xmx{heap}
-XX:+UseG1GC
-XX:G1ReservePercent=25
-XX:InitiatingHeapOccupancyPercent=30
-Djava.io.tmpdir=${{OPENSEARCH_TMPDIR}}
-XX:ErrorFile={logs}/hs_err_pid%p.log
18-:-Djava.security.manager=allow
-Djava.util.concurrent.ForkJoinPool.common.threadFactory=org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory
"""


class OpenSearchNode:
    """One single-node cluster in its own directory."""

    def __init__(self, root, home, settings):
        self.root = Path(root)
        self.home = home
        self.settings = settings
        self.http_port = settings["http.port"]
        self.url = "http://127.0.0.1:%d" % self.http_port
        self.proc = None
        self.log_path = self.root / "stdout.log"
        self.ids = _run_user()

    @classmethod
    def create(cls, write_queue_size=None, extra=None):
        """Prepares (does not start) a node on free ports."""
        dist = distribution()
        root = Path(tempfile.mkdtemp(prefix="lf-opensearch-", dir="/tmp"))
        os.chmod(root, 0o755)
        home = root / "dist"
        _link_tree(dist, home)
        settings = {
            "cluster.name": "logferry-test",
            "node.name": "lf-node",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": free_port(),
            "transport.port": free_port(),
            "path.data": str(root / "data"),
            "path.logs": str(root / "logs"),
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "indices.memory.index_buffer_size": "30%",
            "action.auto_create_index": "true",
        }
        if write_queue_size is not None:
            settings["thread_pool.write.queue_size"] = str(write_queue_size)
        settings.update(extra or {})
        node = cls(root, home, settings)
        node._write_config()
        return node

    def _write_config(self):
        conf = self.root / "config"
        if conf.exists():
            shutil.rmtree(conf)
        shutil.copytree(self.home / "config", conf)
        (conf / "opensearch.yml").write_text(
            "".join("%s: %s\n" % (k, v) for k, v in self.settings.items()))
        (conf / "jvm.options").write_text(
            JVM_OPTIONS.format(heap=HEAP, logs=self.root / "logs"))
        for d in ("data", "logs", "tmp"):
            (self.root / d).mkdir(exist_ok=True)
        if self.ids:
            for path in [self.root] + list(self.root.rglob("*")):
                if path.parts[len(self.root.parts):][:1] == ("dist",):
                    continue
                os.chown(path, *self.ids, follow_symlinks=False)

    def start(self):
        env = dict(os.environ)
        env.update({"OPENSEARCH_PATH_CONF": str(self.root / "config"),
                    "OPENSEARCH_JAVA_HOME": java_home(),
                    "OPENSEARCH_TMPDIR": str(self.root / "tmp")})
        env.pop("OPENSEARCH_JAVA_OPTS", None)
        env.pop("JAVA_TOOL_OPTIONS", None)
        cmd = [str(self.home / "bin" / "opensearch")]
        if self.ids:
            uid, gid = self.ids
            cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                   "--clear-groups"] + cmd
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env,
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        _log("started pid %d on %s" % (self.proc.pid, self.url))

    def log_tail(self, n=4000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_ready(self, timeout=None):
        """Polls the health API until the cluster is yellow or green."""
        timeout = timeout or (240 if SANITIZED else 180)
        end = time.monotonic() + timeout
        t0 = time.monotonic()
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise FixtureError("opensearch exited with %s before it was "
                                   "ready; log tail:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                status, body = self.request(
                    "GET", "/_cluster/health?wait_for_status=yellow"
                    "&timeout=1s", timeout=5)
                if status == 200 and body.get("status") in ("yellow",
                                                            "green"):
                    _log("ready after %.1f s" % (time.monotonic() - t0))
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.25)
        raise FixtureError("opensearch not ready within %d s; log tail:\n%s"
                           % (timeout, self.log_tail()))

    def cpu_seconds(self):
        """CPU time the node used so far (user + system), or None."""
        try:
            fields = Path("/proc/%d/stat" % self.proc.pid).read_text() \
                .rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / \
                os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def stop(self, timeout=60):
        """SIGTERM to the node's PID, SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        cpu = self.cpu_seconds()
        if cpu is not None:
            _log("pid %d used %.1f s of CPU" % (self.proc.pid, cpu))
        self.proc.send_signal(signal.SIGCONT)  # if a test froze it
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        _log("stopped pid %d" % self.proc.pid)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def request(self, method, path, body=None, timeout=60,
                content_type="application/json"):
        """(status, parsed JSON or text) of one HTTP request."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method,
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def ok(self, method, path, body=None, timeout=120):
        """request() that must answer 2xx; returns the body."""
        status, out = self.request(method, path, body, timeout=timeout)
        if status // 100 != 2:
            raise AssertionError("%s %s -> %d: %s"
                                 % (method, path, status, str(out)[:2000]))
        return out


def main(argv):
    if len(argv) < 2 or argv[1] not in ("fetch", "serve"):
        print("usage: opensearch_fixture.py fetch | serve", file=sys.stderr)
        return 2
    home = distribution()
    print(home)
    if argv[1] == "serve":
        node = OpenSearchNode.create()
        node.start()
        try:
            node.wait_ready()
            print("serving on %s; Ctrl-C stops it" % node.url, flush=True)
            node.proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            node.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
