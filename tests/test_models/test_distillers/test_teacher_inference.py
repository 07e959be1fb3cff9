"""The teacher at its inference setting (issue 22, item 1): in-place
activations off only where a recorded tensor feeds them (recorded features
then equal the plain teacher's exactly), channels_last (equal to 1e-5
relative, recorded contiguous), and recorded outputs cast back to the
student's dtype under autocast.

The autocast test runs CPU bfloat16 autocast: the same path CUDA float16
takes under ``--amp`` (no GPU here, so CUDA itself is not exercised)."""
import os.path as osp
from unittest import mock

import pytest
import torch
from mmengine.registry import MODELS
from torch import nn

from conftest import CONFIGS
from kdtools.models.distillers import teacher_inference as ti
from kdtools.utils import ConfigError, load_config
from _helpers import det as det_helpers
from _helpers.det import TEACHER, batch, distiller_cfg, make_teacher_ckpt

R18 = osp.join(CONFIGS, 'det/gfl_r18-base16_fpn_12e_toydet.py')


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight GFL (MobileNetV2) teacher: the hint config's."""
    return make_teacher_ckpt(tmp_path_factory)


@pytest.fixture(scope='module')
def r18_ckpt(tmp_path_factory):
    """A random-weight GFL on a ResNet-18 (BasicBlock: norm1 -> in-place
    relu) to use as a teacher."""
    torch.manual_seed(1)
    cfg = load_config(R18)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    path = str(tmp_path_factory.mktemp('r18') / 'r18.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def plain(config, ckpt):
    """The teacher as its own config builds it: no kdtools changes."""
    model = MODELS.build(load_config(config).model)
    model.load_state_dict(
        torch.load(ckpt, weights_only=False)['state_dict'])
    return model.eval()


def record_teacher(model, data):
    """What the Distiller records of its teacher on ``data``, as it does
    in a training step."""
    data = model.data_preprocessor(data, True)
    model._record_teachers(data['inputs'], data['data_samples'],
                           data.get('teacher_inputs'))
    return data['inputs'], model.teacher_recorders['teacher']


def build(ckpt, **changes):
    return MODELS.build(distiller_cfg(ckpt, **changes))


def test_hint_teacher_keeps_inplace_and_records_exactly(teacher_ckpt):
    model = build(teacher_ckpt, teacher_channels_last=False,
                  teacher_fuse_conv_bn=False)
    (teacher, ) = model.teacher_models.values()
    kept = [n for n, m in ti.inplace_modules(teacher).items()]
    # the backbone's ReLU6 stay in-place (only the neck output is read)
    assert len(kept) == 35 and all(n.startswith('backbone.') for n in kept)
    setting = model.inference_setting['teachers.teacher']
    assert setting['inplace']['conflicts'] == []
    assert setting['channels_last'] is False
    inputs, manager = record_teacher(model, batch())
    ref = plain(TEACHER, teacher_ckpt)
    assert len(ti.inplace_modules(ref)) == 39
    with torch.no_grad():
        expected = ref.extract_feat(inputs)
    got = manager['fpn'].get()
    for g, e in zip(got, expected):
        assert torch.equal(g, e)  # exact


def test_hint_teacher_channels_last(teacher_ckpt):
    model = build(teacher_ckpt, teacher_channels_last=True)
    (teacher, ) = model.teacher_models.values()
    assert teacher.backbone.conv1.conv.weight.is_contiguous(
        memory_format=torch.channels_last)
    inputs, manager = record_teacher(model, batch())
    with torch.no_grad():
        expected = plain(TEACHER, teacher_ckpt).extract_feat(inputs)
    for g, e in zip(manager['fpn'].get(), expected):
        assert g.is_contiguous()  # converted back as recorded
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def test_teacher_key_overrides_and_bad_value_refused(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt, teacher_channels_last=True)
    cfg['teacher']['channels_last'] = False
    model = MODELS.build(cfg)
    assert model.inference_setting['teachers.teacher']['channels_last'] is \
        False
    with pytest.raises(ConfigError, match='channels_last'):
        build(teacher_ckpt, teacher_channels_last='fast')


def test_channels_last_is_measured_by_default(teacher_ckpt):
    with mock.patch.object(ti, 'measure_channels_last',
                           return_value=(2e-3, 1e-3)) as measure:
        model = build(teacher_ckpt)
    assert measure.call_count == 1
    assert model.inference_setting['teachers.teacher']['channels_last'] \
        is True


@pytest.mark.parametrize('times,chosen', [((2e-3, 1e-3), True),
                                          ((1e-3, 0.99e-3), False),
                                          (None, False)])
def test_auto_measures_and_keeps_the_faster_layout(teacher_ckpt, times,
                                                   chosen):
    with mock.patch.object(ti, 'measure_channels_last',
                           return_value=times) as measure:
        model = build(teacher_ckpt, teacher_channels_last='auto')
    assert measure.call_count == 1
    assert model.inference_setting['teachers.teacher']['channels_last'] \
        is chosen


def test_auto_under_deterministic_algorithms_is_a_rule(teacher_ckpt):
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with mock.patch.object(ti, 'measure_channels_last') as measure:
            model = build(teacher_ckpt, teacher_channels_last='auto')
    finally:
        torch.use_deterministic_algorithms(was)
    assert measure.call_count == 0
    assert model.inference_setting['teachers.teacher']['channels_last']


def test_recorded_outputs_cast_back_under_autocast(teacher_ckpt):
    model = build(teacher_ckpt, teacher_channels_last=False)
    data = model.data_preprocessor(batch(), True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        model._record_teachers(data['inputs'], data['data_samples'])
    got = model.teacher_recorders['teacher']['fpn'].get()
    assert all(t.dtype == torch.float32 for t in got)
    with torch.no_grad():
        expected = plain(TEACHER, teacher_ckpt).extract_feat(data['inputs'])
    for g, e in zip(got, expected):
        # bfloat16 keeps 8 bits of mantissa
        torch.testing.assert_close(g, e, rtol=0.1, atol=0.1)


def r18_teacher_cfg(teacher_ckpt, r18_ckpt, source):
    return det_helpers.r18_teacher_cfg(teacher_ckpt, r18_ckpt, source,
                                       teacher_channels_last=False,
                                       teacher_fuse_conv_bn=False)


def test_recorded_output_feeding_inplace_relu_is_protected(teacher_ckpt,
                                                           r18_ckpt):
    # BasicBlock: out = norm1(x); out = relu(out) -- relu in-place would
    # overwrite the recorded norm1 output with its positive part
    source = 'backbone.layer1.0.norm1'
    model = MODELS.build(r18_teacher_cfg(teacher_ckpt, r18_ckpt, source))
    (teacher, ) = model.teacher_models.values()
    setting = model.inference_setting
    assert setting['teachers.teacher']['inplace']['conflicts'] == [
        'backbone.layer1.0.relu']
    assert setting['student']['inplace']['conflicts'] == [
        'backbone.layer1.0.relu']
    in_backbone = [n for n, m in teacher.backbone.named_modules()
                   if isinstance(m, nn.ReLU)]
    kept = [n for n in ti.inplace_modules(teacher)]
    assert len(in_backbone) == 9  # stem + 8 blocks
    assert len(kept) == 8 and 'backbone.layer1.0.relu' not in kept

    inputs, manager = record_teacher(model, batch())
    ref = plain(R18, r18_ckpt)
    seen = {}
    ref.get_submodule(source).register_forward_hook(
        lambda m, i, o: seen.update(clone=o.clone(), kept=o))
    with torch.no_grad():
        ref.extract_feat(inputs)
    got = manager['f'].get()
    assert torch.equal(got, seen['clone'])  # exact
    assert (got < 0).any()
    # the plain teacher's own tensor was overwritten by its in-place relu
    assert not torch.equal(seen['kept'], seen['clone'])


def test_recorded_stage_output_keeps_all_inplace(teacher_ckpt, r18_ckpt):
    # backbone.layer1's output feeds layer2.0's conv1 and downsample,
    # never an in-place op: everything that ran stays in-place
    model = MODELS.build(r18_teacher_cfg(teacher_ckpt, r18_ckpt,
                                         'backbone.layer1'))
    (teacher, ) = model.teacher_models.values()
    setting = model.inference_setting['teachers.teacher']['inplace']
    assert setting['conflicts'] == [] and setting['kept'] == 9
    inputs, manager = record_teacher(model, batch())
    ref = plain(R18, r18_ckpt)
    seen = {}
    ref.backbone.layer1.register_forward_hook(
        lambda m, i, o: seen.update(clone=o.clone()))
    with torch.no_grad():
        ref.extract_feat(inputs)
    assert torch.equal(manager['f'].get(), seen['clone'])


def test_probe_on_a_small_model():
    """conv -> recorded -> relu(in-place) -> conv -> relu(in-place): only
    the first reads a recorded tensor; a recorded in-place module is
    switched off too; one that never ran is off (nothing known)."""
    from kdtools.models.recorders import RecorderManager
    seq = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(inplace=True),
                        nn.Conv2d(4, 4, 1), nn.ReLU(inplace=True),
                        nn.ReLU6(inplace=True), nn.Conv2d(4, 4, 1))
    model = nn.Module()
    model.seq, model.unused = seq, nn.ReLU(inplace=True)
    manager = RecorderManager(dict(a='seq.0', b=dict(
        type='ModuleInputs', source='seq.4')), model, 'x')
    with ti.InplaceProbe(dict(m=(model, manager))) as probe:
        with manager.record(), torch.no_grad():
            seq(torch.zeros(1, 3, 2, 2))
    out = ti.select_inplace('m', model, manager, probe)
    assert out['conflicts'] == ['seq.1', 'seq.4'] and out['not_run'] == 1
    assert out['kept'] == 1 and out['off'] == 3
    assert seq[3].inplace and not seq[1].inplace
    assert not seq[4].inplace and not model.unused.inplace


def test_auto_takes_rank_zeros_choice_in_a_distributed_run(teacher_ckpt):
    """Each rank times its own forwards; all take rank 0's choice (the
    2-process trainings in test_dist_train.py run it over gloo)."""
    sent = []

    def broadcast(obj, src=0):
        sent.append((list(obj), src))
        obj[0] = False  # rank 0 chose contiguous

    with mock.patch('mmengine.dist.is_distributed', return_value=True), \
            mock.patch('mmengine.dist.broadcast_object_list', broadcast), \
            mock.patch.object(ti, 'measure_channels_last',
                              return_value=(2e-3, 1e-3)):
        model = build(teacher_ckpt, teacher_channels_last='auto')
    assert sent == [([True], 0)]
    assert model.inference_setting['teachers.teacher']['channels_last'] \
        is False
