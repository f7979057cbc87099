"""GRPO harness on a small language model (requires ``insight-bayes[rlvr]``, PyTorch).

Tasks with safe verifiers (:mod:`~insight_bayes.rlvr.tasks`), a character tokenizer, a
small transformer with KV-cached sampling (:mod:`~insight_bayes.rlvr.model`), a cached
supervised warm-up (:mod:`~insight_bayes.rlvr.sft`), GRPO (:mod:`~insight_bayes.rlvr.grpo`),
the selection-loop environment (:mod:`~insight_bayes.rlvr.grpo_environment`), and a study split
by concern: its validated, torch-free config (:mod:`~insight_bayes.rlvr.config`), the
harness builder (:mod:`~insight_bayes.rlvr.harness`), the study runner
(:mod:`~insight_bayes.rlvr.study`) and its command (:mod:`~insight_bayes.rlvr.study_cli`,
``insight-bayes rlvr-study``).
"""
