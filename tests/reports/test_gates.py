"""Each gate on both sides of its limit and exactly at it (a value at the limit
passes: limits are inclusive), and a gate with missing data fails."""
from __future__ import annotations

from typing import Any

import pytest

from cascadectl.errors import ConfigError, UsageError
from cascadectl.reports.gates import (
    DEFAULT_LIMITS,
    Gate,
    check_gate,
    check_gates,
    default_gates,
    gates_exit_code,
    parse_gate_flags,
    parse_gates,
    parse_limit,
    render_gate_table,
    select_gates,
)


def report(cost: float | None = 1e-4, quality: float | None = 0.8, acceptance: float | None = 0.6,
           p95: float | None = 1000.0, error_rate: float | None = 0.0) -> dict[str, Any]:
    metrics = {"cost": {"per_query": cost}, "quality": quality, "acceptance_rate": acceptance,
               "latency_ms": {"p95": p95}, "error_rate": error_rate}
    return {"schema": "cascadectl.eval-report", "version": 1, "runs": ["cascade"], "metrics": {"cascade": metrics}}


def gate(name: str, limit: Any) -> Gate:
    (only,) = parse_gates({name: limit})
    return only


BASE = report()


@pytest.mark.parametrize(
    ("name", "limit", "now", "passed"),
    [
        # cost per query: +10% allowed on a baseline of 1e-4
        ("max_cost_increase", "10%", report(cost=1.05e-4), True),
        ("max_cost_increase", "10%", report(cost=1.1e-4), True),  # exactly +10% (float noise and all)
        ("max_cost_increase", 0.1, report(cost=1.1e-4), True),
        ("max_cost_increase", "10%", report(cost=1.1001e-4), False),
        ("max_cost_increase", "10%", report(cost=0.5e-4), True),  # cheaper is fine
        # quality: a drop of at most 0.02 points from 0.8
        ("max_quality_drop", 0.02, report(quality=0.79), True),
        ("max_quality_drop", 0.02, report(quality=0.78), True),  # exactly at the limit
        ("max_quality_drop", "2%", report(quality=0.78), True),
        ("max_quality_drop", 0.02, report(quality=0.7799), False),
        ("max_quality_drop", 0.02, report(quality=0.95), True),
        # acceptance: at least 50%
        ("min_acceptance", 0.5, report(acceptance=0.51), True),
        ("min_acceptance", 0.5, report(acceptance=0.5), True),
        ("min_acceptance", 0.5, report(acceptance=0.4999), False),
        # acceptance drop from 0.6: at most 0.1
        ("max_acceptance_drop", 0.1, report(acceptance=0.5), True),
        ("max_acceptance_drop", 0.1, report(acceptance=0.49), False),
        # p95 latency: +20% on 1000 ms
        ("max_p95_latency_increase", "20%", report(p95=1200.0), True),
        ("max_p95_latency_increase", "20%", report(p95=1201.0), False),
        # errors: at most 1%
        ("max_error_rate", 0.01, report(error_rate=0.01), True),
        ("max_error_rate", 0.01, report(error_rate=0.0101), False),
        ("max_error_rate", "0%", report(error_rate=0.0), True),
    ],
)
def test_each_gate_on_both_sides_of_its_limit(name: str, limit: Any, now: dict[str, Any], passed: bool) -> None:
    result = check_gate(now, BASE, gate(name, limit))
    assert result.passed is passed, result.detail


@pytest.mark.parametrize(
    ("name", "now", "baseline", "detail"),
    [
        ("max_cost_increase", report(cost=None), BASE, "no data: the report has no cost per query"),
        ("max_cost_increase", BASE, report(cost=None), "no data: the baseline has no cost per query"),
        ("max_cost_increase", BASE, None, "no data: no baseline report given (--baseline)"),
        ("max_quality_drop", report(quality=None), BASE, "no data: the report has no quality (mean score)"),
        ("min_acceptance", report(acceptance=None), None, "no data: the report has no acceptance rate"),
        ("max_p95_latency_increase", BASE, {"metrics": {}}, "no data: the baseline has no p95 latency"),
        ("max_error_rate", {"metrics": {}}, BASE, "no data: the report has no error rate"),
    ],
)
def test_missing_data_fails_the_gate(name: str, now: dict[str, Any], baseline: dict[str, Any] | None, detail: str) -> None:
    result = check_gate(now, baseline, gate(name, DEFAULT_LIMITS.get(name, 0.1)))
    assert (result.passed, result.detail) == (False, detail)


