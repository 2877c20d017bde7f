# SPDX-License-Identifier: Apache-2.0
"""The classify filter end to end (tail -> built-in parser -> classify ->
file output), line by line:

  - on the shared generator's nginx_upstream output, where the cause of
    every failing line is known from how the generator built it;
  - on the real upstream-failure lines of the shared corpus (nginx error
    log, Envoy, HAProxy, ingress-nginx), every line of each file checked,
    the failure lines against the class docs/taxonomy.md gives them and
    all other lines against no class.

Records in = records out in every run.
"""

import collections
import json
import re

from conftest import SHARED_DIR, describe

CORPUS = SHARED_DIR / "corpus"
GEN_LINES = 200_000

GEN_RE = re.compile(
    r'^\S+ - \S+ \[[^\]]+\] "[^"]*" (?P<status>\d{3}) \d+ "[^"]*" "[^"]*" '
    r'rt=\S+ uct="(?P<uct>[^"]*)" uht="[^"]*" urt="[^"]*" '
    r'ua="(?P<ua>[^"]*)" us="(?P<us>[^"]*)"$')


def generator_class(line):
    """(class, failed attempt, outcome) of a generated line, from the
    generator's construction (gen_access_log.py, Gen.line and
    Gen.gateway_error): which branch wrote which upstream fields."""
    m = GEN_RE.match(line)
    assert m, line
    status, uct, ua, us = (int(m.group("status")), m.group("uct"),
                           m.group("ua"), m.group("us"))
    outcome = "failure" if status >= 500 else "success"
    if status == 499:  # client gave up: us="-"
        return "client_abort", None, "failure"
    if status == 502:
        if ":" not in ua:  # "no live upstreams": ua is the pool's name
            return "no_healthy_upstream", None, outcome
        if us == "502, 502":  # proxy_next_upstream: both refused
            return "connect_refused", 2, outcome
        if uct == "-":  # connect() failed (111: Connection refused)
            return "connect_refused", None, outcome
        return "upstream_closed_early", None, outcome  # closed / bad header
    if status == 504:
        if us == "502, 504":  # first refused, second timed out
            return "upstream_timeout", 2, outcome
        if uct == "-":  # proxy_connect_timeout 5s
            return "connect_timeout", None, outcome
        return "upstream_timeout", None, outcome  # proxy_read_timeout 60s
    if us.startswith("502, "):  # refused, then the retry succeeded
        return "connect_refused", 1, outcome
    if status == 503:  # nginx's own 503 (us="-") or the upstream's
        return ("unavailable_other" if us == "-"
                else "upstream_error_status"), None, outcome
    return None, None, outcome


def run_classified(logferry, workdir, src, parser, name):
    out = workdir / ("%s.jsonl" % name)
    res = logferry(
        "[service]\n    log_level warn\n"
        "[input]\n    name tail\n    tag t\n    path %s\n    parser %s\n"
        "    read_from_head on\n    exit_on_eof on\n"
        "[filter]\n    name classify\n    match *\n"
        "[output]\n    name file\n    match *\n    path %s\n"
        % (src, parser, out), timeout=60, name=name + ".conf")
    assert res.rc == 0, describe(res)
    return out


def got_class(rec):
    return (rec.get("upstream.error"), rec.get("upstream.failed_attempt"),
            rec.get("event.outcome"))


def test_generated_lines_get_the_class_they_were_built_with(
        logferry, workdir, gen_log):
    src = gen_log(GEN_LINES)
    out = run_classified(logferry, workdir, src, "nginx_upstream", "gen")
    counts = collections.Counter()
    bad, n_in, n_out = [], 0, 0
    with open(src, encoding="ascii") as fin, open(out, encoding="utf-8") as fo:
        for line, got in zip(fin, fo):
            n_in += 1
            n_out += 1
            want = generator_class(line.rstrip("\n"))
            have = got_class(json.loads(got))
            counts[want[0]] += 1
            if want != have and len(bad) < 10:
                bad.append("%r\n    want %r, got %r" % (line[:200], want,
                                                        have))
            elif want != have:
                bad.append("")
    with open(out, encoding="utf-8") as fo:
        assert sum(1 for _ in fo) == n_out == n_in == GEN_LINES
    assert not bad, "%d lines differ:\n  %s" % (len(bad), "\n  ".join(
        b for b in bad if b))
    # The generator's mix: every failure kind is present.
    for cls in ("connect_refused", "upstream_closed_early",
                "no_healthy_upstream", "upstream_timeout", "connect_timeout",
                "client_abort", "unavailable_other", "upstream_error_status"):
        assert counts[cls] > 20, (cls, counts)


