# SPDX-License-Identifier: Apache-2.0
"""The command line: --version, --help, --help-plugin, --check on good and
bad configurations (each error names FILE:LINE:), and the embedded default
configuration run from the repository root."""

import json
import os
import re

import pytest

from conftest import (REPO, UPSTREAM_RE, describe, iso_timestamp,
                      parser_section)

CONFIG_ERROR = 1


def project_version():
    text = (REPO / "CMakeLists.txt").read_text()
    m = re.search(r"project\(\s*logferry\s+VERSION\s+([0-9.]+)", text)
    assert m, "no project(logferry VERSION x) in CMakeLists.txt"
    return m.group(1)


def test_version_prints_name_and_project_version(logferry):
    res = logferry(None, "--version")
    assert res.rc == 0, describe(res)
    assert "logferry" in res.stdout
    assert project_version() in res.stdout


def test_help_lists_the_options(logferry):
    res = logferry(None, "--help")
    assert res.rc == 0, describe(res)
    for opt in ("-c", "--check", "--version", "--help-plugin"):
        assert opt in res.stdout, "--help does not mention %s:\n%s" % (
            opt, res.stdout)


def test_unknown_command_line_option_fails(logferry):
    res = logferry(None, "--no-such-option")
    assert res.rc != 0
    assert res.stderr.strip(), "no message for an unknown option"


def test_missing_config_file_is_a_config_error(logferry, workdir):
    missing = workdir / "nowhere.conf"
    res = logferry(None, "-c", missing, "--check")
    assert res.rc == CONFIG_ERROR, describe(res)
    assert str(missing) in res.stderr or "nowhere.conf" in res.stderr


@pytest.mark.parametrize("plugin, options", [
    ("tail", ("path", "db", "read_from_head", "exit_on_eof")),
    ("file", ("path", "format")),
    ("stdout", ("format",)),
])
def test_help_plugin_lists_option_names(logferry, plugin, options):
    res = logferry(None, "--help-plugin", plugin)
    assert res.rc == 0, describe(res)
    for name in options:
        assert re.search(r"\b%s\b" % re.escape(name), res.stdout), \
            "--help-plugin %s does not list %r:\n%s" % (plugin, name,
                                                        res.stdout)


def test_help_plugin_unknown_name_fails(logferry):
    res = logferry(None, "--help-plugin", "no_such_plugin")
    assert res.rc != 0
    assert "no_such_plugin" in res.stderr


# --- --check ---------------------------------------------------------------

def good_lines(workdir):
    """A valid configuration, as a list of lines."""
    log = workdir / "access.log"
    log.write_text("")
    return (["[service]", "    log_level info", ""]
            + parser_section("test_upstream").splitlines()
            + ["",
               "[input]",
               "    name tail",
               "    tag nginx.access",
               "    path %s" % log,
               "    parser test_upstream",
               "    read_from_head on",
               "    exit_on_eof on",
               "",
               "[output]",
               "    name file",
               "    match nginx.*",
               "    path %s" % (workdir / "out.jsonl"),
               "    format json_lines"])


def test_check_accepts_a_good_config_without_running(logferry, workdir):
    res = logferry("\n".join(good_lines(workdir)) + "\n", "--check")
    assert res.rc == 0, describe(res)
    assert not (workdir / "out.jsonl").exists(), \
        "--check ran the pipeline (the output file was created)"


