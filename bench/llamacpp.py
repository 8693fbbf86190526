"""Benchmark: our llamacpp provider against llama-cpp-python's own streaming call.

Same model instance, prompt, max_tokens and temperature 0 (greedy, so both sides
produce the same tokens), alternating runs in one process, medians. The KV cache
is reset before every run so each one pays for its prompt.

- ours: `async for` over `LlamaCppProvider.stream()` (llama thread, event-loop
  hand-off, stop scanning, usage), timed from the call to the last delta;
- baseline: `Llama.create_completion(prompt, stream=True)`, called directly and
  timed on the same OS thread the provider generates on (its llama thread). With
  several llama.cpp threads, a second calling thread would bring a second OpenMP
  team into the process, whose idle spinning slows whichever side runs next: a
  measurement artefact that neither a plain llama-cpp-python program nor ours has.

Headline rows run llama.cpp with one thread: that isolates what the provider
adds from OpenMP scheduling noise on a shared machine (and it is the provider's
default on a 2-core box: half the cores). Full runs add all-cores rows, the
logprob route (ours: log-softmax of the
sampled token from the last logits; llama-cpp-python's: logits_all=True plus
logprobs=1), first-run assembly of the multi-part Gemma model into a fresh
cache, reuse of the verified file, and load time. Extra buffer types (llama.cpp's
weight repacking) off against on, per model, tell what `extra_buffers: off` costs;
CASCADECTL_BENCH_GGUF=a.gguf:b.gguf adds those rows for other model files.

    python bench/llamacpp.py [--quick]
"""
from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, TypeVar

if __name__ == "__main__":  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._timing import median, row, spread
from bench.harness import SkipBenchmark
from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError
from cascadectl.providers.llamacpp import assets
from cascadectl.providers.base import ProviderRequest
from cascadectl.streaming.deltas import TextDelta
from cascadectl.providers.llamacpp.provider import LlamaCppProvider
from cascadectl.providers.llamacpp.runtime import LLAMA_THREAD, load_model, release_models, usable_cores

GROUP = "llamacpp"
R = TypeVar("R")
RAW = "llama_cpp create_completion(stream=True)"
PROMPT = "Here is a short story about a lighthouse keeper and a storm. Once upon a time,"
ALL_CORES = usable_cores()


class Plan(NamedTuple):
    runs: int
    max_tokens: int
    packages: tuple[str, ...]
    thread_counts: tuple[int, ...]
    logits_all: bool
    samples: int  # assembly and load repeats


QUICK = Plan(3, 24, ("smollm2-135m-instruct",), (1,), False, 2)
FULL = Plan(7, 64, ("smollm2-135m-instruct", "gemma3-270m"), tuple(dict.fromkeys((1, ALL_CORES))), True, 5)


class Timing(NamedTuple):
    ttft_s: float
    total_s: float
    tokens: int

    @property
    def tokens_per_s(self) -> float:
        # Decode speed after the first token: what a reader sees while text streams.
        return (self.tokens - 1) / max(self.total_s - self.ttft_s, 1e-9)


def _provider(package: str, threads: int, extra_buffers: str = "auto") -> LlamaCppProvider:
    source = {"model_path": package} if package.endswith(".gguf") else {"package": package}
    options = {**source, "mode": "completion", "prompt_template": "{query}", "stop": [],
               "n_ctx": 1024, "n_threads": threads, "extra_buffers": extra_buffers}
    return LlamaCppProvider(TierConfig(name=package, provider="llamacpp", model=package, options=options))


async def _ours(provider: LlamaCppProvider, max_tokens: int, logprobs: bool, prompt: str = PROMPT) -> Timing:
    request = ProviderRequest(model="bench", messages=[{"role": "user", "content": prompt}],
                              max_tokens=max_tokens, temperature=0.0, logprobs=logprobs)
    start, first, tokens = time.perf_counter(), 0.0, 0
    async for delta in provider.stream(request):
        if isinstance(delta, TextDelta):
            first = first or time.perf_counter() - start
            tokens += 1
    total = time.perf_counter() - start
    return Timing(first or total, total, tokens)


