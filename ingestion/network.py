"""Is a service there? One TCP check, and a wait with backoff before giving up."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Port:
    name: str
    host: str
    number: int


def port_answers(port: Port, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((port.host, port.number), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: Port | list[Port], attempts: int = 4, first_backoff_s: float = 1.0) -> bool:
    """Whether the port (or any of several: the brokers of a cluster) answers, trying again with
    exponential backoff (1, 2, 4 s ...)."""
    ports = port if isinstance(port, list) else [port]
    delay = first_backoff_s
    for attempt in range(1, attempts + 1):
        if any(port_answers(each) for each in ports):
            return True
        if attempt < attempts:
            where = ", ".join(f"{each.host}:{each.number}" for each in ports)
            log.warning("%s at %s not reachable, retrying in %.0fs", ports[0].name, where, delay)
            time.sleep(delay)
            delay *= 2
    return False
