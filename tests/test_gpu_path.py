"""The GPU path as a user meets it, checked on the CPU: llama.cpp's libraries load before numpy
wherever a model can be loaded, `--n-gpu-layers -1` reaches the backend, `pycodex models` says
whether the build can offload, and a run records GPU offload so that its resume says its new
samples are fresh draws."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from conftest import run_cli
from pycodex.generation.base import SampleFinished, SamplingParams, TextDelta
from pycodex.runs.pipeline import Pipeline, RunConfig
from pycodex.store.database import Store
from pycodex.store.schema import _SCHEMA_V1

ORDER = "from pycodex.generation.llama.native import loaded_before_numpy; print('ORDER', 'numpy' in sys.modules, loaded_before_numpy())"


def _order(code: str, *args: str) -> tuple[bool, bool]:
    """(numpy imported, llama_cpp's libraries before it) at the exit of a fresh interpreter running code."""
    program = f"import atexit, sys\natexit.register(lambda: exec({ORDER!r}))\n" + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=120)
    line = next(line for line in done.stdout.splitlines() if line.startswith("ORDER"))
    numpy_in, first = line.split()[1:]
    return numpy_in == "True", first == "True"


@pytest.mark.parametrize(
    "code",
    [
        # the CLI entry, for a command that loads a model (solve fails at once: nothing to solve)
        "atexit.register(lambda: __import__('numpy'))\nsys.argv = ['pycodex', 'solve', '--n-gpu-layers', '-1']\n"
        "from pycodex.cli.entry import main\nmain()",
        # the TUI's run_app (its event loop left out)
        "import pycodex.tui.app as a\na.PycodexApp.run = lambda self, **kw: None\na.run_app()\nimport numpy",
        # the backend module on its own
        "import pycodex.generation.llama.backend",
    ],
    ids=["cli", "tui", "backend"],
)
def test_llama_libraries_load_before_numpy(code):
    assert _order(code) == (True, True)


def test_the_order_check_sees_numpy_first():
    assert _order("import numpy\nimport llama_cpp") == (True, False)


