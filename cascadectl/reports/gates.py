"""CI gates: limits a report must meet, alone or against a baseline report.

Limits are proportions (0.1) or percentage strings ("10%"). A limit is inclusive:
a value exactly at it passes (compared with a 1e-9 allowance, so 10% written
either way and float noise never flip a verdict). A gate whose data is missing
(in the report or the baseline) fails. The figures are the cascade run's (or, in
a report without one, the first run's).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from cascadectl.errors import ConfigError, UsageError

EPSILON = 1e-9
DEFAULT_LIMITS: Mapping[str, Any] = {
    "max_cost_increase": "10%",
    "max_quality_drop": 0.02,
    "min_acceptance": 0.5,
    "max_p95_latency_increase": "20%",
    "max_error_rate": 0.01,
}


@dataclass(frozen=True)
class GateSpec:
    metric: tuple[str, ...]  # path into a run's metrics
    label: str
    kind: str  # increase (relative rise) | drop (absolute fall) | min | max
    unit: str  # cost | score | rate | ms


SPECS: Mapping[str, GateSpec] = {
    "max_cost_increase": GateSpec(("cost", "per_query"), "cost per query", "increase", "cost"),
    "max_quality_drop": GateSpec(("quality",), "quality (mean score)", "drop", "score"),
    "min_acceptance": GateSpec(("acceptance_rate",), "acceptance rate", "min", "rate"),
    "max_acceptance_drop": GateSpec(("acceptance_rate",), "acceptance rate", "drop", "rate"),
    "max_p95_latency_increase": GateSpec(("latency_ms", "p95"), "p95 latency", "increase", "ms"),
    "max_error_rate": GateSpec(("error_rate",), "error rate", "max", "rate"),
}


@dataclass(frozen=True)
class Gate:
    name: str
    limit: float  # a proportion

    @property
    def spec(self) -> GateSpec:
        return SPECS[self.name]


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    baseline: float | None
    now: float | None
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate.name, "limit": self.gate.limit, "baseline": self.baseline, "now": self.now, "passed": self.passed, "detail": self.detail}


def gate_key(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_").lower()


def parse_limit(value: Any, where: str, kind: str = "increase") -> float:
    """0.1 or "10%" -> 0.1. A bare number above 1 is refused (did you mean a percentage?);
    only an `increase` limit may pass 100%."""
    text = str(value).strip()
    percent = isinstance(value, str) and text.endswith("%")
    number = None if isinstance(value, bool) else _number(text[:-1] if percent else text)
    if number is None or number < 0:
        raise ConfigError(f"{where}: expected a proportion like 0.1 or a percentage like '10%', got {value!r}")
    if not percent and number > 1:
        raise ConfigError(f"{where}: {value!r} is a proportion above 1 ({number * 100:g}%); write '{number:g}%' for {number:g} percent, or a proportion like 0.1")
    limit = number / 100.0 if percent else number
    if kind != "increase" and limit > 1:
        raise ConfigError(f"{where}: {value!r} is above 100%, which this limit cannot be")
    return limit


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_gates(mapping: Mapping[str, Any], *, source: str = "gates", flags: bool = False) -> list[Gate]:
    """Gates from a mapping such as a cascade YAML's `gates:` section, in a fixed order.
    `flags`: the names came from command-line options, so messages name the option."""
    gates: dict[str, Gate] = {}
    for raw_name, value in mapping.items():
        name = gate_key(str(raw_name))
        if name not in SPECS:
            raise ConfigError(f"{source}: unknown gate {raw_name!r}{_suggest(name)}")
        where = "--" + name.replace("_", "-") if flags else f"{source}.{name}"
        gates[name] = Gate(name, parse_limit(value, where, SPECS[name].kind))
    return [gates[name] for name in SPECS if name in gates]


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, list(SPECS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(SPECS)})"


def default_gates() -> list[Gate]:
    return parse_gates(DEFAULT_LIMITS, source="default gates")


def select_gates(given: Mapping[str, Any], *, source: str = "gates", flags: bool = False) -> list[Gate]:
    """The gates asked for; with none asked for, the five defaults (DEFAULT_LIMITS)."""
    chosen = {k: v for k, v in given.items() if v is not None}
    return parse_gates(chosen, source=source, flags=flags) if chosen else default_gates()


def parse_gate_flags(flags: Sequence[str]) -> dict[str, str]:
    """`--gate max_cost_increase=10%` style flags -> {name: limit}."""
    out: dict[str, str] = {}
    for flag in flags:
        name, sep, value = flag.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"--gate {flag!r}: expected NAME=LIMIT, e.g. max_cost_increase=10% (gates: {', '.join(SPECS)})")
        out[gate_key(name)] = value.strip()
    return out


def metric_value(report: Mapping[str, Any] | None, path: Sequence[str]) -> float | None:
    if not report:
        return None
    metrics = report.get("metrics") or {}
    runs = list(report.get("runs") or metrics)
    run = "cascade" if "cascade" in metrics else (runs[0] if runs else None)
    value: Any = metrics.get(run) if run else None
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def check_gates(report: Mapping[str, Any], baseline: Mapping[str, Any] | None, gates: Sequence[Gate]) -> list[GateResult]:
    return [check_gate(report, baseline, gate) for gate in gates]


def check_gate(report: Mapping[str, Any], baseline: Mapping[str, Any] | None, gate: Gate) -> GateResult:
    spec = gate.spec
    now = metric_value(report, spec.metric)
    base = metric_value(baseline, spec.metric)
    missing = _missing(spec, now, base, baseline is not None)
    if missing:
        return GateResult(gate, base, now, False, missing)
    return _JUDGES[spec.kind](gate, base, now)  # type: ignore[arg-type]


def _missing(spec: GateSpec, now: float | None, base: float | None, have_baseline: bool) -> str | None:
    if now is None:
        return f"no data: the report has no {spec.label}"
    if spec.kind in ("increase", "drop"):
        if not have_baseline:
            return "no data: no baseline report given (--baseline)"
        if base is None:
            return f"no data: the baseline has no {spec.label}"
    return None


def _increase(gate: Gate, base: float, now: float) -> GateResult:
    change = relative_change(base, now)
    ok = change <= gate.limit + EPSILON
    return GateResult(gate, base, now, ok, f"{_signed_pct(change)} (limit +{gate.limit * 100:g}%)")


def relative_change(base: float, now: float) -> float:
    if base == 0:
        return 0.0 if now == 0 else math.inf
    return now / base - 1.0


def _drop(gate: Gate, base: float, now: float) -> GateResult:
    drop = base - now
    return GateResult(gate, base, now, drop <= gate.limit + EPSILON, f"drop {drop:+.4f} (limit {gate.limit:g})")


def _min(gate: Gate, base: float | None, now: float) -> GateResult:
    return GateResult(gate, base, now, now >= gate.limit - EPSILON, f"at least {gate.limit * 100:g}%")


def _max(gate: Gate, base: float | None, now: float) -> GateResult:
    return GateResult(gate, base, now, now <= gate.limit + EPSILON, f"at most {gate.limit * 100:g}%")


def _signed_pct(change: float) -> str:
    return "+inf% (baseline was 0)" if math.isinf(change) else f"{change * 100:+.1f}%"


_JUDGES: Mapping[str, Callable[[Gate, Any, float], GateResult]] = {
    "increase": _increase,
    "drop": _drop,
    "min": _min,
    "max": _max,
}


def gates_exit_code(results: Sequence[GateResult]) -> int:
    return 0 if all(r.passed for r in results) else 1


def render_gate_table(results: Sequence[GateResult]) -> str:
    from tabulate import tabulate

    from cascadectl.reports.formats.common import money, ms, num, pct

    formats: Mapping[str, Callable[[Any], str]] = {"cost": money, "score": num, "rate": pct, "ms": ms}
    rows = []
    for r in results:
        show = formats[r.gate.spec.unit]
        verdict = "pass" if r.passed else "FAIL"
        rows.append([r.gate.name, show(r.baseline), show(r.now), _limit_text(r.gate), verdict, r.detail])
    return tabulate(rows, headers=["gate", "baseline", "now", "limit", "result", "detail"], tablefmt="github", disable_numparse=True)


def _limit_text(gate: Gate) -> str:
    kind = gate.spec.kind
    if kind == "increase":
        return f"+{gate.limit * 100:g}%"
    if kind == "drop":
        return f"-{gate.limit:g}"
    return f"{'>=' if kind == 'min' else '<='} {gate.limit * 100:g}%"
