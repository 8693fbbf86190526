"""Whether llama.cpp may use extra weight buffer types (CPU-dependent code).

llama.cpp repacks weights into "extra" buffer types for faster CPU kernels
(`llama_model_params.use_extra_bufts`). On CPUs with Intel AMX the AMX buffer type
crashes the process (SIGSEGV in `ggml_backend_amx_mul_mat`, llama.cpp issue 20824).

`auto` (the default) turns extra buffers off on every CPU. Measured with
bench/llamacpp.py (docs/performance.md, "Extra buffers and Intel AMX"), off costs
nothing measurable on the embedded models (within +-4%, inside the run-to-run
spread), so one rule for every machine is simpler than a CPU test, and it keeps
the numerics (hence greedy answers, evals and replays) the same on every CPU. `on`
opts back in. The reason recorded with the choice says whether this CPU has AMX,
detected from the kernel's CPU flags (`amx_tile`, `amx_int8`, `amx_bf16` in
/proc/cpuinfo) or from llama.cpp's own feature report (`AMX_INT8 = 1`); `on` on
such a CPU is honoured, with a warning in that reason. Tests fake both.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SETTINGS = ("auto", "on", "off")
AMX_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16", "amx_fp16", "amx_complex"})
CPUINFO = Path("/proc/cpuinfo")
_REPORT_AMX = re.compile(r"\bAMX_INT8\s*=\s*1\b")


@dataclass(frozen=True)
class ExtraBuffers:
    """The choice for one process, and why: recorded in every llamacpp tier record."""

    enabled: bool
    setting: str  # auto | on | off
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"extra_buffers": self.enabled, "extra_buffers_setting": self.setting,
                "extra_buffers_reason": self.reason}


def choose(setting: str, flags: frozenset[str], system_info: str = "") -> ExtraBuffers:
    amx = amx_evidence(flags, system_info)
    if setting == "on":
        note = f"; this CPU has Intel AMX ({amx}): llama.cpp issue 20824 may crash it" if amx else ""
        return ExtraBuffers(True, setting, "options.extra_buffers: on" + note)
    if setting == "off":
        return ExtraBuffers(False, setting, "options.extra_buffers: off")
    if amx:
        return ExtraBuffers(False, setting, f"auto: off; this CPU has Intel AMX ({amx}), llama.cpp issue 20824")
    return ExtraBuffers(False, setting, "auto: off on every CPU (no measurable speed-up); no Intel AMX here")


def amx_evidence(flags: frozenset[str], system_info: str = "") -> str:
    """What shows this CPU has Intel AMX ("" when nothing does)."""
    found = sorted(flags & AMX_FLAGS)
    if found:
        return ", ".join(found)
    return "llama.cpp reports AMX_INT8 = 1" if _REPORT_AMX.search(system_info) else ""


def cpu_flags(path: Path = CPUINFO) -> frozenset[str]:
    """The first processor's feature flags (x86 `flags`, Arm `Features`); empty where
    there is no such file (macOS, Windows)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    return parse_flags(text)


def parse_flags(cpuinfo: str) -> frozenset[str]:
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@lru_cache(maxsize=1)
def machine_flags() -> frozenset[str]:
    return cpu_flags()
