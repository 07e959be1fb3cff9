"""A grid of a data-free run's synthetic images, saved through the
visualizer's backends."""
import math
from typing import Optional

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from kdtools.registry import HOOKS


def class_palette(num_classes: int, palette=None) -> np.ndarray:
    """``(num_classes, 3)`` uint8 RGB colours: the dataset's palette where
    it has one for every class, else fixed colours (a private seeded
    generator: the run's random streams are not touched)."""
    if palette is not None and len(palette) >= num_classes:
        return np.asarray(palette[:num_classes], dtype=np.uint8)
    colours = np.random.RandomState(0).randint(0, 256, (num_classes, 3))
    return colours.astype(np.uint8)


def image_grid(tiles: np.ndarray, ncol: int, pad: int = 2,
               fill: int = 255) -> np.ndarray:
    """``tiles (n, h, w, 3)`` uint8 -> one ``(rows (h + pad) + pad,
    ncol (w + pad) + pad, 3)`` image, row-major, ``rows = ceil(n /
    ncol)``."""
    n, h, w, _ = tiles.shape
    ncol = max(1, min(ncol, n))
    rows = math.ceil(n / ncol)
    grid = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad, 3), fill,
                   dtype=np.uint8)
    for i, tile in enumerate(tiles):
        y = pad + (i // ncol) * (h + pad)
        x = pad + (i % ncol) * (w + pad)
        grid[y:y + h, x:x + w] = tile
    return grid


@HOOKS.register_module()
class DataFreeVisualizationHook(Hook):
    """Every ``vis_interval`` synthesis rounds of a ``DataFreeDistiller``
    run, save a grid of its replay buffer as an image through
    ``runner.visualizer.add_image`` (with ``LocalVisBackend``:
    ``<work_dir>/<timestamp>/vis_data/vis_image/datafree_buffer_<round>.png``;
    TensorBoard/W&B backends get it too), so the synthetic images can be
    checked while the run goes on.

    Up to ``max_images`` items, evenly spaced over the buffer's slots, are
    shown ``ncol`` per row, each scaled up (nearest) to at least
    ``min_size`` pixels high:

    - classification (``task='cls'``): each image with the teacher's
      predicted class (name from the dataset meta where known) written on
      it;
    - segmentation (``task='seg'``): each image with the teacher's
      predicted mask (class colours: the dataset palette or fixed colours)
      beside it.

    The teacher runs on the stored images in eval mode without gradients
    and no random number is drawn, so the run itself is unchanged. Only the
    main process writes.

    Args:
        vis_interval (int): every how many synthesis rounds (the round
            count, ``model.rounds_done``, a multiple of it).
        max_images (int): at most this many buffer items.
        ncol (int): items per row.
        min_size (int): minimum tile height in pixels.
        draw_labels (bool): write the class names (classification).
    """

    priority = 'LOW'

    def __init__(self, vis_interval: int = 10, max_images: int = 64,
                 ncol: int = 8, min_size: int = 64,
                 draw_labels: bool = True) -> None:
        if int(vis_interval) < 1 or int(max_images) < 1 or int(ncol) < 1:
            raise ValueError(
                f'DataFreeVisualizationHook: vis_interval={vis_interval}, '
                f'max_images={max_images}, ncol={ncol}; expected >= 1')
        self.vis_interval, self.max_images = int(vis_interval), \
            int(max_images)
        self.ncol, self.min_size = int(ncol), int(min_size)
        self.draw_labels = draw_labels
        self._last = None

    @staticmethod
    def _distiller(runner):
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if not hasattr(model, 'buffer') or not hasattr(model, 'rounds_done'):
            raise TypeError('DataFreeVisualizationHook needs a '
                            f'DataFreeDistiller model, got '
                            f'{type(model).__name__}')
        return model

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        model = self._distiller(runner)
        rounds = int(model.rounds_done)
        if rounds == self._last:
            return
        self._last = rounds
        if rounds and rounds % self.vis_interval == 0 and len(model.buffer) \
                and is_main_process():
            self.save(runner, model, rounds)

    @staticmethod
    def _meta(runner) -> dict:
        meta = dict(runner.visualizer.dataset_meta or {})
        if not meta.get('classes'):
            try:
                meta = dict(runner.val_dataloader.dataset.metainfo)
            except Exception:  # no val split: indices and fixed colours
                meta = {}
        return meta

    @torch.no_grad()
    def render(self, model, meta: Optional[dict] = None) -> np.ndarray:
        """The grid (RGB uint8) for the model's current buffer."""
        from kdtools.models.datafree.synthesis import logits_of
        meta = meta or {}
        n = len(model.buffer)
        idx = torch.linspace(0, n - 1, min(n, self.max_images)).round()
        idx = idx.long().unique().to(model.buffer.images.device)
        images = model.buffer.to_float(model.buffer.images[idx])
        out = logits_of(model.teacher, model.norm_teacher(images))
        labels = out.argmax(1)
        scale = max(1, math.ceil(self.min_size / images.shape[2]))
        tiles = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        tiles = tiles.permute(0, 2, 3, 1).cpu().numpy()
        if tiles.shape[-1] == 1:
            tiles = tiles.repeat(3, axis=-1)
        if labels.dim() == 3:  # segmentation: image | teacher mask
            colours = class_palette(out.shape[1], meta.get('palette'))
            tiles = np.concatenate([tiles, colours[labels.cpu().numpy()]],
                                   axis=2)
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
        grid = image_grid(tiles, self.ncol)
        self._labels = labels if labels.dim() == 1 else None
        self._tile = tiles.shape[1:3]
        return grid

    def save(self, runner, model, rounds: int) -> np.ndarray:
        meta = self._meta(runner)
        grid = self.render(model, meta)
        vis = runner.visualizer
        if self._labels is not None and self.draw_labels:
            classes = meta.get('classes') or []
            h, w = self._tile
            ncol = max(1, min(self.ncol, len(self._labels)))
            texts, pos = [], []
            for i, c in enumerate(self._labels.tolist()):
                texts.append(str(classes[c]) if c < len(classes) else str(c))
                pos.append([2 + (i % ncol) * (w + 2) + 1,
                            2 + (i // ncol) * (h + 2) + 1])
            vis.set_image(grid)
            vis.draw_texts(texts, np.array(pos), colors='white',
                           font_sizes=max(6, h // 8),
                           vertical_alignments='top',
                           bboxes=dict(facecolor='black', alpha=0.6,
                                       pad=0.5, edgecolor='none'))
            grid = vis.get_image()
        vis.add_image('datafree_buffer', grid, step=rounds)
        return grid
