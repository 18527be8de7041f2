"""Prometheus metrics of one application: what happens is counted as it happens, states are read at scrape.

Each application has its own registry (several run side by side in the tests). Code outside the
gateway never sees this module: the ingestor reports batches through a callback, the dispatcher
and the voice service through hook attributes that the composition root points here.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from crm_store.ingest import Ingestor
from crm_store.statements import COUNTER as STATEMENTS
from crm_store.statements import STEP as STATEMENT_STEP
from routing.events import OfferCancelled, OfferCreated, RoutingOutcome, TaskAssigned

disable_created_metrics()        # a `_created` series beside every counter only doubles what is scraped

LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500)
AMI_STATES = ("not started", "connecting", "logging in", "connected", "disconnected", "login refused", "stopped")
PHONE_TASK_PREFIX = "call:"      # calls on an operator's own phone: taken at once, never really offered
MAX_RINGING = 10_000             # rings waiting for their pop; beyond this the oldest are forgotten


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.intake = Counter("switchboard_intake_events", "Inbound contacts by channel and result "
                              "(accepted, duplicate, refused).", ["channel", "result"], registry=r)
        self.intake_seconds = Histogram("switchboard_intake_seconds", "From a channel's emit to the committed "
                                        "acknowledgement.", ["channel"], buckets=LATENCY, registry=r)
        self.batch_size = Histogram("switchboard_ingest_batch_size", "Inbound events per group commit.",
                                    buckets=BATCH, registry=r)
        self.waiting = Gauge("switchboard_routing_waiting_tasks", "Tasks waiting for an agent (pending or "
                             "reserved), per queue.", ["queue"], registry=r)
        self.offers = Counter("switchboard_routing_offers", "Offers by outcome (offered, accepted, rejected, "
                              "timeout, rescinded).", ["outcome"], registry=r)
        self.decision_seconds = Histogram("switchboard_routing_decision_seconds", "Time routing took to decide "
                                          "on one event (engine call).", buckets=LATENCY, registry=r)
        self.websockets = Gauge("switchboard_websocket_connections", "Open websocket connections.", registry=r)
        self.pop_seconds = Histogram("switchboard_screen_pop_seconds", "From the PBX's AgentCalled arriving to "
                                     "call.ringing sent to the operator's screens.", buckets=LATENCY, registry=r)
        self.ami = Gauge("switchboard_ami_state", "The AMI connection: 1 for its current state.", ["state"],
                         registry=r)
        self.voice_active = Gauge("switchboard_voice_active", "1 when this process acts on PBX events (holds "
                                  "the voice lease).", registry=r)
        self.channel_up = Gauge("switchboard_channel_connected", "1 while a channel listener is connected "
                                "(IMAP) or running (SMTP, bots).", ["channel", "name"], registry=r)
        self.http = Counter("switchboard_http_requests", "HTTP requests by route and status.",
                            ["method", "route", "status"], registry=r)
        self.ingest_totals = _IngestTotals()
        r.register(self.ingest_totals)
        self._ringing: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, kept: prometheus' own lookup (a generator of str(), a lock) cost ~3 us a
        call, and every form post makes three (bench/ingest.py). As bounded as prometheus' own children."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    # -- hooks ------------------------------------------------------------------------------------
    def intake_done(self, channel: str, result: str, seconds: float) -> None:
        self.child(self.intake, channel, result).inc()
        self.child(self.intake_seconds, channel).observe(seconds)

    def batch_written(self, size: int) -> None:
        self.batch_size.observe(size)

    def routed(self, outcome: RoutingOutcome, seconds: float) -> None:
        self.decision_seconds.observe(seconds)
        for event in outcome.events:
            if isinstance(event, OfferCreated) and not event.offer.task_id.startswith(PHONE_TASK_PREFIX):
                self.child(self.offers, "offered").inc()
            elif isinstance(event, OfferCancelled) and not event.offer.task_id.startswith(PHONE_TASK_PREFIX):
                self.child(self.offers, event.offer.status.value).inc()
            elif isinstance(event, TaskAssigned) and not event.assignment.task_id.startswith(PHONE_TASK_PREFIX):
                self.child(self.offers, "accepted").inc()

    def ring_received(self, call_id: str, extension: str) -> None:
        """The adapter reported a phone ringing (it reports in the read of the AgentCalled frame)."""
        self._ringing[(call_id, extension)] = time.perf_counter()
        while len(self._ringing) > MAX_RINGING:
            self._ringing.popitem(last=False)

    def popped(self, call_id: str, extension: str) -> None:
        started = self._ringing.pop((call_id, extension), None)
        if started is not None:
            self.pop_seconds.observe(time.perf_counter() - started)

    # -- states, read at scrape ---------------------------------------------------------------------
    def set_ami(self, status: str | None, voice_active: bool | None) -> None:
        current = (status or "").split(":")[0]
        for state in AMI_STATES:
            self.ami.labels(state).set(1 if state == current else 0)
        self.voice_active.set(1 if voice_active else 0)

    def set_channels(self, states: Mapping[str, str]) -> None:
        """Listener name ("smtp", "imap.sales", "telegram", "ami") -> its state as /readyz shows it."""
        for listener, state in states.items():
            channel, _, name = listener.partition(".")
            self.channel_up.labels(channel, name or channel).set(1 if state == "connected" else 0)

    def set_waiting(self, per_queue: dict[str, int], queues: Iterable[str]) -> None:
        for queue in set(queues) | set(per_queue):
            self.waiting.labels(queue).set(per_queue.get(queue, 0))


def http_metrics_middleware(metrics: Metrics) -> Any:
    """Count requests by route pattern (not by path: ids would make a series per lead) and status."""

    # (resource, method, status) -> its counter: the labels' strings made once, not per request.
    counted: dict[tuple[Any, str, int], Any] = {}
    steps: dict[tuple[Any, str], str] = {}      # (resource, method) -> its name in the statement counts

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        status = 500
        if STATEMENTS.enabled:     # a benchmark counts statements per route
            resource = request.match_info.route.resource
            step = steps.get((resource, request.method))
            if step is None:
                step = steps[(resource, request.method)] = \
                    f"{request.method} {resource.canonical if resource is not None else 'unmatched'}"
            STATEMENT_STEP.set(step)
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            key = (resource, request.method, status)
            counter = counted.get(key)
            if counter is None:
                route = resource.canonical if resource is not None else "unmatched"
                counter = counted[key] = metrics.child(metrics.http, request.method, route, str(status))
            counter.inc()

    return middleware


class _IngestTotals(Collector):
    """The ingestor's own running totals under their long-standing names (bench/ingest.py reads them)."""

    def __init__(self) -> None:
        self.ingestor: Ingestor | None = None

    def collect(self) -> Iterator[Metric]:
        i = self.ingestor
        yield CounterMetricFamily("switchboard_ingested_events", "Inbound events committed (duplicates included).",
                                  value=i.events if i else 0)
        yield CounterMetricFamily("switchboard_ingest_commits", "Group commits of inbound events.",
                                  value=i.batches if i else 0)
        yield CounterMetricFamily("switchboard_ingest_write_seconds", "Time spent writing and committing batches.",
                                  value=i.write_seconds if i else 0.0)
        writer_cpu = i.writer_cpu_seconds if i else None
        if writer_cpu is not None:
            yield CounterMetricFamily("switchboard_ingest_writer_cpu_seconds",
                                      "CPU of the SQLite writer thread (batches and other store writes).",
                                      value=writer_cpu)
            by_step = CounterMetricFamily("switchboard_ingest_writer_cpu_seconds_by_step",
                                          "That CPU by what the writer was doing (intake, routing outcomes, a route, "
                                          "commit).", labels=["step"])
            for step, seconds in sorted((i.writer_cpu_by_step() or {}).items()):
                by_step.add_metric([step], seconds)
            yield by_step
        wal_syncs = i.wal_syncs if i else None
        if wal_syncs is not None:
            yield CounterMetricFamily("switchboard_ingest_wal_syncs",
                                      "fsyncs of the SQLite WAL that made the writer's commits durable (one may "
                                      "serve several commits).", value=wal_syncs)
        if STATEMENTS.enabled:      # only when a benchmark asked for it (COUNT_SQL_STATEMENTS=1)
            yield CounterMetricFamily("switchboard_sql_statements", "SQL statements sent (an executemany is one).",
                                      value=STATEMENTS.count)
            steps = CounterMetricFamily("switchboard_sql_statements_by_step", "SQL statements by what sent them.",
                                        labels=["step"])
            for step, count in sorted(STATEMENTS.by_step.items()):
                steps.add_metric([step], count)
            yield steps
