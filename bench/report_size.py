"""Benchmark: `cascadectl report` on a synthetic 1,000,000-line eval trace.

The trace mixes three runs (cascade, drafter, verifier) the way `cascadectl eval
--baselines drafter,verifier` writes them: per query a query line, routing,
~90% chunk lines, a decision, sometimes a switch, complete (1 in 50 an error)
and score. `cascadectl report` runs in a subprocess writing all five formats;
measured: wall seconds and the child's peak RSS. Baseline: reading the same file
line by line in this process (the floor any report must pay).

    python bench/report_size.py [--quick]      # quick: 50,000 lines
"""
from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, TextIO

REPO = Path(__file__).resolve().parent.parent
GROUP = "report"
TARGET = "< 20 s, < 2 GB"
FULL_LINES, QUICK_LINES = 1_000_000, 50_000
RUNS = ("cascade", "drafter", "verifier")


def _line(run: str, qid: str, seq: int, kind: str, data: dict[str, Any], phase: str | None = None, model: str | None = None, **more: Any) -> str:
    record = {"v": 1, "run_id": "bench-run", "query_id": qid, "seq": seq, "t_ms": float(seq), "type": kind,
              "phase": phase, "model": model, "data": data, **more, "run": run}
    return json.dumps(record, ensure_ascii=False) + "\n"


def _tier(name: str, status: str, tokens: int, price: float) -> dict[str, Any]:
    return {"tier": name, "model": name, "phase": "draft" if name == "small" else "verify", "status": status,
            "input_tokens": 40, "output_tokens": tokens, "cost": round((40 + 2 * tokens) * price * 1e-6, 10),
            "latency_ms": 20.0 + tokens, "ttft_ms": 5.0}


def _query_lines(run: str, index: int, rng: random.Random) -> Iterator[str]:
    qid, tags = f"q{index}", ["math" if index % 3 else "geo", f"set{index % 5}"]
    item = {"id": qid, "query": f"Question number {index}: what is {index} + {index}?", "expected": 2 * index,
            "scorer": "numeric", "tags": tags, "complexity_hint": None, "tools": []}
    yield _line(run, qid, 0, "query", {"query": item["query"], "messages": [{"role": "user", "content": item["query"]}], "item": item})
    tiers = ["small", "big"] if run == "cascade" else (["small"] if run == "drafter" else ["big"])
    yield _line(run, qid, 1, "routing", {"strategy": "cascade" if run == "cascade" else "direct", "complexity": "simple", "reason": "bench", "tier": tiers[0]})
    yield from _answer_lines(run, qid, tiers, rng, item)


def _answer_lines(run: str, qid: str, tiers: list[str], rng: random.Random, item: dict[str, Any]) -> Iterator[str]:
    seq, records = 2, []
    accepted = rng.random() < 0.7
    for name in tiers:
        chunks = rng.randint(30, 44)
        for c in range(chunks):
            yield _line(run, qid, seq, "chunk", {}, "draft" if name == "small" else "verify", name, content=f"tok{c} ")
            seq += 1
        if run == "cascade" and name == "small":
            decision = {"accepted": accepted, "confidence": 0.8, "score": round(rng.random(), 4), "threshold": 0.6, "reason": "bench",
                        "checks": [{"name": "confidence", "kind": "soft", "passed": True, "score": 0.8, "value": 0.8}], "tier": name,
                        "draft": {"text": "tok " * chunks, "logprobs": [-0.1] * chunks, "tool_calls": [], "finish_reason": "stop", "refusal": None}}
            yield _line(run, qid, seq, "draft_decision", decision, "draft", name)
            seq += 1
            if accepted:
                tiers = tiers[:1]
                break
            yield _line(run, qid, seq, "switch", {"from_model": "small", "to_model": "big", "reason": "low score", "kind": "rejected", "retract": True}, "draft", name)
            seq += 1
    yield from _end_lines(run, qid, seq, tiers, accepted, rng, item)


