"""Folding the teacher's batch norms into its convolutions (issue 22): the
recorded features equal the plain teacher's to 1e-5 relative; a recorded
convolution or BN, a pre-activation block (BN before its convolution,
which mmcv's registration-order ``fuse_conv_bn`` folds wrongly) and a
functional op between convolution and BN are left unfolded."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, fuse_conv_bn
from mmengine.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from kdtools.models.distillers.teacher_fusion import fold_conv_bn
from kdtools.models.recorders import RecorderManager
from kdtools.utils import ConfigError, load_config
from _helpers.det import (R18, batch, distiller_cfg, make_teacher_ckpt,
                          r18_teacher_cfg)


def randomise_bns(model, seed=0):
    """Non-trivial BN statistics and affine terms, so that a wrong fold
    shows."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return make_teacher_ckpt(tmp_path_factory)


@pytest.fixture(scope='module')
def r18_ckpt(tmp_path_factory):
    torch.manual_seed(1)
    model = MODELS.build(load_config(R18).model)
    model.init_weights()
    randomise_bns(model)
    path = str(tmp_path_factory.mktemp('r18') / 'r18.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def r18_distiller(teacher_ckpt, r18_ckpt, source, **changes):
    return MODELS.build(r18_teacher_cfg(teacher_ckpt, r18_ckpt, source,
                                        teacher_channels_last=False,
                                        **changes))


def plain_r18(r18_ckpt):
    model = MODELS.build(load_config(R18).model)
    model.load_state_dict(torch.load(r18_ckpt, weights_only=False)[
        'state_dict'])
    return model.eval()


def plain_output(r18_ckpt, source, inputs):
    """What module ``source`` of the plain teacher outputs on ``inputs``."""
    ref = plain_r18(r18_ckpt)
    seen = {}
    ref.get_submodule(source).register_forward_hook(
        lambda m, i, o: seen.update(out=o.clone()))
    with torch.no_grad():
        ref.backbone(inputs)
    return seen['out']


def recorded(model, name='f'):
    data = model.data_preprocessor(batch(), True)
    model._record_teachers(data['inputs'], data['data_samples'])
    return data['inputs'], model.teacher_recorders['teacher'][name].get()


def bns_left(model):
    return [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]


def test_folded_teacher_records_the_plain_features(teacher_ckpt, r18_ckpt):
    model = r18_distiller(teacher_ckpt, r18_ckpt, 'backbone.layer4')
    (teacher, ) = model.teacher_models.values()
    fused = model.inference_setting['teachers.teacher']['fuse_conv_bn']
    # ResNet-18: the stem, 8 blocks x 2, 3 downsample shortcuts
    assert fused['folded'] == fused['of'] == 20
    assert bns_left(teacher) == []
    assert fused['error'] < 1e-5
    inputs, got = recorded(model)
    expected = plain_output(r18_ckpt, 'backbone.layer4', inputs)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # the student is never folded
    assert len(bns_left(model.student)) > 0


def test_off_keeps_every_bn(teacher_ckpt, r18_ckpt):
    model = r18_distiller(teacher_ckpt, r18_ckpt, 'backbone.layer4',
                          teacher_fuse_conv_bn=False)
    (teacher, ) = model.teacher_models.values()
    assert len(bns_left(teacher)) == 20
    inputs, got = recorded(model)
    assert torch.equal(got, plain_output(r18_ckpt, 'backbone.layer4',
                                         inputs))


@pytest.mark.parametrize('source', ['backbone.layer1.0.conv1',
                                    'backbone.layer1.0.bn1'])
def test_recorded_conv_or_bn_is_not_folded(teacher_ckpt, r18_ckpt, source):
    model = r18_distiller(teacher_ckpt, r18_ckpt, source)
    (teacher, ) = model.teacher_models.values()
    assert bns_left(teacher) == ['backbone.layer1.0.bn1']
    inputs, got = recorded(model)
    torch.testing.assert_close(got, plain_output(r18_ckpt, source, inputs),
                               rtol=1e-5, atol=1e-5)


def test_teacher_in_checkpoint_keeps_its_keys(teacher_ckpt, r18_ckpt):
    model = r18_distiller(teacher_ckpt, r18_ckpt, 'backbone.layer4',
                          teacher_in_checkpoint=True)
    fused = model.inference_setting['teachers.teacher']['fuse_conv_bn']
    assert fused['folded'] == 0 and 'teacher_in_checkpoint' in fused['why']
    assert 'teachers.teacher.backbone.bn1.running_mean' in \
        model.state_dict()


def test_bad_value_refused(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt, teacher_channels_last=False)
    cfg['teacher']['fuse_conv_bn'] = 'yes'
    with pytest.raises(ConfigError, match=r"fuse_conv_bn='yes'"):
        MODELS.build(cfg)


class Tiny(nn.Module):
    """A model whose forward ``forward_to`` runs in 'tensor' mode."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x, data_samples=None, mode='tensor'):
        return self.body(x)


class ConvReluBn(nn.Module):
    """conv -> F.relu_ -> bn: the BN's input is the convolution's output
    tensor (in-place), but not its values."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(F.relu_(self.conv(x)))


def fold_tiny(body):
    model = randomise_bns(Tiny(body)).eval()
    plain = copy.deepcopy(model)
    done = fold_conv_bn(model, RecorderManager({}, model, 't'), (3, 16, 16))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        return done, model, plain(x), model(x)


def test_pre_activation_block_is_not_folded():
    # ConvModule registers conv before norm whatever the order: mmcv's
    # fuse_conv_bn folds the BN (applied to the input) into the conv
    body = ConvModule(3, 3, 3, padding=1, norm_cfg=dict(type='BN'),
                      order=('norm', 'conv', 'act'))
    model = randomise_bns(Tiny(body)).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        plain = model(x)
        assert not torch.allclose(fuse_conv_bn(copy.deepcopy(model))(x),
                                  plain, atol=1e-3)
    done, folded_model, plain, got = fold_tiny(body)
    assert done['folded'] == 0 and done['why']
    assert torch.equal(got, plain)


def test_functional_op_between_conv_and_bn_undoes_the_fold():
    done, model, plain, got = fold_tiny(ConvReluBn())
    assert done['folded'] == 0 and 'differed' in done['why']
    assert isinstance(model.body.bn, nn.BatchNorm2d)
    assert torch.equal(got, plain)  # the weights are restored exactly


def test_conv_without_bias_then_bn_is_folded():
    body = ConvModule(3, 4, 3, padding=1, norm_cfg=dict(type='BN'))
    assert body.conv.bias is None
    done, model, plain, got = fold_tiny(body)
    assert done['folded'] == 1
    assert isinstance(model.body.bn, nn.Identity)
    torch.testing.assert_close(got, plain, rtol=1e-5, atol=1e-5)
