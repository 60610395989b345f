"""The plate line recognizer: a small CRNN (5 conv blocks + one BiLSTM) trained with CTC.

Input (N, 1, 32, 192) normalized grey; output (N, 48, classes) logits, one step per 4 pixels
of width, enough for the 10 characters of a long car plate. About 0.2 M parameters with the
default widths.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(
    cin: int, cout: int, k: tuple[int, int] = (3, 3), p: int | tuple[int, int] = 1
) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, k, padding=p, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class CRNN(nn.Module):
    def __init__(
        self, n_classes: int, channels: tuple[int, ...] = (16, 32, 64, 96, 128), hidden: int = 64
    ) -> None:
        super().__init__()
        a, b, c, d, e = channels
        self.cnn = nn.Sequential(
            *_block(1, a),
            nn.MaxPool2d(2),  # 16 x 96
            *_block(a, b),
            nn.MaxPool2d(2),  # 8 x 48
            *_block(b, c),
            nn.MaxPool2d((2, 1)),  # 4 x 48
            *_block(c, d),
            nn.MaxPool2d((2, 1)),  # 2 x 48
            *_block(d, e, (2, 1), 0),  # 1 x 48
        )
        self.rnn = nn.LSTM(e, hidden, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(2 * hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.cnn(x).squeeze(2).permute(0, 2, 1)  # (N, T, C)
        out, _ = self.rnn(f)
        return self.fc(out)
