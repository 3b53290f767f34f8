"""Serving the console: its own process (``monitord web``), HTTPS with the school's
certificate, or plain HTTP on loopback behind a reverse proxy that gives HTTPS.

Everything that can stop it is found before it serves, each with one line saying what to
change: a certificate or key that does not load, an address already in use. (A listen
address off loopback without a certificate is refused when the config is read.)"""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette

from monitord.casework.totpkey import TotpKey, TotpKeyError, key_file, seal_plain
from monitord.core.clock import Clock
from monitord.settings.config import Config
from monitord.settings.listen import parse_listen
from monitord.store.database import open_store
from monitord.web.app import make_app

log = logging.getLogger("monitord.web")

# The most requests served at once; more wait in the listen backlog.
CONCURRENCY = 64


class ServeError(Exception):
    """Why the console cannot start, in one line that says the fix."""


@dataclass(frozen=True, slots=True)
class Listening:
    host: str
    port: int
    cert: Path | None
    key: Path | None

    @property
    def https(self) -> bool:
        return self.cert is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"


def listening(listen: str, cert: Path | None, key: Path | None) -> Listening:
    """Where and how to serve; a certificate and key that do not load are refused here."""
    address = parse_listen(f"tcp://{listen}")
    if cert is not None and key is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ServeError(
                f"web.tls_cert {cert} / web.tls_key {key}: cannot load them ({exc}): give the "
                "school's certificate chain and its private key as PEM files readable by "
                "the monitord user"
            ) from None
    return Listening(address.host, address.port, cert, key)


def bind(where: Listening) -> socket.socket:
    family = socket.AF_INET6 if ":" in where.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((where.host, where.port))
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"web.listen {where.host}:{where.port}: cannot listen there ({exc.strerror}): "
            "choose a free port, or stop what holds it"
        ) from None
    return sock


def server(app: Starlette, where: Listening) -> uvicorn.Server:
    """Uvicorn for the console. It reads no proxy header itself: the app believes
    X-Forwarded-For from ``[web] trusted_proxies`` only (``monitord.web.forwarded``)."""
    config = uvicorn.Config(
        app,
        ssl_certfile=str(where.cert) if where.cert else None,
        ssl_keyfile=str(where.key) if where.key else None,
        proxy_headers=False,
        server_header=False,
        access_log=False,  # paths and queries can name pupils; the audit trail records actions
        limit_concurrency=CONCURRENCY,
        timeout_keep_alive=10,
        lifespan="off",
        log_level="info",
    )
    return uvicorn.Server(config)


def serve(app: Starlette, where: Listening) -> None:
    """Serve until stopped (SIGTERM, SIGINT)."""
    sock = bind(where)
    try:
        server(app, where).run(sockets=[sock])
    finally:
        sock.close()


def ready_key(cfg: Config, engine: Engine, clock: Clock) -> None:
    """Before serving: the TOTP key is there if the accounts' secrets need it (ServeError
    naming the file if not), and secrets kept plain from before are encrypted."""
    key = TotpKey(key_file(cfg))
    try:
        key.check(engine)
        names = seal_plain(engine, key, "monitord", clock.now())
    except TotpKeyError as exc:
        raise ServeError(str(exc)) from None
    if names:
        log.info(
            "monitord web: encrypted the two-factor secrets of %d account(s) with the key in %s",
            len(names),
            key.path,
        )


def run_console(cfg: Config, clock: Clock) -> int:
    """``monitord web``: the console on ``[web] listen`` until stopped."""
    web = cfg.settings.web
    cert = cfg.resolve(web.tls_cert) if web.tls_cert else None
    key = cfg.resolve(web.tls_key) if web.tls_key else None
    where = listening(web.listen, cert, key)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    try:
        ready_key(cfg, engine, clock)
        app = make_app(cfg, engine, clock)
        how = "HTTPS" if where.https else "plain HTTP on loopback, for the reverse proxy"
        link = web.base_url or "none ([web] base_url is empty: alert mail carries no link)"
        log.info(
            "monitord web: the console at %s (%s); alert mail links to %s", where.url, how, link
        )
        serve(app, where)
    finally:
        engine.dispose()
    return 0
