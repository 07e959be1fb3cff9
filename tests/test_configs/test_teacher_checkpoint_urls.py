"""The COCO and Cityscapes distillation configs name the published teacher
checkpoints by their model-zoo URL (fetched once into the torch hub
cache)."""
import os.path as osp
import re

import pytest

from kdtools.utils import load_config
from kdtools.utils.url_checkpoint import cached_path, is_url
from conftest import CONFIGS


@pytest.mark.parametrize('config,name', [
    ('det/hint/hint_fpn_gfl-r101_to_gfl-r18_1x_coco.py',
     'gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'),
    ('det/ld/ld-vlr_gfl-r101_to_gfl-r18_1x_coco.py',
     'gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'),
    ('det/chen17/chen17_faster-rcnn_r101_to_r50_fpn_1x_coco.py',
     'faster_rcnn_r101_fpn_2x_coco_bbox_mAP-0.398_20200504_210455-1d2dac9c'
     '.pth'),
    ('seg/skd/skd-pi-pa-ho_pspnet-r101-d8_to_pspnet-r18-d8_80k_cityscapes-'
     '512x1024.py',
     'pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth'),
])
def test_teacher_checkpoint_is_the_model_zoo_url(config, name):
    url = load_config(osp.join(CONFIGS, config)).model.teacher.checkpoint
    assert is_url(url) and re.match(r'https://download\.openmmlab\.com/', url)
    assert osp.basename(cached_path(url)) == name
