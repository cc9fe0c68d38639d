"""What chaos a service, an operation or a stub file asks for: a delay, a fault, how often.

```yaml
chaos:
  delay: 300ms                      # fixed; or 100ms..2s (uniform); or {median: 200ms, sigma: 0.4} (log-normal)
  fault: connection_reset           # or empty_response, malformed_chunk, random_data_then_close, status, none
  rate: 0.05                        # the fault's share of requests (default 1: every request)
  status: 503                       # status faults: this documented status (default: the lowest documented 5xx)
```
`fault` may also be a mapping `{kind, rate, status}` (as a stub file's `response.fault` is). `delay: 0` and
`fault: none` switch off what a less specific level asks for. Parsed once (settings, stub files, the admin API);
a request only draws from what is parsed here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .types import Block, Duration, SettingsError, Text, parse_duration

SOCKET_FAULTS = ("connection_reset", "empty_response", "malformed_chunk", "random_data_then_close")
FAULTS = (*SOCKET_FAULTS, "status", "none")
CHAOS_KEYS = ("delay", "fault", "rate", "status")
FAULT_KEYS = ("kind", "rate", "status")


@dataclass(frozen=True)
class Delay:
    """Fixed (`low` only), uniform between `low` and `high`, or log-normal around `median`; seconds."""

    low: float = 0.0
    high: float | None = None
    median: float | None = None
    sigma: float = 0.0

    @property
    def off(self) -> bool:
        return self.median is None and self.high is None and self.low == 0

    def draw(self, rng: random.Random) -> float:
        if self.median is not None:
            return rng.lognormvariate(math.log(self.median), self.sigma) if self.median > 0 else 0.0
        if self.high is not None:
            return rng.uniform(self.low, self.high)
        return self.low

    def to_json(self) -> Any:
        """As it is written in gateway.yaml: `300ms`, `100ms..2s`, `{median: 200ms, sigma: 0.4}`."""
        if self.median is not None:
            return {"median": _text(self.median), "sigma": self.sigma}
        if self.high is not None:
            return f"{_text(self.low)}..{_text(self.high)}"
        return _text(self.low)


@dataclass(frozen=True)
class Fault:
    """One fault kind, the share of requests it hits, and (status faults) the status it answers."""

    kind: str
    rate: float = 1.0
    status: int = 0  # 0: the operation's lowest documented server error

    @property
    def off(self) -> bool:
        return self.kind == "none"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rate": self.rate, **({"status": self.status} if self.status else {})}


@dataclass(frozen=True)
class ChaosSettings:
    """The chaos of one level (service, operation, stub file, runtime switch, request): None leaves a part
    to the less specific levels."""

    delay: Delay | None = None
    fault: Fault | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.delay is not None:
            out["delay"] = self.delay.to_json()
        if self.fault is not None:
            out["fault"] = self.fault.to_json()
        return out

    def describe(self) -> str:
        """One short line: `delay 100ms..2s, connection_reset 10%`, or `off`."""
        parts = []
        if self.delay is not None and not self.delay.off:
            text = self.delay.to_json()
            parts.append(f"delay {text}" if isinstance(text, str) else f"delay median {text['median']} sigma {text['sigma']:g}")
        if self.fault is not None and not self.fault.off:
            status = f" {self.fault.status}" if self.fault.status else ""
            parts.append(f"{self.fault.kind}{status} {self.fault.rate * 100:g}%")
        return ", ".join(parts) or "off"


class ChaosLimits(Block):
    """Gateway-wide: the longest delay anyone may ask for, whether requests may ask (`Prefer`), the dice's seed."""

    max_delay: Duration = 60.0  # a delay from any level (Prefer included) is cut to this: no parking connections forever
    prefer: bool = True  # honour `Prefer: delay=MS` and `Prefer: fault=KIND` per request
    seed: Text = ""  # draws (delays, rates, random bytes) repeat run after run, per process; empty: unseeded

    def rules(self) -> None:
        if not 0 < self.max_delay <= 3600:
            raise SettingsError("max_delay", "must be more than 0s and at most 1h")


