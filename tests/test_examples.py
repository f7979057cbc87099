"""The examples the documentation includes (``examples/*.py``) run and do what they say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_online_selector_example(capsys):
    selector = load("online_selector").selector
    assert capsys.readouterr().out.startswith("step 5 stats")
    assert selector.step == 5
    assert selector.belief.evidence.sum() == 2 * 1000 + 5 * 16 * 8
    assert selector.config.reward_threshold == 1.0 and selector.pending() == []


def test_trl_example_trains_on_the_handed_out_batches_and_resumes(tmp_path, capsys):
    pytest.importorskip("trl")
    example = load("trl_grpo")
    calls: list[list[int]] = []

    def recording(prompts, completions, prompt_id, **columns):
        calls.append(list(prompt_id))
        return example.verifier(prompts, completions)

    def run(max_steps, resume=False):
        model, tokenizer = example.tiny_model_and_tokenizer()
        return example.train(
            model, tokenizer, example.prompts(), recording, str(tmp_path), max_steps=max_steps,
            resume=resume, use_cpu=True, bf16=False, disable_tqdm=True,
        )  # fmt: skip

    trainer = run(4)
    m, k = trainer.selector.config.m, trainer.selector.config.k
    assert (m, k) == (4, 4)  # generation_batch_size // num_generations = 16 // 4
    handed = trainer.handed_out
    assert len(calls) == 4 and len(handed) == 5  # one batch prefetched, not trained
    assert calls == [np.repeat(ids, k).tolist() for ids in handed[:4]]
    assert f"prompt ids: {handed[4].tolist()}" in capsys.readouterr().out
    evidence = trainer.selector.belief.evidence
    assert evidence.sum() == 2 * 64 + 4 * m * k  # every reward reached the belief

    calls.clear()
    resumed = run(6, resume=True)  # from checkpoint-4: the prefetched batch comes first
    assert calls[0] == np.repeat(handed[4], k).tolist() and len(calls) == 2
    assert resumed.selector.belief.evidence.sum() == 2 * 64 + 6 * m * k


def test_trl_example_custom_trainer(tmp_path):
    pytest.importorskip("trl")
    from trl import GRPOConfig

    from insight_bayes.integrations import OnlineConfig, OnlineSelector
    from insight_bayes.integrations.trl import add_prompt_ids

    example = load("trl_grpo")
    model, tokenizer = example.tiny_model_and_tokenizer()
    dataset = add_prompt_ids(example.prompts())
    args = GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4,
        max_completion_length=3, max_steps=2, report_to="none", use_cpu=True, bf16=False,
        disable_tqdm=True, save_strategy="no",
    )  # fmt: skip
    selector = OnlineSelector(len(dataset), "mopps", OnlineConfig(m=2, k=4), seed=0)
    calls: list[list[int]] = []

    def recording(prompts, completions, prompt_id, **columns):
        calls.append(list(prompt_id))
        return example.verifier(prompts, completions)

    trainer = example.custom_trainer(model, tokenizer, dataset, recording, args, selector)
    trainer.train()
    assert len(calls) == 2 and selector.belief.evidence.sum() == 2 * 64 + 2 * 2 * 4
    trained = [pid for call in calls for pid in call[::4]]
    assert selector.state_dict()["handed_out"] is not None and len(set(trained)) == 4


def test_quickstart_is_the_readme_example_and_runs():
    import re

    readme = (EXAMPLES.parent / "README.md").read_text()
    block = re.findall(r"```python\n(.*?)```", readme, flags=re.S)[0]
    source = (EXAMPLES / "quickstart.py").read_text()
    assert source.endswith(block)
    namespace: dict = {"__name__": "quickstart"}
    exec(compile(source, "examples/quickstart.py", "exec"), namespace)  # noqa: S102
    assert namespace["belief"].evidence.sum() == 2_000 * 2 + 64 * 8
