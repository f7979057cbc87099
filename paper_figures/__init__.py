"""Every figure and table of the paper, drawn from saved results by one command.

``insight-bayes figures --out figures [--results results] [--quick]`` (or ``python -m
paper_figures``) writes each figure as PDF and PNG and each table as
Markdown and LaTeX, with a caption naming the command and the saved results. The
package only draws: the numbers come from :mod:`insight_bayes.analysis`, the results
from folders under ``results/`` (:mod:`.sources` names each one and the command that
makes it; ``insight-bayes reproduce`` runs those commands). Modules: :mod:`.style`
(the one colour-blind-safe style, used by the notebooks too), :mod:`.decomposition`
(Figures 2-3), :mod:`.simulated` (simulated Countdown:
Figure 4, main table), :mod:`.harness` (RLVR harness: Figure 4, table),
:mod:`.tiered` (the tiered and intervention studies), :mod:`.sim_vs_harness` (does the
calibrated simulator predict the harness?), :mod:`.ablation_report` (ablation tables and
figure), :mod:`.cost` (Dynamic
Sampling's cost), :mod:`.curves` and :mod:`.tables` (shared drawing and table writers),
:mod:`.registry` (the list of outputs).
"""
