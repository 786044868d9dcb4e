"""The bridge's pure Node unit tests (GraphQL parser, translator, URL mapping, catalog types),
run from pytest so one pytest run covers everything."""

from __future__ import annotations

import re

from .conftest import ENGINE, run


def test_node_unit_tests(engine_ready):
    files = sorted(str(p) for p in (ENGINE / "test").glob("*.test.js"))
    assert len(files) >= 4
    result = run(["node", "--test", *files], cwd=ENGINE, timeout=120, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    passed = int(re.search(r"^# pass (\d+)$", output, re.MULTILINE).group(1))
    failed = int(re.search(r"^# fail (\d+)$", output, re.MULTILINE).group(1))
    assert failed == 0 and passed >= 30, output[-3000:]
