"""What a run costs: the GB-seconds Lambda bills for it, and a dollar estimate.

Lambda bills each request and its duration times the function's memory (GB-seconds, in
1 ms steps); a distributed run also pays Step Functions Standard's state transitions. The
table is AWS's list prices in US East (N. Virginia), first tier, free tier left out, as
published on https://aws.amazon.com/lambda/pricing/ and
https://aws.amazon.com/step-functions/pricing/ (read 2026-12). Other regions and tiers
differ: set the LINREG_PRICE_PER_* variables (linreg:pricePer* in the stack) to yours.
The estimate leaves out S3 requests and storage, CloudWatch and data transfer.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from linreg.contract import (
    DEFAULT_MEMORY_MB,
    PRICE_PER_GB_SECOND_ENV,
    PRICE_PER_REQUEST_ENV,
    PRICE_PER_TRANSITION_ENV,
)

# Lambda's own variable for the function's memory.
MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
PRICES_SOURCE = "AWS list prices, us-east-1, 2026-12 (docs/reference.md, Cost)"


@dataclass(frozen=True, kw_only=True)
class Prices:
    """US dollars per GB-second, per request and per state transition."""

    gb_second: float
    request: float
    transition: float


# Lambda's duration price is the architecture's; requests and Step Functions cost the same.
PRICE_TABLE = {
    "x86_64": Prices(gb_second=0.0000166667, request=0.0000002, transition=0.000025),
    "arm64": Prices(gb_second=0.0000133334, request=0.0000002, transition=0.000025),
}
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True, kw_only=True)
class Meter:
    """The function's memory, its architecture and the prices: what turns seconds into
    GB-seconds and dollars."""

    memory_mb: int = DEFAULT_MEMORY_MB
    architecture: str = "x86_64"
    prices: Prices = PRICE_TABLE["x86_64"]
    source: str = PRICES_SOURCE

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, machine: str | None = None) -> Meter:
        """This function's meter: its memory as Lambda reports it (else the stack's default,
        as a local run is estimated), the architecture it runs on, and the table's prices
        unless the deployment overrides them. A bad override is the operator's bug:
        ``ValueError``."""
        architecture = ARCHITECTURES.get((machine or platform.machine()).lower(), "x86_64")
        memory = env.get(MEMORY_ENV, "").strip()
        meter = cls(
            memory_mb=int(memory) if memory.isdigit() else DEFAULT_MEMORY_MB,
            architecture=architecture,
            prices=PRICE_TABLE[architecture],
        )
        overrides = {
            field: price(env, name)
            for field, name in (
                ("gb_second", PRICE_PER_GB_SECOND_ENV),
                ("request", PRICE_PER_REQUEST_ENV),
                ("transition", PRICE_PER_TRANSITION_ENV),
            )
            if env.get(name, "").strip()
        }
        if overrides:
            prices = replace(meter.prices, **overrides)
            meter = replace(meter, prices=prices, source="the deployment's prices")
        return meter

    def cost(self, *, seconds: float, requests: int = 1, transitions: int = 0) -> dict[str, Any]:
        """report.json's ``cost`` of ``seconds`` of billed duration over ``requests``
        invocations (each rounded up to the millisecond) and ``transitions``."""
        billed = math.ceil(seconds * 1000) / 1000
        gb_seconds = self.memory_mb / 1024 * billed
        usd = (
            gb_seconds * self.prices.gb_second
            + requests * self.prices.request
            + transitions * self.prices.transition
        )
        return {
            "billed_seconds": round(billed, 3),
            "memory_mb": self.memory_mb,
            "architecture": self.architecture,
            "gb_seconds": round(gb_seconds, 6),
            "requests": requests,
            "state_transitions": transitions,
            "usd": float(f"{usd:.10g}"),
            "prices": {
                "per_gb_second": self.prices.gb_second,
                "per_request": self.prices.request,
                "per_transition": self.prices.transition,
                "source": self.source,
            },
        }


def price(env: Mapping[str, str], name: str) -> float:
    """A price override: a number of dollars, 0 or more."""
    text = env[name].strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a price in US dollars, 0 or more; got {text!r}")
    return value
