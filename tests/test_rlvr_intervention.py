"""The causal test: strata that decorrelate the two terms, the slope model, the batch update."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insight_bayes.analysis.causal_slopes import (
    causal_slopes,
    hierarchical_bootstrap,
    permutation_p,
    vif,
    within_slopes,
)

torch = pytest.importorskip("torch")

from insight_bayes.rlvr.intervention import (  # noqa: E402
    batch_terms,
    belief_terms,
    check_checkpoints,
    design_batches,
    stratified_batches,
)


# ----------------------------------------------------------------------------- design
def test_stratified_batches_hold_one_rank_and_vary_the_other():
    rng = np.random.default_rng(0)
    held = rng.permutation(120).astype(float)  # distinct values: bins are rank ranges
    varied = rng.permutation(120).astype(float)
    batches = stratified_batches(held, varied, 5, rng, strata=3, levels=4)
    assert [(s, lev) for s, lev, _ in batches] == [(s, lev) for s in range(3) for lev in range(4)]
    for s, lev, ids in batches:
        assert ids.size == 5 and np.unique(ids).size == 5
        # stratum s holds the prompts whose held rank is in [40 s, 40 s + 40)
        assert np.all((held[ids] >= 40 * s) & (held[ids] < 40 * s + 40))
        # level lev: the lev-th quarter, by varied, of that stratum's prompts
        stratum = np.flatnonzero((held >= 40 * s) & (held < 40 * s + 40))
        cut = np.sort(varied[stratum])
        assert np.all((varied[ids] >= cut[10 * lev]) & (varied[ids] <= cut[10 * lev + 9]))
    with pytest.raises(ValueError, match="each needs m=11"):
        stratified_batches(held, varied, 11, rng, strata=3, levels=4)


def _synthetic_pool(rng, n=512, k=8, visits=1.5):
    """Counts like a Random run's after ~25 steps: rates skewed low, Poisson visits."""
    p = rng.beta(0.4, 0.8, n)
    tiers = rng.integers(1, 7, n)
    trials = rng.poisson(visits, n) * k
    s = rng.binomial(trials, p)
    return belief_terms(1.0 + s, 1.0 + trials - s, k, tiers)


@pytest.mark.parametrize("prior", ["flat", "eb"])
def test_strata_decorrelate_the_terms_on_a_synthetic_pool(prior):
    rng = np.random.default_rng(1)
    rows = []
    for cell in range(6):
        terms = _synthetic_pool(rng)
        for b in design_batches(terms, 32, rng, strata=4, levels=3, controls=0):
            if b["prior"] == prior:
                r = batch_terms(terms, b["ids"])
                rows.append((cell, b["family"], b["stratum"], b["level"],
                             r[f"log_weight_{prior}"], r[f"log_mi_{prior}"]))  # fmt: skip
    df = pd.DataFrame(rows, columns=["cell", "family", "stratum", "level", "w", "mi"])
    # the pooled design: both terms in one model with a small variance inflation
    inflation = vif(df[["w", "mi"]].to_numpy(), df["cell"].to_numpy())
    assert inflation[0] == pytest.approx(inflation[1]) and inflation[0] < 2.5
    # within a stratum the varied term moves more than the held one (quantile strata of a
    # skewed term: the lowest weight stratum still spans a long tail, hence "mostly")
    for family, varied, held in (("vary-evidence", "mi", "w"), ("vary-weight", "w", "mi")):
        part = df[df["family"] == family]
        spread = part.groupby(["cell", "stratum"])[[varied, held]].agg(lambda x: x.max() - x.min())
        assert (spread[varied] > spread[held]).mean() >= 0.75
        assert spread[varied].mean() > 2 * spread[held].mean()


def test_checkpoint_zero_is_refused():
    with pytest.raises(ValueError, match="checkpoint 0 cannot carry"):
        check_checkpoints((0, 25))
    assert check_checkpoints((50, 25, 25)) == (25, 50)


def test_eb_terms_use_the_fitted_prior_and_flat_terms_the_belief():
    from insight_bayes import mutual_information
    from insight_bayes.beliefs.prior_fit import fit_beta_binomial

    rng = np.random.default_rng(2)
    terms = _synthetic_pool(rng, n=200)
    a, b = terms["flat"]["alpha"], terms["flat"]["beta"]
    assert np.allclose(terms["flat"]["mi"], mutual_information(a, b, 8))
    # the eb belief minus the counts is one (alpha0, beta0) per tier, not Beta(1, 1)
    a0 = terms["eb"]["alpha"] - (a - 1.0)
    assert np.unique(np.round(a0, 12)).size > 1 and not np.allclose(a0, 1.0)
    fit = fit_beta_binomial(a - 1.0, a + b - 2.0)  # a global fit: the scale is not a coin flip
    assert fit.alpha.size >= 1


