"""`cascadectl tune TRACES...`: fit the decision on recorded eval traces; print the
cross-validated cost-quality frontier; write a tuned cascade YAML (`--out`).

Tables go to stdout, progress and notes to stderr. Exit codes: 0 ok, 2 bad input.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

DEFAULT_CASCADE = Path("cascades/default.yaml")


def tune_command(
    traces: List[Path] = typer.Argument(..., metavar="TRACES...", help="Eval traces (traces.jsonl or eval out dirs) recorded with --baselines verifier.", show_default=False),
    cascade: Path = typer.Option(DEFAULT_CASCADE, "--cascade", "-c", help="The cascade the traces were recorded with (its models and validators)."),
    target: str = typer.Option("quality-drop=0.02", "--target", help="quality-drop=N (largest drop against verifier-only), saving=N, or acceptance=N; N a proportion or a percentage."),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the tuned cascade YAML here."),
) -> int:
    """Fit thresholds and soft-check weights on recorded traces, by replay, out of sample."""
    from cascadectl.config.loader import load_cascade
    from cascadectl.evals.tune import Target, tune
    from cascadectl.traces.attempts import read_attempts, trace_paths

    goal = Target.parse(target)
    config = load_cascade(cascade)
    attempts = read_attempts(trace_paths(traces))
    print(f"tune: {', '.join(map(str, traces))} under {cascade}, target {goal}, {folds}-fold cross-validation", file=sys.stderr)
    result = tune(config, attempts, goal, folds=folds, seed=seed)
    print(render(result))
    if result.excluded:
        print(f"tune: {len(result.excluded)} items left out, e.g. {result.excluded[0][0]}: {result.excluded[0][1]}", file=sys.stderr)
    if out is not None:
        write_tuned(cascade, result, out)
        print(f"wrote {out} (check it: cascadectl eval --replay {' '.join(map(str, traces))} --cascade {out})", file=sys.stderr)
    return 0


def render(result: Any) -> str:
    from tabulate import tabulate

    head = ["", "acceptance", "quality", "cost/query", "saving vs verifier-only", "gap recovered", "AUROC", "p50 latency"]
    rows = [_row(f"acceptance ~{a:.0%}", f) for a, f in result.frontier]
    chosen = [_row(f"target {result.target}", result.out_of_sample), _row("tuned file, in-sample", result.in_sample)]
    f = result.out_of_sample
    lines = [
        f"{result.items} items, labels: {result.labels}; drafter-only quality {f.drafter_quality:.1%}, "
        f"verifier-only {f.verifier_quality:.1%} (p50 latency {f.verifier_p50_latency_ms:.0f} ms)",
        "",
        f"cost-quality frontier, out-of-sample ({result.folds}-fold cross-validation):",
        tabulate(rows, headers=head, tablefmt="github", disable_numparse=True),
        "",
        tabulate(chosen, headers=head, tablefmt="github", disable_numparse=True),
        "",
        "tuned: " + _decision_text(result.tuned),
    ]
    if result.signals:
        sig_head = ["signal", "AUROC alone", "drafts", "cost per draft", "time per draft"]
        sig_rows = [[s.name, "n/a" if s.auroc is None else f"{s.auroc:.3f}", str(s.drafts),
                     f"${s.cost_per_draft:.6f}", f"{s.latency_ms_per_draft:.0f} ms"] for s in result.signals]
        lines += ["", "each signal on its own (all items):", tabulate(sig_rows, headers=sig_head, tablefmt="github", disable_numparse=True)]
    return "\n".join(lines)


def _row(name: str, f: Any) -> list[str]:
    money = "n/a" if f.cost_per_query is None else f"${f.cost_per_query:.6f}"
    return [name, f"{f.acceptance:.1%}", f"{f.quality:.1%}", money, _pct(f.saving), _pct(f.gap_recovered),
            "n/a" if f.auroc is None else f"{f.auroc:.3f}", f"{f.p50_latency_ms:.0f} ms"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _decision_text(config: Any) -> str:
    soft = [v for v in config.quality.validators if v.type not in ("non_empty", "refusal", "format", "tool_calls")]
    weights = ", ".join(f"{v.type} {v.weight:g}" for v in soft)
    text = f"threshold {next(iter(config.quality.thresholds.values())):g} at every complexity; weights {weights}"
    band = next((v.options for v in soft if v.type == "likelihood" and ({"read_above", "read_below"} & set(v.options))), None)
    if band:
        text += f"; the verifier reads drafts scoring {band.get('read_above', 0):g} to {band.get('read_below', 1):g} without the read"
    return text


def write_tuned(source: Path, result: Any, out: Path) -> None:
    """The source file's data with the tuned quality section, and where it came from."""
    import yaml

    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    quality = result.tuned.quality
    data.setdefault("quality", {})
    data["quality"]["thresholds"] = dict(quality.thresholds)
    data["quality"]["validators"] = [{"type": v.type, "weight": v.weight, **dict(v.options)} for v in quality.validators]
    f = result.out_of_sample
    header = (
        f"# Tuned by `cascadectl tune` from {source.name}: target {result.target}, {result.items} items ({result.labels} labels).\n"
        f"# Out-of-sample ({result.folds}-fold CV): acceptance {f.acceptance:.1%}, quality {f.quality:.1%} "
        f"(verifier-only {f.verifier_quality:.1%}), saving {_pct(f.saving)}, gap recovered {_pct(f.gap_recovered)}.\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
