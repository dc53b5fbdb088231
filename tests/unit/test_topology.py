"""Every event a service publishes reaches exactly the handlers messaging.SUBSCRIPTIONS declares.

The outbox relay declares queues from SUBSCRIPTIONS before publishing; nameko declares them from
the workers' @event_handler methods. If the two disagree, events vanish or pile up unread.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.messaging import SUBSCRIPTIONS, queue_name

ROOT = Path(__file__).resolve().parents[2]

SERVICES = ("intake", "routing", "mediation", "education", "blacklist")

Handler = tuple[str, str, str, str]  # source service, event type, consumer service, method


def worker_class(service: str) -> type:
    module = importlib.import_module(f"services.{service}.worker")
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and obj.__module__ == module.__name__ and hasattr(obj, "name")
    ]
    assert len(classes) == 1, f"services.{service}.worker should define one service class"
    return classes[0]


def declared_handlers() -> set[Handler]:
    from nameko.events import EventHandler

    found: set[Handler] = set()
    for service in SERVICES:
        cls = worker_class(service)
        assert cls.name == service
        for attr, value in vars(cls).items():
            for entrypoint in getattr(value, "nameko_entrypoints", ()):
                if isinstance(entrypoint, EventHandler):
                    found.add((entrypoint.source_service, entrypoint.event_type, cls.name, attr))
    return found


def subscribed_handlers() -> set[Handler]:
    return {
        (source, event_type, consumer, method)
        for (source, event_type), subscribers in SUBSCRIPTIONS.items()
        for consumer, method in subscribers
    }


@pytest.fixture(scope="module")
def declared() -> set[Handler]:
    # Importing the workers imports nameko and eventlet, which must stay out of the pytest
    # process that later makes gRPC calls and forks the platform: read them in a child.
    run = subprocess.run(
        [sys.executable, "-m", "tests.unit.test_topology"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {tuple(h) for h in json.loads(run.stdout)}


def test_the_workers_declare_event_handlers(declared: set[Handler]) -> None:
    assert {h[2] for h in declared} == set(SERVICES)


def test_every_worker_handler_is_in_the_subscriptions(declared: set[Handler]) -> None:
    missing = sorted(declared - subscribed_handlers())
    assert not missing, f"handlers with no queue declared by the relay: {missing}"


def test_every_subscription_has_a_worker_handler(declared: set[Handler]) -> None:
    orphans = sorted(subscribed_handlers() - declared)
    assert not orphans, f"subscriptions whose queue no worker consumes: {orphans}"


def test_no_event_is_published_into_a_queue_nobody_reads(declared: set[Handler]) -> None:
    queues_read = {queue_name(*h) for h in declared}
    queues_declared = {queue_name(*h) for h in subscribed_handlers()}
    assert queues_read == queues_declared


def test_every_subscribed_event_comes_from_a_known_service() -> None:
    for source, _event_type in SUBSCRIPTIONS:
        assert source in SERVICES


if __name__ == "__main__":
    print(json.dumps(sorted(declared_handlers())))
