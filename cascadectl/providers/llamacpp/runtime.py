"""The llama_cpp side of the llamacpp provider: one shared model per (path, n_ctx) and
the thread every llama_cpp call runs on (the token loop is in generate.py).

All loading and generation happens on one daemon thread per process. llama.cpp's
CPU backend runs each step on an OpenMP team of `n_threads` threads owned by the
calling thread; a team per generation thread (or two models generating at once)
puts more spinning threads than cores on the machine, and throughput collapses.
With one llama thread the process behaves like a plain single-threaded
llama-cpp-python program. A `Llama` object is not thread-safe either, so each
shared model also carries a lock held from tokenizing a prompt to its last token.
"""
from __future__ import annotations

import atexit
import os
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from cascadectl.errors import ConfigError
from cascadectl.providers.llamacpp import cpu as llamacpp_cpu
from cascadectl.providers.llamacpp.assets import INSTALL_HINT
from cascadectl.providers.llamacpp.cpu import ExtraBuffers

T = TypeVar("T")


@dataclass
class SharedModel:
    llm: Any
    path: Path
    n_ctx: int
    extra_buffers: ExtraBuffers
    lock: threading.Lock = field(default_factory=threading.Lock)
    chat_formatter: Any = None  # None: the GGUF has no chat template (or it was not asked for yet)
    formatter_checked: bool = False

    def ensure_chat_formatter(self) -> Any:
        """The model's chat template as a formatter, built on first use: completion-mode
        models never pay for compiling it."""
        if not self.formatter_checked:
            self.chat_formatter = _chat_formatter(self.llm)
            self.formatter_checked = True
        return self.chat_formatter


class LlamaThread:
    """A daemon thread that runs submitted callables one at a time, in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._ensure_started()
        self._jobs.put((work, future))
        return future

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="cascadectl-llama", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while True:
            work, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except Exception as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)


LLAMA_THREAD = LlamaThread()
_MODELS: dict[tuple[str, int, bool], SharedModel] = {}
_MODELS_LOCK = threading.Lock()
_QUIET_LOG: Any = None


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(
            f"the llamacpp provider needs llama-cpp-python ({exc}); install the local extra: {INSTALL_HINT}"
        ) from None
    return llama_cpp


def shared_model(
    path: Path, n_ctx: int, n_threads: int | None = None, verbose: bool = False,
    extra_buffers: ExtraBuffers | None = None,
) -> SharedModel:
    """The process-wide model for (path, n_ctx, extra buffers on or off), loaded on first
    use. The first caller's n_threads wins: it is a property of the loaded context."""
    choice = extra_buffers or choose_extra_buffers("auto")
    key = (str(path.resolve()), n_ctx, choice.enabled)
    with _MODELS_LOCK:
        if key not in _MODELS:
            if not _MODELS:
                atexit.register(_close_idle_models)
            _MODELS[key] = load_model(path, n_ctx, n_threads or default_threads(), verbose, choice)
        return _MODELS[key]


def choose_extra_buffers(setting: str) -> ExtraBuffers:
    """The tier's setting applied to this machine's CPU (see cpu.py)."""
    return llamacpp_cpu.choose(setting, llamacpp_cpu.machine_flags(), _system_info())


