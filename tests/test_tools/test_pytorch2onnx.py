"""tools/deployment/pytorch2onnx.py: a student of each task exported to
ONNX gives, in ONNX Runtime on the tiny embedded val images, PyTorch's
outputs within the stated tolerance (detection: the same boxes after the
mmdet head's predict_by_feat); dynamic batch, dynamic H/W where the model
allows; the preprocessing settings beside it; a distiller checkpoint
exports its student; an existing output needs --force; an operator the
opset lacks is one line naming the module; no partial file is left."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import ROOT, tiny_det_body, write_config

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

STUDENTS = {
    'cls': 'cls/vit-tiny-p4_10e_toycls.py',
    'seg': 'seg/fcn_r18-base16-d8_2k_toyseg.py',
    'det': 'det/gfl_r18-base16_fpn_12e_toydet.py',
}


def _tool():
    spec = importlib.util.spec_from_file_location(
        'kdtools_tools_pytorch2onnx',
        osp.join(ROOT, 'tools', 'deployment', 'pytorch2onnx.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _body(task, toy_data):
    if task == 'det':
        return tiny_det_body(toy_data)
    root = osp.join(toy_data, task) + '/'
    return (f"val_dataloader = dict(batch_size=4, dataset=dict("
            f"data_root={root!r}))\ntest_dataloader = val_dataloader\n")


@pytest.fixture(scope='module')
def students(toy_data, tmp_path_factory):
    """task -> (plain config, random-weight checkpoint)."""
    tmp = tmp_path_factory.mktemp('students')
    out = {}
    for task, base in STUDENTS.items():
        cfg_path = write_config(tmp / f'{task}.py', base,
                                _body(task, toy_data))
        cfg = load_config(cfg_path)
        model_cfg = cfg.model.to_dict()
        if 'backbone' in model_cfg:
            model_cfg['backbone'].pop('init_cfg', None)
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        model.init_weights()
        if task == 'det':  # confident enough to give boxes to compare
            with torch.no_grad():
                model.bbox_head.gfl_cls.bias.zero_()
        for m in model.modules():  # non-trivial BN statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        ckpt = str(tmp / f'{task}.pth')
        torch.save(dict(state_dict=model.state_dict()), ckpt)
        out[task] = (cfg_path, ckpt)
    return out


@pytest.mark.parametrize('task', ['cls', 'seg', 'det'])
def test_onnx_matches_pytorch_on_val_images(task, students, tmp_path):
    cfg_path, ckpt = students[task]
    out = tmp_path / 'student.onnx'
    info = _tool().main([cfg_path, ckpt, str(out), '--verify', '8'])
    meta = json.loads((tmp_path / 'student.json').read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'student.json', 'student.onnx']  # no temporary file left

    # the settings beside the graph are the config's preprocessor's
    pre = load_config(cfg_path).model.data_preprocessor
    assert meta['preprocess']['mean'] == pytest.approx(list(pre.mean))
    assert meta['preprocess']['std'] == pytest.approx(list(pre.std))
    assert meta['preprocess']['bgr_to_rgb'] == bool(
        pre.get('bgr_to_rgb', pre.get('to_rgb')))
    assert meta['opset'] == 17 and meta['task'] == task
    assert meta['preprocess']['test_input_shape'] == \
        {'cls': [32, 32], 'seg': [64, 64], 'det': [128, 128]}[task]

    # dynamic batch; dynamic H/W for the CNNs, the ViT's stays fixed (its
    # position embedding is sized at trace time)
    graph = onnx.load(str(out)).graph
    dims = [d.dim_param or d.dim_value
            for d in graph.input[0].type.tensor_type.shape.dim]
    hw = ['height', 'width'] if task != 'cls' else [32, 32]
    assert dims == ['batch', 3] + hw
    assert meta['dynamic_hw'] == (task != 'cls')

    # parity on the real val images (the tiny set has 8)
    rep = info['parity']
    assert rep['ok'] and rep['images'] == 8
    assert rep['max_excess'] <= 1.0
    if task == 'det':
        assert [o.name for o in graph.output] == [
            f'{g}_{i}' for g in ('cls_scores', 'bbox_preds')
            for i in range(3)]
        assert rep['boxes'] > 0 and rep['boxes_ok']
    else:
        assert rep['labels_same'] == rep['labels'] > 0


def test_parity_check_fails_on_another_model(students):
    """The check is not vacuous: the exported graph against a model whose
    weights moved after the export is refused."""
    from kdtools.deployment import DeployModel, build_plain_model, \
        val_batches
    from kdtools.deployment.onnx_export import export_onnx
    from kdtools.deployment.runtime import ort_session, parity
    import tempfile
    cfg_path, ckpt = students['seg']
    model, cfg = build_plain_model(cfg_path, ckpt)
    wrapper = DeployModel(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'seg.onnx')
        export_onnx(wrapper, torch.randn(1, 3, 64, 64), path)
        sess = ort_session(path)
        assert parity(wrapper, sess, val_batches(cfg, model, 4, 4))['ok']
        with torch.no_grad():
            model.decode_head.conv_seg.bias[0] += 0.01
        rep = parity(wrapper, sess, val_batches(cfg, model, 4, 4))
    assert not rep['ok'] and rep['max_excess'] > 1.0
    assert rep['max_abs_diff'] == pytest.approx(0.01, rel=1e-3)


def test_distiller_checkpoint_exports_its_student(distill_cfg, tmp_path):
    """A distillation config and a distiller checkpoint: the ONNX model is
    the student's (its parameters, not the teacher's)."""
    model = MODELS.build(load_config(distill_cfg).model)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict()), str(ckpt))
    out = tmp_path / 's.onnx'
    _tool().main([distill_cfg, str(ckpt), str(out), '--verify', '2'])
    from onnx import numpy_helper
    init = {t.name: t for t in onnx.load(str(out)).graph.initializer}
    n = sum(int(np.prod(t.dims)) for t in init.values())
    student = sum(p.numel() for p in model.student.parameters())
    # the student's numbers (BN folded, equal tensors shared by the
    # exporter: a little fewer), not the 3.4M-parameter teacher's
    assert 0.9 * student < n <= student
    head = model.student.bbox_head.gfl_cls.weight.detach().numpy()
    assert np.array_equal(
        numpy_helper.to_array(init['model.bbox_head.gfl_cls.weight']), head)


def _err_line(capsys):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    return err[0]


def test_refusals_are_one_line_and_write_nothing(students, tmp_path,
                                                 capsys):
    tool = _tool()
    cfg_path, ckpt = students['cls']

    def refused(*argv):
        with pytest.raises(SystemExit) as e:
            tool.main(list(argv))
        assert e.value.code == 2
        return _err_line(capsys)

    # mmpretrain's attention (scaled_dot_product_attention) needs opset 14
    line = refused(cfg_path, ckpt, str(tmp_path / 'a.onnx'), '--opset', '13')
    assert "opset 13" in line and 'scaled_dot_product_attention' in line
    assert "module 'backbone.layers.0.attn'" in line
    assert '--opset 14' in line
    assert not list(tmp_path.iterdir())

    # an existing output (the .onnx or the .json beside it) needs --force
    (tmp_path / 'b.json').write_text('{"mine": 1}')
    line = refused(cfg_path, ckpt, str(tmp_path / 'b.onnx'))
    assert 'b.json' in line and '--force' in line
    assert (tmp_path / 'b.json').read_text() == '{"mine": 1}'
    assert not (tmp_path / 'b.onnx').exists()
    assert '.onnx' in refused(cfg_path, ckpt, str(tmp_path / 'b.pth'))
    tool.main([cfg_path, ckpt, str(tmp_path / 'b.onnx'), '--force',
               '--verify', '0'])
    assert json.loads((tmp_path / 'b.json').read_text())['task'] == 'cls'
