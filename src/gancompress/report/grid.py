"""Image grids as PNG files (PIL only; no torchvision)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x[:, :3].permute(0, 2, 3, 1).numpy()


def grid_image(images: torch.Tensor, nrow: int = 8, pad: int = 2, scale: int = 1) -> Image.Image:
    """Tile (N, C, H, W) images in rows of `nrow` with a white border."""
    arr = to_uint8(images)
    n, h, w, _ = arr.shape
    rows = (n + nrow - 1) // nrow
    canvas = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    for i, img in enumerate(arr):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    out = Image.fromarray(canvas)
    return out.resize((out.width * scale, out.height * scale), Image.NEAREST) if scale > 1 else out


def labelled_panels(panels: Sequence[tuple[str, Image.Image]], gap: int = 12, title_h: int = 18) -> Image.Image:
    """Place images side by side, each under its title."""
    width = sum(p.width for _, p in panels) + gap * (len(panels) - 1)
    height = max(p.height for _, p in panels) + title_h
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for title, panel in panels:
        draw.text((x + 2, 3), title, fill="black")
        sheet.paste(panel, (x, title_h))
        x += panel.width + gap
    return sheet


def labelled_rows(rows: Sequence[tuple[str, Image.Image]], label_w: int = 150, gap: int = 6) -> Image.Image:
    """Stack images vertically, each with its label on the left (a picture sheet)."""
    width = label_w + max(r.width for _, r in rows)
    height = sum(r.height for _, r in rows) + gap * (len(rows) - 1)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = 0
    for label, row in rows:
        draw.text((4, y + row.height // 2 - 5), label, fill="black")
        sheet.paste(row, (label_w, y))
        y += row.height + gap
    return sheet


def save_png(image: Image.Image, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