def _end_lines(run: str, qid: str, seq: int, tiers: list[str], accepted: bool, rng: random.Random, item: dict[str, Any]) -> Iterator[str]:
    if rng.random() < 0.02:
        yield _line(run, qid, seq, "error", {"error": "every tier failed", "kind": "server", "errors": [], "tiers": [], "total_cost": 0.0})
        yield _line(run, qid, seq + 1, "score", {"scorer": "numeric", "score": 0.0, "correct": False, "detail": "error"})
        return
    statuses = {"small": "accepted" if run == "cascade" and accepted else ("rejected" if run == "cascade" else "answered"), "big": "answered"}
    tier_dicts = [_tier(t, statuses[t], 25, 1.0 if t == "small" else 10.0) for t in tiers]
    correct = rng.random() < 0.8
    result = {"content": str(item["expected"] if correct else -1), "model_used": tiers[-1], "tier_used": tiers[-1],
              "draft_accepted": run == "cascade" and accepted, "routing_strategy": "cascade", "complexity": "simple",
              "total_cost": sum(t["cost"] for t in tier_dicts), "latency_ms": 30.0 + rng.random() * 100, "ttft_ms": 5.0 + rng.random() * 10,
              "tiers": tier_dicts, "tool_calls": [], "verifier_only_cost": 90e-6, "verifier_only_cost_estimated": True}
    yield _line(run, qid, seq, "complete", {"result": result}, "verify", tiers[-1])
    yield _line(run, qid, seq + 1, "score", {"scorer": "numeric", "score": float(correct), "correct": correct, "detail": ""})


def write_trace(target: TextIO, lines: int, seed: int = 7) -> int:
    rng, written, index = random.Random(seed), 0, 0
    while written < lines:
        index += 1
        for run in RUNS:
            for line in _query_lines(run, index, rng):
                target.write(line)
                written += 1
    return written


def _read_only(path: Path) -> float:
    start = time.perf_counter()
    with path.open(encoding="utf-8") as handle:
        for _line_ in handle:
            pass
    return time.perf_counter() - start


def _report_once(path: Path, out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "cascadectl.cli.main", "report", str(path), "--out", str(out), "--fixed-time", "2025-01-01T00:00:00Z"]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def _spread(values: list[float]) -> float:
    mid = statistics.median(values)
    return round((max(values) - min(values)) / mid, 3) if mid else 0.0


def run(quick: bool) -> list[dict[str, Any]]:
    lines, repeats = (QUICK_LINES, 3) if quick else (FULL_LINES, 3)
    with tempfile.TemporaryDirectory(prefix="cascadectl-bench-") as tmp:
        path = Path(tmp) / "traces.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            written = write_trace(handle, lines)
        reads = [_read_only(path) for _ in range(repeats)]
        times = [_report_once(path, Path(tmp) / f"out{i}") for i in range(repeats)]
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0  # KiB on Linux
        size_mb = path.stat().st_size / 1e6
    note = f"{written:,} lines ({size_mb:.0f} MB), all five formats, median of {repeats}"
    seconds = round(statistics.median(times), 2)
    rows = [
        {"group": GROUP, "name": f"cascadectl report ({written:,} lines)", "value": seconds, "unit": "s",
         "baseline_name": "read the file line by line", "baseline_value": round(statistics.median(reads), 2), "target": TARGET,
         "spread": _spread(times), "note": note},
        {"group": GROUP, "name": f"cascadectl report peak RSS ({written:,} lines)", "value": round(peak_mb, 1), "unit": "MB",
         "baseline_name": "trace file size", "baseline_value": round(size_mb, 1), "target": TARGET, "spread": 0.0,
         "note": "max over the runs (getrusage RUSAGE_CHILDREN)"},
    ]
    if not quick:  # the targets are for the full 1,000,000 lines
        rows[0]["pass"], rows[1]["pass"] = seconds < 20.0, peak_mb < 2048.0
    return rows


def main(argv: list[str]) -> int:
    from tabulate import tabulate

    rows = run(quick="--quick" in argv)
    columns = ["name", "value", "unit", "baseline_name", "baseline_value", "target", "spread", "note"]
    print(tabulate([[r[c] for c in columns] for r in rows], headers=columns))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
