"""A per-client token bucket for job creation (in memory: one per server process)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, client: str, cost: int = 1) -> float:
        """Spend ``cost`` tokens; returns 0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self.lock:
            tokens, stamp = self.buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            wait = 0.0
            if tokens >= cost:
                tokens -= cost
            else:
                wait = (cost - tokens) / self.rate if self.rate > 0 else 3600.0
            self.buckets[client] = (tokens, now)
            while len(self.buckets) > self.max_clients:
                self.buckets.popitem(last=False)
        return wait
