"""Extra buffer types on and off by CPU (issue: the llama.cpp AMX crash), with the CPU
flags and llama_cpp itself faked: these tests prove the rule on any machine."""
from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cascadectl.errors import ConfigError
from cascadectl.providers.llamacpp import cpu as llamacpp_cpu, runtime as llamacpp_runtime
from cascadectl.providers.llamacpp.cpu import choose, cpu_flags, parse_flags

# A 2-core Sapphire Rapids VM and this repository's AMD EPYC development machine (shortened).
XEON_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8
bugs\t\t: spectre_v1
"""
EPYC_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse sse2 avx avx2 avx512f avx512_bf16 avx512_vnni avx_vnni
"""
ARM_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes sha2 crc32 atomics\n"


def test_flags_are_read_from_the_first_processor() -> None:
    assert {"amx_tile", "amx_int8", "avx2"} <= parse_flags(XEON_CPUINFO)
    assert "amx_int8" not in parse_flags(EPYC_CPUINFO)
    assert "asimd" in parse_flags(ARM_CPUINFO)
    assert parse_flags("no flags here\n") == frozenset()


def test_a_missing_cpuinfo_means_no_flags(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "absent") == frozenset()
    (tmp_path / "cpuinfo").write_text(XEON_CPUINFO)
    assert "amx_tile" in cpu_flags(tmp_path / "cpuinfo")


@pytest.mark.parametrize(
    ("cpuinfo", "system_info", "amx"),
    [
        (XEON_CPUINFO, "", True),
        (EPYC_CPUINFO, "", False),
        (ARM_CPUINFO, "", False),
        ("", "CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 |", True),
        (EPYC_CPUINFO, "CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 0 |", False),
    ],
)
def test_auto_is_off_on_every_cpu_and_says_when_the_cpu_has_amx(cpuinfo: str, system_info: str, amx: bool) -> None:
    # The rule chosen by measurement (docs/performance.md): off costs nothing measurable.
    choice = choose("auto", parse_flags(cpuinfo), system_info)
    assert choice.enabled is False
    assert choice.setting == "auto"
    assert ("Intel AMX (" in choice.reason) is amx and ("issue 20824" in choice.reason) is amx


@pytest.mark.parametrize("cpuinfo", [XEON_CPUINFO, EPYC_CPUINFO])
def test_on_and_off_override_the_cpu(cpuinfo: str) -> None:
    flags = parse_flags(cpuinfo)
    assert choose("on", flags).enabled is True
    assert choose("on", flags, "AMX_INT8 = 1").enabled is True
    assert "may crash" in choose("on", parse_flags(XEON_CPUINFO)).reason
    assert "may crash" not in choose("on", parse_flags(EPYC_CPUINFO)).reason
    assert choose("off", flags).enabled is False
    assert choose("off", flags).to_dict() == {
        "extra_buffers": False, "extra_buffers_setting": "off", "extra_buffers_reason": "options.extra_buffers: off"
    }


class _Params:
    def __init__(self) -> None:
        self.use_extra_bufts = True  # llama.cpp's default
        self.n_gpu_layers = 0


class _FakeLlama:
    """Shaped like llama_cpp.Llama.__init__: default params assigned, filled in, then loaded."""

    loaded_with: list[bool] = []

    def __init__(self, model_path: str, **kwargs: Any) -> None:
        self.model_params = _Params()
        self.model_params.n_gpu_layers = 0
        _FakeLlama.loaded_with.append(self.model_params.use_extra_bufts)
        self.n_threads = kwargs.get("n_threads")

    def close(self) -> None:
        pass


@pytest.fixture
def fake_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("llama_cpp")
    module.Llama = _FakeLlama  # type: ignore[attr-defined]
    module.llama_log_callback = lambda fn: fn  # type: ignore[attr-defined]
    module.llama_log_set = lambda cb, data: None  # type: ignore[attr-defined]
    module.llama_print_system_info = lambda: b"CPU : AVX2 = 1 |"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    monkeypatch.setattr(llamacpp_runtime, "_QUIET_LOG", None)
    _FakeLlama.loaded_with = []
    return module


def _fake_cpu(monkeypatch: pytest.MonkeyPatch, cpuinfo: str) -> None:
    monkeypatch.setattr(llamacpp_cpu, "machine_flags", lambda: parse_flags(cpuinfo))


@pytest.mark.parametrize(("cpuinfo", "setting", "loaded"), [
    (XEON_CPUINFO, "auto", False),
    (EPYC_CPUINFO, "auto", False),
    (XEON_CPUINFO, "on", True),
    (EPYC_CPUINFO, "off", False),
])
def test_the_weights_load_with_the_chosen_model_params(
    fake_llama_cpp: types.ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    cpuinfo: str, setting: str, loaded: bool,
) -> None:
    _fake_cpu(monkeypatch, cpuinfo)
    model = llamacpp_runtime.load_model(
        tmp_path / "m.gguf", 512, 1, False, llamacpp_runtime.choose_extra_buffers(setting)
    )
    # The value llama.cpp sees is the one in the struct when the weights load.
    assert _FakeLlama.loaded_with == [loaded]
    assert model.llm.model_params.use_extra_bufts is loaded
    assert model.extra_buffers.enabled is loaded and model.extra_buffers.setting == setting


class _NoField(_FakeLlama):
    def __init__(self, model_path: str, **kwargs: Any) -> None:
        self.model_params = object()  # a struct without use_extra_bufts


class _Elsewhere(_FakeLlama):
    def __init__(self, model_path: str, **kwargs: Any) -> None:
        self.params = _Params()  # never assigns self.model_params


@pytest.mark.parametrize(("llama", "message"), [
    (_NoField, "no use_extra_bufts field"),
    (_Elsewhere, "no longer assigns self.model_params"),
])
def test_a_llama_cpp_that_cannot_take_the_setting_is_refused_not_ignored(
    fake_llama_cpp: types.ModuleType, tmp_path: Path, llama: type, message: str
) -> None:
    fake_llama_cpp.Llama = llama  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=message):
        llamacpp_runtime.load_model(tmp_path / "m.gguf", 512, 1, False)


def test_llama_cpp_s_own_report_counts_when_the_flags_say_nothing(
    fake_llama_cpp: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_cpu(monkeypatch, "")
    assert "no Intel AMX" in llamacpp_runtime.choose_extra_buffers("auto").reason
    fake_llama_cpp.llama_print_system_info = lambda: b"CPU : AVX2 = 1 | AMX_INT8 = 1 |"  # type: ignore[attr-defined]
    choice = llamacpp_runtime.choose_extra_buffers("auto")
    assert choice.enabled is False and "llama.cpp reports AMX_INT8 = 1" in choice.reason
