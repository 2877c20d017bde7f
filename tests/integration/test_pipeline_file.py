# SPDX-License-Identifier: Apache-2.0
"""One million generated nginx lines through tail -> regex parser -> file
output: every record arrives exactly once, with every field equal to an
independent parse in Python, and the summary counts agree."""

import itertools
import json

from conftest import (SLOW, count_output_records, describe, expected_record,
                      link_or_copy, output_examples, parse_summary,
                      parser_section, record_diff, record_hash)

LINES = 1_000_000
MAX_WALL_S = 120  # normal build; stretched under sanitizers


def pipeline_config(src, out):
    return ("[service]\n"
            "    log_level info\n\n"
            + parser_section("test_upstream") +
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
            "    path %s\n"
            "    format json_lines\n" % (src, out))


def compare_in_order(src, out, limit=5):
    """Walks input and output side by side. Returns (n_in, n_out, problems)
    where problems lists the first `limit` differing records."""
    problems, n_in, n_out, bad = [], 0, 0, 0
    with open(src, encoding="ascii", newline="\n") as fin, \
            open(out, encoding="utf-8", errors="replace",
                 newline="\n") as fout:
        for raw, got_line in itertools.zip_longest(fin, fout):
            if raw is not None:
                n_in += 1
            if got_line is not None:
                n_out += 1
            if raw is None or got_line is None:
                continue
            want = expected_record(raw.rstrip("\n"))
            try:
                got = json.loads(got_line)
            except ValueError as e:
                got, diff = None, ["not JSON (%s): %r" % (e, got_line[:300])]
            else:
                diff = record_diff(want, got) if isinstance(got, dict) \
                    else ["not a JSON object: %r" % got_line[:300]]
            if diff:
                bad += 1
                if len(problems) < limit:
                    problems.append("record %d (input %r):\n    %s"
                                    % (n_in, raw.rstrip("\n")[:300],
                                       "\n    ".join(diff)))
    if bad > limit:
        problems.append("... %d differing records in all" % bad)
    return n_in, n_out, problems


def compare_as_multiset(src, out, limit=5):
    """Order-free comparison of the expected records with the output.
    Returns (n_missing, missing examples, n_extra, extra examples)."""
    counts, n_bad, bad = count_output_records(out, limit)
    missing, n_missing = [], 0
    with open(src, encoding="ascii", newline="\n") as f:
        for raw in f:
            key = record_hash(expected_record(raw.rstrip("\n")))
            if counts[key] > 0:
                counts[key] -= 1
            else:
                n_missing += 1
                if len(missing) < limit:
                    missing.append(raw.rstrip("\n")[:300])
    extra_keys = {k for k, c in counts.items() if c > 0}
    n_extra = sum(counts[k] for k in extra_keys) + n_bad
    extra = bad + output_examples(out, extra_keys, limit)
    return n_missing, missing, n_extra, extra


def test_million_lines_reach_the_file_exactly_once(logferry, gen_log,
                                                   workdir):
    src = link_or_copy(gen_log(LINES, seed=1), workdir / "access.log")
    out = workdir / "out.jsonl"
    res = logferry(pipeline_config(src, out), timeout=MAX_WALL_S * 3)
    print("logferry: %.1f s for %d lines" % (res.wall, LINES))
    assert res.rc == 0, describe(res)

    summary = parse_summary(res.stderr)
    assert summary is not None, "no summary line; " + describe(res)
    assert summary["records_in"] == LINES, summary
    assert summary["parse_errors"] == 0, summary
    assert summary["truncated"] == 0, summary
    assert summary["dropped"] == 0, summary
    assert summary["records_out"] == LINES, summary

    n_in, n_out, problems = compare_in_order(src, out)
    assert n_in == LINES
    if problems:
        # Maybe only the order of records differs: compare as multisets.
        n_missing, missing, n_extra, extra = compare_as_multiset(src, out)
        assert n_missing == 0 and n_extra == 0, (
            "%d lines in, %d out; %d input records missing or different, "
            "%d unexpected output records.\nIn input order, the first "
            "differences:\n%s\nmissing: %s\nunexpected: %s" % (
                n_in, n_out, n_missing, n_extra, "\n".join(problems),
                missing, extra))
        print("note: output order differs from input order; every record "
              "is present exactly once")
    assert n_out == n_in, "%d lines in, %d out" % (n_in, n_out)

    assert res.wall < MAX_WALL_S * SLOW, \
        "took %.1f s, limit %d s" % (res.wall, MAX_WALL_S * SLOW)
    out.unlink()  # hundreds of MB; a failing run keeps it for a look
