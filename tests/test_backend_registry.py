"""docs/architecture.md, "Where to add": a backend is one registered class. A toy one, defined in a
script of its own (no pycodex file touched), is run end to end by `pycodex eval --backend toy`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

TOY = textwrap.dedent(
    """
    import sys
    from dataclasses import dataclass

    from pycodex.generation.base import SampleFinished, TextDelta
    from pycodex.generation.registry import BackendKind, register_backend, runtime


    @dataclass(frozen=True)
    class ToyOptions:
        answer: str = "    return None\\n"  # a run setting: stored with the run
        threads: int | None = runtime()  # runtime only: a resume may change it


    @register_backend
    class Toy(BackendKind):
        kind = name = "toy"
        Options = ToyOptions

        def __init__(self, options):
            self.options = options

        def generate(self, prompt, params, task_id=None):
            for index in range(params.n):
                yield TextDelta(index, self.options.answer)
                yield SampleFinished(index, self.options.answer, "stop", 2, -1.0, -0.5, 0.01)

        def describe(self):
            return {"kind": self.kind, "model": "toy-1"}

        def close(self):
            pass


    from pycodex.cli.app import main
    main(sys.argv[1:])
    """
)


def _toy_cli(tmp_path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    script = tmp_path / "toy_cli.py"
    script.write_text(TOY)
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300, env=env)


def test_a_registered_class_is_a_backend_of_eval(tmp_path):
    db = str(tmp_path / "runs.db")
    result = _toy_cli(tmp_path, "eval", "--backend", "toy", "--problems", "0-1", "--n", "2", "--seed", "3", "--db", db, "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    data = json.loads(result.stdout)
    assert data["status"] == "finished" and data["totals"]["generated"] == 4 and data["totals"]["executed"] == 4
    assert data["pass_at_k"] == {"1": 0.0}  # `return None` passes no HumanEval problem
    shown = json.loads(_toy_cli(tmp_path, "runs", "show", data["run_id"], "--db", db, "--json").stdout)
    assert shown["backend"] == "toy" and shown["model"] == "toy-1"
    assert shown["config"]["answer"] == "    return None\n" and shown["config"]["threads"] is None


def test_eval_help_names_the_registered_kinds_and_pycodex_help_loads_none(tmp_path):
    wide = os.environ | {"COLUMNS": "400"}
    shown = _toy_cli(tmp_path, "eval", "--help", env=wide)
    assert shown.returncode == 0, shown.stderr
    listed = "llama (a local GGUF model, --model), canonical (replay the reference solutions), samples (replay --samples-file), "
    assert listed + "server (OpenAI-compatible servers, --server URL) or toy." in shown.stdout  # the toy has no `about`
    code = "import sys\nfrom pycodex.cli.app import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    code += "print(sorted(m for m in sys.modules if m in ('numpy', 'pycodex.generation.registry', 'pycodex.generation.replay')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=wide)
    assert loaded.stdout.strip().splitlines()[-1] == "[]", loaded.stdout + loaded.stderr


def test_the_registry_lists_the_built_in_kinds_and_parses_their_strings():
    from pycodex.errors import UserError
    from pycodex.generation import registry
    from pycodex.generation.spec import BackendSpec

    assert registry.choosable() == ["llama", "canonical", "samples", "server"]
    assert [BackendSpec.parse(t).kind for t in ("default", "canonical", "samples:/s.jsonl", "server:http://h:1", "m.gguf")] == [
        "llama", "canonical", "samples", "server", "llama",
    ]
    assert registry.runtime_names(registry.backend_kind("server").Options) == ["servers", "server_slots", "server_timeout", "server_retries"]
    with pytest.raises(UserError, match="unknown backend 'gpt5': choose one of llama, canonical, samples, server"):
        registry.backend_kind("gpt5")


def test_a_config_keeps_the_kind_and_its_own_options():
    from pycodex.generation.base import SamplingParams
    from pycodex.runs.config import RunConfig

    config = RunConfig(backend="server", servers=["http://a/v1"], server_model="m", params=SamplingParams(n=1))
    stored = config.to_dict()
    assert stored["servers"] == ["http://a/v1"] and "n_gpu_layers" not in stored and "samples_file" not in stored
    again = RunConfig.from_dict(stored)
    assert again == config and again.options.servers == ("http://a/v1",)
    moved = again.with_runtime(servers=["http://b/v1"], threads=4)  # threads: another kind's runtime option, ignored
    assert moved.options.servers == ("http://b/v1",) and moved.result_key() == config.result_key()
    with pytest.raises(ValueError):
        again.with_runtime(server_model="other")  # it changes results: not a runtime setting