# ----------------------------------------------------------------------------- the model
def _synthetic_batches(rng, slopes=(0.8, -0.3), noise=0.3, draws=3, seeds=2, checkpoints=2, n=24):
    rows = []
    for d in range(draws):
        draw_shift = rng.normal(0, 2)
        for s in range(seeds):
            for c in range(checkpoints):
                shift = draw_shift + rng.normal(0, 1)
                w = rng.normal(0, 1, n)
                mi = 0.3 * w + rng.normal(0, 1, n)
                y = shift + slopes[0] * w + slopes[1] * mi + rng.normal(0, noise, n)
                rows += [{"draw": d, "seed": s, "checkpoint": c, "w": w[i], "mi": mi[i],
                          "y": y[i]} for i in range(n)]  # fmt: skip
    return pd.DataFrame(rows)


def test_within_slopes_recover_known_slopes_and_match_explicit_dummies():
    rng = np.random.default_rng(3)
    df = _synthetic_batches(rng)
    cells = df.groupby(["draw", "seed", "checkpoint"]).ngroup().to_numpy()
    got = within_slopes(df["y"], df[["w", "mi"]].to_numpy(), cells)
    # an independent route: least squares with one dummy column per cell
    dummies = np.eye(cells.max() + 1)[cells]
    full = np.linalg.lstsq(np.column_stack([dummies, df[["w", "mi"]]]), df["y"], rcond=None)[0]
    assert got == pytest.approx(full[-2:], abs=1e-10)
    assert got == pytest.approx([0.8, -0.3], abs=0.06)
    # two columns: VIF = 1 / (1 - r^2) of their within-cell deviations
    dev = df[["w", "mi"]] - df.groupby(cells)[["w", "mi"]].transform("mean")
    r = np.corrcoef(dev["w"], dev["mi"])[0, 1]
    assert vif(df[["w", "mi"]].to_numpy(), cells) == pytest.approx([1 / (1 - r**2)] * 2)


def test_bootstrap_intervals_cover_the_truth_and_the_placebo_is_null():
    rng = np.random.default_rng(4)
    df = _synthetic_batches(rng)
    boot = hierarchical_bootstrap(df, "y", ["w", "mi"], n_boot=300, rng=5)
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    assert low[0] < 0.8 < high[0] and low[1] < -0.3 < high[1] and high[1] < 0
    # a real slope has a small permutation p; a term with no effect does not
    assert permutation_p(df, "y", ["w", "mi"], "mi", n_perm=200, rng=6) < 0.01
    null = _synthetic_batches(rng, slopes=(0.8, 0.0))
    assert permutation_p(null, "y", ["w", "mi"], "mi", n_perm=200, rng=7) > 0.01


def test_causal_slopes_table_from_designed_batches():
    rng = np.random.default_rng(8)
    df = _synthetic_batches(
        rng, slopes=(0.005, 0.002), noise=0.003
    )  # in pass@1; the table reports points
    df = df.rename(columns={"w": "log_weight_flat", "mi": "log_mi_flat"})
    df["effect"] = df.pop("y")
    df["prior"] = "flat"
    df["family"] = np.where(np.arange(len(df)) % 2, "vary-evidence", "vary-weight")
    table = causal_slopes(df, priors=("flat",), n_boot=200, n_perm=100)
    both = table[table["model"] == "both terms"].set_index("term")
    assert both.loc["weight", "slope"] == pytest.approx(0.5, abs=0.06)
    assert both.loc["evidence", "slope"] == pytest.approx(0.2, abs=0.06)
    assert both.loc["evidence", "ci_low"] > 0 and both.loc["evidence", "n_cells"] == 12


