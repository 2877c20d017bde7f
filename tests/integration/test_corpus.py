# SPDX-License-Identifier: Apache-2.0
"""Conformance over the shared corpus of real proxy log samples
(LF_SHARED_DIR/corpus, see its README.md): every sample file goes through
logferry with the built-in parser of its format, and

  - every line comes out as exactly one record, in order (in = out);
  - every line of that format parses; the lines that are of another
    format (an error-log line in an access log, a multi-line
    continuation, a line the source document cut short) are listed here
    with the reason, and must come out as parse errors;
  - where the corpus holds the expected output of another tool (Filebeat
    *-expected.json, Vector VRL, grok_exporter, Traefik's own test,
    CrowdSec parser.assert, Google Ops Agent, Datadog), the values of the
    fields both extract agree: status, method, URL, bytes, client address,
    user agent, upstream address/status/time, time stamp.

The corpus files are read where they are; nothing is copied into the
repository. Documented differences of the other tools (Filebeat's swapped
Envoy byte counts, Datadog keeping the first upstream list entry, ...)
are adapted here, each with its reason, never skipped silently.
"""

import datetime
import json
import re
from collections import namedtuple
from pathlib import Path

import pytest

try:  # the Ops Agent and Datadog expectations are YAML
    import yaml
except ImportError:  # pragma: no cover - reported by the loaders
    yaml = None

from conftest import SHARED_DIR, describe

CORPUS = SHARED_DIR / "corpus"

# What a record must agree on, and where logferry keeps it.
OURS = {
    "status": lambda r: r.get("http.response.status_code"),
    "method": lambda r: r.get("http.request.method"),
    "url": lambda r: r.get("url.original"),
    "bytes": lambda r: r.get("http.response.body.bytes"),
    "response_bytes": lambda r: r.get("http.response.bytes"),
    "client": lambda r: r.get("source.address"),
    "user_agent": lambda r: r.get("user_agent.original"),
    "upstream_address": lambda r: r.get("upstream.address"),
    "upstream_addresses": lambda r: r.get("upstream.addresses"),
    "upstream_status": lambda r: r.get("upstream.status_code"),
    "upstream_statuses": lambda r: r.get("upstream.status_codes"),
    "upstream_time": lambda r: r.get("upstream.response_time"),
    "upstream_time_sum": lambda r: round(sum(
        t for t in (r.get("upstream.response_times") or []) if t), 6),
    "upstream_status_first": lambda r: (r.get("upstream.status_codes")
                                        or [None])[0],
    "upstream_time_first": lambda r: (r.get("upstream.response_times")
                                      or [None])[0],
    "timestamp": lambda r: r.get("@timestamp"),
    # formats whose time has no zone (taken as UTC): the wall clock
    "timestamp_wall": lambda r: (r.get("@timestamp") or "")[:19],
    "timestamp_s": lambda r: (r.get("@timestamp") or "")[:19],
}


