"""U-Net segmenter (Ronneberger et al. 2015), small and plainly written so ``torch.fx`` can cut it.

Stages carry names a config can point at: ``encoder1`` … ``encoder4`` (``encoder4`` is the bottleneck,
"the last encoder layer"), ``decoder3`` … ``decoder1`` and the 1×1 ``head``. Each stage is two 3×3
convolutions with batch norm and ReLU; encoders after the first start with a 2×2 max-pool; decoders
upsample ×2 (bilinear), concatenate the skip tensor of the same resolution, then convolve. Input height and
width must be divisible by 8. The output is (N, classes, H, W) logits.
"""

from __future__ import annotations

import torch
from torch import nn

ENCODER_STAGES = ("encoder1", "encoder2", "encoder3", "encoder4")
DECODER_STAGES = ("decoder3", "decoder2", "decoder1")


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Down(nn.Sequential):
    """Max-pool ×2, then two convolutions."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.MaxPool2d(2), *_double_conv(in_channels, out_channels))


class Up(nn.Module):
    """Upsample ×2, concatenate the skip tensor, two convolutions."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.convs = _double_conv(in_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.convs(torch.cat([self.upsample(x), skip], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 2, widths: tuple[int, int, int, int] = (16, 32, 64, 128)):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.encoder1 = _double_conv(in_channels, w1)
        self.encoder2 = Down(w1, w2)
        self.encoder3 = Down(w2, w3)
        self.encoder4 = Down(w3, w4)
        self.decoder3 = Up(w4, w3, w3)
        self.decoder2 = Up(w3, w2, w2)
        self.decoder1 = Up(w2, w1, w1)
        self.head = nn.Conv2d(w1, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip1 = self.encoder1(x)
        skip2 = self.encoder2(skip1)
        skip3 = self.encoder3(skip2)
        bottleneck = self.encoder4(skip3)
        x = self.decoder3(bottleneck, skip3)
        x = self.decoder2(x, skip2)
        x = self.decoder1(x, skip1)
        return self.head(x)
