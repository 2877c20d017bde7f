# SPDX-License-Identifier: Apache-2.0
"""The hand-written matcher of nginx_upstream (parsers/regex/regex_fast.c)
on the shared generator's lines.

  - tests/unit/test_regex_fast checks every line of the files named in
    LF_REGEX_FAST_LINES against PCRE2 and requires the matcher to decide
    all of them; this test writes the files and runs it.
  - logferry itself, with the built-in parser (fast path, which it logs at
    debug level) and with the same definition under a regex that means the
    same but reads differently (PCRE2 only), writes the same records.
"""
import os
import re
import subprocess

import pytest

from conftest import LF_BIN, REPO, deadline, describe, run_logferry, \
    write_config

UNIT_TEST = LF_BIN.parent / "tests" / "test_regex_fast"
LOGS = ((100000, 7), (20000, 1))  # lines, seed


def builtin_regex(name):
    """The regex of a built-in definition, as parsers/defs/ writes it."""
    text = (REPO / "parsers" / "defs" / "nginx.conf").read_text()
    for section in text.split("[parser]")[1:]:
        if re.search(r"^\s*name\s+%s\s*$" % name, section, re.M):
            return re.search(r"^\s*regex\s+(.*?)\s*$", section, re.M).group(1)
    pytest.fail("no built-in %s in nginx.conf" % name)


def test_unit_test_decides_and_agrees_on_every_generated_line(gen_log):
    if not UNIT_TEST.is_file():
        pytest.fail("%s not found: build the tests first" % UNIT_TEST)
    logs = [(gen_log(n, seed=seed), n) for n, seed in LOGS]
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout",
               LF_REGEX_FAST_LINES=":".join(str(p) for p, _ in logs))
    res = subprocess.run([str(UNIT_TEST)], env=env, capture_output=True,
                         text=True, timeout=deadline(300))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for path, n in logs:
        assert "generated %s: %d of %d lines decided" % (path, n, n) \
            in res.stdout, res.stdout[-3000:]
    assert "SKIPPED" not in res.stdout


def run_parser(workdir, log, name, parser_section=""):
    out = workdir / (name + ".jsonl")
    conf = write_config(workdir / (name + ".conf"), """
[service]
    log_level debug
%s
[input]
    name tail
    path %s
    parser %s
    read_from_head on
    exit_on_eof on
[output]
    name file
    match *
    path %s
""" % (parser_section, log, name, out))
    res = run_logferry(["-c", conf], timeout=deadline(120))
    assert res.rc == 0, describe(res)
    return res, out.read_bytes().splitlines()


def test_logferry_makes_the_same_records_with_and_without_fast_path(
        gen_log, workdir):
    log = gen_log(100000, seed=7)
    # (?:) at the end: the same matches, another text, so no fast matcher.
    slow = """
[parser]
    name pcre2_upstream
    base nginx_upstream
    regex %s(?:)
""" % builtin_regex("nginx_upstream")
    fast_res, fast = run_parser(workdir, log, "nginx_upstream")
    slow_res, slow = run_parser(workdir, log, "pcre2_upstream", slow)
    assert "nginx_upstream: regex has a hand-written matcher" \
        in fast_res.stderr, describe(fast_res)
    assert "hand-written" not in slow_res.stderr, describe(slow_res)
    assert len(fast) == 100000
    assert b"parse_error" not in b"".join(fast)
    assert sorted(fast) == sorted(slow)
