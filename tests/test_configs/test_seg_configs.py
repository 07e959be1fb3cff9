"""Every segmentation distillation config (tiny embedded data): it trains a
step and predicts; the exported student loads into the plain mmseg model
strictly. The NYUv2 and Cityscapes configs build with random teachers."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.models.distillers.export import export_student
from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from _helpers.seg import CONFIGS, EXPECTED, _runner, make_teacher_ckpt


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight checkpoint of the SKD configs' teacher."""
    return make_teacher_ckpt(tmp_path_factory)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_seg_config_trains_predicts_exports(name, toy_data, teacher_ckpt,
                                            tmp_path):
    path, cfg, runner = _runner(name, toy_data, teacher_ckpt, tmp_path)
    model = runner.model
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    batch = next(iter(runner.train_dataloader))
    model.train()
    log = model.train_step(batch, optim)
    for key in EXPECTED[name]:
        assert torch.isfinite(log[f'distill.{key}']), key
    model.eval()
    preds = model.test_step(batch)
    assert preds[0].pred_sem_seg.data.shape[-2:] == \
        batch['data_samples'][0].gt_sem_seg.data.shape[-2:]
    ckpt = str(tmp_path / 'distill.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    plain_cfg = load_config(export_student(path, ckpt,
                                           str(tmp_path / 'student.pth')))
    plain = MODELS.build(plain_cfg.model)
    plain.load_state_dict(torch.load(str(tmp_path / 'student.pth'))[
        'state_dict'], strict=True)
    assert 'discriminator' not in str(plain_cfg.model)


@pytest.mark.parametrize('config', [
    'seg/skd/skd-pi-pa-ho_pspnet-r101-d8_to_pspnet-r18-d8_40k_nyuv2-40.py',
    'seg/skd/skd-pi-pa-ho_pspnet-r101-d8_to_pspnet-r18-d8_80k_cityscapes-'
    '512x1024.py'])
def test_full_size_configs_build(config, tmp_path):
    """NYUv2 and Cityscapes (mmseg's own configs): R-101 teacher (random
    weights here) to R-18 student, the three structured-KD terms."""
    cfg = load_config(osp.join(osp.dirname(__file__), '..', '..',
                               'configs', config))
    assert cfg.train_dataloader.dataset.type in ('NYUv2Dataset',
                                                 'CityscapesDataset')
    teacher_cfg = model_cfg_from(cfg.model.teacher.config, 'teacher')
    assert teacher_cfg.backbone.depth == 101
    teacher_cfg.pop('pretrained', None)
    path = str(tmp_path / 't.pth')
    torch.save(dict(state_dict=MODELS.build(teacher_cfg).state_dict()), path)
    cfg.model.teacher.checkpoint = path
    cfg.model.input_shape = (3, 64, 64)
    model = MODELS.build(cfg.model)
    assert model.student.backbone.depth == 18
    assert {'loss_pixel', 'loss_pair'} == set(model.distill_losses)
    n_classes = 40 if 'nyuv2' in config else 19
    assert model.discriminator.features[0].in_channels == n_classes + 3
