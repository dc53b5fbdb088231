"""The platform launcher refuses a port that is taken, naming the setting that moves it."""

from __future__ import annotations

import socket

import pytest

from services.common import settings
from services.platform import PortsInUse, check_ports


def test_a_taken_port_is_named_with_its_setting():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = settings.load({"XIAOBAO_ROUTING_WORKER_METRICS_PORT": str(port)})
        with pytest.raises(PortsInUse) as err:
            check_ports(cfg, ("routing",))
    assert f"{port} (XIAOBAO_ROUTING_WORKER_METRICS_PORT)" in str(err.value)


def test_free_ports_pass():
    ports = []
    for _ in range(4):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cfg = settings.load(
        {
            "XIAOBAO_INTAKE_GRPC_PORT": str(ports[0]),
            "XIAOBAO_INTAKE_METRICS_PORT": str(ports[1]),
            "XIAOBAO_INTAKE_WORKER_METRICS_PORT": str(ports[2]),
            # A running demo holds the default 8051; the check must not depend on that.
            "XIAOBAO_INTAKE_HTTP_PORT": str(ports[3]),
        }
    )
    check_ports(cfg, ("intake",))
