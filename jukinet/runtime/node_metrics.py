"""A node's metrics: the gauges read from its state, and the Prometheus endpoint on its own port.

The counters and histograms are recorded where things happen (jukinet/core/
metrics.py lists them all); this module adds what is read at scrape time —
outbox depth and age per destination, held changes, and the seconds left on
the node's certificate, its revocation lists and its sealing keys — and
serves them all for Prometheus at `metrics_listen` (loopback by default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from prometheus_client import start_http_server

from jukinet.changes import outbox
from jukinet.core import metrics
from jukinet.core.clock import Clock
from jukinet.core.config import NodeConfig, host_and_port
from jukinet.sealing.keys import NodeKeyring
from jukinet.storage import Database
from jukinet.storage.outbox_state import DESTINATIONS
from jukinet.trust.credentials import CredentialWatcher
from jukinet.trust.revocation import RevocationList


def start(
    config: NodeConfig,
    db: Database,
    credentials: CredentialWatcher,
    revocation: RevocationList | None,
    keyring: NodeKeyring,
    clock: Clock,
) -> Callable[[], None]:
    """Set up the node's meter provider and gauges, serve /metrics; what stops them."""
    readers = [PrometheusMetricReader()] if config.metrics_listen else []
    provider = metrics.setup_metrics(config.name, readers)

    def seconds_left(until: dt.datetime | None) -> list[tuple[float, dict[str, str]]]:
        return [] if until is None else [((until - clock.now()).total_seconds(), {})]

    # Every hop the node delivers to is shown, with 0 while nothing waits for it.
    hops = [hop for hop in DESTINATIONS if getattr(config, hop) is not None]

    def per_hop(column: int) -> Callable[[], list[tuple[float, dict[str, str]]]]:
        """Depth (column 0) or oldest age (column 1) of each hop's waiting changes."""

        def read() -> list[tuple[float, dict[str, str]]]:
            with db.reading() as conn:
                found = {d: (n, age) for d, n, age in outbox.waiting(conn, clock.now())}
            return [(found.get(d, (0, 0.0))[column], {"destination": d}) for d in hops]

        return read

    def held() -> list[tuple[float, dict[str, str]]]:
        with db.reading() as conn:
            return [(outbox.count_by_state(conn)[outbox.OutboxState.HELD], {})]

    metrics.observe(metrics.OUTBOX_DEPTH, per_hop(0))
    metrics.observe(metrics.OUTBOX_OLDEST_AGE, per_hop(1))
    metrics.observe(metrics.OUTBOX_HELD, held)
    metrics.observe(
        metrics.CERTIFICATE_TIME_LEFT,
        lambda: seconds_left(credentials.current().certificate.not_valid_after_utc),
    )
    metrics.observe(
        metrics.CRL_TIME_LEFT,
        lambda: seconds_left(revocation.next_update() if revocation else None),
    )
    metrics.observe(
        metrics.KEY_DOCUMENT_TIME_LEFT,
        lambda: seconds_left(keyring.current_encryption_entry().not_after),
    )
    if not config.metrics_listen:
        return provider.shutdown
    host, port = host_and_port(config.metrics_listen)
    server, _thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        provider.shutdown()

    return stop