def iso_ms(dt):
    """An aware datetime as logferry writes @timestamp."""
    dt = dt.astimezone(datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (
        dt.microsecond // 1000)


def parse_iso(s):
    """ISO 8601 with any fraction length and Z or an offset."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?"
                 r"(Z|[+-]\d\d:?\d\d)?$", s)
    assert m, "not ISO 8601: %r" % s
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = m.group(3) or "Z"
    zone = "+00:00" if zone == "Z" else zone
    return datetime.datetime.fromisoformat(
        "%s.%s%s" % (m.group(1), frac, zone))


def clf_time(s):
    return iso_ms(datetime.datetime.strptime(s, "%d/%b/%Y:%H:%M:%S %z"))


def split_request(req):
    """'GET /x HTTP/1.1' -> method and URL (None when it is no request)."""
    parts = req.split(" ")
    if len(parts) >= 2 and parts[0].isalpha():
        return {"method": parts[0], "url": parts[1]}
    return {}


def dash_none(v):
    return None if v in ("-", "") else v


# --- expected outputs of other tools: {line index: {key: value}} ---------

def filebeat(rel, *, envoy=False, wall_time=False):
    """Filebeat *-expected.json: records matched to lines by log.offset."""
    def load(lines):
        offsets, pos = {}, 0
        for i, line in enumerate(lines):
            offsets[pos] = i
            pos += len(line) + 1
        out = {}
        for rec in json.loads((CORPUS / rel).read_text(encoding="utf-8")):
            exp = {}
            ts = rec.get("@timestamp")
            if ts and wall_time:
                exp["timestamp_wall"] = ts[:19]
            elif ts:
                exp["timestamp"] = iso_ms(parse_iso(ts))
            for theirs, ours in (("http.response.status_code", "status"),
                                 ("http.request.method", "method"),
                                 ("url.original", "url"),
                                 ("source.address", "client"),
                                 ("user_agent.original", "user_agent"),
                                 ("http.response.bytes", "response_bytes"),
                                 ("haproxy.server_name", "upstream_address"),
                                 ("traefik.access.backend_url",
                                  "upstream_address")):
                if theirs in rec:
                    exp[ours] = rec[theirs]
            # Filebeat's Envoy pipeline files %BYTES_RECEIVED% (the request
            # body) as http.response.body.bytes: not comparable.
            if "http.response.body.bytes" in rec and not envoy:
                exp["bytes"] = rec["http.response.body.bytes"]
            if envoy and "destination.address" in rec:
                exp["upstream_address"] = "%s:%s" % (
                    rec["destination.address"], rec["destination.port"])
            ing = "nginx.ingress_controller."
            if ing + "upstream_address_list" in rec:
                exp["upstream_addresses"] = rec[ing + "upstream_address_list"]
                exp["upstream_statuses"] = [
                    None if s == "-" else int(s) for s in
                    rec[ing + "upstream.response.status_code_list"]]
                exp["upstream_time_sum"] = round(
                    rec[ing + "upstream.response.time"], 6)
            out[offsets[rec["log.offset"]]] = exp
        return out
    return load


def vrl(rel):
    """Vector VRL test cases: line N <-> JSON line N."""
    def load(lines):
        out = {}
        for i, raw in enumerate((CORPUS / rel).read_text().splitlines()):
            case = json.loads(raw)
            assert case["input"] == lines[i]
            want = case["want"]
            if "error" in want:  # VRL refuses the line (see the spec)
                continue
            exp = {}
            for theirs, ours in (("client", "client"),
                                 ("remote_addr", "client"),
                                 ("status", "status"), ("size", "bytes"),
                                 ("body_bytes_size", "bytes"),
                                 ("agent", "user_agent"),
                                 ("http_user_agent", "user_agent"),
                                 ("upstream_addr", "upstream_address"),
                                 ("upstream_status", "upstream_status"),
                                 ("upstream_response_time", "upstream_time"),
                                 ("upstream", "upstream_address")):
                if theirs in want:
                    exp[ours] = dash_none(want[theirs])
            if "request" in want:
                exp.update(split_request(want["request"]))
            if case["format"] == "error":
                exp["timestamp_wall"] = want["timestamp"][:19]
            else:
                exp["timestamp"] = iso_ms(parse_iso(want["timestamp"]))
            out[i] = exp
        return out
    return load


def grok_exporter(rel):
    def load(lines):
        out = {}
        for i, raw in enumerate((CORPUS / rel).read_text().splitlines()):
            case = json.loads(raw)
            assert case["input"] == lines[i]
            labels = case["labels"]
            exp = {"client": labels.get("client")}
            if "upstream" in labels:
                exp["upstream_address"] = labels["upstream"]
            if "request" in labels:
                exp.update(split_request(labels["request"]))
            out[i] = exp
        return out
    return load


def traefik_repo(rel):
    """Traefik's own parser test (field names are Traefik's)."""
    def load(lines):
        out = {}
        for i, raw in enumerate((CORPUS / rel).read_text().splitlines()):
            want = json.loads(raw)["expected"]
            if not want:  # "bad": Traefik does not parse it either
                continue
            url = dash_none(want["ServiceURL"].strip('"'))
            out[i] = {"client": want["ClientHost"],
                      "status": int(want["OriginStatus"]),
                      "bytes": int(want["OriginContentSize"]),
                      "method": want["RequestMethod"],
                      "url": want["RequestPath"],
                      "user_agent": want["request_User-Agent"].strip('"'),
                      "upstream_address": url,
                      "timestamp": clf_time(want["StartUTC"])}
        return out
    return load


CROWDSEC_RE = re.compile(
    r'^results\["(s0\d)-[a-z]+"\]\["([^"]+)"\]\[(\d+)\]\.Evt\.Parsed'
    r'\["([^"]+)"\] == "((?:[^"\\]|\\.)*)"$')


def crowdsec_events(rel):
    """{stage: {parser: {event index: {key: value}}}} of a parser.assert."""
    stages = {}
    for raw in (CORPUS / rel).read_text().splitlines():
        m = CROWDSEC_RE.match(raw)
        if m:
            stage, parser, idx, key, value = m.groups()
            stages.setdefault(stage, {}).setdefault(parser, {}).setdefault(
                int(idx), {})[key] = json.loads('"%s"' % value)
    return stages


def crowdsec(rel, time_key=None, time_fn=None):
    """CrowdSec parser.assert: the s01-parse values of each event. Event i
    is line i: every stage has one result per event, in order (the s00
    message, the raw line or what follows a CRI prefix, checks it)."""
    def load(lines):
        stages = crowdsec_events(rel)
        raw = next(iter(stages["s00"].values()))
        out = {}
        for parser in stages["s01"].values():
            for i, ev in parser.items():
                msg = raw.get(i, {}).get("message")
                assert msg and (lines[i] == msg or
                                lines[i].endswith(" " + msg)), (i, msg)
                exp = {}
                for theirs, ours in (("status", "status"),
                                     ("verb", "method"),
                                     ("body_bytes_sent", "bytes"),
                                     ("http_user_agent", "user_agent"),
                                     ("upstream_host", "upstream_address")):
                    if theirs in ev:
                        exp[ours] = dash_none(ev[theirs])
                for key in ("status", "bytes"):
                    if exp.get(key) is not None:
                        exp[key] = int(exp[key])
                # CrowdSec's pattern drops the scheme of an absolute-form
                # target ("POST https://x/" -> "//x/"); nginx logged it whole.
                if "request" in ev and not ev["request"].startswith("//"):
                    exp["url"] = ev["request"]
                if time_key and time_key in ev:
                    exp.update(time_fn(ev[time_key]))
                out[i] = exp
        return out
    return load


def need_yaml():
    if yaml is None:
        pytest.fail("PyYAML is needed to read the corpus's YAML "
                    "expectations: apt-get install python3-yaml (or pip "
                    "install pyyaml)")


def ops_agent(rel):
    """Google Ops Agent golden output: entries in line order."""
    def load(lines):
        need_yaml()
        entries = yaml.safe_load((CORPUS / rel).read_text())[0]["entries"]
        out = {}
        for i, entry in enumerate(entries):
            exp = {}
            ts = entry["timestamp"]
            if isinstance(ts, datetime.datetime):  # YAML read it as UTC
                exp["timestamp_wall"] = ts.strftime("%Y-%m-%dT%H:%M:%S")
            elif ts != "now":  # "now": the Ops Agent found no time
                exp["timestamp"] = iso_ms(parse_iso(ts))
            req = entry.get("httpRequest")
            if req:
                exp.update({"status": int(req["status"]),
                            "method": req["requestMethod"],
                            "url": req["requestUrl"],
                            "bytes": int(req["responseSize"]),
                            "client": req["remoteIp"],
                            "user_agent": dash_none(req["userAgent"])})
            payload = entry.get("jsonPayload") or {}
            if "client" in payload:
                exp["client"] = payload["client"]
            if "upstream" in payload:
                exp["upstream_address"] = payload["upstream"]
            if "request" in payload:
                exp.update(split_request(payload["request"]))
            out[i] = exp
        return out
    return load


def datadog(rel):
    """Datadog pipeline tests: each sample with its parsed result."""
    def load(lines):
        need_yaml()
        out = {}
        for test in yaml.safe_load((CORPUS / rel).read_text())["tests"]:
            custom = test["result"].get("custom", {})
            http = custom.get("http", {})
            if "status_code" not in http:
                continue  # not an access line
            i = lines.index(test["sample"])
            net = custom.get("network", {})
            exp = {"status": http["status_code"], "method": http["method"],
                   "url": http["url"], "user_agent": http.get("useragent"),
                   "bytes": net.get("bytes_written"),
                   "timestamp": iso_ms(datetime.datetime.fromtimestamp(
                       test["result"]["timestamp"] / 1000,
                       datetime.timezone.utc))}
            if "client" in net:
                exp["client"] = net["client"]["ip"]
            # Datadog keeps the first entry of nginx's lists; logferry the
            # last (upstream.status_code): compare the first of the array.
            if "upstream_status_code" in http:
                exp["upstream_status_first"] = int(
                    http["upstream_status_code"])
            if "upstream_duration" in http:
                exp["upstream_time_first"] = http["upstream_duration"]
            out[i] = exp
        return out
    return load


# --- the corpus, file by file ---------------------------------------------

Spec = namedtuple("Spec", "path parser other no_time expected",
                  defaults=({}, (), None))

# Lines of another format in a mixed file: (its built-in parser, reason)
# when logferry has one, else the reason alone.
ERROR_LOG_LINE = ("nginx_error", "an nginx error-log line among access lines")
COMBINED_LINE = ("nginx_combined", "a plain combined line")
NOT_FORMAT = "another program's log line"

SPECS = [
    Spec("nginx-access/access.log", "nginx_combined",
         expected=filebeat("nginx-access/access.log-expected.json")),
    Spec("nginx-access/test.log", "nginx_combined", {11: "empty last line"},
         expected=filebeat("nginx-access/test.log-expected.json")),
    Spec("nginx-access/test-with-host.log", "nginx_combined",
         expected=filebeat("nginx-access/test-with-host.log-expected.json")),
    Spec("nginx-access/vrl/parse_nginx_log-combined.log", "nginx_combined",
         expected=vrl("nginx-access/vrl/"
                      "parse_nginx_log-combined.log-expected.jsonl")),
    Spec("nginx-access/vrl/parse_nginx_log-main.log", "nginx_combined",
         {5: ERROR_LOG_LINE},
         expected=vrl("nginx-access/vrl/"
                      "parse_nginx_log-main.log-expected.jsonl")),
    Spec("nginx-access/crowdsec/nginx_http-logs/nginx_http-logs.log",
         "nginx_combined", {9: ERROR_LOG_LINE},
         expected=crowdsec("nginx-access/crowdsec/nginx_http-logs/"
                           "parser.assert", "time_local",
                           lambda t: {"timestamp": clf_time(t)})),
    Spec("nginx-access/logstash-patterns-core/"
         "httpd_spec.access-messages.log", "apache_combined"),
    Spec("nginx-access/ops-agent/logging_processor-nginx-access/input.log",
         "nginx_combined",
         expected=ops_agent("nginx-access/ops-agent/"
                            "logging_processor-nginx-access/"
                            "output_fluentbit.yaml")),
    Spec("nginx-access/ingress_controller/test.log", "nginx_ingress",
         expected=filebeat("nginx-access/ingress_controller/"
                           "test.log-expected.json")),
    Spec("nginx-access/vrl/parse_nginx_log-ingress_upstreaminfo.log",
         "nginx_ingress",
         expected=vrl("nginx-access/vrl/parse_nginx_log-"
                      "ingress_upstreaminfo.log-expected.jsonl")),
    Spec("nginx-access/datadog/nginx-ingress-controller_tests.samples.log",
         "nginx_ingress",
         {3: ERROR_LOG_LINE, 4: ERROR_LOG_LINE,
          5: "an ingress controller (klog) application line"},
         expected=datadog("nginx-access/datadog/"
                          "nginx-ingress-controller_tests.yaml")),
    Spec("nginx-access/crowdsec/nginx-proxy-manager-logs/"
         "nginx-proxy-manager-logs.log", "nginx_proxy_manager",
         {2: COMBINED_LINE, 5: ERROR_LOG_LINE, 6: ERROR_LOG_LINE},
         expected=crowdsec("nginx-access/crowdsec/nginx-proxy-manager-logs/"
                           "parser.assert", "time_local",
                           lambda t: {"timestamp": clf_time(t)})),
    Spec("nginx-error/error.log", "nginx_error",
         {4: "continuation of the multi-line FastCGI entry",
          5: "continuation of the multi-line FastCGI entry"},
         expected=filebeat("nginx-error/error.log-expected.json",
                           wall_time=True)),
    Spec("nginx-error/vrl/parse_nginx_log-error.log", "nginx_error",
         expected=vrl("nginx-error/vrl/"
                      "parse_nginx_log-error.log-expected.jsonl")),
    Spec("nginx-error/grok_exporter/patterns_test-TestNginxExample.log",
         "nginx_error",
         expected=grok_exporter("nginx-error/grok_exporter/"
                                "patterns_test-TestNginxExample.log-"
                                "expected.jsonl")),
    Spec("nginx-error/ops-agent/logging_processor-nginx-error/input.log",
         "nginx_error", {7: "empty line", 8: "empty line"},
         expected=ops_agent("nginx-error/ops-agent/"
                            "logging_processor-nginx-error/"
                            "output_fluentbit.yaml")),
    Spec("nginx-error/crowdsec/bookstack-logs/bookstack-logs.log",
         "nginx_error", {2: "an Apache httpd error-log line"}),
    Spec("nginx-error/crowdsec/nginx_req_limit_exceeded/"
         "nginx_req_limit_exceeded.log", "nginx_error",
         expected=crowdsec("nginx-error/crowdsec/nginx_req_limit_exceeded/"
                           "parser.assert")),
    Spec("envoy/envoy-docs/usage.rst-default-format-example.log", "envoy"),
    Spec("envoy/filebeat-xpack/envoy.log", "envoy",
         expected=filebeat("envoy/filebeat-xpack/envoy.log-expected.json",
                           envoy=True)),
    Spec("envoy/filebeat-xpack/envoy-json.log", "envoy",
         expected=filebeat("envoy/filebeat-xpack/"
                           "envoy-json.log-expected.json", envoy=True)),
    Spec("envoy/crowdsec/envoy-logs/envoy.log", "envoy",
         expected=crowdsec("envoy/crowdsec/envoy-logs/parser.assert",
                           "time", lambda t: {"timestamp":
                                              iso_ms(parse_iso(t))})),
    Spec("envoy/datadog/envoy_tests.samples.log", "envoy",
         {5: "an Envoy application (not access) log line"},
         expected=datadog("envoy/datadog/envoy_tests.yaml")),
    Spec("envoy/cray-docs-csm/csm_installation_failure.md-istio-proxy.log",
         "envoy"),
    Spec("envoy/cray-docs-csm/Troubleshoot_Intermittent_503s.md-"
         "istio-proxy.log", "envoy",
         {1: "cut short after the failure reason in the source document"}),
    Spec("haproxy/filebeat/haproxy.log", "haproxy_http",
         expected=filebeat("haproxy/filebeat/haproxy.log-expected.json")),
    Spec("haproxy/filebeat/httplog-no-headers.log", "haproxy_http",
         {4: "empty last line"},
         expected=filebeat("haproxy/filebeat/"
                           "httplog-no-headers.log-expected.json")),
    Spec("haproxy/filebeat/tcplog.log", "haproxy_http",
         expected=filebeat("haproxy/filebeat/tcplog.log-expected.json")),
    Spec("haproxy/filebeat/default.log", "haproxy_http", no_time=(1,),
         expected=filebeat("haproxy/filebeat/default.log-expected.json")),
    Spec("haproxy/datadog/haproxy_tests.samples.log", "haproxy_http",
         no_time=(3, 9)),
    Spec("haproxy/crowdsec/haproxy-logs/haproxy-logs.log", "haproxy_http"),
    Spec("haproxy/crowdsec/haproxy-nextcloud-whitelist/haproxy-logs.log",
         "haproxy_http"),
    Spec("haproxy/haproxy-doc/configuration.txt-examples.log",
         "haproxy_http", no_time=(2,)),
    Spec("haproxy/logstash-patterns-core/haproxy_spec.messages.log",
         "haproxy_http"),
    Spec("traefik/filebeat/test.log", "traefik_clf",
         expected=filebeat("traefik/filebeat/test.log-expected.json")),
    Spec("traefik/traefik-repo/parser_test-TestParseAccessLog.log",
         "traefik_clf", {3: "'bad': Traefik's own test expects no match"},
         expected=traefik_repo("traefik/traefik-repo/parser_test-"
                               "TestParseAccessLog.log-expected.jsonl")),
    Spec("traefik/crowdsec/traefik_clf/traefik_clf.log", "traefik_clf",
         {8: "empty line", 9: "empty line"},
         expected=crowdsec("traefik/crowdsec/traefik_clf/parser.assert",
                           "time_local",
                           lambda t: {"timestamp": clf_time(t)})),
    Spec("traefik/crowdsec/traefik_json/traefik_json.log", "traefik_json",
         {6: NOT_FORMAT + " (a Traefik plugin's debug output)"},
         expected=crowdsec("traefik/crowdsec/traefik_json/parser.assert",
                           "time_local",
                           lambda t: {"timestamp_s":
                                      iso_ms(parse_iso(t))[:19]})),
]


def corpus_lines(path):
    """The physical lines of a file, as logferry splits them (a last line
    without a newline counts; bytes that are not UTF-8 stay escaped)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return [line.decode("utf-8", "surrogateescape") for line in lines]


def run_lines(logferry, workdir, name, src, parser):
    """Runs src through logferry with parser; returns the records."""
    out = workdir / ("%s.jsonl" % re.sub(r"\W", "_", name))
    res = logferry(
        "[service]\n    log_level warn\n"
        "[input]\n    name tail\n    tag corpus\n    path %s\n"
        "    parser %s\n    read_from_head on\n    exit_on_eof on\n"
        "[output]\n    name file\n    match *\n    path %s\n"
        % (src, parser, out), timeout=20, name="corpus.conf")
    assert res.rc == 0, describe(res)
    return [json.loads(line) for line in out.read_text().splitlines()]


def other_format_records(logferry, workdir, spec, lines):
    """{line number: record} of the lines of another format that logferry
    has a parser for, each parsed with that parser."""
    by_parser = {}
    for no, other in spec.other.items():
        if isinstance(other, tuple):
            by_parser.setdefault(other[0], []).append(no)
    found = {}
    for parser, numbers in by_parser.items():
        src = workdir / ("other-%s.log" % parser)
        src.write_bytes(b"".join(
            lines[no - 1].encode("utf-8", "surrogateescape") + b"\n"
            for no in numbers))
        records = run_lines(logferry, workdir, "other-" + parser, src, parser)
        assert len(records) == len(numbers)
        found.update(zip(numbers, records))
    return found


def values_agree(key, want, got):
    if want is None:
        return got is None
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and abs(float(got) - float(want)) < 1e-9
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            values_agree(key, w, g) for w, g in zip(want, got))
    return want == got