def test_absolute_gates_need_no_baseline() -> None:
    results = check_gates(report(acceptance=0.7, error_rate=0.0), None, parse_gates({"min_acceptance": 0.5, "max_error_rate": 0.01}))
    assert [r.passed for r in results] == [True, True] and gates_exit_code(results) == 0


def test_a_zero_cost_baseline_fails_any_increase() -> None:
    assert check_gate(report(cost=0.0), report(cost=0.0), gate("max_cost_increase", "10%")).passed is True
    rise = check_gate(report(cost=1e-6), report(cost=0.0), gate("max_cost_increase", "10%"))
    assert rise.passed is False and "baseline was 0" in rise.detail


def test_the_figures_are_the_cascade_runs() -> None:
    both = report(quality=0.9)
    both["runs"] = ["cascade", "verifier"]
    both["metrics"]["verifier"] = {"quality": 0.1}
    assert check_gate(both, BASE, gate("max_quality_drop", 0.02)).now == 0.9


def test_defaults_are_the_five_documented_gates() -> None:
    gates = default_gates()
    assert [(g.name, g.limit) for g in gates] == [
        ("max_cost_increase", 0.1), ("max_quality_drop", 0.02), ("min_acceptance", 0.5),
        ("max_p95_latency_increase", 0.2), ("max_error_rate", 0.01)]
    assert select_gates({"max_error_rate": None}) == gates
    assert [g.name for g in select_gates({"max_error_rate": "5%"})] == ["max_error_rate"]


@pytest.mark.parametrize(
    ("value", "limit"),
    [("10%", 0.1), (" 12.5% ", 0.125), (0.1, 0.1), ("0.1", 0.1), (0, 0.0), (1, 1.0), ("150%", 1.5)],
)
def test_limits_read_as_proportions_or_percentages(value: Any, limit: float) -> None:
    assert parse_limit(value, "x") == pytest.approx(limit)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10, r"10 is a proportion above 1 \(1000%\); write '10%'"),
        ("abc", "expected a proportion like 0.1 or a percentage like '10%'"),
        (-0.1, "expected a proportion"),
        (True, "expected a proportion"),
        ("ten%", "expected a proportion"),
    ],
)
def test_bad_limits_are_refused_with_the_reason(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_limit(value, "gates.max_cost_increase")


def test_only_increase_limits_may_pass_100_percent() -> None:
    assert gate("max_cost_increase", "150%").limit == 1.5
    with pytest.raises(ConfigError, match=r"gates\.min_acceptance: '150%' is above 100%"):
        parse_gates({"min_acceptance": "150%"})


def test_unknown_gate_names_suggest_the_nearest() -> None:
    with pytest.raises(ConfigError, match=r"gates: unknown gate 'max_cost_increse' \(did you mean 'max_cost_increase'\?\)"):
        parse_gates({"max_cost_increse": "10%"})


def test_flag_style_names_and_messages() -> None:
    assert parse_gates({"max-error-rate": "1%"})[0].name == "max_error_rate"
    with pytest.raises(ConfigError, match="--max-error-rate: expected a proportion"):
        parse_gates({"max_error_rate": "x"}, flags=True)
    assert parse_gate_flags(["max-cost-increase=10%", "min_acceptance = 0.5"]) == {"max_cost_increase": "10%", "min_acceptance": "0.5"}
    with pytest.raises(UsageError, match="expected NAME=LIMIT"):
        parse_gate_flags(["max_cost_increase"])


def test_table_shows_baseline_now_limit_and_verdict() -> None:
    results = check_gates(report(cost=1.2e-4, error_rate=0.0), BASE, parse_gates({"max_cost_increase": "10%", "max_error_rate": 0.01}))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in render_gate_table(results).splitlines()]
    assert cells[0] == ["gate", "baseline", "now", "limit", "result", "detail"]
    assert cells[2] == ["max_cost_increase", "$0.000100", "$0.000120", "+10%", "FAIL", "+20.0% (limit +10%)"]
    assert cells[3] == ["max_error_rate", "0.0%", "0.0%", "<= 1%", "pass", "at most 1%"]
    assert gates_exit_code(results) == 1
    assert results[0].to_dict()["passed"] is False
