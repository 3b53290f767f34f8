from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.service.initdir import init_dir
from monitord.settings.config import ConfigError, find_config, load_config
from monitord.settings.formats import format_names


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "monitord.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_need_no_keys(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""))
    assert cfg.settings.school.timezone == "Europe/London"
    assert cfg.settings.smtp.security == "starttls"
    assert cfg.database_url == f"sqlite:///{tmp_path}/var/monitord.db"
    assert cfg.pickup_dir == tmp_path / "var/outbox-mail"


def test_unknown_key_wrong_type_and_missing_file_give_three_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """
[smtp]
port = "submission"
colour = "blue"

[[sources]]
name = "pihole"
format = "dnsmasq"
path = "/nonexistent/pihole.log"
""",
    )
    code = main(["--config", str(path), "config", "check"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(lines) == 3, lines
    assert lines[0].startswith("monitord.toml: smtp.port: ")
    assert "integer" in lines[0]
    assert "'submission'" in lines[0]
    assert lines[1] == "monitord.toml: smtp.colour: unknown key"
    assert lines[2] == "monitord.toml: sources[0].path: file not found: /nonexistent/pihole.log"
    assert "Traceback" not in capsys.readouterr().err


def test_bad_values_named_by_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[school]
timezone = "Europe/Atlantis"
[smtp]
security = "ssl"
port = 70000
[[sources]]
name = "x"
format = "syslogd"
path = "monitord.toml"
max_silence = "soon"
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = "\n".join(info.value.problems)
    assert "school.timezone: unknown time zone 'Europe/Atlantis'" in text
    assert "smtp.security:" in text
    assert "smtp.port:" in text
    assert "sources[0].format: unknown format 'syslogd'" in text
    assert "sources[0].max_silence: expected a duration" in text


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"monitord.toml: not valid TOML"):
        load_config(write(tmp_path, "[school\nname = 1"))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")


def test_password_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "smtp.secret").write_text("s3cret\n", encoding="utf-8")
    cfg = load_config(write(tmp_path, '[smtp]\nusername = "u"\npassword_file = "smtp.secret"\n'))
    assert cfg.smtp_password() == "s3cret"


def test_duplicate_source_names(tmp_path: Path) -> None:
    (tmp_path / "a.log").touch()
    text = '[[sources]]\nname = "a"\nformat = "squid"\npath = "a.log"\n' * 2
    with pytest.raises(ConfigError, match=r"sources\[1\].name: duplicate source name 'a'"):
        load_config(write(tmp_path, text))


def test_init_config_is_valid_and_not_overwritten(tmp_path: Path) -> None:
    written = init_dir(tmp_path / "site")
    cfg = load_config(written[0])
    assert cfg.policy_file == tmp_path / "site" / "policy.toml"
    assert main(["init", str(tmp_path / "site")]) == 1


def test_find_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITORD_CONFIG", raising=False)
    assert find_config(None) == Path("/etc/monitord/monitord.toml")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitord.toml").touch()
    assert find_config(None) == Path("config/monitord.toml")
    monkeypatch.setenv("MONITORD_CONFIG", "/srv/m.toml")
    assert find_config(None) == Path("/srv/m.toml")
    assert find_config("x.toml") == Path("x.toml")


def test_a_capture_source_names_an_interface_not_a_path(tmp_path: Path) -> None:
    ok = load_config(
        write(
            tmp_path,
            '[[sources]]\nname = "mirror"\nformat = "pcap"\ninterface = "eth1"\n'
            'bpf = "port 53 or port 443"\n',
        )
    )
    assert ok.settings.sources[0].interface == "eth1"
    with pytest.raises(ConfigError) as info:
        load_config(
            write(
                tmp_path,
                '[[sources]]\nname = "b"\nformat = "pcap"\n',
            )
        )
    assert info.value.problems == [
        "monitord.toml: sources[0]: give one of path (a log file), interface (pcap capture) "
        "or listen (syslog)",
    ]