def _system_info() -> str:
    try:
        raw = import_llama_cpp().llama_print_system_info()
    except (ConfigError, AttributeError):
        return ""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def default_threads() -> int:
    """Half the usable cores, as llama-cpp-python itself defaults to. An OpenMP team as
    wide as the machine spins whenever another process takes one of its cores: on a
    busy 2-core box, `cascadectl eval --limit 5` on the default cascade took 18-63 s
    with 2 threads against a steady 3.4 s with 1."""
    return max(1, usable_cores() // 2)


def usable_cores() -> int:
    """All the cores this process may run on (its affinity mask, e.g. a container's
    cpuset), which can be fewer than the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def loaded_models() -> list[SharedModel]:
    with _MODELS_LOCK:
        return list(_MODELS.values())


def release_models() -> None:
    """Forget every shared model (benchmarks measure loading; tests free memory)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def _close_idle_models() -> None:
    # Free models while llama_cpp is still intact; left to interpreter shutdown, their
    # finalizers run after the module is torn down and print tracebacks. A model busy
    # on the (daemon) llama thread is left alone: freeing it mid-step would crash.
    with _MODELS_LOCK:
        for model in _MODELS.values():
            if model.lock.acquire(blocking=False):
                model.llm.close()
        _MODELS.clear()


def load_model(
    path: Path, n_ctx: int, n_threads: int, verbose: bool, extra_buffers: ExtraBuffers | None = None
) -> SharedModel:
    llama_cpp = import_llama_cpp()
    choice = extra_buffers or choose_extra_buffers("auto")
    if not verbose:
        _silence_llama_log(llama_cpp)
    llama_class = llama_with_model_params(llama_cpp)
    try:
        llm = llama_class(
            str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=verbose,
            use_extra_bufts=choice.enabled,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ConfigError(f"cannot load GGUF model {path}: {exc}") from None
    return SharedModel(llm, path, n_ctx, choice)


_LLAMA_CLASSES: dict[int, Any] = {}


def llama_with_model_params(llama_cpp: Any) -> Any:
    """`llama_cpp.Llama`, taking `use_extra_bufts=` as well.

    Llama() has no argument for it, and it must be set before the weights load.
    Llama.__init__ assigns `self.model_params = llama_model_default_params()` and
    fills it in before loading (llama-cpp-python 0.3.36, pinned in pyproject); this
    subclass turns that attribute into a property whose setter applies our value
    to the struct as it is assigned. Per instance, no global patching. Should a
    release stop going through that attribute, loading fails loudly instead of
    silently keeping extra buffers on (that would crash AMX machines)."""
    key = id(llama_cpp.Llama)
    if key not in _LLAMA_CLASSES:
        _LLAMA_CLASSES[key] = _subclass(llama_cpp.Llama)
    return _LLAMA_CLASSES[key]


def _subclass(base: type) -> type:
    class ParamsLlama(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, use_extra_bufts: bool = True, **kwargs: Any) -> None:
            self._wanted_extra_bufts = use_extra_bufts
            self._params_hooked = False
            super().__init__(*args, **kwargs)
            if not self._params_hooked:
                self.close()
                raise ConfigError(_UNSUPPORTED + "Llama.__init__ no longer assigns self.model_params")

        @property
        def model_params(self) -> Any:
            return self._model_params

        @model_params.setter
        def model_params(self, params: Any) -> None:
            if not hasattr(params, "use_extra_bufts"):
                raise ConfigError(_UNSUPPORTED + "llama_model_params has no use_extra_bufts field")
            params.use_extra_bufts = self._wanted_extra_bufts
            self._params_hooked = True
            self._model_params = params

    return ParamsLlama


_UNSUPPORTED = (
    "this llama-cpp-python cannot be told whether to use extra buffer types "
    "(needed to avoid the Intel AMX crash); install the pinned version: pip install -e '.[local]'. Detail: "
)


def _silence_llama_log(llama_cpp: Any) -> None:
    # llama.cpp prints some notices at "none" level, which llama-cpp-python's own
    # callback always lets through even with verbose=False; they would litter stderr.
    global _QUIET_LOG
    if _QUIET_LOG is None:
        _QUIET_LOG = llama_cpp.llama_log_callback(lambda level, text, data: None)
        llama_cpp.llama_log_set(_QUIET_LOG, None)


def _chat_formatter(llm: Any) -> Any:
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    eos, bos = _token_text(llm, llm.token_eos()), _token_text(llm, llm.token_bos())
    return Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=True)


def _token_text(llm: Any, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""
