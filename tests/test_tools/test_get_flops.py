"""tools/analysis_tools/get_flops.py and kdtools.deployment's counter:
mmengine's FLOPs on the deployed graph, with the attention products that
mmengine 0.10.7 skips counted by hand-checked formulas; a distillation
config counts its student; --shape as mmseg's tool; latency figures."""
import importlib.util
import os.path as osp

import pytest
import torch

from conftest import CONFIGS, ROOT

STUDENT = osp.join(CONFIGS, 'det/gfl_r18-base16_fpn_12e_toydet.py')
TEACHER = osp.join(CONFIGS, 'det/gfl_mobilenetv2_fpn_12e_toydet.py')
HINT = osp.join(CONFIGS,
                'det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py')
VIT = osp.join(CONFIGS, 'cls/vit-tiny-p4_10e_toycls.py')


def _tool():
    spec = importlib.util.spec_from_file_location(
        'kdtools_tools_get_flops',
        osp.join(ROOT, 'tools', 'analysis_tools', 'get_flops.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_conv_flops_golden():
    """One 3x3 conv 3->8 on 16x16 plus a 1x1 conv 8->4 (mmengine counts a
    multiply-add as one): 16*16*(8*3*9 + 4*8) = 63488; activations are the
    conv outputs, 16*16*(8+4)."""
    from kdtools.deployment.complexity import complexity

    class Two(torch.nn.Module):
        task = 'cls'

        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.b = torch.nn.Conv2d(8, 4, 1, bias=False)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))
    res = complexity(Two(), torch.zeros(1, 3, 16, 16))
    assert res['flops'] == 16 * 16 * (8 * 3 * 9 + 4 * 8)
    assert res['activations'] == 16 * 16 * (8 + 4)
    assert res['params'] == 8 * 3 * 9 + 4 * 8


def test_attention_is_counted(capsys):
    """The ViT student at 32x32: 65 tokens, 3 heads of 32 dims, 4 layers;
    scaled_dot_product_attention adds 2 * 3 * 65 * 65 * 32 multiply-adds
    per layer (Q K^T and A V), which mmengine alone leaves out."""
    from mmengine.analysis import FlopAnalyzer

    from kdtools.deployment import DeployModel, build_plain_model, complexity
    model, _ = build_plain_model(VIT)
    wrapper = DeployModel(model)
    x = torch.zeros(1, 3, 32, 32)
    ours = complexity(wrapper, x)
    plain = FlopAnalyzer(wrapper, (x, ))
    plain.unsupported_ops_warnings(False)
    plain.uncalled_modules_warnings(False)
    plain.tracer_warnings('none')
    assert ours['flops'] - plain.total() == 4 * 2 * 3 * 65 * 65 * 32
    assert 'aten::scaled_dot_product_attention' not in \
        ours['unsupported_ops']


def test_get_flops_student_teacher_and_distillation_config(capsys):
    tool = _tool()
    s = tool.main([STUDENT, '--shape', '128'])
    out = capsys.readouterr().out
    assert 'Flops:' in out and 'Input shape: [1, 3, 128, 128]' in out
    t = tool.main([TEACHER, '--shape', '128', '128'])
    d = tool.main([HINT, '--shape', '128', '128'])  # its student
    assert d['flops'] == s['flops'] and d['params'] == s['params']
    assert 0 < s['flops'] < t['flops'] and s['params'] < t['params']
    # a conv net at twice the side: 4x the FLOPs (within the head's
    # per-level rounding); 100 is padded to the divisor 32 -> 128
    big = tool.main([STUDENT, '--shape', '256'])
    assert big['flops'] / s['flops'] == pytest.approx(4, rel=0.02)
    assert tool.main([STUDENT, '--shape', '100'])['input_shape'] == \
        [1, 3, 128, 128]


def test_get_flops_on_val_images(toy_data, tmp_path, capsys):
    """Without --shape: the test images as the preprocessor gives them
    (the tiny set's 64x64 images resized to 128 by the pipeline)."""
    from conftest import tiny_det_body, write_config
    cfg = write_config(tmp_path / 's.py', 'det/gfl_r18-base16_fpn_12e_'
                       'toydet.py', tiny_det_body(toy_data))
    res = _tool().main([cfg, '--num-images', '2',
                        '--json', str(tmp_path / 'f.json')])
    assert res['input_shape'] == [1, 3, 128, 128]
    assert '2 test image' in res['input_from']
    assert (tmp_path / 'f.json').exists()


def test_latency_figures():
    from kdtools.deployment.runtime import latency, median_seconds
    calls = []
    assert median_seconds(lambda: calls.append(1), iters=5, warmup=2) >= 0
    assert len(calls) == 7

    class Net(torch.nn.Module):
        def forward(self, x):
            return x * 2
    res = latency(Net(), [torch.zeros(3, 8, 8)], None, iters=2, warmup=1)
    assert res['threads'] == torch.get_num_threads()
    assert res['torch_b1_ms'] >= 0 and res['torch_b8_ms'] >= 0
    assert 'onnx_b1_ms' not in res
