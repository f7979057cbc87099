"""The machine a computation runs on, as results record it.

Float results, and so a warm-up trained from one seed, differ between GPUs and between the
CPU kernel sets PyTorch picks (``AVX512``, ``AVX2``, ...): a study's manifest, a
measurement's manifest and a cached warm-up's record name the machine
(:func:`device_name`), so that a resumed study or a reused warm-up can say when it runs
elsewhere (see the harness page).
"""

from __future__ import annotations

import platform

__all__ = ["device_name"]


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's model and the kernels PyTorch runs on it (``AVX512``,
    ``AVX2``, ...): float results, and so a warm-up trained from the same seed, differ
    between kernel sets (see the harness page)."""
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return f"{model} ({torch.backends.cpu.get_cpu_capability()} kernels)"
