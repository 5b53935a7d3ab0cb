"""One place defines presets and validation: the CLI and the TUI form give the same run."""

from __future__ import annotations

import pytest

from pycodex.errors import UserError
from pycodex.runs.request import PRESETS, SamplingRequest, check_execution, temperature_for
from tui_helpers import async_test, make_app, wait_for

RESULT_FIELDS = ("task_ids", "params", "ks", "backend", "timeout", "memory_limit_mb")


def _stored_configs(db):
    from pycodex.store.database import Store

    with Store(db) as store:
        return [r.config for r in store.list_runs()]


@pytest.mark.parametrize("preset_key, name", [("f1", "pass@1"), ("f2", "pass@10")])
@async_test
async def test_cli_and_tui_form_give_the_same_run_config(tmp_path, cli, preset_key, name):
    from textual.widgets import Input

    from pycodex.tui.screens.generate_form import GenerateForm

    cli_db = tmp_path / "cli.sqlite3"
    result = cli("eval", "--backend", "canonical", "--problems", "3,7", "--preset", name, "--max-tokens", "64",
                 "--seed", "5", "--db", str(cli_db), "--json", "--workers", "2")
    assert result.returncode == 0, result.stderr
    [cli_config] = _stored_configs(cli_db)

    app = make_app(tmp_path / "tui", model="canonical")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("E", "n")
        assert isinstance(app.screen, GenerateForm)
        form = app.screen
        form.query_one("#problems", Input).value = "3,7"
        await pilot.press(preset_key)
        form.query_one("#max_tokens", Input).value = "64"
        form.query_one("#seed", Input).value = "5"
        dash = app.screen_stack[-2]
        form.action_submit()
        await wait_for(pilot, lambda: dash.state.status in ("finished", "failed", "cancelled"), timeout=60, what="the eval")
    [tui_config] = _stored_configs(tmp_path / "tui" / "runs.sqlite3")

    for field in RESULT_FIELDS:
        assert tui_config[field] == cli_config[field], field
    assert cli_config["params"]["n"] == PRESETS[name].n and cli_config["ks"] == [PRESETS[name].k]
    assert cli_config["params"]["temperature"] == PRESETS[name].temperature


def test_defaults_follow_the_paper():
    params, ks = SamplingRequest().resolve()
    assert (params.n, params.temperature, ks) == (1, 0.2, [1])
    params, ks = SamplingRequest(n=200).resolve()
    assert (params.temperature, ks) == (0.8, [1, 10, 100])
    assert [temperature_for(n) for n in (1, 9, 10, 99, 100)] == [0.2, 0.2, 0.6, 0.6, 0.8]
    params, ks = SamplingRequest(preset="pass@100", n=150).resolve()
    assert (params.n, params.temperature, ks) == (150, 0.8, [100])


@pytest.mark.parametrize(
    "request_, needle",
    [
        (SamplingRequest(preset="pass@7"), "unknown --preset"),
        (SamplingRequest(n=2, k="1,10"), "needs at least 10 samples"),
        (SamplingRequest(preset="pass@10", n=5), "needs at least 10 samples"),
        (SamplingRequest(n=0), "--n"),
        (SamplingRequest(top_p=0), "--top-p"),
        (SamplingRequest(k="x"), "bad --k"),
    ],
)
def test_bad_requests_are_one_clear_error(request_, needle):
    with pytest.raises(UserError, match=needle.replace("-", r"\-")):
        request_.resolve()


@pytest.mark.parametrize(
    "args, needle",
    [((0, 4096, None), "--timeout"), ((3, 8, None), "--memory-limit"), ((3, 4096, 0), "--workers"), ((3, 4096, 1, 0), "--chunk-size")],
)
def test_execution_limits_are_checked_in_one_place(args, needle):
    from pycodex.execution import Executor

    with pytest.raises(UserError, match=needle):
        check_execution(*args)
    if len(args) == 3:  # the executor applies the same limits
        with pytest.raises(UserError, match=needle):
            Executor(workers=args[2], timeout=args[0], memory_limit_mb=args[1])


def test_resume_can_set_runtime_values_back_to_zero():
    from pycodex.generation.base import SamplingParams
    from pycodex.runs.pipeline import RunConfig

    stored = RunConfig(backend="llama", task_ids=["HumanEval/0"], params=SamplingParams(n=1), n_gpu_layers=20, threads=4).to_dict()
    config = RunConfig.from_dict(stored).with_runtime(n_gpu_layers=0, threads=None, workers=None, ctx=None, verbose=False)
    assert (config.n_gpu_layers, config.threads, config.verbose) == (0, 4, False)
    with pytest.raises(ValueError):
        RunConfig.from_dict(stored).with_runtime(temperature=1.0)