def size_option(logferry):
    """The name of a size-typed option of the tail input, read from
    --help-plugin tail (its table gives each option's type)."""
    res = logferry(None, "--help-plugin", "tail")
    assert res.rc == 0, describe(res)
    for line in res.stdout.splitlines():
        cells = [c.strip(" `") for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            cells = line.split()
        if len(cells) >= 2 and cells[1].lower() == "size":
            return cells[0]
    for name in ("max_line_size", "buffer_max_size", "buffer_chunk_size"):
        if re.search(r"\b%s\b" % name, res.stdout):
            return name
    pytest.fail("no size option in --help-plugin tail:\n" + res.stdout)


def with_bad_line(lines, after_prefix, bad, replace=False):
    """lines with `bad` inserted after (or replacing) the first line that
    starts with after_prefix; returns (lines, 1-based line of `bad`)."""
    for i, line in enumerate(lines):
        if line.startswith(after_prefix):
            if replace:
                return lines[:i] + [bad] + lines[i + 1:], i + 1
            return lines[:i + 1] + [bad] + lines[i + 1:], i + 2
    raise AssertionError("no line starts with %r" % after_prefix)


def assert_config_error(res, conf_name, lines, *more):
    """rc 1 and stderr names conf_name:LINE: for one of the given lines."""
    assert res.rc == CONFIG_ERROR, describe(res)
    wanted = [lines] if isinstance(lines, int) else list(lines)
    for line in wanted:
        if re.search(r"(^|[\s/'\"])%s:%d:" % (re.escape(conf_name), line),
                     res.stderr, re.M):
            break
    else:
        pytest.fail("stderr does not name %s:%s:\n%s"
                    % (conf_name, " or ".join(map(str, wanted)), res.stderr))
    for text in more:
        assert text in res.stderr, "%r not in stderr:\n%s" % (text,
                                                               res.stderr)


def test_check_unknown_key(logferry, workdir):
    lines, n = with_bad_line(good_lines(workdir), "    name tail",
                             "    no_such_key 1")
    res = logferry("\n".join(lines) + "\n", "--check")
    assert_config_error(res, "logferry.conf", n, "no_such_key")


def test_check_unknown_section(logferry, workdir):
    lines = good_lines(workdir) + ["", "[no_such_section]", "    a b"]
    res = logferry("\n".join(lines) + "\n", "--check")
    assert_config_error(res, "logferry.conf", len(lines) - 1,
                        "no_such_section")


def test_check_missing_required_path(logferry, workdir):
    lines = [l for l in good_lines(workdir)
             if not (l.startswith("    path ") and "access.log" in l)]
    header = lines.index("[input]") + 1
    res = logferry("\n".join(lines) + "\n", "--check")
    # The section that lacks the key: its header or its `name` line.
    assert_config_error(res, "logferry.conf", (header, header + 1), "path")


def test_check_unknown_plugin_name(logferry, workdir):
    lines, n = with_bad_line(good_lines(workdir), "    name tail",
                             "    name no_such_input", replace=True)
    res = logferry("\n".join(lines) + "\n", "--check")
    assert_config_error(res, "logferry.conf", n, "no_such_input")


def test_check_bad_size_value(logferry, workdir):
    key = size_option(logferry)
    lines, n = with_bad_line(good_lines(workdir), "    name tail",
                             "    %s lots" % key)
    res = logferry("\n".join(lines) + "\n", "--check")
    assert_config_error(res, "logferry.conf", n, key)


def test_check_unset_environment_variable(logferry, workdir):
    env = dict(os.environ)
    env.pop("LF_TEST_UNSET_VARIABLE", None)
    lines, n = with_bad_line(good_lines(workdir), "    tag nginx.access",
                             "    tag ${LF_TEST_UNSET_VARIABLE}",
                             replace=True)
    res = logferry("\n".join(lines) + "\n", "--check", env=env)
    assert_config_error(res, "logferry.conf", n, "LF_TEST_UNSET_VARIABLE")


def test_check_set_environment_variable_is_expanded(logferry, workdir):
    env = dict(os.environ, LF_TEST_OUT_DIR=str(workdir))
    lines = [l.replace(str(workdir / "out.jsonl"),
                       "${LF_TEST_OUT_DIR}/out.jsonl")
             for l in good_lines(workdir)]
    res = logferry("\n".join(lines) + "\n", "--check", env=env)
    assert res.rc == 0, describe(res)


def test_check_include_of_missing_file(logferry, workdir):
    lines, n = with_bad_line(good_lines(workdir), "    log_level",
                             "@include %s" % (workdir / "missing.conf"))
    res = logferry("\n".join(lines) + "\n", "--check")
    assert_config_error(res, "logferry.conf", n, "missing.conf")


def test_check_error_inside_included_file(logferry, workdir):
    lines = good_lines(workdir)
    out_at = lines.index("[output]")
    (workdir / "outputs.conf").write_text(
        "# outputs\n" + "\n".join(lines[out_at:]).replace(
            "    match nginx.*", "    match nginx.*\n    no_such_key 1") + "\n")
    main = lines[:out_at] + ["@include outputs.conf"]
    res = logferry("\n".join(main) + "\n", "--check")
    # [output] is line 2 of outputs.conf, `match` line 4, the bad key 5.
    assert_config_error(res, "outputs.conf", 5, "no_such_key")


def test_check_include_is_relative_to_the_including_file(logferry, workdir):
    lines = good_lines(workdir)
    out_at = lines.index("[output]")
    (workdir / "outputs.conf").write_text("\n".join(lines[out_at:]) + "\n")
    main = lines[:out_at] + ["@include outputs.conf"]
    res = logferry("\n".join(main) + "\n", "--check", cwd="/")
    assert res.rc == 0, describe(res)


@pytest.mark.parametrize("first, second", [
    ("    read_from_head on", "    read_from_head off"),  # a plugin option
    ("    tag nginx.access", "    tag nginx.other"),  # a core key
], ids=["plugin_option", "core_key"])
def test_check_duplicate_key(logferry, workdir, first, second):
    lines, n = with_bad_line(good_lines(workdir), first, second)
    res = logferry("\n".join(lines) + "\n", "--check")
    assert_config_error(res, "logferry.conf", n, second.split()[0])


# --- the embedded default configuration ------------------------------------

def test_embedded_default_is_conf_logferry_conf(logferry, repo_root):
    res = logferry(None, "--dump-default")
    assert res.rc == 0, describe(res)
    want = (repo_root / "conf" / "logferry.conf").read_text()
    # The embedded text may end with one more newline than the file.
    assert res.stdout.rstrip("\n") == want.rstrip("\n")


def test_default_config_prints_the_sample_as_json(logferry, repo_root):
    sample = repo_root / "conf" / "sample" / "access.log"
    raw = sample.read_text(encoding="ascii").splitlines()
    assert len(raw) == 200
    res = logferry(None, timeout=60, cwd=repo_root)
    assert res.rc == 0, describe(res)
    lines = res.stdout.splitlines()
    assert len(lines) == 200, "%d lines on stdout; %s" % (len(lines),
                                                         describe(res))
    stamps = []
    for i, line in enumerate(lines):
        rec = json.loads(line)
        assert isinstance(rec, dict)
        assert "error.type" not in rec, "line %d did not parse: %s" % (
            i + 1, line)
        stamps.append(rec.get("@timestamp"))
    # Field names of the built-in parser may change; the time may not.
    want = [iso_timestamp(UPSTREAM_RE.match(l).group("time_local"))
            for l in raw]
    assert stamps == want
