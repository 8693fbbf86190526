"""The llamacpp provider's options, checked without importing llama_cpp, httpx or
asyncio, so that `cascadectl validate` stays fast."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError
from cascadectl.providers.llamacpp import assets
from cascadectl.providers.llamacpp.cpu import SETTINGS as EXTRA_BUFFER_SETTINGS
from cascadectl.providers.llamacpp.text import DEFAULT_TURN_TEMPLATE

MODES = ("chat", "completion")
_KNOWN = frozenset(
    "model_path package mode prompt_template turn_template stop n_ctx n_threads seed "
    "top_k top_p min_p repeat_penalty verbose extra_buffers".split()
)


@dataclass(frozen=True)
class LlamaCppOptions:
    model_path: str | None
    package: str | None
    mode: str
    prompt_template: str
    turn_template: str
    stop: tuple[str, ...]
    n_ctx: int = 2048
    n_threads: int | None = None
    seed: int | None = None
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    verbose: bool = False
    extra_buffers: str = "auto"  # auto | on | off: see cpu.py


def parse_options(tier: TierConfig) -> LlamaCppOptions:
    """Check a tier's options without touching llama_cpp or the model file."""
    raw = _with_model_source(tier)
    _check_keys(tier.name, raw)
    model = _registry_entry(raw)
    mode = str(raw.get("mode") or (model.mode if model else "chat"))
    if mode not in MODES:
        raise ConfigError(f"tier {tier.name!r}: options.mode must be 'chat' or 'completion', got {mode!r}")
    template, default_stop = _template(tier.name, raw, model)
    return LlamaCppOptions(
        model_path=raw.get("model_path"),
        package=raw.get("package"),
        mode=mode,
        prompt_template=template,
        turn_template=str(raw.get("turn_template") or DEFAULT_TURN_TEMPLATE),
        stop=_stop_list(tier.name, raw.get("stop"), default_stop if mode == "completion" else ()),
        extra_buffers=_extra_buffers(tier.name, raw.get("extra_buffers", "auto")),
        **_numbers(tier.name, raw),
    )


def _with_model_source(tier: TierConfig) -> dict[str, Any]:
    """The options, with `model` standing in for a missing model_path/package: an
    embedded model's name or a path ending in .gguf."""
    raw = dict(tier.options)
    if not raw.get("model_path") and not raw.get("package"):
        if tier.model in assets.EMBEDDED_MODELS:
            raw["package"] = tier.model
        elif tier.model.lower().endswith(".gguf"):
            raw["model_path"] = tier.model
    return raw


def _check_keys(tier: str, raw: Mapping[str, Any]) -> None:
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise ConfigError(f"tier {tier!r}: unknown llamacpp option(s) {unknown}; known: {sorted(_KNOWN)}")
    if not raw.get("model_path") and not raw.get("package"):
        known = ", ".join(sorted(assets.EMBEDDED_MODELS))
        raise ConfigError(
            f"tier {tier!r}: the llamacpp provider needs options.model_path (a GGUF file) or "
            f"options.package ({known}, or 'python_package/path/in/it.gguf')"
        )


def _registry_entry(raw: Mapping[str, Any]) -> assets.EmbeddedModel | None:
    return assets.EMBEDDED_MODELS.get(str(raw.get("package") or "")) if not raw.get("model_path") else None


def _template(tier: str, raw: Mapping[str, Any], model: assets.EmbeddedModel | None) -> tuple[str, tuple[str, ...]]:
    custom = raw.get("prompt_template")
    if custom is None:
        if model and model.prompt_template:
            return model.prompt_template, model.stop
        return assets.FEW_SHOT_QA_TEMPLATE, assets.FEW_SHOT_QA_STOP
    if not isinstance(custom, str) or "{query}" not in custom:
        raise ConfigError(f"tier {tier!r}: options.prompt_template must be a string containing {{query}}")
    return custom, ()


def _stop_list(tier: str, value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        raise ConfigError(f"tier {tier!r}: options.stop must be a list of non-empty strings, got {value!r}")
    return tuple(items)


def _extra_buffers(tier: str, value: Any) -> str:
    # YAML 1.1 reads a bare on/off as a boolean: take those as meant.
    setting = {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value
    if setting not in EXTRA_BUFFER_SETTINGS:
        choices = ", ".join(EXTRA_BUFFER_SETTINGS)
        raise ConfigError(f"tier {tier!r}: options.extra_buffers must be one of {choices}, got {value!r}")
    return str(setting)


def _numbers(tier: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    specs = {"n_ctx": (int, 16), "n_threads": (int, 1), "seed": (int, 0), "top_k": (int, 0),
             "top_p": (float, 0.0), "min_p": (float, 0.0), "repeat_penalty": (float, 0.0)}
    out: dict[str, Any] = {"verbose": bool(raw.get("verbose", False))}
    for key, (kind, low) in specs.items():
        if raw.get(key) is not None:
            out[key] = _number(tier, key, raw[key], kind, low)
    return out


def _number(tier: str, key: str, value: Any, kind: type, low: float) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low
    if not ok or (kind is int and not float(value).is_integer()):
        expected = "an integer" if kind is int else "a number"
        raise ConfigError(f"tier {tier!r}: options.{key} must be {expected} >= {low}, got {value!r}")
    return kind(value)


def check_tier(tier: TierConfig) -> None:
    parse_options(tier)
