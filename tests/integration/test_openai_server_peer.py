"""Our OpenAI client against an OpenAI-compatible server nobody here wrote:
llama-cpp-python's own server (`python -m llama_cpp.server`) serving SmolLM2."""
from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from cascadectl.config.model import TierConfig
from cascadectl.providers.llamacpp import assets
from cascadectl.providers.base import ProviderRequest
from cascadectl.streaming.deltas import Delta, FinishDelta, TextDelta, UsageDelta

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("local_models"),
    pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs llama-cpp-python[server]"),
]
READY_ATTEMPTS = 600  # polls of /v1/models, each waiting at most 0.5 s for an answer
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(READY_ATTEMPTS):
        if server.poll() is not None:
            raise AssertionError(f"llama_cpp.server exited early with code {server.returncode}")
        try:
            if httpx.get(f"{base}/v1/models", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            # Not listening yet; block on the process briefly instead of a bare sleep.
            try:
                server.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
    raise AssertionError(f"llama_cpp.server was not ready after {READY_ATTEMPTS} polls")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = assets.resolve_model({"package": "smollm2-135m-instruct"})
    port = _free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("wb")
    # Through our launcher: llama_cpp.server itself with extra buffers chosen by the
    # provider's rule, so that it cannot hit the llama.cpp AMX crash either.
    args = [sys.executable, "-m", "tests.support.llama_server", "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", "1024"]
    server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_the_peer_runs_with_the_provider_s_extra_buffer_choice(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from cascadectl.providers.llamacpp.runtime import choose_extra_buffers

    log = next(tmp_path_factory.getbasetemp().glob("server*/server.log")).read_text(errors="replace")
    assert choose_extra_buffers("auto").enabled is False
    assert "llama_server launcher: extra_buffers=off (auto: off" in log


def _tier(url: str) -> TierConfig:
    return TierConfig(name="peer", provider="openai", model="smollm2", base_url=f"{url}/v1")


def _stream(url: str, logprobs: bool) -> list[Delta]:
    from cascadectl.providers.http.openai import OpenAIProvider

    async def go() -> list[Delta]:
        provider = OpenAIProvider(_tier(url), None)
        request = ProviderRequest(
            model="smollm2", messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=8, temperature=0.0, logprobs=logprobs,
        )
        try:
            return [delta async for delta in provider.stream(request)]
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_openai_provider_streams_text_from_llama_cpp_server(server_url: str) -> None:
    deltas = _stream(server_url, logprobs=False)
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    assert text.strip()
    assert [d.reason for d in deltas if isinstance(d, FinishDelta)] == ["length"]
    # llama_cpp.server ignores stream_options.include_usage: no usage chunk arrives,
    # so the provider reports none (the engine then estimates and marks it).
    assert not [d for d in deltas if isinstance(d, UsageDelta)]


def test_logprobs_come_through_per_token(server_url: str) -> None:
    deltas = _stream(server_url, logprobs=True)
    chunks = [d for d in deltas if isinstance(d, TextDelta) and d.text]
    assert chunks and all(d.logprobs for d in chunks)
    assert all(lp.logprob <= 0.0 and lp.token for d in chunks for lp in d.logprobs or ())


def test_cascadectl_stream_through_the_peer(server_url: str, tmp_path: Path) -> None:
    cascade = tmp_path / "peer.yaml"
    tier = (
        "  - {{name: {name}, provider: openai, model: smollm2, base_url: '{url}/v1', "
        "price: {{input: 0.1, output: 0.2}}, logprobs: true}}\n"
    )
    cascade.write_text(
        "version: 1\nname: peer\ntiers:\n" + tier.format(name="a", url=server_url) + tier.format(name="b", url=server_url)
        + "defaults: {max_tokens: 12, temperature: 0}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_CURRENT_TEST", None)
    done = subprocess.run(
        [sys.executable, "-m", "cascadectl.cli.main", "stream", str(cascade), "What is the capital of France?"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "route" in done.stderr and "tokens" in done.stderr, done.stderr
