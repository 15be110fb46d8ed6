"""Every metric a node exposes: one home for their names, units, meanings and labels.

Instruments come from the OpenTelemetry metrics API; until a node sets a
meter provider (`setup_metrics`) they record nothing, so library code and
tests use them freely. A node exposes them for Prometheus on its own port
(`metrics_listen`, loopback by default) and, with
``OTEL_METRICS_EXPORTER=otlp``, over OTLP like its traces.

Labels are methods, reason codes, task ids, destinations and outcomes —
never a record, an identifier of a person or a key (docs/operations.md lists
each metric and the alerts to set on it; a test checks that list is this one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

EXPORTER_ENV = "OTEL_METRICS_EXPORTER"
_meter = metrics.get_meter("juki-net")

# Prometheus name -> (kind, meaning, labels): what docs/operations.md documents.
CATALOGUE: dict[str, tuple[str, str, tuple[str, ...]]] = {}
# Latency buckets, in seconds: sub-millisecond answers to a multi-second bulk.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _counter(name: str, meaning: str, *labels: str) -> metrics.Counter:
    CATALOGUE[f"{name}_total"] = ("counter", meaning, labels)
    return _meter.create_counter(name, unit="1", description=meaning)


def _histogram(name: str, meaning: str, *labels: str) -> metrics.Histogram:
    CATALOGUE[f"{name}_seconds"] = ("histogram", meaning, labels)
    return _meter.create_histogram(
        name, unit="s", description=meaning, explicit_bucket_boundaries_advisory=_BUCKETS
    )


RPC_DURATION = _histogram(
    "juki_rpc_duration", "time to answer an RPC, by method and status code", "method", "code"
)
REFUSALS = _counter("juki_refusals", "RPCs refused, by method and reason code", "method", "reason")
DELIVERIES = _counter(
    "juki_deliveries", "outbox batches sent to a next hop, by outcome", "destination", "outcome"
)
DELIVERED_CHANGES = _counter(
    "juki_delivered_changes", "changes the next hop took from this outbox", "destination"
)
CHANGES = _counter(
    "juki_changes",
    "changes decided here: applied, held (waiting for an earlier one), duplicate or rejected",
    "outcome",
    "reason",
)
PROVISIONS = _counter(
    "juki_provisions", "provision-log entries: by task and outcome", "task", "outcome"
)
LINK_CALLS = _counter(
    "juki_link_calls",
    "narrow-link requests answered here, by outcome (and a refusal's reason)",
    "outcome",
    "reason",
)
CONSISTENCY_DIFFERENCES = _counter(
    "juki_consistency_differences", "persons a consistency run found different", "file", "kind"
)
CHECKPOINTS = _counter(
    "juki_checkpoints",
    "log checkpoints published, by log and whether witnessed",
    "log",
    "witnessed",
)
WITNESS_GOSSIP = _counter(
    "juki_witness_gossip",
    "comparisons of a log's checkpoint with another witness's, by outcome",
    "outcome",
)


@dataclass(frozen=True)
class Gauge:
    """An observed value, read from the node when scraped; `seconds`: its unit."""

    name: str
    meaning: str
    labels: tuple[str, ...] = ()
    seconds: bool = False

    @property
    def exposed(self) -> str:
        """Its Prometheus name."""
        return f"{self.name}_seconds" if self.seconds else self.name


OUTBOX_DEPTH = Gauge("juki_outbox_depth", "changes waiting in the outbox", ("destination",))
OUTBOX_OLDEST_AGE = Gauge(
    "juki_outbox_oldest_age",
    "age of the oldest change waiting in the outbox",
    ("destination",),
    seconds=True,
)
OUTBOX_HELD = Gauge("juki_outbox_held", "changes the next hop holds for an earlier one")
CERTIFICATE_TIME_LEFT = Gauge(
    "juki_certificate_time_left", "until the node's TLS certificate expires", seconds=True
)
CRL_TIME_LEFT = Gauge(
    "juki_crl_time_left", "until the soonest revocation list's next update is due", seconds=True
)
KEY_DOCUMENT_TIME_LEFT = Gauge(
    "juki_key_document_time_left", "until the node's newest sealing key expires", seconds=True
)
TEMPORARY_STORE_SIZE = Gauge(
    "juki_temporary_store_size", "My Numbers a fuhyo server holds for a re-send"
)
for _gauge in (
    OUTBOX_DEPTH,
    OUTBOX_OLDEST_AGE,
    OUTBOX_HELD,
    CERTIFICATE_TIME_LEFT,
    CRL_TIME_LEFT,
    KEY_DOCUMENT_TIME_LEFT,
    TEMPORARY_STORE_SIZE,
):
    CATALOGUE[_gauge.exposed] = ("gauge", _gauge.meaning, _gauge.labels)

# What a gauge's callback returns: (value, labels) pairs.
Readings = Callable[[], Iterable[tuple[float, dict[str, str]]]]


def observe(gauge: Gauge, read: Readings) -> None:
    """Read `gauge` with `read` at every collection (a scrape or an OTLP export)."""

    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        try:
            return [Observation(value, labels) for value, labels in read()]
        except Exception:  # a failing reading must not break the scrape of the others
            return []

    _meter.create_observable_gauge(
        gauge.name,
        callbacks=[callback],
        unit="s" if gauge.seconds else "1",
        description=gauge.meaning,
    )


def setup_metrics(service_name: str, readers: Iterable[MetricReader]) -> MeterProvider:
    """This process's meter provider: the given readers, and OTLP if OTEL_METRICS_EXPORTER says."""
    chosen = list(readers)
    if "otlp" in (n.strip() for n in os.environ.get(EXPORTER_ENV, "none").split(",")):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        chosen.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    provider = MeterProvider(
        metric_readers=chosen, resource=Resource.create({SERVICE_NAME: service_name})
    )
    metrics.set_meter_provider(provider)
    return provider
