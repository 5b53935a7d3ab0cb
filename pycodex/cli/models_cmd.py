"""`pycodex models`: which GGUF model would be used, why, and what it is."""

from __future__ import annotations

from typing import Any, List, Optional

import typer

from pycodex.cli.common import JsonOption, console, print_json


def models_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Check this GGUF file instead of the default choice."),
    as_json: bool = JsonOption,
    servers: Optional[List[str]] = typer.Option(None, "--server", help="List the models this OpenAI-compatible server serves instead (repeatable)."),
) -> None:
    """Which model solve and eval would use, where it is, its size, sha256 and quantization, and
    whether this llama-cpp-python build can offload layers to a GPU (--n-gpu-layers).

    The rule: --model, then PYCODEX_MODEL, then the config's `model`, then the bundled Gemma 3 270M.
    With --server URL: the models that server serves (the names --server-model takes).
    """
    import sys

    if servers:
        _server_models(servers, as_json)
        return

    from pycodex.generation.llama.native import supports_gpu_offload
    from pycodex.generation.models import MODEL_ENV, model_sha256, model_summary, resolve_model

    choice = resolve_model(model, show_progress=sys.stderr.isatty())
    info = {
        **choice.to_dict(),
        **model_summary(choice.path),
        "sha256": model_sha256(choice.path, show_progress=sys.stderr.isatty()),
        "order": ["--model", MODEL_ENV, "config `model`", "bundled"],
        "gpu_offload": supports_gpu_offload(),
    }
    if as_json:
        print_json(info)
        return
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rows = [
        ("model", str(choice.path)),
        ("chosen by", f"{choice.rule}: {choice.reason}"),
        ("architecture", str(info["architecture"])),
        ("name", str(info["name"] or "-")),
        ("quantization", str(info["quantization"] or "-")),
        ("layers", str(info["layers"] or "-")),
        ("trained context", f"{info['context_length']} tokens" if info["context_length"] else "-"),
        ("size", f"{info['size_bytes'] / 2**20:.1f} MiB ({info['size_bytes']:,} bytes)"),
        ("sha256", info["sha256"]),
        ("resolution order", " > ".join(info["order"])),
        ("GPU offload", "yes: this llama-cpp-python build sees a GPU (--n-gpu-layers -1 puts every layer there)" if info["gpu_offload"]
         else "no: llama-cpp-python is built for the CPU here, or no GPU is visible (README, \"GPU\", builds it for CUDA)"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console().print(table)


def _server_models(servers: list[str], as_json: bool) -> None:
    from rich.table import Table

    from pycodex.generation.server.backend import list_models, normalize_url

    listed: list[dict[str, Any]] = []
    for url in servers:
        base = normalize_url(url)
        listed.append({"server": base, "models": list_models(base)})
    if as_json:
        print_json(listed)
        return
    table = Table()
    table.add_column("server", style="cyan", no_wrap=True)
    table.add_column("model (--server-model)", overflow="fold")
    table.add_column("owned by")
    for entry in listed:
        for m in entry["models"] or [{"id": "(none)"}]:
            table.add_row(entry["server"], str(m.get("id")), str(m.get("owned_by") or "-"))
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)
