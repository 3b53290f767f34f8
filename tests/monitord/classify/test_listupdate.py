"""lists update, disable and remove as a technician runs them: sources fetched from a real HTTPS
server on loopback (its certificate from a CA made here, trusted through ``ca_file``), checked,
swapped in, and the change-control mail to the headteacher received by a real SMTP server."""

from __future__ import annotations

import email
import gzip
import hashlib
import io
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from monitord.classify.engine import Classifier
from monitord.classify.listadmin import ACTIVE, DISABLED, REMOVED, list_states
from monitord.classify.lists import load_index
from monitord.classify.listupdate import UpdateError, check_sum, unpack
from monitord.service.initdir import init_dir
from monitord.settings.config import ConfigError, load_config
from monitord.store.database import open_store
from tests.alerting.test_delivery import Sink, free_port
from tests.conftest import UT1

HEAD = "head@school.example"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def served(tmp_path: Path, ca: trustme.CA) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTPS on 127.0.0.1, and the server's base URL."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    s, port = Sink(), free_port()
    controller = Controller(s, hostname="127.0.0.1", port=port)
    controller.start()
    yield s, port
    controller.stop()


def ut1_archive(path: Path, lists: dict[str, dict[str, list[str]]]) -> str:
    """A UT1-style blacklists.tar.gz at ``path``; its MD5, as UT1 publishes beside it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for folder, files in lists.items():
            for name, lines in files.items():
                data = "".join(f"{x}\n" for x in lines).encode()
                info = tarfile.TarInfo(f"blacklists/{folder}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return hashlib.md5(buf.getvalue()).hexdigest()


def real(folder: str, n: int) -> list[str]:
    """The first ``n`` entries of a real UT1 list."""
    lines = (UT1 / folder / "domains").read_text(encoding="utf-8").split()
    return lines[:n]


def site(tmp_path: Path, base: str, ca: trustme.CA, port: int) -> Path:
    config = init_dir(tmp_path / "site")[0]
    ca_file = tmp_path / "site" / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    body = config.read_text()
    body = body.replace('host = ""', 'host = "127.0.0.1"', 1)
    body = body.replace("port = 587", f"port = {port}", 1)
    body = body.replace('security = "starttls"', 'security = "none"', 1)
    body += f"""
[list_updates]
ca_file = "ca.pem"
max_shrink = 0.5

[[list_updates.sources]]
name = "ut1"
url = "{base}/blacklists.tar.gz"
format = "ut1"
checksum_url = "{base}/MD5SUM.LST"