def _raw(llm: Any, max_tokens: int, logprobs: int | None = None) -> Timing:
    llm.reset()  # no KV-cache reuse between runs: each run evaluates its prompt
    start, first, tokens = time.perf_counter(), 0.0, 0
    for chunk in llm.create_completion(PROMPT, max_tokens=max_tokens, temperature=0.0, stream=True, logprobs=logprobs):
        if chunk["choices"][0]["text"]:
            first = first or time.perf_counter() - start
            tokens += 1
    total = time.perf_counter() - start
    return Timing(first or total, total, tokens)


def _alternate(runners: list[Callable[[], R]], runs: int) -> list[list[R]]:
    """One warm-up each, then rounds that rotate who goes first."""
    for runner in runners:
        runner()
    out: list[list[R]] = [[] for _ in runners]
    for i in range(runs):
        for k in range(len(runners)):
            j = (i + k) % len(runners)
            out[j].append(runners[j]())
    return out


def _compare(name: str, unit: str, ours: list[float], raw: list[float], faster_is_higher: bool,
             note: str, baseline: str = RAW, target: str = ">= 0.9") -> dict[str, Any]:
    value, base = median(ours), median(raw)
    ratio = value / base if faster_is_higher else base / value
    return row(GROUP, name, value, unit, baseline_name=baseline, baseline_value=base, ratio=round(ratio, 3),
               target=target, spread=spread(ours), note=note)


class _Bench:
    """One model loaded with one thread count, and the ways to run it."""

    def __init__(self, package: str, threads: int, extra_buffers: str = "auto", fresh: bool = True) -> None:
        if fresh:
            release_models()  # the shared model keeps its first n_threads: load afresh per setting
        self.package, self.threads = package, threads
        self.provider = _provider(package, threads, extra_buffers)
        self.loop = asyncio.new_event_loop()
        self.llm = self.loop.run_until_complete(self.provider.model()).llm

    def ours(self, max_tokens: int, logprobs: bool = False, prompt: str = PROMPT) -> Callable[[], Timing]:
        def once() -> Timing:
            self.llm.reset()
            return self.loop.run_until_complete(_ours(self.provider, max_tokens, logprobs, prompt))
        return once

    def raw(self, max_tokens: int, llm: Any = None, logprobs: int | None = None) -> Callable[[], Timing]:
        return lambda: LLAMA_THREAD.submit(lambda: _raw(llm or self.llm, max_tokens, logprobs)).result()

    @property
    def label(self) -> str:
        return f"{self.package}, {self.threads} thread{'s' if self.threads > 1 else ''}"

    def close(self) -> None:
        self.loop.close()


def _speed_rows(package: str, threads: int, plan: Plan) -> list[dict[str, Any]]:
    bench = _Bench(package, threads)
    try:
        mine, theirs = _alternate([bench.ours(plan.max_tokens), bench.raw(plan.max_tokens)], plan.runs)
        # Time to first token is cheap to sample: short runs, five times as many.
        first_mine, first_theirs = _alternate([bench.ours(1), bench.raw(1)], 5 * plan.runs)
    finally:
        bench.close()
    note = f"median of {plan.runs}, {mine[0].tokens} tokens, greedy, alternating; KV cache reset per run"
    ttft_note = f"median of {5 * plan.runs} one-token runs, alternating; KV cache reset per run; ratio = baseline/ours"
    return [
        _compare(f"{bench.label}: tokens/s", "tok/s", [t.tokens_per_s for t in mine],
                 [t.tokens_per_s for t in theirs], True, note),
        _compare(f"{bench.label}: TTFT", "ms", [t.ttft_s * 1e3 for t in first_mine],
                 [t.ttft_s * 1e3 for t in first_theirs], False, ttft_note),
    ]


