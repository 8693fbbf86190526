"""Benchmark: the incremental JSON parser on streamed tool-call arguments.

Argument documents of 10 KB, 1 MB and 10 MB (quick: 10 KB and 100 KB) are fed
in 1-byte, 16-byte and 4 KB fragments, then finish() is called; the baseline
is `json.loads` of the whole document in the same run. One more row per size
also reads `.value` after every 16-byte feed, as a UI showing partial
arguments would. Times are thread CPU time (a shared machine's other load does
not count against us); the fragments are cut inside the timed loop.

The target is linearity: time per byte flat within 1.5x across document sizes
at every fragment size. The `linearity` rows give max/min of time per byte,
from each cell's fastest sample (noise on a shared machine only adds time);
the MB/s rows are medians.

    python bench/jsonstream.py [--quick]
"""
from __future__ import annotations

import gc
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple, Sequence

if __name__ == "__main__":  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._timing import median, row, spread

GROUP = "jsonstream"
FRAGMENTS = (1, 16, 4096)
VALUE_FRAGMENT = 16
BASELINE = "json.loads whole doc"
TARGET = "time/byte flat within 1.5x across sizes"
WORDS = ("weather", "Paris", "résumé", "東京", "naïve", "temperature", "forecast", "query", "alpha", "beta")


class Plan(NamedTuple):
    sizes: tuple[int, ...]
    samples: dict[int, int]  # document size -> timed samples per cell
    slow_samples: dict[int, int]  # fewer for the slowest cells (1-byte fragments, .value reads)
    parses: dict[int, int]  # parses per sample: small documents are timed in batches


def plan(quick: bool) -> Plan:
    if quick:
        return Plan((10_000, 100_000), {10_000: 5, 100_000: 3}, {10_000: 5, 100_000: 2}, {10_000: 3, 100_000: 1})
    samples = {10_000: 21, 1_000_000: 5, 10_000_000: 3}
    return Plan((10_000, 1_000_000, 10_000_000), samples, {**samples, 10_000_000: 2},
                {10_000: 20, 1_000_000: 1, 10_000_000: 1})


# ----- documents ---------------------------------------------------------------
def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _record(rng: random.Random, index: int) -> dict[str, Any]:
    # What tool arguments carry: short and long strings (some with quotes,
    # newlines, tabs), numbers of every shape, flags, nulls, small nesting.
    code = "\n".join(f'    print("{_sentence(rng, 2)}")\t# {index}' for _ in range(rng.randint(0, 3)))
    return {
        "id": index,
        "title": _sentence(rng, rng.randint(1, 6)),
        "body": f"def f_{index}():\n{code}\n" if code else _sentence(rng, rng.randint(5, 30)),
        "score": round(rng.uniform(-1e4, 1e4), rng.randint(0, 6)),
        "ratio": rng.random() * 10 ** rng.randint(-8, 8),
        "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 4))],
        "active": rng.random() < 0.5,
        "parent": None if rng.random() < 0.5 else rng.randint(0, index + 1),
        "meta": {"lang": rng.choice(("en", "fr", "ja")), "chars": rng.randint(0, 10**6), "quoted": '"x"'},
    }


