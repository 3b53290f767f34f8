"""Packets in: pcap and pcapng files read record by record, and live capture on an
interface, which fails with one line saying what to grant or install."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter, wrpcap

from collectors.capture import (
    CaptureError,
    Sniffer,
    capture_identity,
    iter_packets,
    kernel_drops,
)
from collectors.parsers.packets import ETHERNET
from collectors.parsers.pcap import HEADER, PARSER
from monitord.core.clock import SystemClock
from tests.collectors.parsers.fixturelines import CTX
from tests.conftest import ROOT


def _query(name: str, sport: int) -> Ether:
    return (
        Ether(src="aa:00:00:00:00:07", dst="aa:00:00:00:00:01")
        / IP(src="10.20.6.7", dst="10.20.0.1")
        / UDP(sport=sport, dport=53)
        / DNS(id=sport, rd=1, qd=DNSQR(qname=name))
    )


def test_a_pcap_file_is_a_record_a_packet_in_order(tmp_path: Path) -> None:
    packets = [_query(f"n{i}.example.org", 40000 + i) for i in range(3)]
    for i, pkt in enumerate(packets):
        pkt.time = 1_795_000_000 + i + 0.25
    path = tmp_path / "three.pcap"
    wrpcap(str(path), packets)
    read = list(iter_packets(path, "cap"))
    assert [(rec.origin.offset, after) for rec, after in read] == [(0, 1), (1, 2), (2, 3)]
    for (rec, _), pkt in zip(read, packets, strict=True):
        ts, linktype = HEADER.unpack_from(rec.data)
        assert (ts, linktype) == (float(pkt.time), ETHERNET)
        assert rec.data[HEADER.size :] == bytes(pkt)
        assert rec.origin.file_id == capture_identity(path)
        assert rec.origin.source == "cap"
    session = PARSER.session()
    names = [e.domain for rec, _ in read for e in session.parse_bytes(rec.data, CTX).events]
    assert names == ["n0.example.org", "n1.example.org", "n2.example.org"]


def test_a_pcapng_file_is_read_with_its_times(tmp_path: Path) -> None:
    pkt = _query("ng.example.org", 40001)
    pkt.time = 1_795_000_000.5
    path = tmp_path / "one.pcapng"
    with PcapNgWriter(str(path)) as writer:
        writer.write(pkt)
    ((rec, _),) = iter_packets(path, "cap")
    assert HEADER.unpack_from(rec.data) == (1_795_000_000.5, ETHERNET)


def test_the_identity_of_a_capture_is_its_head() -> None:
    assert capture_identity(Path(__file__)) == capture_identity(Path(__file__))
    assert len(capture_identity(Path(__file__))) == 32


def test_kernel_drops_are_read_from_packet_sockets_only() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert kernel_drops(sock) is None


def libpcap_missing() -> bool:
    """Whether scapy cannot load libpcap, which compiles capture filters."""
    from scapy.arch.common import compile_filter

    try:
        compile_filter("udp")
    except ImportError:
        return True
    return False


@pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root or CAP_NET_RAW")
def test_a_filter_that_cannot_be_compiled_is_one_clear_line() -> None:
    sniffer = Sniffer("mirror", "lo", "udp and port ((", SystemClock())
    with pytest.raises(CaptureError) as caught:
        sniffer.open()
    message = str(caught.value)
    assert message.startswith("mirror: cannot capture on lo: the filter ")
    assert "\n" not in message
    if libpcap_missing():
        assert "apt-get install libpcap0.8" in message
    else:
        assert "'udp and port (('" in message


@pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root or CAP_NET_RAW")
@pytest.mark.skipif(
    os.geteuid() == 0 and libpcap_missing(),
    reason="libpcap is not installed (apt-get install libpcap0.8): capture filters need it",
)
async def test_live_capture_on_loopback_sees_real_queries() -> None:
    sniffer = Sniffer(
        "mirror",
        "lo",
        "udp and dst host 127.0.0.1 and dst port 53",
        SystemClock(),
        batch_size=1,
        flush_interval=0.2,
    )
    query = bytes(DNS(id=11, rd=1, qd=DNSQR(qname="live.example.org")))
    found: list[str] = []

    async def collect() -> None:
        async for batch in sniffer.batches():
            session = PARSER.session()
            for rec in batch.records:
                parsed = session.parse_bytes(rec.data, CTX)
                found.extend(e.domain or "" for e in parsed.events)
            if found:
                sniffer.stop()

    task = asyncio.create_task(collect())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        # Keep asking until the capture (which starts in its own thread) has seen it.
        for _ in range(50):
            s.sendto(query, ("127.0.0.1", 53))  # nothing need answer: the capture sees it
            await asyncio.sleep(0.2)
            if task.done():
                break
    await asyncio.wait_for(task, 10)
    # Loopback shows each packet twice (out and in); a mirror port shows it once.
    assert set(found) == {"live.example.org"}


@pytest.mark.skipif(
    shutil.which("setpriv") is None or os.geteuid() != 0,
    reason="needs root and setpriv to run a capture without CAP_NET_RAW",
)
def test_without_cap_net_raw_one_clear_line() -> None:
    code = (
        "from collectors.capture import Sniffer, CaptureError\n"
        "from monitord.core.clock import SystemClock\n"
        "try:\n    Sniffer('mirror', 'lo', '', SystemClock()).open()\n"
        "except CaptureError as e:\n    print(e)\n"
    )
    run = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.stdout.strip().startswith("mirror: capturing on lo needs the CAP_NET_RAW capability")
    assert CaptureError.__doc__
