"""The TOTP secrets encrypted at rest, on a real store of either kind: nothing in the store
gives a second factor; the key file is made once, private; a missing or wrong key is one
error naming the file, never a sign-in that fails for everyone; secrets kept plain before
are encrypted and keep working."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import Engine, text

from monitord.casework.accounts import add_account
from monitord.casework.signin import confirm_code, sign_in
from monitord.casework.totpkey import PREFIX, TotpKey, TotpKeyError, key_file, seal_plain
from monitord.core.clock import FixedClock
from monitord.settings.config import Config, load_config
from monitord.store.database import for_site
from tests.monitord.casework.conftest import FAST, PASSWORD
from tests.stores import row, rows

pytestmark = pytest.mark.stores
HERE = "10.0.0.5"


def add(engine: Engine, key: TotpKey, clock: FixedClock, name: str = "helen.h") -> pyotp.TOTP:
    made = add_account(
        engine, name, "dsl", "root", clock.now(), password=PASSWORD, ph=FAST, key=key
    )
    assert made.totp_uri is not None
    totp = pyotp.parse_uri(made.totp_uri)
    assert isinstance(totp, pyotp.TOTP)
    return totp


def signs_in(engine: Engine, key: TotpKey, clock: FixedClock, totp: pyotp.TOTP) -> bool:
    clock.advance(timedelta(seconds=30))  # a code is taken once: each try has a new step
    code = totp.at(clock.now())
    return sign_in(engine, "helen.h", PASSWORD, code, HERE, clock.now(), key=key, ph=FAST).ok


def stored(engine: Engine, name: str = "helen.h") -> str:
    return str(row(engine, "SELECT totp_secret FROM accounts WHERE username = :n", n=name)[0])


def test_the_store_keeps_no_secret_in_the_clear(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    assert not key.path.exists()
    totp = add(engine, key, clock)
    kept = stored(engine)
    assert kept.startswith(PREFIX)
    assert totp.secret not in kept
    assert totp.secret.encode() not in base64.urlsafe_b64decode(kept[len(PREFIX) :] + "==")
    # The key file was made for the first secret: 0600 in a 0700 folder, 32 bytes.
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.path.parent.stat().st_mode) == 0o700
    assert len(base64.b64decode(key.path.read_bytes())) == 32
    assert signs_in(engine, key, clock, totp)
    # Another process reading the same file (the console beside the command line) agrees.
    assert signs_in(engine, TotpKey(key.path), clock, totp)
    # Two accounts' secrets never look alike (a new nonce each time).
    add(engine, key, clock, "ben.t")
    assert stored(engine, "ben.t")[:20] != kept[:20]


def test_a_secret_copied_onto_another_account_does_not_open(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    add(engine, key, clock)
    mine = add(engine, key, clock, "ben.t")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE accounts SET totp_secret = :s WHERE username = 'helen.h'"),
            {"s": stored(engine, "ben.t")},
        )
    with pytest.raises(TotpKeyError, match=r"account helen\.h does not decrypt with this key"):
        signs_in(engine, key, clock, mine)


def test_a_missing_key_is_one_error_naming_the_file(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    totp = add(engine, key, clock)
    key.path.unlink()
    fresh = TotpKey(key.path)  # a process started after the file went
    where = str(key.path)
    with pytest.raises(TotpKeyError, match="missing") as raised:
        signs_in(engine, fresh, clock, totp)
    assert where in str(raised.value)
    assert "reset-2fa" in str(raised.value)
    with pytest.raises(TotpKeyError, match="missing"):
        fresh.check(engine)
    with pytest.raises(TotpKeyError, match="missing"):
        confirm_code(engine, "helen.h", totp.now(), "cli:root", clock.now(), key=fresh)
    # Nor is a new key made over the secrets the old one holds, by a new account.
    with pytest.raises(TotpKeyError, match="missing"):
        add(engine, fresh, clock, "ben.t")
    assert not key.path.exists()
    assert rows(engine, "SELECT username FROM accounts") == [("helen.h",)]
    # Nothing was recorded as a failed sign-in: it was not the person's failure.
    assert rows(engine, "SELECT count(*) FROM signin_attempts WHERE outcome = 'failed'") == [(0,)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (base64.b64encode(os.urandom(32)) + b"\n", "does not decrypt with this key"),
        (b"not a key\n", "not a two-factor key monitord made"),
        (base64.b64encode(os.urandom(16)), "expected 32 bytes"),
    ],
)
def test_a_wrong_key_is_named(
    engine: Engine, key: TotpKey, clock: FixedClock, content: bytes, message: str
) -> None:
    totp = add(engine, key, clock)
    key.path.write_bytes(content)
    with pytest.raises(TotpKeyError, match=message) as raised:
        signs_in(engine, TotpKey(key.path), clock, totp)
    assert str(key.path) in str(raised.value)


def test_an_unreadable_key_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    with pytest.raises(TotpKeyError, match="cannot read the two-factor key") as raised:
        TotpKey(folder).cipher()
    assert str(folder) in str(raised.value)


def test_plain_secrets_from_before_keep_working_and_are_encrypted(
    engine: Engine, key: TotpKey, clock: FixedClock
) -> None:
    totp = add(engine, key, clock)
    other = add(engine, key, clock, "ben.t")
    # As a store from before encryption holds them: base32 in the clear, and no key file.
    for name, otp in (("helen.h", totp), ("ben.t", other)):
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE accounts SET totp_secret = :s WHERE username = :n"),
                {"s": otp.secret, "n": name},
            )
    key.path.unlink()
    old = TotpKey(key.path)
    old.check(engine)  # nothing needs a key yet
    assert signs_in(engine, old, clock, totp)
    assert not key.path.exists()
    assert seal_plain(engine, old, "root", clock.now()) == ["ben.t", "helen.h"]
    assert key.path.exists()
    assert stored(engine).startswith(PREFIX)
    assert stored(engine, "ben.t").startswith(PREFIX)
    assert signs_in(engine, TotpKey(key.path), clock, totp)
    assert seal_plain(engine, old, "root", clock.now()) == []
    found = rows(
        engine,
        "SELECT actor, subject, detail FROM audit WHERE action = 'account.totp_encrypted' "
        "ORDER BY subject",
    )
    assert [(a, s) for a, s, _ in found] == [("root", "account:ben.t"), ("root", "account:helen.h")]
    assert json.loads(found[0][2])["key_file"] == str(key.path)


def test_each_school_seals_only_its_own(engine: Engine, key: TotpKey, clock: FixedClock) -> None:
    north = for_site(engine, "north")
    add(north, key, clock)
    totp = add(engine, key, clock)
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET totp_secret = 'JBSWY3DPEHPK3PXP'"))
    assert seal_plain(engine, key, "root", clock.now()) == ["helen.h"]
    kept = rows(engine, "SELECT site_id, totp_secret FROM accounts ORDER BY site_id")
    assert kept[0] == ("default", kept[0][1])
    assert kept[0][1].startswith(PREFIX)
    assert kept[1] == ("north", "JBSWY3DPEHPK3PXP")
    # The school is bound into the secret: another school's engine cannot open it.
    secret = kept[0][1]
    with north.begin() as conn:
        conn.execute(
            text("UPDATE accounts SET totp_secret = :s WHERE site_id = 'north'"), {"s": secret}
        )
    with pytest.raises(TotpKeyError):
        sign_in(north, "helen.h", PASSWORD, totp.now(), HERE, clock.now(), key=key, ph=FAST)


def test_the_key_file_follows_the_config(config: Config) -> None:
    assert key_file(config) == config.resolve("var/totp.key")
    (config.base_dir / "monitord.toml").write_text(
        '[web]\ntotp_key_file = "/etc/monitord/totp.key"\n', encoding="utf-8"
    )
    assert key_file(load_config(config.base_dir / "monitord.toml")) == Path(
        "/etc/monitord/totp.key"
    )
