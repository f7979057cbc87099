"""Warm-up: trains, caches by a hash of its settings, and the second call loads."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from insight_bayes.rlvr import sft  # noqa: E402
from insight_bayes.rlvr.model import ModelConfig  # noqa: E402
from insight_bayes.rlvr.sft import WarmupConfig, warm_up, warmup_key  # noqa: E402
from insight_bayes.rlvr.tasks import make_task  # noqa: E402

TASK = make_task("addition", max_digits=2)
MODEL = ModelConfig(vocab_size=15, block_size=16, n_layer=1, n_head=2, d_model=16)


def test_second_call_loads_and_does_not_retrain(tmp_path, monkeypatch):
    config = WarmupConfig(steps=30, batch_size=16, lr=3e-3, seed=1)
    policy, info = warm_up(TASK, MODEL, config, cache_dir=tmp_path, progress=False)
    assert not info["cached"]
    assert (tmp_path / "warmup" / info["key"] / "model.pt").exists()
    assert info["loss"] < 2.5  # below uniform over 15 tokens (log 15 = 2.7)

    def boom(*args, **kwargs):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr(sft, "_train", boom)
    again, info2 = warm_up(TASK, MODEL, config, cache_dir=tmp_path, progress=False)
    assert info2["cached"] and info2["key"] == info["key"]
    for a, b in zip(policy.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_warm_up_names_its_machine_and_loading_it_elsewhere_warns(tmp_path, caplog):
    import json
    import logging

    config = WarmupConfig(steps=2, batch_size=8, lr=3e-3, seed=1)
    _, info = warm_up(TASK, MODEL, config, cache_dir=tmp_path, progress=False)
    assert "kernels)" in info["device_name"]  # e.g. "Intel Xeon (AVX512 kernels)"
    record = tmp_path / "warmup" / info["key"] / "warmup.json"
    with caplog.at_level(logging.WARNING, logger="insight_bayes.rlvr.sft"):
        warm_up(TASK, MODEL, config, cache_dir=tmp_path, progress=False)
    assert not caplog.records  # loaded where it was trained: nothing to say
    meta = json.loads(record.read_text())
    record.write_text(json.dumps(meta | {"device_name": "Another CPU (AVX2 kernels)"}))
    with caplog.at_level(logging.WARNING, logger="insight_bayes.rlvr.sft"):
        _, loaded = warm_up(TASK, MODEL, config, cache_dir=tmp_path, progress=False)
    assert loaded["cached"] and loaded["device_name"] == "Another CPU (AVX2 kernels)"
    (message,) = [r.getMessage() for r in caplog.records]
    assert "trained on Another CPU (AVX2 kernels) and is loaded on" in message


def test_training_is_seeded(tmp_path):
    config = WarmupConfig(steps=5, batch_size=8, seed=3)
    a, _ = warm_up(TASK, MODEL, config, cache_dir=tmp_path / "a", progress=False)
    b, _ = warm_up(TASK, MODEL, config, cache_dir=tmp_path / "b", progress=False)
    for x, y in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(x, y)


def test_key_covers_every_setting():
    base = WarmupConfig(steps=10)
    keys = {
        warmup_key(TASK, MODEL, base),
        warmup_key(TASK, MODEL, WarmupConfig(steps=11)),
        warmup_key(TASK, MODEL, WarmupConfig(steps=10, seed=1)),
        warmup_key(make_task("addition", max_digits=3), MODEL, base),
        warmup_key(TASK, ModelConfig(**{**MODEL.to_dict(), "d_model": 32}), base),
    }
    assert len(keys) == 5
    assert warmup_key(TASK, MODEL, base) == warmup_key(TASK, MODEL, WarmupConfig(steps=10))


def test_bad_settings_refused(tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        WarmupConfig(batch_size=0)
    with pytest.raises(ValueError, match="vocab_size"):
        warm_up(TASK, ModelConfig(vocab_size=99), WarmupConfig(steps=1), cache_dir=tmp_path)


def test_cuda_warmups_train_with_deterministic_kernels_and_restore_the_setting():
    import warnings

    before = torch.are_deterministic_algorithms_enabled()
    backends = (torch.backends.cuda.flash_sdp_enabled(),
                torch.backends.cuda.mem_efficient_sdp_enabled())  # fmt: skip
    with pytest.warns(UserWarning, match="unrelated") as shown, sft._deterministic(True) as found:
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        # the plain attention kernel only: the memory-efficient one's backward splits keys
        assert torch.backends.cuda.math_sdp_enabled()
        assert not torch.backends.cuda.mem_efficient_sdp_enabled()
        assert not torch.backends.cuda.flash_sdp_enabled()
        # a kernel without a deterministic version that ran anyway is kept, once; other
        # warnings are shown as usual
        for _ in range(2):
            message = "foo_backward does not have a deterministic implementation\nmore"
            warnings.warn(message, stacklevel=1)
        warnings.warn("an unrelated warning", stacklevel=1)
    assert found == ["foo_backward does not have a deterministic implementation"]
    assert [str(w.message) for w in shown] == ["an unrelated warning"]
    assert torch.are_deterministic_algorithms_enabled() == before
    assert (torch.backends.cuda.flash_sdp_enabled(),
            torch.backends.cuda.mem_efficient_sdp_enabled()) == backends  # fmt: skip
    with sft._deterministic(False) as found:  # CPU: left as it is
        assert torch.are_deterministic_algorithms_enabled() == before
        assert torch.backends.cuda.mem_efficient_sdp_enabled() == backends[1]
    assert found == []
