"""Selection in ten lines: a belief over 2,000 prompts, InSight picks 64, one update.

The same code is the README's "Ten lines of Python" (``tests/test_examples.py`` checks
that the two agree). Run: ``python examples/quickstart.py``
"""

import numpy as np

from insight_bayes import BetaBelief, draw_candidates, make_selector, wmi_score

rng = np.random.default_rng(0)
belief = BetaBelief(2_000)  # Beta(1, 1) over every prompt (Eq. 3)
rule = make_selector("insight", mu=0.3, eta=3.0)  # or "mopps", "random", ...
candidates = draw_candidates(2_000, m_hat=16 * 64, rng=rng)
chosen = rule.select(candidates, belief, m=64, k=8, rng=rng)  # top-M by Eq. 17 (score: Eq. 16)
rewards = rng.random((64, 8)) < 0.4  # your K rollouts per chosen prompt
belief.update(chosen.ids, rewards.sum(1), np.full(64, 8))  # Eq. 6
print(chosen.ids[:5], wmi_score(belief.alpha[chosen.ids[:5]], belief.beta[chosen.ids[:5]], 8))
