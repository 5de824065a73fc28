from __future__ import annotations

import torch

from serve_handler.device import choose_device


def test_no_gpu_id_means_cpu_in_fp32():
    assert choose_device(None) == (torch.device("cpu"), torch.float32)


def test_a_gpu_id_uses_that_gpu_in_fp16_when_cuda_is_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device(1) == (torch.device("cuda:1"), torch.float16)


def test_a_gpu_id_without_cuda_falls_back_to_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device(0) == (torch.device("cpu"), torch.float32)
