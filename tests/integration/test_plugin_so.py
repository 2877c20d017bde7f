# SPDX-License-Identifier: Apache-2.0
"""An output plugin loaded from a shared object ([plugin] path) carries
every record, and the loader refuses what is not a logferry plugin."""
import os

import pytest

from conftest import run_logferry, write_config

PLUGIN = os.environ.get("LF_TEST_PLUGIN")


def config(repo_root, plugin, out):
    return """
[plugin]
    path %s
[input]
    name tail
    path %s/conf/sample/access.log
    read_from_head on
    exit_on_eof on
[output]
    name lines
    match *
    path %s
""" % (plugin, repo_root, out)


@pytest.fixture
def plugin_path():
    assert PLUGIN and os.path.exists(PLUGIN), \
        "LF_TEST_PLUGIN must name the built lf_out_lines.so"
    return PLUGIN


def test_shared_object_output_gets_every_line(repo_root, workdir,
                                               plugin_path):
    out = workdir / "lines.txt"
    conf = write_config(workdir / "lf.conf",
                        config(repo_root, plugin_path, out))
    res = run_logferry(["-c", conf], timeout=60)
    assert res.rc == 0, res.stderr
    sample = (repo_root / "conf/sample/access.log").read_bytes()
    assert out.read_bytes() == sample
    # Its options are validated like a built-in's.
    bad = write_config(workdir / "bad.conf",
                       config(repo_root, plugin_path, out) + "    nope 1\n")
    res = run_logferry(["-c", bad, "--check"], timeout=30)
    assert res.rc == 1
    assert "unknown key 'nope' for output lines" in res.stderr


def test_a_file_that_is_not_a_plugin_is_refused(repo_root, workdir):
    notso = workdir / "not-a-plugin.so"
    notso.write_bytes(b"not an ELF file")
    conf = write_config(workdir / "lf.conf",
                        config(repo_root, notso, workdir / "o.txt"))
    res = run_logferry(["-c", conf, "--check"], timeout=30)
    assert res.rc == 1
    assert "lf.conf:3: cannot load plugin" in res.stderr