# ----------------------------------------------------------------------------- the update
def test_batch_gradient_is_the_token_weighted_sum_of_its_groups():
    from insight_bayes.rewards import Rollout
    from insight_bayes.rlvr.applied_update import batch_gradient, group_gradient
    from insight_bayes.rlvr.grpo import GRPOConfig
    from insight_bayes.rlvr.grpo_environment import GRPOEnvironment
    from insight_bayes.rlvr.model import ModelConfig, TinyLM
    from insight_bayes.rlvr.policy import CharPolicy
    from insight_bayes.rlvr.tasks import make_splits, make_task
    from insight_bayes.rlvr.tokenizer import CharTokenizer

    task = make_task("addition", max_digits=2)
    pool, test = make_splits(task, 40, 16, 0)
    tok = CharTokenizer(task.alphabet)
    torch.manual_seed(0)
    model = TinyLM(ModelConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2,
                               d_model=16))  # fmt: skip
    env = GRPOEnvironment(task, pool, test, CharPolicy(model, tok), GRPOConfig(max_new_tokens=4))
    ids = np.array([3, 7, 11])
    out = env.rollout(ids, 4, np.random.default_rng(1))
    rewards = np.array([[1.0, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 1]])
    rollout = Rollout(rewards, rewards == 1.0, out.payload)
    whole = torch.cat([g.reshape(-1) for g in batch_gradient(env, ids, rollout)])
    # the batch's loss is normalised by all its completion tokens: each group's own
    # gradient (normalised by its tokens) weighted by its share of the batch's tokens
    tokens = np.array([sum(len(c) for c in group) for group in out.payload], dtype=float)
    parts = [
        torch.cat([g.reshape(-1) for g in group_gradient(env, int(i), rollout.take([j]))])
        for j, i in enumerate(ids)
    ]
    expected = sum(float(t / tokens.sum()) * p for t, p in zip(tokens, parts, strict=True))
    assert torch.allclose(whole, expected, atol=1e-6, rtol=1e-4)
    assert torch.count_nonzero(parts[1]) == 0  # the all-wrong group adds nothing


def test_intervention_command_runs_end_to_end_on_the_smoke_config(tmp_path):
    import json
    import re
    from pathlib import Path

    from insight_bayes_cli import main

    smoke = Path(__file__).parents[1] / "configs" / "rlvr" / "smoke.toml"
    out = tmp_path / "iv"
    argv = ["rlvr-intervention", str(smoke), "--out", str(out), "--draws", "0", "--seeds",
            "0,1", "--checkpoints", "2", "--strata", "2", "--levels", "2", "--controls", "2",
            "--n-boot", "100", "--cache-dir", str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "intervention" and manifest["finished"] is True
    # the warm-up the runs started from, by the sha256 of its weights
    (weights,) = manifest["warmup_weights"].values()
    assert re.fullmatch("[0-9a-f]{64}", weights["sha256"]) and weights["loss"] > 0
    assert weights["device_name"]  # the CPU and its kernels, or the GPU
    assert "checkpoint_0" in manifest["analysis"]
    batches = pd.read_parquet(out / "batches.parquet")
    # 2 seeds x (2 priors x 2 families x 2 strata x 2 levels + 2 uniform batches)
    assert len(batches) == 2 * (2 * 2 * 2 * 2 + 2)
    assert set(batches["family"]) == {"vary-evidence", "vary-weight", "uniform"}
    checked = batches["actual"].notna() & (batches["actual"] != 0)
    if checked.any():  # first order: the actual change is the effect, up to a small remainder
        # (relative to the effects' own scale: a near-zero effect may flip sign at second order)
        gap = (batches.loc[checked, "actual"] - batches.loc[checked, "effect"]).abs()
        assert (gap <= 0.5 * batches["effect"].abs().max()).all()
    slopes = pd.read_csv(out / "slopes.csv")
    assert set(slopes["prior"]) == {"flat", "eb"}
    for name in ("arms.csv", "headline.txt", "README.md"):
        assert (out / name).exists()
    # checkpoint 0: refused (a one-line error, status 2) before any training
    assert main([*argv[:9], "0,2", *argv[10:]]) == 2


def test_the_intervention_s_runs_in_blocks_equal_one_at_a_time(tmp_path):
    import tomllib
    from pathlib import Path

    from insight_bayes.rlvr.intervention import run_intervention

    with (Path(__file__).parents[1] / "configs" / "rlvr" / "smoke.toml").open("rb") as f:
        raw = tomllib.load(f)
    kw = dict(draws=(0, 1), seeds=(0, 1), checkpoints=(2, 3), strata=2, levels=2, controls=2,
              check_batches=1, cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    alone = run_intervention(raw, tmp_path / "alone", runs_per_process=1, **kw)
    # blocks of 3 runs: one block holds both draws' runs
    block = run_intervention(raw, tmp_path / "block", runs_per_process=3, **kw)
    key = ["draw", "seed", "checkpoint", "batch"]
    alone = alone.sort_values(key).reset_index(drop=True).drop(columns="seconds")
    block = block.sort_values(key).reset_index(drop=True).drop(columns="seconds")
    assert len(alone) == 2 * 2 * 2 * (2 * 2 * 2 * 2 + 2)
    assert set(alone["draw"]) == {0, 1}
    # a CPU block computes each run as it runs alone: the same batches, and the effects
    # measured from the same weights and AdamW states, bit for bit
    pd.testing.assert_frame_equal(alone, block, check_exact=True)
