"""``monitord init DIR``: a configuration that loads as written, its policy and folders, and
the same configuration for a server install."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from monitord.classify.policy import DEFAULT_POLICY
from monitord.service.initdir import CONFIG_TEMPLATE, InitError, init_dir, system_config
from monitord.settings.config import load_config, parse_config


def test_init_writes_a_config_that_loads_its_policy_and_private_folders(tmp_path: Path) -> None:
    config, policy = init_dir(tmp_path / "site")
    assert config == tmp_path / "site" / "monitord.toml"
    assert policy.read_bytes() == DEFAULT_POLICY.read_bytes()
    cfg = load_config(config)
    assert cfg.policy_file == policy
    assert f"--config {config} config check" in config.read_text()
    for sub in ("var", "var/outbox-mail", "var/lists", "var/spool"):
        mode = (tmp_path / "site" / sub).stat().st_mode
        assert stat.S_ISDIR(mode)
        assert stat.S_IMODE(mode) == 0o700, sub


def test_init_never_overwrites_a_config_and_keeps_an_edited_policy(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "policy.toml").write_text("# the school's own\n")
    assert init_dir(site) == [site / "monitord.toml"]
    assert (site / "policy.toml").read_text() == "# the school's own\n"
    with pytest.raises(InitError, match="already exists: not overwriting it"):
        init_dir(site)


def test_the_server_config_keeps_state_under_var_lib(tmp_path: Path) -> None:
    text = system_config("/etc/monitord/monitord.toml")
    data = tomllib.loads(text)
    assert data["storage"]["url"] == "sqlite:////var/lib/monitord/monitord.db"
    assert data["smtp"]["password_file"] == "smtp.secret"
    assert data["lists"]["dir"] == "/var/lib/monitord/lists"
    assert data["service"]["user"] == "monitord"
    assert data["agents"]["spool"] == "/var/lib/monitord/spool"
    (tmp_path / "smtp.secret").write_text("secret\n")
    (tmp_path / "policy.toml").write_bytes(DEFAULT_POLICY.read_bytes())
    cfg = parse_config(data, tmp_path, "monitord.toml")
    assert cfg.settings.service.user == "monitord"
    assert "config check" in CONFIG_TEMPLATE
