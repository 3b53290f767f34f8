"""``monitord check-filtering``: a resolver or proxy given wrongly is one line, exit 1,
before anything is looked up. (The check itself, against real resolvers, is tested in
tests/monitord/casework/test_filtercheck.py.)"""

from __future__ import annotations

import pytest

from monitord.cli.main import main


def test_a_bad_resolver_or_proxy_is_one_line(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "check-filtering", "--resolver", "not an address"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("--resolver: ")
    assert len(err.splitlines()) == 1
    assert main([*options, "check-filtering", "--proxy", "ftp://10.0.0.2:21"]) == 1
    assert capsys.readouterr().err.strip() == (
        "--proxy: expected http://HOST:PORT, got 'ftp://10.0.0.2:21'"
    )