[[list_updates.sources]]
name = "mine"
url = "{base}/mine.txt.gz"
format = "domains"
category = "gambling"
"""
    config.write_text(body)
    return config


def monitord(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitord", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def states(config: Path) -> dict[str, str]:
    engine = open_store(load_config(config).database_url)
    with engine.connect() as conn:
        found = {s.name: s.state for s in list_states(conn)}
    engine.dispose()
    return found


def mails(box: Sink) -> list[EmailMessage]:
    out = []
    for envelope in box.received:
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def publish(www: Path, lists: dict[str, dict[str, list[str]]], *, md5: str | None = None) -> None:
    digest = ut1_archive(www / "blacklists.tar.gz", lists)
    (www / "MD5SUM.LST").write_text(
        f"{md5 or digest}  blacklists.tar.gz\n{'0' * 32}  adult.tar.gz\n"
    )


def test_update_disable_and_remove_against_https_with_mail_to_the_head(
    tmp_path: Path, served: tuple[Path, str], ca: trustme.CA, sink: tuple[Sink, int]
) -> None:
    www, base = served
    box, port = sink
    config = site(tmp_path, base, ca, port)
    drogue, gambling = real("drogue", 300), real("gambling", 200)
    publish(
        www,
        {
            "drogue": {"domains": drogue, "urls": ["weed.example/shop"]},
            "gambling": {"domains": gambling},
            "not_a_category": {"domains": ["x.example"]},
        },
    )
    with gzip.open(www / "mine.txt.gz", "wt") as fh:
        fh.write("*.bet.example\nhttps://bet.example/odds\n")

    # The first update: both sources fetched over HTTPS, checked and swapped in.
    done = monitord(config, "lists", "update")
    assert done.returncode == 0, done.stderr
    assert "ut1: 2 of 2 lists changed (checked md5 from" in done.stdout
    assert "mine: 1 of 1 lists changed (no checksum configured" in done.stdout
    assert "active lists 0 -> 3, domains 0 -> 501, URLs 0 -> 1" in done.stdout
    assert f"change-control mail to {HEAD} queued" in done.stdout
    engine = open_store(load_config(config).database_url)
    classifier = Classifier(load_index(engine, None))
    engine.dispose()
    assert classifier.classify_host(f"www.{gambling[0]}").categories == ("gambling",)
    assert classifier.classify_host("live.bet.example").categories == ("gambling",)

    # The same again: nothing changes and nobody is mailed.
    again = monitord(config, "lists", "update")
    assert again.returncode == 0, again.stderr
    assert "ut1: unchanged" in again.stdout
    assert "mail" not in again.stdout

    # Disabling: audited and mailed; an update keeps it disabled.
    disabled = monitord(config, "lists", "disable", "ut1/gambling")
    assert disabled.returncode == 0, disabled.stderr
    assert "domains 501 -> 301" in disabled.stdout
    publish(
        www,
        {
            "drogue": {"domains": drogue, "urls": ["weed.example/shop"]},
            "gambling": {"domains": gambling[:190]},
        },
    )
    kept = monitord(config, "lists", "update", "--source", "ut1")
    assert kept.returncode == 0, kept.stderr
    assert "ut1: 1 of 2 lists changed" in kept.stdout
    assert states(config) == {"mine": ACTIVE, "ut1/drogue": ACTIVE, "ut1/gambling": DISABLED}
    assert "disabled" in monitord(config, "lists", "show").stdout

    # Removing: the list goes, and an update does not bring it back.
    removed = monitord(config, "lists", "remove", "ut1/drogue")
    assert removed.returncode == 0, removed.stderr
    assert "active lists 2 -> 1" in removed.stdout
    assert monitord(config, "lists", "update", "--source", "ut1").returncode == 0
    assert states(config)["ut1/drogue"] == REMOVED

    flushed = monitord(config, "outbox", "flush")
    assert flushed.returncode == 0, flushed.stderr
    got = mails(box)
    assert [m["Subject"] for m in got] == [
        "[monitord] Filtering change: 3 lists updated by " + got[0]["Subject"].split()[-1],
        "[monitord] Filtering change: 1 list disabled by " + got[1]["Subject"].split()[-1],
        "[monitord] Filtering change: 1 list updated by " + got[2]["Subject"].split()[-1],
        "[monitord] Filtering change: 1 list removed by " + got[3]["Subject"].split()[-1],
    ]
    assert all(m["To"] == HEAD for m in got)
    first = got[0].get_content()
    assert "ut1/drogue (drugs): not in use -> 300 domains, 1 URLs" in first
    assert "domains                 0 -> 501" in first
    assert "ut1/gambling (gambling): 200 domains -> not in use" in got[1].get_content()
    update = got[2].get_content()
    assert "ut1/gambling: disabled by the school, its new version too" in update
    assert "domains               301 -> 301" in update
    assert "lists                   2 -> 1" in got[3].get_content()


def test_a_source_that_fails_a_check_is_refused_and_the_lists_kept(
    tmp_path: Path, served: tuple[Path, str], ca: trustme.CA, sink: tuple[Sink, int]
) -> None:
    www, base = served
    config = site(tmp_path, base, ca, sink[1])
    (www / "mine.txt.gz").write_bytes(gzip.compress(b"bet.example\n"))
    publish(www, {"gambling": {"domains": real("gambling", 100)}})
    assert monitord(config, "lists", "update").returncode == 0

    # Shrunk beyond max_shrink (0.5): refused, the old lists stay in use.
    publish(www, {"gambling": {"domains": real("gambling", 40)}})
    shrunk = monitord(config, "lists", "update", "--source", "ut1")
    assert shrunk.returncode == 1
    assert "ut1: refused: ut1: would shrink from 100 to 40 entries" in shrunk.stderr
    # A checksum that does not match the download.
    publish(www, {"gambling": {"domains": real("gambling", 101)}}, md5="0" * 32)
    bad = monitord(config, "lists", "update", "--source", "ut1")
    assert bad.returncode == 1
    assert "its MD5 does not match" in bad.stderr
    # Not found, and not a list at all.
    (www / "mine.txt.gz").unlink()
    gone = monitord(config, "lists", "update", "--source", "mine")
    assert "mine: refused:" in gone.stderr
    assert "404" in gone.stderr
    (www / "mine.txt.gz").write_bytes(gzip.compress(b"http://a.example/x\n"))
    junk = monitord(config, "lists", "update", "--source", "mine")
    assert "no usable domains in it" in junk.stderr
    engine = open_store(load_config(config).database_url)
    with engine.connect() as conn:
        counts = {s.name: s.counts.domains for s in list_states(conn)}
    engine.dispose()
    assert counts == {"ut1/gambling": 100, "mine": 1}


def test_a_server_the_configured_ca_did_not_sign_is_refused(
    tmp_path: Path, served: tuple[Path, str], sink: tuple[Sink, int]
) -> None:
    www, base = served
    config = site(tmp_path, base, trustme.CA(), sink[1])  # another CA than the server's
    publish(www, {"gambling": {"domains": ["bet.example"]}})
    done = monitord(config, "lists", "update", "--source", "ut1")
    assert done.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr


def test_config_check_names_bad_update_keys(tmp_path: Path) -> None:
    config = init_dir(tmp_path / "site")[0]
    config.write_text(
        config.read_text()
        + """
