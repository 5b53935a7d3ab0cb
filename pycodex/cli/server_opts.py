"""The --server options shared by eval, sweep and solve: generation on OpenAI-compatible servers."""

from __future__ import annotations

from typing import Any, List, Optional

import typer

from pycodex.errors import UserError

ServerOption = typer.Option(
    None,
    "--server",
    help="An OpenAI-compatible server's base URL (llama-server, vLLM, Ollama), e.g. http://127.0.0.1:8080/v1; repeat it for several endpoints.",
)
ServerModelOption = typer.Option(None, "--server-model", help="The model to ask for, where a server hosts several (see pycodex models --server URL).")
ChatOption = typer.Option(False, "--chat", help="A chat model: send the prompt with an instruction as a user message and take the function body out of the reply.")
ServerSlotsOption = typer.Option(None, "--server-slots", help="Requests in flight per server (default: llama-server's slot count, else 4).")
ServerTimeoutOption = typer.Option(
    None,
    "--server-timeout",
    help="The stall bound: seconds without a byte of a streamed answer, or without an answer to a health probe, before a request is retried (default 20).",
)
ServerRetriesOption = typer.Option(None, "--server-retries", help="Failures in a row of every server before the run stops (default 8, about 90 s of backoff).")


def check(servers: Optional[List[str]], *, backend: str = "llama", model: Optional[str] = None, server_model: Optional[str] = None, chat: bool = False) -> list[str]:
    """The --server URLs, normalized; conflicting flags are one line."""
    from pycodex.generation.server.backend import normalize_url

    urls = [normalize_url(u) for u in servers or []]
    if not urls:
        if backend == "server":
            raise UserError("--backend server needs --server URL")
        if server_model is not None or chat:
            raise UserError(f"{'--server-model' if server_model is not None else '--chat'} needs --server URL")
        return []
    if backend not in ("llama", "server"):
        raise UserError(f"--server generates on a server: it cannot be combined with --backend {backend}")
    if model:
        raise UserError("--model names a local GGUF file; with --server use --server-model NAME")
    return urls


def options(servers: list[str], server_model, chat, slots, timeout, retries) -> dict[str, Any]:
    """The server backend's options from the flags (their names are ServerOptions' fields)."""
    return dict(servers=servers, server_model=server_model, chat=chat, server_slots=slots, server_timeout=timeout, server_retries=retries)


def resume_hint(exc: Exception, run_id: Optional[str], command: str = "pycodex eval --resume") -> UserError:
    """A server failure mid-run, with how to finish the run."""
    if not run_id:
        return exc if isinstance(exc, UserError) else UserError(str(exc))
    from pycodex.generation.server.backend import ServerError

    return ServerError(f"{exc}; every sample already generated is stored: finish the run with {command} {run_id}")


def server_error():
    """The exception class a server failure raises (imported only when a command runs)."""
    from pycodex.generation.server.backend import ServerError

    return ServerError


class ServerStopped(UserError):
    exit_code = 1
