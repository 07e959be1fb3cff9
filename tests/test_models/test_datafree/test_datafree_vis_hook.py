"""DataFreeVisualizationHook: every vis_interval rounds a PNG grid of the
buffer (teacher class per image; for segmentation the teacher's mask
beside each image) lands in the LocalVisBackend's vis_image folder, with
the expected size."""
import glob
import math
import os.path as osp
import uuid

import cv2
import torch
from mmengine.visualization import Visualizer

from kdtools.engine.hooks import DataFreeVisualizationHook
from kdtools.engine.hooks.datafree_visualization_hook import image_grid
from _helpers.datafree import ROOT, TOY, build as _build

SEG = osp.join(ROOT, 'configs', 'datafree',
               'ssd-kd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_toyseg.py')


class _NoVal:
    @property
    def val_dataloader(self):
        raise RuntimeError('no val split')


def _runner(model, tmp_path):
    vis = Visualizer.get_instance(
        f'vis-{uuid.uuid4().hex}', save_dir=str(tmp_path / 'vis'),
        vis_backends=[dict(type='LocalVisBackend')])
    runner = _NoVal()
    runner.model, runner.visualizer = model, vis
    return runner


def _pngs(tmp_path):
    pattern = str(tmp_path / 'vis' / '**' / 'vis_image' / '*.png')
    return sorted(glob.glob(pattern, recursive=True))


def _expected(n, ncol, h, w, pad=2):
    ncol = min(ncol, n)
    rows = math.ceil(n / ncol)
    return rows * (h + pad) + pad, ncol * (w + pad) + pad


def test_image_grid_layout():
    # 5 tiles of 4 x 3 px, 2 per row, 1 px padding: 3 rows
    tiles = torch.arange(5).view(5, 1, 1, 1).expand(5, 4, 3, 3).numpy()
    grid = image_grid(tiles.astype('uint8'), ncol=2, pad=1)
    assert grid.shape == (3 * (4 + 1) + 1, 2 * (3 + 1) + 1, 3)
    assert grid[1 + 2 * 5, 1, 0] == 4  # item 4: third row, first column
    assert grid[1 + 2 * 5, 1 + 4, 0] == 255  # no item 5: padding colour


def test_cls_grid_every_interval(tmp_path):
    model, optim = _build(TOY, tmp_path, budget=12,
                          generator=dict(nz=16, ngf=8),
                          synthesis=dict(batch_size=4, warmup_ratio=1.0))
    runner = _runner(model, tmp_path)
    hook = DataFreeVisualizationHook(vis_interval=2, ncol=4, min_size=64)
    model.train()
    for i in range(3):  # three warm-up rounds: a grid after round 2 only
        model.train_step({}, optim)
        hook.after_train_iter(runner, i)
    files = _pngs(tmp_path)
    assert [osp.basename(f) for f in files] == ['datafree_buffer_2.png']
    img = cv2.imread(files[0])
    # 8 images of 32 px, scaled x2 to 64, 4 per row
    assert img.shape[:2] == _expected(8, 4, 64, 64)
    assert img.std() > 0


def test_seg_grid_has_mask_beside_image(tmp_path):
    model, optim = _build(SEG, tmp_path, budget=4,
                          generator=dict(img_size=32, ngf=8, nz=16),
                          synthesis=dict(batch_size=4, warmup_ratio=1.0))
    runner = _runner(model, tmp_path)
    hook = DataFreeVisualizationHook(vis_interval=1, ncol=2, min_size=32)
    model.train()
    model.train_step({}, optim)
    hook.after_train_iter(runner, 0)
    hook.after_train_iter(runner, 1)  # same round: no second grid
    files = _pngs(tmp_path)
    assert [osp.basename(f) for f in files] == ['datafree_buffer_1.png']
    img = cv2.imread(files[0])
    assert img.shape[:2] == _expected(4, 2, 32, 64)  # image | mask
    grid = hook.render(model, {})
    assert grid.shape == img.shape