[list_updates]
time = "25:00"
ca_file = "missing.pem"
max_shrink = 2

[[list_updates.sources]]
name = "bad name"
url = "http://example.com/list.txt"
format = "domains"

[[list_updates.sources]]
name = "ut1"
url = "rsync://ftp.ut-capitole.fr/blacklist/dest/"
format = "ut1"
category = "gambling"

[[list_updates.sources]]
name = "mine"
url = "https://lists.example/mine.txt"
format = "domains"
"""
    )
    with pytest.raises(ConfigError) as info:
        load_config(config)
    text = "\n".join(info.value.problems)
    assert "list_updates.time: expected a time of day as HH:MM" in text
    assert "list_updates.max_shrink" in text
    assert "list_updates.sources[0].name: expected letters, digits" in text
    assert "list_updates.sources[0].url: expected a URL starting https:// or rsync://" in text
    assert "list_updates.sources[2]: format domains needs category" in text
    assert "list_updates.sources[1]: category applies to domains, urls and hosts" in text
    assert "list_updates.ca_file: file not found" in text
    checked = monitord(config, "config", "check")
    assert checked.returncode == 1


def test_an_archive_that_reaches_outside_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../etc/evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    path = tmp_path / "evil.tar.gz"
    path.write_bytes(buf.getvalue())
    (tmp_path / "work").mkdir()
    with pytest.raises(UpdateError, match="points outside the archive"):
        unpack(path, tmp_path / "work", 1 << 20)


def test_a_checksum_list_without_the_file_is_refused(
    tmp_path: Path, served: tuple[Path, str], ca: trustme.CA
) -> None:
    www, base = served
    config = site(tmp_path, base, ca, 25)
    (www / "MD5SUM.LST").write_text(f"{'1' * 32}  other.tar.gz\n{'2' * 32}  more.tar.gz\n")
    cfg = load_config(config)
    work = tmp_path / "w"
    work.mkdir()
    src = cfg.settings.list_updates.sources[0]
    with pytest.raises(UpdateError, match=r"no checksum for blacklists\.tar\.gz"):
        check_sum(cfg, src, {"md5": "3" * 32, "sha256": "", "sha512": ""}, work)


@pytest.fixture
def rsync_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served by a real rsync daemon on 127.0.0.1, and its module's URL."""
    exe = shutil.which("rsync")
    if exe is None:
        pytest.skip("rsync is not installed (apt-get install rsync)")
    folder = tmp_path / "rsync-root"
    folder.mkdir()
    port = free_port()
    conf = tmp_path / "rsyncd.conf"
    conf.write_text(
        f"pid file = {tmp_path / 'rsyncd.pid'}\nuse chroot = no\n"
        f"uid = {os.getuid()}\ngid = {os.getgid()}\n"
        f"[lists]\npath = {folder}\nread only = yes\n"
    )
    proc = subprocess.Popen(
        [
            exe,
            "--daemon",
            "--no-detach",
            f"--config={conf}",
            "--address=127.0.0.1",
            f"--port={port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield folder, f"rsync://127.0.0.1:{port}/lists"
    proc.terminate()
    proc.wait(timeout=10)


def test_an_rsync_source_is_mirrored_and_updated(
    tmp_path: Path, rsync_server: tuple[Path, str], sink: tuple[Sink, int]
) -> None:
    folder, url = rsync_server
    tree = folder / "blacklists"
    for name, lines in (("gambling", real("gambling", 50)), ("drogue", real("drogue", 30))):
        (tree / name).mkdir(parents=True)
        (tree / name / "domains").write_text("".join(f"{x}\n" for x in lines))
    config = init_dir(tmp_path / "site")[0]
    config.write_text(
        config.read_text()
        + f'\n[[list_updates.sources]]\nname = "ut1"\nurl = "{url}/blacklists/"\nformat = "ut1"\n'
    )
    done = monitord(config, "lists", "update")
    assert done.returncode == 0, done.stderr
    assert "ut1: 2 of 2 lists changed" in done.stdout
    (tree / "gambling" / "domains").write_text("".join(f"{x}\n" for x in real("gambling", 60)))
    again = monitord(config, "lists", "update")
    assert again.returncode == 0, again.stderr
    assert "ut1: 1 of 2 lists changed" in again.stdout
    mirror = tmp_path / "site" / "var" / "lists" / "mirror" / "ut1"
    assert (mirror / "gambling" / "domains").read_text().count("\n") == 60
    assert states(config) == {"ut1/drogue": ACTIVE, "ut1/gambling": ACTIVE}