def document(size: int, seed: int = 5) -> str:
    """A JSON object of at least `size` characters; the same texture at every size."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    length = 0
    while length < size:
        records.append(_record(rng, len(records)))
        length += len(json.dumps(records[-1], ensure_ascii=False)) + 2
    return json.dumps({"query": "summarise these records", "records": records, "limit": len(records)},
                      ensure_ascii=False)


# ----- timing --------------------------------------------------------------------
def feed_seconds(doc: str, fragment: int, parses: int, read_value: bool = False) -> float:
    """Thread CPU seconds per parse, over `parses` back-to-back parses."""
    gc.collect()
    start = time.thread_time()
    for _ in range(parses):
        _parse(doc, fragment, read_value)
    return (time.thread_time() - start) / parses


def _parse(doc: str, fragment: int, read_value: bool) -> None:
    from cascadectl.tools.jsonstream import IncrementalJSONParser

    parser = IncrementalJSONParser()
    feed = parser.feed
    if read_value:
        for i in range(0, len(doc), fragment):
            feed(doc[i : i + fragment])
            parser.value
    else:
        for i in range(0, len(doc), fragment):
            feed(doc[i : i + fragment])
    parser.finish()


def loads_seconds(doc: str, parses: int) -> float:
    gc.collect()
    start = time.thread_time()
    for _ in range(parses):
        json.loads(doc)
    return (time.thread_time() - start) / parses


def _label(size: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} B"


def _fragment_label(size: int) -> str:
    return f"{size // 1024} KB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


class Cell(NamedTuple):
    name: str
    size: int
    fragment: int
    times: list[float]


def measure(doc: str, size: int, p: Plan) -> tuple[list[Cell], list[float]]:
    parses = p.parses[size]
    cells = []
    for fragment in (*FRAGMENTS, -VALUE_FRAGMENT):
        step, read_value = abs(fragment), fragment < 0
        if size < 10_000_000:
            _parse(doc, step, read_value)  # warm-up, untimed
        samples = p.slow_samples[size] if fragment in (1, -VALUE_FRAGMENT) else p.samples[size]
        times = [feed_seconds(doc, step, parses, read_value) for _ in range(samples)]
        name = f"{_label(size)} doc, {_fragment_label(step)} fragments" + (" + .value" if read_value else "")
        cells.append(Cell(name, size, fragment, times))
    baseline = [loads_seconds(doc, parses) for _ in range(max(3, p.samples[size]))]
    return cells, baseline


def cell_row(cell: Cell, nbytes: int, baseline: list[float]) -> dict[str, Any]:
    mbs = nbytes / 1e6 / median(cell.times)
    base = nbytes / 1e6 / median(baseline)
    note = f"{nbytes:,} bytes; median of {len(cell.times)} samples; thread CPU time"
    return row(GROUP, cell.name, mbs, "MB/s", baseline_name=BASELINE, baseline_value=base, target=TARGET,
               spread=spread(cell.times), note=note)


def linearity_rows(cells: Sequence[Cell], nbytes: dict[int, int]) -> list[dict[str, Any]]:
    out = []
    for fragment in (*FRAGMENTS, -VALUE_FRAGMENT):
        # The fastest sample: other load on a shared machine only ever adds time.
        per_byte = {c.size: min(c.times) / nbytes[c.size] for c in cells if c.fragment == fragment}
        worst, best = max(per_byte.values()), min(per_byte.values())
        what = f"{abs(fragment)} B fragments + .value" if fragment < 0 else f"{_fragment_label(fragment)} fragments"
        detail = ", ".join(f"{_label(s)}: {t * 1e9:.0f} ns/B" for s, t in per_byte.items())
        out.append(row(GROUP, f"linearity, {what}", worst / best, "x", baseline_name="flat", baseline_value=1.0,
                       target="<= 1.5", note=f"max/min of best time per byte across sizes ({detail})"))
    return out


def run(quick: bool) -> list[dict[str, Any]]:
    p = plan(quick)
    rows: list[dict[str, Any]] = []
    cells: list[Cell] = []
    nbytes: dict[int, int] = {}
    for size in p.sizes:
        doc = document(size)
        nbytes[size] = len(doc.encode("utf-8"))
        measured, baseline = measure(doc, size, p)
        rows.extend(cell_row(c, nbytes[size], baseline) for c in measured)
        cells.extend(measured)
    return rows + linearity_rows(cells, nbytes)


def main(argv: list[str]) -> int:
    for item in run(quick="--quick" in argv):
        print(f"{item['name']:<44} {item['value']:>9.3f} {item['unit']:<5} "
              f"baseline {item['baseline_value']:>8.2f}  spread {item['spread']:>5.2f}  target {item['target']}  "
              f"({item['note']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
