"""Where the generator runs: the GPU TorchServe assigned to this worker, in fp16, else the CPU in fp32.

TorchServe passes `gpu_id` in the context's system properties when it has GPUs to hand out (config.properties
`number_of_gpu`, default: all visible) and None otherwise. The id is used as given: TorchServe spreads workers
over the GPUs itself. Outside TorchServe (`lorecast train sample`, selector training) the same rule runs as a
worker given GPU 0 would: `choose_local_device()`.
"""

from __future__ import annotations

import torch


def choose_device(gpu_id: int | None) -> tuple[torch.device, torch.dtype]:
    if gpu_id is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}"), torch.float16
    return torch.device("cpu"), torch.float32


def choose_local_device() -> tuple[torch.device, torch.dtype]:
    """The device and dtype of a local run outside TorchServe: the first GPU when CUDA has one, else the CPU."""
    return choose_device(0 if torch.cuda.is_available() else None)
