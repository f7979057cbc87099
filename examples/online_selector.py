"""InSight in any training loop: ask for a batch, train on it, report its rewards.

The rollouts here are coin flips; replace them with your generation and verifier.
Run: ``python examples/online_selector.py`` (``tests/test_examples.py`` runs it).
"""

# [example]
import numpy as np

from insight_bayes.integrations import OnlineConfig, OnlineSelector

config = OnlineConfig(
    m=16,  # prompts per step (M)
    k=8,  # rollouts per prompt (K)
    reward_mode="binary",  # a rollout is a success when reward >= reward_threshold
    reward_threshold=1.0,  # the default: a reward of 0.5 counts as a failure
)
selector = OnlineSelector(1000, "insight", config, seed=0)
rng = np.random.default_rng(1)
for _ in range(5):
    ids = selector.next_batch()  # draw M_hat = 16 M candidates, keep the top M
    rewards = (rng.random((16, 8)) < 0.3) * 1.0  # your rollouts + verifier, shape (M, K)
    selector.report(ids, rewards)  # binarised, then the Eq. 6 update
state = selector.state_dict()  # plain data: json.dumps(state) or torch.save(state, ...)
# [example end]
print("step", state["step"], "stats", state["stats"])
