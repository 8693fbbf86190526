"""Shared set-up for tests that run the embedded models for real.

The repository-wide autouse fixture gives every test a fresh HOME (and so a fresh
XDG cache); the model cache is pointed at one directory per session instead, so
the 250 MB Gemma assembly happens once per run, not once per test.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError
from cascadectl.providers.llamacpp import assets


def missing_local_models() -> str | None:
    """Why the real-model tests cannot run here, or None when they can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama_cpp is not installed ({assets.INSTALL_HINT})"
    for model in assets.EMBEDDED_MODELS.values():
        try:
            assets.chunk_files(model)
        except ConfigError as exc:
            return str(exc)
    return None


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _shared_model_cache(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CASCADECTL_MODEL_CACHE", str(model_cache))
    return model_cache


@pytest.fixture(scope="session")
def local_models() -> None:
    reason = missing_local_models()
    if reason:
        pytest.skip(f"embedded models unavailable: {reason}")


# One llama.cpp thread: on a busy shared CI box, OpenMP teams of several threads
# spin against other processes and a test can take ten times longer.
THREADS = {"n_threads": 1}


def smollm2_tier(name: str = "smollm2", **options: object) -> TierConfig:
    merged = {"package": "smollm2-135m-instruct", "mode": "chat", **THREADS, **options}
    return TierConfig(name=name, provider="llamacpp", model="smollm2-135m-instruct", options=merged)


def gemma_tier(name: str = "gemma", **options: object) -> TierConfig:
    merged = {"package": "gemma3-270m", "mode": "completion", **THREADS, **options}
    return TierConfig(name=name, provider="llamacpp", model="gemma3-270m", options=merged)


@pytest.fixture()
def smollm2() -> TierConfig:
    return smollm2_tier()


@pytest.fixture()
def gemma() -> TierConfig:
    return gemma_tier()