@pytest.mark.parametrize("spec", SPECS, ids=[s.path for s in SPECS])
def test_corpus_file_parses_and_agrees(logferry, workdir, spec):
    path = CORPUS / spec.path
    if not path.is_file():
        pytest.fail("corpus file missing: %s (set LF_SHARED_DIR)" % path)
    lines = corpus_lines(path)
    records = run_lines(logferry, workdir, spec.path, path, spec.parser)
    assert len(records) == len(lines), "in %d lines, out %d records" % (
        len(lines), len(records))
    problems = []
    for no, (line, rec) in enumerate(zip(lines, records), 1):
        is_error = rec.get("error.type") == "parse_error"
        if no in spec.other and not is_error:
            problems.append("line %d (%s) parsed: %r" % (
                no, spec.other[no], line[:160]))
        elif no not in spec.other and is_error:
            problems.append("line %d does not parse: %r" % (no, line[:300]))
        time_error = rec.get("error.type") == "time_parse_error"
        if time_error != (no in spec.no_time):
            problems.append("line %d: time error %s: %r" % (
                no, time_error, line[:160]))
    # Lines of another format parse with their own built-in parser.
    others = other_format_records(logferry, workdir, spec, lines)
    for no, rec in others.items():
        if "error.type" in rec:
            problems.append("line %d: %s with %s" % (
                no, rec["error.type"], spec.other[no][0]))
        records[no - 1] = rec
    compared = 0
    if spec.expected:
        for idx, exp in sorted(spec.expected(lines).items()):
            if idx + 1 in spec.other and idx + 1 not in others:
                continue  # another program's line: nothing of ours to check
            rec = records[idx]
            for key, want in exp.items():
                got = OURS[key](rec)
                compared += 1
                if not values_agree(key, want, got):
                    problems.append("line %d %s: expected %r, got %r" % (
                        idx + 1, key, want, got))
        assert compared >= len(lines) // 2, \
            "only %d values compared: the expected file was not read" % compared
    assert not problems, "%s:\n  %s" % (spec.path, "\n  ".join(problems))


