"""The promotion rule: when a run's latest.json moves to a new run (``linreg:promotion``).

    newest                 every run that is the newest upload (the default)
    better                 only a run whose test MSE is no worse than the current latest's,
                           when both were trained on the same dataset spec (else newest)
    near-optimum:<pct>     only a run whose test MSE is within <pct> percent of its own
                           closed-form baseline's (the best a linear model can do on it)

Whatever the rule, an older upload never replaces a newer one's run; ``linreg promote``
moves latest.json by hand, past the rule. Pure: the stack parses the setting with it too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NEWEST, BETTER, NEAR_OPTIMUM = "newest", "better", "near-optimum"
RULES = (NEWEST, BETTER, f"{NEAR_OPTIMUM}:<percent>")


@dataclass(frozen=True)
class Verdict:
    """Whether the rule lets a run become latest, and why (for report.json, the page and
    the completion event)."""

    promoted: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class Promotion:
    rule: str = NEWEST
    percent: float | None = None  # near-optimum's tolerance

    @classmethod
    def parse(cls, text: str | None) -> Promotion:
        """``newest``, ``better`` or ``near-optimum:<percent>``; blank is ``newest``. Anything
        else is the operator's bug: ``ValueError``."""
        text = (text or "").strip().lower()
        if text in ("", NEWEST):
            return cls()
        if text == BETTER:
            return cls(rule=BETTER)
        rule, _, percent = text.partition(":")
        if rule == NEAR_OPTIMUM:
            try:
                value = float(percent)
            except ValueError:
                value = math.nan
            if math.isfinite(value) and value >= 0:
                return cls(rule=NEAR_OPTIMUM, percent=value)
            raise ValueError(
                f"near-optimum needs a percentage of 0 or more, as near-optimum:5; got {text!r}"
            )
        raise ValueError(f"promotion must be one of {', '.join(RULES)}; got {text!r}")

    def __str__(self) -> str:
        return f"{NEAR_OPTIMUM}:{self.percent:g}" if self.rule == NEAR_OPTIMUM else self.rule

    def verdict(self, report: Mapping[str, Any], current: Mapping[str, Any] | None) -> Verdict:
        """Whether a succeeded run's ``report`` may replace ``current``, the report of the
        run latest.json points at (``None``: no latest yet). Upload order is
        ``storage.update_latest``'s, not the rule's."""
        mse = report["test_mse"]
        if self.rule == NEAR_OPTIMUM:
            assert self.percent is not None
            bound = report["baseline_test_mse"] * (1 + self.percent / 100)
            if mse <= bound:
                return Verdict(
                    True,
                    f"test MSE {mse:.6g} is within {self.percent:g}% of the "
                    f"closed-form baseline's {report['baseline_test_mse']:.6g}",
                )
            return Verdict(
                False,
                f"test MSE {mse:.6g} is not within {self.percent:g}% of the "
                f"closed-form baseline's {report['baseline_test_mse']:.6g}",
            )
        if self.rule == BETTER and current is not None:
            if current.get("dataset") != report.get("dataset"):
                return Verdict(
                    True,
                    f"the latest run {current.get('run_id')} was trained on "
                    f"another dataset spec ({current.get('dataset')}): newest wins",
                )
            if current.get("test_mse") is None:
                return Verdict(True, f"the latest run {current.get('run_id')} has no test MSE")
            if mse <= current["test_mse"]:
                return Verdict(
                    True,
                    f"test MSE {mse:.6g} is no worse than the latest run "
                    f"{current.get('run_id')}'s {current.get('test_mse'):.6g}",
                )
            return Verdict(
                False,
                f"test MSE {mse:.6g} is worse than the latest run "
                f"{current.get('run_id')}'s {current['test_mse']:.6g}",
            )
        if self.rule == BETTER:
            return Verdict(True, "the model's first run")
        return Verdict(True, "the newest run")