LONG_PROMPT = " ".join([PROMPT] * 16)  # ~330 tokens: a prefill-bound first token


def _buffer_rows(package: str, plan: Plan) -> list[dict[str, Any]]:
    """Extra buffer types (llama.cpp's weight repacking) off against on, same model and
    thread count, alternating: what `extra_buffers: off` costs on this CPU."""
    on = _Bench(package, 1, "on")
    off = _Bench(package, 1, "off", fresh=False)
    try:
        speed_on, speed_off = _alternate([on.ours(plan.max_tokens), off.ours(plan.max_tokens)], plan.runs)
        first_on, first_off = _alternate([on.ours(1), off.ours(1)], 5 * plan.runs)
        long_on, long_off = _alternate([on.ours(1, prompt=LONG_PROMPT), off.ours(1, prompt=LONG_PROMPT)], plan.runs)
    finally:
        on.close()
        off.close()
    label, base = f"{Path(package).name}, 1 thread, extra buffers off", "extra buffers on"
    note = "alternating, KV cache reset per run; ratio = off/on for tok/s, on/off for times (< 1: off is slower)"
    return [
        _compare(f"{label}: tokens/s", "tok/s", [t.tokens_per_s for t in speed_off],
                 [t.tokens_per_s for t in speed_on], True, f"median of {plan.runs}; " + note, base, "informational"),
        _compare(f"{label}: TTFT", "ms", [t.ttft_s * 1e3 for t in first_off], [t.ttft_s * 1e3 for t in first_on],
                 False, f"median of {5 * plan.runs}, ~20-token prompt; " + note, base, "informational"),
        _compare(f"{label}: TTFT, ~330-token prompt", "ms", [t.ttft_s * 1e3 for t in long_off],
                 [t.ttft_s * 1e3 for t in long_on], False, f"median of {plan.runs}; " + note, base, "informational"),
    ]


def _logprob_rows(package: str, plan: Plan) -> list[dict[str, Any]]:
    """Our per-token logprobs against llama-cpp-python's logits_all route, and what they cost us."""
    import llama_cpp

    bench = _Bench(package, 1)
    try:
        path = str(assets.resolve_model({"package": package}))
        settings = {"n_ctx": 1024, "n_threads": 1, "n_threads_batch": 1, "logits_all": True, "verbose": False}
        reference = LLAMA_THREAD.submit(lambda: llama_cpp.Llama(path, **settings)).result()
        tokens, runs = 16, 3  # the baseline scores the whole vocabulary in Python: slow
        plain, scored, theirs = _alternate(
            [bench.ours(tokens), bench.ours(tokens, logprobs=True), bench.raw(tokens, reference, logprobs=1)], runs
        )
    finally:
        bench.close()
    without = median([t.tokens_per_s for t in plain])
    note = (f"median of {runs}, {tokens} tokens; ours: log-softmax of the sampled token from the last logits "
            f"({without:.1f} tok/s without logprobs, same rounds); baseline loads with logits_all=True")
    return [_compare(f"{bench.label}: tokens/s with logprobs", "tok/s", [t.tokens_per_s for t in scored],
                     [t.tokens_per_s for t in theirs], True, note, RAW + " + logprobs=1, logits_all=True")]