def test_a_listening_source(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "key.pem").write_text("x")
    cfg = load_config(
        write(
            tmp_path,
            '[[sources]]\nname = "fw"\nformat = "syslog"\nlisten = "udp://0.0.0.0:514"\n'
            'allow = ["10.20.0.1/32", "10.30.0.0/16"]\n'
            '[[sources]]\nname = "fg"\nformat = "dnsmasq"\nlisten = "tls://[::]:6514"\n'
            'allow = ["::/0"]\ntls_cert = "cert.pem"\ntls_key = "key.pem"\n'
            '[[sources]]\nname = "lo"\nformat = "syslog"\nlisten = "tcp://127.0.0.1:5514"\n',
        )
    )
    assert [s.listen for s in cfg.settings.sources] == [
        "udp://0.0.0.0:514",
        "tls://[::]:6514",
        "tcp://127.0.0.1:5514",
    ]


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('listen = "udp://0.0.0.0:514"', "listen on a network address needs allow"),
        ('listen = "udp:0.0.0.0:514"\nallow = ["::/0"]', "expected udp://ADDRESS:PORT"),
        ('listen = "udp://10.0.0.1:514"\nallow = ["10.0.0.0/33"]', "'10.0.0.0/33' is not an"),
        ('listen = "tls://127.0.0.1:6514"', "needs tls_cert and tls_key"),
        (
            'listen = "tcp://127.0.0.1:6514"\ntls_cert = "c"\ntls_key = "k"',
            "apply only to listen = tls",
        ),
        ('path = "x.log"\nallow = ["10.0.0.1"]', "apply only with listen"),
        ('path = "x.log"\nlisten = "udp://127.0.0.1:514"', "give one of path"),
    ],
)
def test_listening_mistakes_are_named(tmp_path: Path, table: str, problem: str) -> None:
    (tmp_path / "x.log").write_text("")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f'[[sources]]\nname = "fw"\nformat = "syslog"\n{table}\n'))
    assert any(
        p.startswith("monitord.toml: sources[0]") and problem in p for p in info.value.problems
    ), info.value.problems


def test_missing_certificate_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            write(
                tmp_path,
                '[[sources]]\nname = "fw"\nformat = "syslog"\nlisten = "tls://127.0.0.1:6514"\n'
                'tls_cert = "nope.pem"\ntls_key = "nope.key"\n',
            )
        )
    assert [p.split(": ")[1] for p in info.value.problems] == [
        "sources[0].tls_cert",
        "sources[0].tls_key",
    ]


def test_every_bad_address_is_named_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """
[storage]
url = "mysql://db/monitord"
[smtp]
host = "mail server.school.example"
[identity]
guest_networks = ["10.9.0.0/16", "guest wifi", "10.10.0.0/33"]
[agents]
listen = "agents host:8443"
[alerts]
unauthorised_devices_to = "caretaker"
backfill_quiet_after = "0s"
[[sources]]
name = "fw"
format = "syslog"
listen = "udp://10.0.0.256:514"
allow = ["10.20.0.1", "firewall"]
[[sources]]
name = "fw2"
format = "pcap"
path = "x.log"
date_order = "dmy"
bpf = "port 53"
""",
    )
    (tmp_path / "x.log").touch()
    assert main(["--config", str(path), "config", "check"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    keys = [line.split(": ")[1] for line in lines]
    assert keys == [
        "storage.url",
        "smtp.host",
        "sources[0].listen",
        "sources[0].allow[1]",
        "sources[1]",
        "identity.guest_networks[1]",
        "identity.guest_networks[2]",
        "alerts.backfill_quiet_after",
        "alerts.unauthorised_devices_to",
        "agents",
        "sources[1].date_order",  # what the source's format's parser does not take
    ], lines
    text = "\n".join(lines)
    assert "'mail server.school.example' is not a host name or an IP address" in text
    assert "'10.0.0.256' is not a host name or an IP address" in text
    assert "'firewall' is not an address or CIDR block" in text
    assert "'guest wifi' is not an address or CIDR block" in text
    assert "'10.10.0.0/33' is not an address or CIDR block" in text
    assert "'agents host' is not a host name" in text
    assert "date_order applies only to format windows-dns" in text
    assert "bpf applies only with interface" in text
    assert "Traceback" not in text


def test_every_installed_parser_is_a_format_a_source_may_name(tmp_path: Path) -> None:
    """A source may name any registered format, and no other."""
    tables = "".join(
        f'[[sources]]\nname = "s{i}"\nformat = "{fmt}"\npath = "x.log"\n'
        for i, fmt in enumerate(format_names())
    )
    (tmp_path / "x.log").touch()
    cfg = load_config(write(tmp_path, tables))
    assert [s.format for s in cfg.settings.sources] == list(format_names())


def test_no_technician_to_hear_of_devices_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, '[recipients]\ndsl = ["dsl@school.example"]\nheadteacher = ["h@s.example"]\n'
    )
    assert main(["--config", str(path), "config", "check"]) == 0
    assert capsys.readouterr().err.strip() == (
        "warning: recipients.technician is empty: monitoring gaps and devices will not be "
        "mailed to anyone technical"
    )
