"""`python -m tests.support.llama_server ARGS...`: llama-cpp-python's own server
(`python -m llama_cpp.server ARGS...`) with our extra-buffer rule applied.

The server loads models with `llama_cpp.Llama`, which on a CPU with Intel AMX
crashes (llama.cpp issue 20824) unless extra buffer types are off. This launcher
swaps in the provider's Llama class, which sets `use_extra_bufts` by the same
rule as the llamacpp provider (`auto`, or CASCADECTL_EXTRA_BUFFERS=on|off), then
runs the server's own main() unchanged. The choice is printed on stderr first.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import llama_cpp

from cascadectl.providers.llamacpp.runtime import choose_extra_buffers, llama_with_model_params


def install(setting: str) -> str:
    choice = choose_extra_buffers(setting)
    base = llama_with_model_params(llama_cpp)

    class PeerLlama(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, use_extra_bufts=choice.enabled, **kwargs)

    llama_cpp.Llama = PeerLlama  # the server looks the class up on the module when it loads
    return f"extra_buffers={'on' if choice.enabled else 'off'} ({choice.reason})"


def main() -> None:
    print(f"llama_server launcher: {install(os.environ.get('CASCADECTL_EXTRA_BUFFERS', 'auto'))}", file=sys.stderr, flush=True)
    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", *sys.argv[1:]]
    serve()


if __name__ == "__main__":
    main()