def _assembly_rows(samples: int) -> list[dict[str, Any]]:
    model = assets.EMBEDDED_MODELS["gemma3-270m"]
    chunks = assets.chunk_files(model)
    firsts, plain, reuses = [], [], []
    for _ in range(samples):
        with tempfile.TemporaryDirectory(prefix="cascadectl-bench-") as tmp:
            firsts.append(_timed(lambda: assets.materialize(model, Path(tmp) / "models")) * 1e3)
            reuses.append(_timed(lambda: assets.materialize(model, Path(tmp) / "models")) * 1e3)
            plain.append(_timed(lambda: _concatenate(chunks, Path(tmp) / "plain.gguf")) * 1e3)
    size_mb = sum(c.stat().st_size for c in chunks) / 1e6
    return [
        row(GROUP, "gemma3-270m: first-run assembly", median(firsts), "ms", baseline_name="plain concatenation",
            baseline_value=median(plain), target="informational", spread=spread(firsts),
            note=f"{size_mb:.0f} MB into a fresh cache: copy + SHA-256 + fsync + rename (baseline: copy only)"),
        row(GROUP, "gemma3-270m: verified reuse", median(reuses), "ms", target="informational",
            spread=spread(reuses), note="later runs: stat + sidecar check, no rehash"),
    ]


def _concatenate(chunks: list[Path], target: Path) -> None:
    with target.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)


def _load_rows(plan: Plan) -> list[dict[str, Any]]:
    import llama_cpp

    rows = []
    for package in ("smollm2-135m-instruct", "gemma3-270m"):
        path = assets.resolve_model({"package": package})
        settings = {"n_ctx": 1024, "n_threads": 1, "n_threads_batch": 1, "verbose": False}
        ours = lambda: _timed(lambda: load_model(path, 1024, 1, False))  # noqa: E731
        raw = lambda: _timed(lambda: llama_cpp.Llama(str(path), **settings))  # noqa: E731
        mine, theirs = _alternate([ours, raw], plan.samples)  # the warm-up round fills the page cache
        rows.append(_compare(f"{package}: load", "ms", [t * 1e3 for t in mine], [t * 1e3 for t in theirs], False,
                             f"median of {plan.samples}, alternating after a warm-up; ratio = baseline/ours "
                             "(the same call underneath: parity expected)", "llama_cpp.Llama(...)", "informational"))
    return rows


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    del result  # freeing a loaded model is not part of loading it: free it now,
    gc.collect()  # cycles included, rather than during the next timed load
    return elapsed


def _measure(plan: Plan) -> list[dict[str, Any]]:
    rows = _assembly_rows(plan.samples)
    for package in plan.packages:
        for threads in plan.thread_counts:
            rows += _speed_rows(package, threads, plan)
        rows += _buffer_rows(package, plan)
        if plan.logits_all:
            rows += _logprob_rows(package, plan)
    for path in _extra_models():
        rows += _buffer_rows(path, plan)
    return rows + _load_rows(plan)


def _extra_models() -> list[str]:
    """GGUF files named in CASCADECTL_BENCH_GGUF (colon-separated) get extra-buffer rows
    too: what llama.cpp repacks depends on the quantisation (Q4_K and Q4_0 on AVX2)."""
    return [p for p in os.environ.get("CASCADECTL_BENCH_GGUF", "").split(":") if p.endswith(".gguf")]


def run(quick: bool) -> list[dict[str, Any]]:
    if importlib.util.find_spec("llama_cpp") is None:
        raise SkipBenchmark(f"llama_cpp is not installed ({assets.INSTALL_HINT})")
    try:
        for model in assets.EMBEDDED_MODELS.values():
            assets.chunk_files(model)
    except ConfigError as exc:
        raise SkipBenchmark(str(exc)) from None
    saved = os.environ.get("CASCADECTL_MODEL_CACHE")
    with tempfile.TemporaryDirectory(prefix="cascadectl-bench-cache-") as cache:
        os.environ["CASCADECTL_MODEL_CACHE"] = cache  # never touch the user's real cache
        try:
            return _measure(QUICK if quick else FULL)
        finally:
            _restore("CASCADECTL_MODEL_CACHE", saved)
            release_models()


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def main(argv: list[str]) -> int:
    from tabulate import tabulate

    columns = ["name", "value", "unit", "baseline_value", "ratio", "target", "spread", "note"]
    rows = run(quick="--quick" in argv)
    print(tabulate([[r.get(c, "") for c in columns] for r in rows], headers=columns, floatfmt=".2f"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