def check_chaos(value: Any) -> ChaosSettings:
    """A `chaos:` block (service, operation, runtime switch): {delay, fault, rate, status}; SettingsError if wrong.
    One already read (settings built again from settings) is taken as it is."""
    if isinstance(value, ChaosSettings):
        return value
    if not isinstance(value, dict):
        raise SettingsError("", "expected a mapping such as {delay: 300ms, fault: connection_reset, rate: 0.05}")
    unknown = sorted(set(value) - set(CHAOS_KEYS))
    if unknown:
        raise SettingsError(str(unknown[0]), f"unknown setting (expected one of {', '.join(CHAOS_KEYS)})")
    fault = value.get("fault")
    if fault is None and ("rate" in value or "status" in value):
        key = "rate" if "rate" in value else "status"
        raise SettingsError(key, "belongs to a fault: give `fault` too")
    if fault is not None:
        fault = parse_fault(fault, {k: value[k] for k in ("rate", "status") if k in value})
    delay = parse_delay(value["delay"]) if value.get("delay") is not None else None
    return ChaosSettings(delay, fault)


def parse_delay(value: Any, key: str = "delay") -> Delay:
    """`300ms`, `100ms..2s`, `{median: 200ms, sigma: 0.4}` (a bare number is seconds, as every duration)."""
    if isinstance(value, dict):
        extra = sorted(set(value) - {"median", "sigma"})
        if extra or "median" not in value:
            raise SettingsError(f"{key}.{extra[0]}" if extra else key, "a log-normal delay is {median: 200ms, sigma: 0.4}")
        sigma = value.get("sigma", 0.5)
        if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or not 0 <= sigma <= 5:
            raise SettingsError(f"{key}.sigma", f"expected a number from 0 to 5, got {sigma!r}")
        return Delay(median=_seconds(value["median"], f"{key}.median"), sigma=float(sigma))
    if isinstance(value, str) and ".." in value:
        low, _, high = value.partition("..")
        first, last = _seconds(low, key), _seconds(high, key)
        if last < first:
            raise SettingsError(key, f"a range goes from the shorter delay to the longer, got {value!r}")
        return Delay(first, last)
    return Delay(_seconds(value, key))


def parse_fault(value: Any, siblings: dict[str, Any] | None = None, key: str = "fault") -> Fault:
    """A fault kind, or {kind, rate, status}; `siblings` are a chaos block's own `rate` and `status`."""
    given = dict(siblings or {})
    if isinstance(value, dict):
        extra = sorted(set(value) - set(FAULT_KEYS))
        if extra:
            raise SettingsError(f"{key}.{extra[0]}", f"unknown field (expected one of {', '.join(FAULT_KEYS)})")
        given.update({k: v for k, v in value.items() if k != "kind"})
        value = value.get("kind")
    if value not in FAULTS:
        raise SettingsError(key, f"must be one of {', '.join(FAULTS)}, got {value!r}")
    rate = given.get("rate", 1.0)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise SettingsError("rate", f"expected a share from 0 to 1 (0.05 is 5 %), got {rate!r}")
    status = given.get("status", 0)
    if status and (not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599):
        raise SettingsError("status", f"expected an error status from 400 to 599, got {status!r}")
    if status and value != "status":
        raise SettingsError("status", "only a status fault answers a status")
    return Fault(str(value), float(rate), int(status or 0))


def _seconds(value: Any, key: str) -> float:
    try:
        return parse_duration(value)  # the one duration syntax
    except SettingsError as exc:
        raise SettingsError(key, exc.reason) from None


def _text(seconds: float) -> str:
    millis = seconds * 1000
    return f"{millis:g}ms" if millis < 1000 or millis % 1000 else f"{seconds:g}s"

