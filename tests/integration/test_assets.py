"""Model location and multi-part assembly, on small synthetic chunk packages."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from cascadectl.errors import ConfigError
from cascadectl.providers.llamacpp import assets
from cascadectl.providers.llamacpp.assets import EmbeddedModel

CHUNKS = (b"GGUF" + b"a" * 3000, b"b" * 2048, b"c" * 17)
WHOLE = b"".join(CHUNKS)
WHOLE_SHA = hashlib.sha256(WHOLE).hexdigest()


@pytest.fixture()
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake site-packages with three chunk packages whose import would fail."""
    root = tmp_path / "site"
    for i, chunk in enumerate(CHUNKS, start=1):
        pkg = root / f"fakemodel_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('weights packages must not be imported')\n")
        (pkg / "data" / f"model.gguf.part{i:03d}").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(root))
    return root


def _model(sha256: str | None = WHOLE_SHA) -> EmbeddedModel:
    parts = tuple(f"fakemodel_part{i}/data" for i in range(1, 4))
    return EmbeddedModel("fake", ("fake-dist",), parts, "fake.gguf", sha256, "MIT", "completion")


def test_assembles_chunks_in_order_and_records_hash(site: Path, tmp_path: Path) -> None:
    target = assets.materialize(_model(), tmp_path / "cache")
    assert target == tmp_path / "cache" / "fake.gguf"
    assert target.read_bytes() == WHOLE
    assert assets.read_sidecar(target)["sha256"] == WHOLE_SHA
    assert not list(target.parent.glob("*.tmp"))


def test_reuses_a_verified_file_without_rewriting(site: Path, tmp_path: Path) -> None:
    target = assets.materialize(_model(), tmp_path / "cache")
    before = target.stat()
    assert assets.materialize(_model(), tmp_path / "cache") == target
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_truncated_file_is_rebuilt(site: Path, tmp_path: Path) -> None:
    target = assets.materialize(_model(), tmp_path / "cache")
    with target.open("r+b") as handle:
        handle.truncate(100)
    assert not assets.is_verified(target, WHOLE_SHA, len(WHOLE))
    assert assets.materialize(_model(), tmp_path / "cache").read_bytes() == WHOLE


def test_same_size_corruption_is_caught_by_full_hash_and_rebuilt(site: Path, tmp_path: Path) -> None:
    target = assets.materialize(_model(), tmp_path / "cache")
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[1500] ^= 0xFF
    target.write_bytes(bytes(data))
    # The write moves mtime; force a distinct one so coarse filesystem clocks cannot hide it.
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert target.stat().st_size == len(WHOLE)
    assert not assets.is_verified(target, WHOLE_SHA, len(WHOLE))
    assert assets.materialize(_model(), tmp_path / "cache").read_bytes() == WHOLE


def test_touched_but_intact_file_is_rehashed_and_kept(site: Path, tmp_path: Path) -> None:
    target = assets.materialize(_model(), tmp_path / "cache")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert assets.is_verified(target, WHOLE_SHA, len(WHOLE))
    assert assets.read_sidecar(target)["mtime_ns"] == stat.st_mtime_ns + 5_000_000_000


def test_without_published_hash_the_recorded_one_guards_the_file(site: Path, tmp_path: Path) -> None:
    target = assets.materialize(_model(sha256=None), tmp_path / "cache")
    stat = target.stat()
    target.write_bytes(b"x" * len(WHOLE))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert assets.materialize(_model(sha256=None), tmp_path / "cache").read_bytes() == WHOLE


def test_damaged_chunks_fail_clearly_and_leave_nothing(site: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="force-reinstall fake-dist"):
        assets.materialize(_model(sha256="0" * 64), tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake.gguf").exists()
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_concurrent_assemblies_both_end_with_a_whole_file(site: Path, tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(assets.materialize(_model(), tmp_path / "c")))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 3
    assert {p.read_bytes() for p in results} == {WHOLE}


def test_stale_temp_files_are_removed_young_ones_kept(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    stale, young = cache / "fake.gguf.dead01.tmp", cache / "fake.gguf.live02.tmp"
    stale.write_bytes(b"old")
    young.write_bytes(b"new")
    os.utime(stale, (0, 0))
    assets.materialize(_model(), cache)
    assert not stale.exists()
    assert young.exists()


def test_missing_embedded_package_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = EmbeddedModel("ghost", ("ghost-dist",), ("no_such_pkg_xyz/data",), "g.gguf", None, "", "chat")
    monkeypatch.setitem(assets.EMBEDDED_MODELS, "ghost", ghost)  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        assets.resolve_model({"package": "ghost"})
    assert "pip install 'cascadectl[local]'" in str(info.value)
    assert "ghost-dist" in str(info.value)


def test_missing_ad_hoc_package_names_the_package() -> None:
    with pytest.raises(ConfigError, match="the Python package no_such_pkg_xyz is not installed"):
        assets.resolve_model({"package": "no_such_pkg_xyz/model.gguf"})


def test_missing_chunk_directory_says_reinstall(site: Path, tmp_path: Path) -> None:
    for chunk in (site / "fakemodel_part2" / "data").iterdir():
        chunk.unlink()
    with pytest.raises(ConfigError, match="incomplete.*force-reinstall"):
        assets.materialize(_model(), tmp_path / "cache")


def test_package_path_form_uses_the_file_in_place_without_import(site: Path) -> None:
    path = assets.resolve_model({"package": "fakemodel_part3/data/model.gguf.part003"})
    assert path == site / "fakemodel_part3" / "data" / "model.gguf.part003"


def test_unknown_package_name_lists_known_models() -> None:
    with pytest.raises(ConfigError, match="gemma3-270m, qwen2.5-coder-0.5b-instruct, qwen2.5-coder-1.5b-instruct, smollm2-135m-instruct"):
        assets.resolve_model({"package": "llama-70b"})


def test_model_path_expands_home_and_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = Path(os.environ["HOME"]) / "models" / "m.gguf"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"GGUF")
    monkeypatch.setenv("MODEL_DIR", "models")
    assert assets.resolve_model({"model_path": "~/$MODEL_DIR/m.gguf"}) == model


def test_missing_model_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model file not found: .*nope\.gguf"):
        assets.resolve_model({"model_path": str(tmp_path / "nope.gguf")})


def test_neither_path_nor_package_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="options.model_path"):
        assets.resolve_model({"mode": "chat"})


def test_cache_dir_honours_override_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASCADECTL_MODEL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.cache_dir() == tmp_path / "xdg" / "cascadectl" / "models"
    monkeypatch.setenv("CASCADECTL_MODEL_CACHE", str(tmp_path / "mine"))
    assert assets.cache_dir() == tmp_path / "mine"


@pytest.mark.integration
@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct", "gemma3-270m"])
def test_the_embedded_chunked_models_assemble_and_verify_from_their_packages(name: str, tmp_path: Path) -> None:
    model = assets.EMBEDDED_MODELS[name]
    try:
        chunks = assets.chunk_files(model)
    except ConfigError as exc:
        pytest.skip(f"{name} is not installed: {exc}")
    path = assets.materialize(model, tmp_path / "cache")
    assert path.stat().st_size == sum(c.stat().st_size for c in chunks)
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    assert digest.hexdigest() == model.sha256