def test_models_says_whether_the_build_can_offload():
    import llama_cpp

    done = run_cli("models", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gpu_offload"] is bool(llama_cpp.llama_supports_gpu_offload())


class _Fake:
    """Answers every sample at once; says whether it offloads, as the llama backend does."""

    name = "llama"

    def __init__(self, gpu: bool):
        self.gpu = gpu

    def generate(self, prompt, params: SamplingParams, task_id=None):
        for index in range(params.n):
            yield TextDelta(index, "    return 1\n")
            yield SampleFinished(index, "    return 1\n", "stop", 3, -1.0, -0.3, 0.01)

    def describe(self):
        return {"kind": "llama", "gpu_offload": self.gpu}

    def close(self):
        pass


def _resume(store: Store, run_id: str, gpu: bool) -> bool:
    events: list = []
    Pipeline(None, store=store, run_id=run_id, backend=_Fake(gpu), on_event=events.append).run()
    return next(e for e in events if type(e).__name__ == "RunStarted").fresh_draws


def test_a_run_records_gpu_offload_and_its_resume_says_fresh_draws(tmp_path):
    config = RunConfig(backend="llama", task_ids=["HumanEval/0"], params=SamplingParams(n=2, temperature=0.8, seed=1), ks=[1])
    with Store(tmp_path / "runs.db") as store:
        cpu = store.create_run(config=config.to_dict(), backend="llama", task_ids=["HumanEval/0"], n=2, backend_info={"gpu_offload": False})
        gpu = store.create_run(config=config.to_dict(), backend="llama", task_ids=["HumanEval/0"], n=2, backend_info={"gpu_offload": True})
        assert (store.get_run(cpu).gpu_offload, store.get_run(gpu).gpu_offload) == (False, True)
        assert _resume(store, gpu, gpu=False)  # generated on a GPU before: fresh draws
        assert not _resume(store, cpu, gpu=False)  # CPU only: the uninterrupted run's samples
        again = store.create_run(config=config.to_dict(), backend="llama", task_ids=["HumanEval/0"], n=2, backend_info={"gpu_offload": False})
        assert _resume(store, again, gpu=True) and store.get_run(again).gpu_offload is True  # offloaded now
    shown = run_cli("runs", "show", gpu, "--db", str(tmp_path / "runs.db"))
    assert shown.returncode == 0 and "layers on a GPU" in shown.stdout
    assert json.loads(run_cli("runs", "show", cpu, "--db", str(tmp_path / "runs.db"), "--json").stdout)["gpu_offload"] is False


def test_the_resume_note_is_printed(tmp_path, capsys):
    from pycodex.cli.eval_cmd import drive

    config = RunConfig(backend="llama", task_ids=["HumanEval/0"], params=SamplingParams(n=1, temperature=0.8, seed=1), ks=[1])
    with Store(tmp_path / "runs.db") as store:
        rid = store.create_run(config=config.to_dict(), backend="llama", task_ids=["HumanEval/0"], n=1, backend_info={"gpu_offload": True})
        drive(Pipeline(None, store=store, run_id=rid, backend=_Fake(False)), show_live=False)
    err = capsys.readouterr().err
    assert f"note: run {rid} is generated with layers on a GPU" in err and "fresh draws" in err


def test_v7_migration_knows_offload_only_where_none_was_asked(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_V1)
    for rid, backend, config in (("aaaa1111", "llama", '{"n_gpu_layers": 0}'), ("bbbb2222", "llama", '{"n_gpu_layers": -1}'),
                                 ("cccc3333", "canonical", '{"n_gpu_layers": -1}'), ("dddd4444", "llama", "{}")):
        conn.execute("INSERT INTO runs (id, status, backend, config, n, task_ids, created_at) VALUES (?, 'finished', ?, ?, 1, '[]', 1.0)",
                     (rid, backend, config))
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert [store.get_run(r).gpu_offload for r in ("aaaa1111", "bbbb2222", "cccc3333", "dddd4444")] == [False, None, False, False]


def test_the_tui_model_picker_offloads_every_layer(tmp_path, monkeypatch):
    import tomllib

    import pycodex.generation.llama.kind as kind
    from tui_helpers import SlowBackend, async_test, make_app, wait_for

    asked: list[int] = []

    def create_llama_backend(**options):
        asked.append(options["n_gpu_layers"])
        return SlowBackend()

    monkeypatch.setattr(kind, "create_llama_backend", create_llama_backend)

    @async_test
    async def scenario():
        from pycodex.tui.screens.model_picker import ModelPicker

        app = make_app(tmp_path, model="default")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("m")
            await pilot.pause()
            assert isinstance(app.screen, ModelPicker)
            await pilot.click("#gpu")
            await wait_for(pilot, lambda: asked == [-1], timeout=30, what="the model loaded with every layer on the GPU")
            config = tomllib.loads((tmp_path / "config" / "config.toml").read_text())
            assert config["n_gpu_layers"] == -1 and app.workbench.n_gpu_layers == -1
            pipeline = app.workbench.make_pipeline(["HumanEval/0"], SamplingParams(n=1), backend=app._backend, on_event=None)
            assert pipeline.config.n_gpu_layers == -1

    scenario()


def test_eval_takes_n_gpu_layers_minus_one_with_the_real_model(tmp_path):
    db = tmp_path / "runs.db"
    done = run_cli("eval", "-p", "0", "-n", "1", "-t", "0", "--max-tokens", "8", "--n-gpu-layers", "-1", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    import llama_cpp

    with Store(db) as store:
        run = store.get_run(json.loads(done.stdout)["run_id"])
    assert run.config["n_gpu_layers"] == -1 and run.backend_info["n_gpu_layers"] == -1
    assert run.gpu_offload is bool(llama_cpp.llama_supports_gpu_offload()) is run.backend_info["gpu_offload"]


def test_versus_takes_n_gpu_layers_minus_one_with_the_real_model(tmp_path):
    db = tmp_path / "runs.db"
    done = run_cli("versus", "canonical", "default@0", "-p", "0", "-n", "1", "--max-tokens", "8", "--n-gpu-layers", "-1",
                   "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        llama_side = store.get_run(json.loads(done.stdout)["b"]["run_id"])
    assert llama_side.config["n_gpu_layers"] == -1 and llama_side.backend_info["n_gpu_layers"] == -1


def test_the_repl_loads_its_model_with_n_gpu_layers(monkeypatch):
    import pycodex.generation.llama.kind as kind
    from pycodex.problems.sets import load_named
    from pycodex.repl.session import Options, Session

    asked: dict = {}
    monkeypatch.setattr(kind, "create_llama_backend", lambda **options: asked.update(options) or _Fake(False))
    Session(load_named("humaneval"), Options(n_gpu_layers=-1)).backend()
    assert asked["n_gpu_layers"] == -1


def test_sampling_on_several_threads_draws_the_same_samples():
    """With GPU offload the backend samples on its threads (the CPU waits on the GPU): the same
    tokens and log-probs as on one thread, here on the CPU with the real model."""
    from pycodex.generation.llama.backend import LlamaBackend
    from pycodex.generation.models import resolve_model

    backend = LlamaBackend(resolve_model(show_progress=False).path, n_ctx=256, parallel=8, n_threads=1)
    assert backend.sampling_threads == 1  # no offload: one sampling thread
    params = SamplingParams(n=6, temperature=0.8, top_p=0.95, max_tokens=12, seed=4, stop=())

    def draw():
        events = [e for e in backend.generate('def add(a, b):\n    """Add two numbers."""\n', params) if isinstance(e, SampleFinished)]
        return {e.index: (backend.last_token_ids[e.index], e.sum_logprob) for e in events}

    one = draw()
    backend.sampling_threads = 3
    assert draw() == one
    backend.close()
