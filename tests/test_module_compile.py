"""module.compile: the LightningModule runs torch.compile's graph of its network."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from deepvideo.modules import VideoClassifier


def test_compiled_forward_equals_eager_and_keeps_the_checkpoint_keys() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    module = VideoClassifier(net, partial(torch.optim.SGD, lr=0.1), None, compile=True)
    eager = VideoClassifier(net, partial(torch.optim.SGD, lr=0.1), None)
    x = torch.randn(2, 3, 1, 2, 2)
    out = module(x)
    out.sum().backward()  # gradients reach the network's own parameters
    assert net[1].weight.grad is not None
    torch.testing.assert_close(out, eager(x))
    assert module._compiled is not None
    assert list(module.state_dict()) == list(eager.state_dict()) == ["net.1.weight", "net.1.bias"]
