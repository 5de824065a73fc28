"""`choose_local_device`: the worker's device rule for runs outside TorchServe (train sample, selector training)."""

from __future__ import annotations

import torch

from serve_handler.device import choose_local_device


def test_a_local_run_takes_the_first_gpu_in_fp16_when_cuda_is_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_local_device() == (torch.device("cuda:0"), torch.float16)


def test_a_local_run_without_cuda_stays_on_the_cpu_in_fp32(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_local_device() == (torch.device("cpu"), torch.float32)
