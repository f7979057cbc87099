"""TRL's ``GRPOTrainer`` with its training prompts chosen by InSight.

``train`` is what a user writes: add a ``prompt_id`` column, size the selector from the
``GRPOConfig``, swap the trainer class. ``custom_trainer`` does the same with the three
building blocks in a ``GRPOTrainer`` subclass of one's own. The rest of the file makes
a runnable demo without downloads: a tiny random Llama, a word-level tokenizer and a
toy verifier (reward 1 when the completion contains the prompt's last word, 0.1 for any
other non-empty completion, as a format reward would).

Run: ``python examples/trl_grpo.py --output-dir out/trl-demo --max-steps 8`` (CPU, a few
seconds), then the same command with ``--resume`` and a larger ``--max-steps`` to
continue from the last checkpoint. ``--model`` takes a local Hugging Face model folder
instead of the tiny random model. Needs ``pip install -e ".[trl]"`` (from a clone).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the demo never downloads

import datasets
import numpy as np

# [imports]
from insight_bayes.integrations import OnlineConfig, OnlineSelector
from insight_bayes.integrations.trl import (
    InSightGRPOTrainer,
    InSightSampler,
    SelectorCheckpointCallback,
    SelectorReward,
    add_prompt_ids,
)

# [imports end]

WORDS = [f"w{i}" for i in range(24)]


# [train]
def train(model, tokenizer, dataset, verifier, output_dir, *, max_steps=8, resume=False, **kw):
    """Train with InSight choosing each generation batch's prompts; returns the trainer.

    ``kw`` goes to ``GRPOConfig`` (e.g. ``use_cpu=True, bf16=False`` without a GPU).
    """
    from trl import GRPOConfig

    dataset = add_prompt_ids(dataset)  # column "prompt_id" = row index = the selector's id
    args = GRPOConfig(
        output_dir=output_dir,
        per_device_train_batch_size=16,
        num_generations=4,  # K
        max_completion_length=4,
        max_steps=max_steps,
        save_steps=4,
        report_to="none",
        **kw,
    )
    # TRL generates for `generation_batch_size // num_generations` prompts at a time:
    # that is the selector's M, and num_generations its K (both checked by the trainer).
    config = OnlineConfig(
        m=args.generation_batch_size // args.num_generations,
        k=args.num_generations,
        reward_mode="binary",  # success when reward >= reward_threshold ...
        reward_threshold=1.0,  # ... the default; or reward_mode="fractional" for [0, 1]
    )
    selector = OnlineSelector(len(dataset), "insight", config, seed=0)
    trainer = InSightGRPOTrainer(
        model,
        [verifier],  # reward_funcs[belief_reward] feeds the belief
        args,
        dataset,
        selector=selector,
        processing_class=tokenizer,  # needed with a model object (not a hub id)
    )
    trainer.train(resume_from_checkpoint=resume or None)  # resume: True = last checkpoint
    for ids in trainer.handed_out:  # every batch the selector handed out, in order
        print("prompt ids:", ids.tolist())
    return trainer


# [train end]


# [custom]
def custom_trainer(model, tokenizer, dataset, verifier, args, selector):
    """The building blocks in one's own ``GRPOTrainer`` subclass (``dataset`` has ids)."""
    from trl import GRPOTrainer

    class MyTrainer(GRPOTrainer):
        def _get_train_sampler(self, dataset=None):  # prompt order: the selector's
            repeat = self.num_iterations * self.args.steps_per_generation
            return InSightSampler(
                selector, num_generations=self.num_generations, repeat_count=repeat
            )

    reward = SelectorReward(verifier, selector)  # rewards go to TRL and, grouped, to the belief
    callbacks = [SelectorCheckpointCallback(selector)]  # saves/restores the selector
    trainer = MyTrainer(
        model, [reward], args, dataset, processing_class=tokenizer, callbacks=callbacks
    )
    reward.is_training = lambda: trainer.model.training  # no belief updates in evaluation
    return trainer


# [custom end]


def verifier(prompts, completions, **columns):
    """1 if the completion contains the prompt's last word, 0.1 if it is not empty."""
    rewards = []
    for prompt, completion in zip(prompts, completions, strict=True):
        words = str(completion).split()
        rewards.append(1.0 if prompt.split()[-1] in words else 0.1 if words else 0.0)
    return rewards


def tiny_model_and_tokenizer(seed: int = 0):
    """A 2-layer random Llama and a word-level tokenizer over ``WORDS`` (no download)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["<pad>", "<eos>", "<unk>", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config), tokenizer


def prompts(n: int = 64, seed: int = 0) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    return datasets.Dataset.from_dict(
        {"prompt": [" ".join(rng.choice(WORDS, size=3)) for _ in range(n)]}
    )


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="out/trl-demo")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--model", default=None, help="local Hugging Face model folder")
    args = parser.parse_args(argv)
    import torch

    gpu = torch.cuda.is_available()
    if args.model:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    else:
        model, tokenizer = tiny_model_and_tokenizer()
    return train(
        model,
        tokenizer,
        prompts(),
        verifier,
        args.output_dir,
        max_steps=args.max_steps,
        resume=args.resume,
        use_cpu=not gpu,
        bf16=gpu,
    )


if __name__ == "__main__":
    main()
