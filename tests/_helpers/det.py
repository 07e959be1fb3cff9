"""The hint-KD distiller on the embedded detection configs: a random-weight
teacher checkpoint, the distiller's config and model, a detection batch and
training steps (the distiller's tests), and the distillation config on the
tiny data the tools' end-to-end tests train."""
import copy
import os.path as osp

import numpy as np
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import CONFIGS, tiny_det_body, write_config

HINT_CONFIG = 'det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'
HINT = osp.join(CONFIGS, HINT_CONFIG)
TEACHER = osp.join(CONFIGS, 'det/gfl_mobilenetv2_fpn_12e_toydet.py')
R18 = osp.join(CONFIGS, 'det/gfl_r18-base16_fpn_12e_toydet.py')


def make_teacher_ckpt(tmp_path_factory):
    """A teacher checkpoint in mmengine's format (random weights: these
    tests check behaviour, not quality)."""
    torch.manual_seed(0)
    cfg = load_config(TEACHER)
    cfg.model.backbone.init_cfg = None  # random weights, no file needed
    model = MODELS.build(cfg.model)
    model.init_weights()
    # make BN statistics non-trivial so that a moving BN would show
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.9, 1.1)
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(epoch=12, seed=np.int64(0))), path)
    return path


def distiller_cfg(teacher_ckpt, **changes):
    cfg = load_config(HINT)
    model = copy.deepcopy(cfg.model.to_dict())
    model['teacher']['checkpoint'] = teacher_ckpt
    for k, v in changes.items():
        model[k] = v
    return model


def r18_teacher_cfg(teacher_ckpt, r18_ckpt, source, **changes):
    """The hint distiller with the GFL on a ResNet-18 (``r18_ckpt``) as
    its teacher and one feature-imitation term on module ``source`` of
    both models."""
    cfg = distiller_cfg(teacher_ckpt, **changes)
    cfg['teacher'] = dict(config=R18, checkpoint=r18_ckpt)
    cfg['student_recorders'] = dict(f=dict(type='ModuleOutputs',
                                           source=source))
    cfg['teacher_recorders'] = copy.deepcopy(cfg['student_recorders'])
    cfg['distill_losses'] = dict(loss_f=dict(
        type='FeatureImitationLoss',
        inputs=dict(preds_S='student.f', preds_T='teacher.f'),
        adapter=dict(type='ConvAdapter')))
    return cfg


def build(teacher_ckpt, **changes):
    return MODELS.build(distiller_cfg(teacher_ckpt, **changes))


def batch(n=2, size=64, seed=0):
    """A detection batch as the dataloader gives it."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append((torch.rand(3, size, size, generator=g) * 255).byte())
        s = DetDataSample(metainfo=dict(img_shape=(size, size),
                                        ori_shape=(size, size),
                                        pad_shape=(size, size),
                                        scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[4., 6., 30., 40.], [20., 10., 60., 50.]]),
            labels=torch.tensor([1, 3]))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def train_steps(model, n=2):
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    model.train()
    logs = []
    for i in range(n):
        MessageHub.get_current_instance().update_info('iter', i)
        logs.append(model.train_step(batch(seed=i), wrapper))
    return logs


def make_distill_cfg(toy_data, tmp_path_factory):
    """The hint config on the tiny data, its teacher a random-weight
    checkpoint confident enough to predict boxes."""
    tmp = tmp_path_factory.mktemp('distill')
    torch.manual_seed(0)
    teacher_cfg = load_config(
        osp.join(CONFIGS, 'det/gfl_mobilenetv2_fpn_12e_toydet.py')).model
    teacher_cfg.backbone.init_cfg = None  # random weights, no file needed
    teacher = MODELS.build(teacher_cfg)
    teacher.init_weights()
    with torch.no_grad():  # confident enough to predict boxes
        teacher.bbox_head.gfl_cls.bias.zero_()
    ckpt = str(tmp / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    body = tiny_det_body(toy_data, max_epochs=2) + \
        f"model = dict(teacher=dict(checkpoint={ckpt!r}))\n"
    return write_config(tmp / 'hint.py', HINT_CONFIG, body)