# Real failure lines: (file, parser, {line: (class, failed attempt)}).
# Every line not listed must get no class.
REAL = [
    ("nginx-error/grok_exporter/patterns_test-TestNginxExample.log",
     "nginx_error",
     {1: ("no_healthy_upstream", None),     # no live upstreams
      2: ("upstream_closed_early", None)}),  # upstream prematurely closed
    # line 3: SSL_do_handshake() failed ... while SSL handshaking (client)
    ("nginx-error/ops-agent/logging_processor-nginx-error/input.log",
     "nginx_error",
     {3: ("connect_refused", None)}),  # connect() failed (111: ...)
    ("nginx-error/vrl/parse_nginx_log-error.log", "nginx_error",
     {6: ("connect_failed", None),   # connect() failed (113: No route ...)
      9: ("client_abort", None)}),   # client prematurely closed connection
    ("nginx-error/crowdsec/bookstack-logs/bookstack-logs.log", "nginx_error",
     {}),  # FastCGI sent in stderr ... from upstream: the app, not a failure
    ("envoy/cray-docs-csm/csm_installation_failure.md-istio-proxy.log",
     "envoy",
     {1: ("tls_failure", None), 2: ("tls_failure", None)}),  # UF,URX + TLS
    ("envoy/cray-docs-csm/Troubleshoot_Intermittent_503s.md-istio-proxy.log",
     "envoy", {}),  # line 2: 503 UAEX, ext-authz denied: not the upstream
    ("envoy/filebeat-xpack/envoy.log", "envoy", {3: ("no_route", None)}),
    ("envoy/filebeat-xpack/envoy-json.log", "envoy",
     {2: ("connect_failed", None)}),  # TCP UF,URX
    ("haproxy/haproxy-doc/configuration.txt-examples.log", "haproxy_http",
     {13: ("invalid_response", None),  # 502 PH--
      16: ("client_abort", None),      # cD
      17: ("connect_refused", None)}),  # 503 SC-- to srv1, 3 retries
    ("haproxy/filebeat/httplog-no-headers.log", "haproxy_http",
     {1: ("no_healthy_upstream", None), 2: ("no_healthy_upstream", None),
      3: ("no_healthy_upstream", None)}),  # <NOSRV> SC-- 503
    ("haproxy/filebeat/tcplog.log", "haproxy_http",
     {1: ("no_healthy_upstream", None)}),  # <NOSRV> SC
    ("haproxy/datadog/haproxy_tests.samples.log", "haproxy_http",
     {8: ("client_abort", None)}),  # tcplog CD
    ("nginx-access/ingress_controller/test.log", "nginx_ingress",
     {26: ("bad_gateway_other", 2), 27: ("bad_gateway_other", 2)}),
    ("nginx-access/datadog/nginx-ingress-controller_tests.samples.log",
     "nginx_ingress", {11: ("unavailable_other", None)}),  # 503, - - - -
]


def test_real_failure_lines_get_their_class(logferry, workdir):
    problems = []
    for rel, parser, want in REAL:
        src = CORPUS / rel
        lines = src.read_bytes().rstrip(b"\n").split(b"\n")
        out = run_classified(logferry, workdir, src, parser,
                             re.sub(r"\W", "_", rel))
        records = [json.loads(l) for l in out.read_text().splitlines()]
        assert len(records) >= len(lines), rel
        for no, rec in enumerate(records[:len(lines)], 1):
            cls, attempt = want.get(no, (None, None))
            got = (rec.get("upstream.error"),
                   rec.get("upstream.failed_attempt"))
            if got != (cls, attempt):
                problems.append("%s:%d: want %r, got %r" % (rel, no,
                                                            (cls, attempt),
                                                            got))
            if cls and rec.get("event.outcome") != "failure":
                problems.append("%s:%d: outcome %r" % (
                    rel, no, rec.get("event.outcome")))
    assert not problems, "\n".join(problems)
