"""The backend named by one string: parsed once, round-trips, matches a stored run's config."""

from __future__ import annotations

import pytest

from pycodex.generation.spec import BackendSpec


@pytest.mark.parametrize(
    "text, kind, model, samples_file, label",
    [
        ("default", "llama", None, None, "Gemma 3 270M (bundled)"),
        ("canonical", "canonical", None, None, "canonical replay"),
        ("samples:/tmp/x/s.jsonl", "samples", None, "/tmp/x/s.jsonl", "samples s.jsonl"),
        ("/models/m.gguf", "llama", "/models/m.gguf", None, "m.gguf"),
    ],
)
def test_parse_label_and_round_trip(text, kind, model, samples_file, label):
    spec = BackendSpec.parse(text)
    assert (spec.kind, spec.model, spec.samples_file, spec.label) == (kind, model, samples_file, label)
    assert BackendSpec.parse(str(spec)) == spec
    assert spec.is_replay == (kind != "llama")


def test_a_stored_run_config_names_the_same_backend():
    from pycodex.generation.base import SamplingParams
    from pycodex.runs.pipeline import RunConfig

    config = RunConfig(backend="samples", samples_file="/tmp/s.jsonl", params=SamplingParams(n=1)).to_dict()
    assert BackendSpec.from_config(config) == BackendSpec.parse("samples:/tmp/s.jsonl")
    assert BackendSpec.from_config(config) != BackendSpec.parse("canonical")


def test_create_builds_the_replay_backend(tmp_path):
    from pycodex.problems.problem import load

    backend = BackendSpec.parse("canonical").create(problem_set=load())
    assert backend.describe()["kind"] == "canonical"
