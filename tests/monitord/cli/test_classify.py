"""``monitord classify``: a domain, URL or text explained, one item or a batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitord.cli.main import main
from tests.conftest import UT1
from tests.monitord.cli.school import monitord


def test_classify_explains_with_policy_for_a_person(site: Path) -> None:
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    r = monitord(
        "classify", f"https://www.{gambling}/poker", "--user", "jayden.s",
        "--at", "2026-11-19T11:00", "--json", config=site,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["categories"] == ["gambling"]
    [m] = result["matches"]
    assert (m["list"], m["entry"]) == ("ut1/gambling", gambling)
    assert isinstance(m["version"], int)
    assert result["person"] == {"username": "jayden.s", "role": "pupil", "year_group": "6"}
    assert result["at"].startswith("2026-11-19T11:00")
    [d] = result["decisions"]
    assert d["severity"] == result["severity"]
    assert "pupil" in d["rule"]
    assert d["addresses"] == {"dsl": ["dsl@school.example"]}
    human = monitord("classify", gambling, config=site)
    assert human.returncode == 0, human.stderr
    assert f"entry {gambling}" in human.stdout
    assert "result: " in human.stdout
    # lists import compiled the index that classify (and the daemon) maps.
    assert list((site.parent / "var" / "lists").glob("index-*.mdi"))


def test_classify_batch_writes_one_json_line_per_line(site: Path) -> None:
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    lines = [f"www.{gambling}", "http://clean-school-site.example/", "some words", ""]
    r = subprocess.run(
        [sys.executable, "-m", "monitord", "--config", str(site), "classify", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["item"] for o in out] == lines
    assert [o["categories"] for o in out] == [["gambling"], [], [], []]
    assert [o["kind"] for o in out] == ["domain", "url", "text", "text"]


def test_classify_batch_reads_the_text_judge_only_for_text(site: Path) -> None:
    """A stream of domains and URLs never loads the phrase lists and the text judge; the
    first text in it does, and is judged as ``classify TEXT`` judges it."""
    program = (
        "import sys\n"
        "from monitord.cli.main import main\n"
        f"code = main(['--config', {str(site)!r}, 'classify', '-'])\n"
        "print('judge loaded:', 'monitord.classify.content' in sys.modules)\n"
        "sys.exit(code)\n"
    )

    def run(lines: list[str]) -> list[str]:
        r = subprocess.run(
            [sys.executable, "-c", program],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()

    urls = ["example.com", "http://clean-school-site.example/a?q=1"]
    *out, loaded = run(urls)
    assert [json.loads(line)["item"] for line in out] == urls
    assert loaded == "judge loaded: False"
    *out, loaded = run([*urls, "how to kill myself"])
    assert loaded == "judge loaded: True"
    text = json.loads(out[-1])
    assert text["kind"] == "text"
    assert "suicide" in text["categories"]
    assert text["severity"] == "high"


def test_classify_bad_user_or_time_is_one_line(site: Path) -> None:
    r = monitord("classify", "example.com", "--user", "nobody", config=site)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("--user nobody: no one with that user name")
    r = monitord("classify", "example.com", "--at", "teatime", config=site)
    assert r.returncode == 1
    assert "is not a time" in r.stderr
    assert "Traceback" not in r.stderr


def test_classify_explains_text_with_its_phrases_and_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitord.service.initdir import init_dir

    config = str(init_dir(tmp_path / "site")[0])
    assert main(["--config", config, "classify", "how to kill myself", "--json"]) == 0
    text = json.loads(capsys.readouterr().out)["text"]
    assert "suicide" in text["categories"]
    assert "kill myself" in [p["phrase"] for p in text["judgement"]["phrases"]]
    assert text["decisions"][0]["severity"] == "high"
    assert text["decisions"][0]["addresses"] == ["dsl@school.example"]
    assert main(["--config", config, "classify", "holocaust year 6 lesson", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"]["categories"] == []
    roster = tmp_path / "roster.csv"
    roster.write_text("username,display_name,role,year_group\njayden.s,Jayden Smith,pupil,6\n")
    assert main(["--config", config, "people", "import", str(roster)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "--config",
                config,
                "classify",
                "how to stop self harming",
                "--user",
                "jayden.s",
                "--json",
            ]
        )
        == 0
    )
    helped = json.loads(capsys.readouterr().out)["text"]
    assert helped["age_band"] == "junior"
    assert helped["support_seeking"] is True
    assert "self_harm" in helped["categories"]
