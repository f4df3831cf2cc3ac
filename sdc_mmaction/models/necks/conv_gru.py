"""ConvGRU: DPC's recurrent aggregator over a sequence of feature maps."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmaction.registry import MODELS


class ConvGRUCell(nn.Module):
    """One convolutional GRU step: gates and candidate from convolutions over
    ``[x, h]`` instead of matrix products.

    Args:
        input_size (int): channels of x.
        hidden_size (int): channels of h.
        kernel_size (int): odd convolution size (1 in DPC).
    """

    def __init__(self, input_size: int, hidden_size: int, kernel_size: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'ConvGRUCell: kernel_size must be odd, got {kernel_size}')
        padding = kernel_size // 2
        self.hidden_size = hidden_size
        self.reset_gate = nn.Conv2d(input_size + hidden_size, hidden_size, kernel_size,
                                    padding=padding)
        self.update_gate = nn.Conv2d(input_size + hidden_size, hidden_size, kernel_size,
                                     padding=padding)
        self.candidate = nn.Conv2d(input_size + hidden_size, hidden_size, kernel_size,
                                   padding=padding)
        for conv in (self.reset_gate, self.update_gate, self.candidate):
            nn.init.orthogonal_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor, hidden: Optional[Tensor]) -> Tensor:
        if hidden is None:
            hidden = x.new_zeros(x.shape[0], self.hidden_size, *x.shape[2:])
        both = torch.cat([x, hidden], dim=1)
        reset = torch.sigmoid(self.reset_gate(both))
        update = torch.sigmoid(self.update_gate(both))
        candidate = torch.tanh(self.candidate(torch.cat([x, reset * hidden], dim=1)))
        return (1 - update) * hidden + update * candidate


@MODELS.register_module()
class ConvGRU(BaseModule):
    """A stack of :class:`ConvGRUCell` run over time, with dropout on each layer's output
    at every step (between layers and on the last layer's output).

    Input ``(B, T, C_in, H, W)``; output the last layer's hidden states
    ``(B, T, C_hid, H, W)`` and the final hidden state of every layer
    ``(num_layers, B, C_hid, H, W)``. :meth:`step` advances one time step.

    Args:
        input_size (int): input channels.
        hidden_size (int): hidden channels.
        kernel_size (int): convolution size. Defaults to 1.
        num_layers (int): stacked cells. Defaults to 1.
        dropout (float): dropout probability after each cell. Defaults to 0.1.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self, input_size: int, hidden_size: int, kernel_size: int = 1,
                 num_layers: int = 1, dropout: float = 0.1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'ConvGRU: num_layers must be >= 1, got {num_layers}')
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cells = nn.ModuleList(
            ConvGRUCell(input_size if i == 0 else hidden_size, hidden_size, kernel_size)
            for i in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    def step(self, x: Tensor, hidden: Optional[Tensor] = None) -> Tensor:
        """One time step: x ``(B, C_in, H, W)``, hidden ``(num_layers, B, C_hid, H, W)``
        or None (zeros) -> the new hidden states, same shape."""
        if x.dim() != 4 or x.shape[1] != self.input_size:
            raise ValueError(f'ConvGRU.step expects (B, {self.input_size}, H, W), got '
                             f'{tuple(x.shape)}')
        new_hidden = []
        for index, cell in enumerate(self.cells):
            x = cell(x, None if hidden is None else hidden[index])
            new_hidden.append(x)
            x = self.dropout(x)
        return torch.stack(new_hidden)

    def forward(self, sequence: Tensor, hidden: Optional[Tensor] = None):
        if sequence.dim() != 5:
            raise ValueError(f'ConvGRU expects (B, T, C, H, W), got {tuple(sequence.shape)}')
        outputs = []
        for t in range(sequence.shape[1]):
            hidden = self.step(sequence[:, t], hidden)
            outputs.append(hidden[-1])
        return torch.stack(outputs, dim=1), hidden