def test_every_corpus_log_file_is_covered():
    """A sample file added to the corpus must get a row in SPECS."""
    covered = {s.path for s in SPECS}
    logs = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.log")
            if not p.name.endswith("expected.json")}
    assert logs - covered == set(), "no parser assigned: %s" % sorted(
        logs - covered)


# --- docs/formats.md: the field coverage table is what the parsers emit --

COVERAGE_FIELDS = [
    "@timestamp", "source.ip", "source.address", "source.port", "user.name",
    "http.request.method", "url.original", "url.domain", "http.version",
    "http.response.status_code", "http.response.body.bytes",
    "http.response.bytes", "http.request.referrer", "user_agent.original",
    "http.request.id", "event.duration", "upstream.address",
    "upstream.addresses", "upstream.attempts", "upstream.status_code",
    "upstream.status_codes", "upstream.response_time",
    "upstream.response_times", "upstream.connect_time",
    "upstream.connect_times", "upstream.header_time", "upstream.header_times",
    "upstream.name", "log.level", "process.pid", "message",
]


def format_coverage(logferry, workdir, repo_root):
    """{parser: set of fields} over the corpus files of each built-in
    parser and its golden cases (tests/parsers/<parser>/*.log)."""
    paths = {}
    for spec in SPECS:
        paths.setdefault(spec.parser, []).append(CORPUS / spec.path)
    for log in sorted((repo_root / "tests" / "parsers").glob("*/*.log")):
        paths.setdefault(log.parent.name, []).append(log)
    cov = {}
    for parser, files in sorted(paths.items()):
        records = run_lines(logferry, workdir, "cov-" + parser,
                            ", ".join(str(f) for f in files), parser)
        cov[parser] = set()
        for rec in records:
            if rec.get("error.type") != "parse_error":
                cov[parser].update(k for k, v in rec.items()
                                   if v is not None)
    return cov


def coverage_table(cov, parsers):
    rows = ["| field | %s |" % " | ".join("`%s`" % p for p in parsers),
            "| --- |%s" % (" --- |" * len(parsers))]
    for field in COVERAGE_FIELDS:
        rows.append("| `%s` | %s |" % (field, " | ".join(
            "✓" if field in cov[p] else " " for p in parsers)))
    return "\n".join(rows)


def test_formats_doc_coverage_table_matches_output(logferry, workdir,
                                                   repo_root):
    doc = (repo_root / "docs" / "formats.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- coverage -->\n(.*?)\n<!-- /coverage -->", doc,
                  re.S)
    assert m, "docs/formats.md has no <!-- coverage --> table"
    parsers = re.findall(r"`([a-z_]+)`", m.group(1).splitlines()[0])
    cov = format_coverage(logferry, workdir, repo_root)
    assert set(parsers) == set(cov), "table columns %s, parsers %s" % (
        parsers, sorted(cov))
    want = coverage_table(cov, parsers)
    assert m.group(1) == want, (
        "docs/formats.md's coverage table differs from what the parsers "
        "emit; it should read:\n" + want)
