"""kdtools' own configs build with plain mmengine, as mim and users' own
scripts do (``Config.fromfile`` + ``Runner.from_cfg``, no
:func:`kdtools.utils.load_config`): before, the GFL teacher config failed
with ``'DistancePointBBoxCoder is not in the kdtools::task util
registry'`` (mmdet's code asking for bare names in kdtools' scope)."""
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import CONFIGS, ROOT
from _helpers.stock import GFL_TEACHER, PSP_TEACHER, random_teacher_ckpt

DISTILL = {
    'det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py':
    GFL_TEACHER,
    'det/ld/ld-vlr-kd_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py':
    GFL_TEACHER,
    'seg/skd/skd-pi-pa-ho_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py':
    PSP_TEACHER,
}
PLAIN = [
    'det/faster-rcnn_r18-base16_fpn_12e_toydet.py',
    'seg/pspnet_mobilenetv2-d8_8k_toyseg.py',
    'cls/resnet18-base32_10e_toycls.py',
]


def _on_toy_data(cfg, toy_data):
    """Point every ``data/toy/...`` path of ``cfg`` at the tiny data and
    leave ImageNet-pretrained backbones random (no file needed)."""
    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str) and v.startswith('data/toy/'):
                    node[k] = osp.join(toy_data, v[len('data/toy/'):])
                elif k == 'init_cfg' and isinstance(v, dict) and \
                        v.get('type') == 'Pretrained':
                    node[k] = None
                else:
                    walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
    walk(cfg._cfg_dict)
    return cfg


def _build(config, toy_data, tmp_path):
    cfg = _on_toy_data(Config.fromfile(osp.join(CONFIGS, config)), toy_data)
    cfg.work_dir = str(tmp_path / 'work')
    return cfg, Runner.from_cfg(cfg)


def test_gfl_teacher_config_trains_with_plain_mmengine(toy_data, tmp_path):
    from mmdet.models.task_modules import DistancePointBBoxCoder
    cfg, runner = _build('det/gfl_mobilenetv2_fpn_12e_toydet.py', toy_data,
                         tmp_path)
    assert type(runner.model.bbox_head.bbox_coder) is DistancePointBBoxCoder
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 10
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert 'train/loss_dfl' in runner.message_hub.log_scalars


@pytest.mark.parametrize('config', PLAIN + sorted(DISTILL))
def test_kdtools_configs_build_with_plain_mmengine(config, toy_data,
                                                   tmp_path):
    teacher = DISTILL.get(config)
    cfg = _on_toy_data(Config.fromfile(osp.join(CONFIGS, config)), toy_data)
    if teacher:
        cfg.model.teacher.checkpoint = random_teacher_ckpt(
            teacher, tmp_path / 'teacher.pth')
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    loader = runner.build_dataloader(cfg.train_dataloader)
    assert next(iter(loader))['inputs']
    runner.build_evaluator(cfg.val_evaluator)
    runner.build_optim_wrapper(cfg.optim_wrapper)


def test_gfl_teacher_config_builds_after_plain_import_kdtools(toy_data,
                                                              tmp_path):
    """Nothing registered by hand: ``import kdtools`` and mmengine's own
    lazy registry imports."""
    script = textwrap.dedent(f"""
        import kdtools  # noqa: F401
        from mmengine.config import Config
        from mmengine.runner import Runner
        cfg = Config.fromfile({GFL_TEACHER!r})
        cfg.work_dir = {str(tmp_path / 'work')!r}
        cfg.model.backbone.init_cfg = None
        runner = Runner.from_cfg(cfg)
        print(type(runner.model.bbox_head.bbox_coder).__module__)
    """)
    res = subprocess.run([sys.executable, '-c', script], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1].startswith('mmdet.')
