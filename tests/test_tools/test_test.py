"""tools/test.py: a missing checkpoint is a one-line error; mmdet's and
mmseg's flags (--out predictions pickle, --json-out, --show-dir drawing
with the task's visualizer, --tta, every flag of their tools/test.py and
tools/train.py); outputs never overwrite the inputs."""
import argparse
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import CONFIGS, ROOT, run_tool, tiny_det_body, write_config

STUDENT = 'det/gfl_r18-base16_fpn_12e_toydet.py'
SEG = 'seg/fcn_r18-base16-d8_2k_toyseg.py'
SITE = osp.dirname(osp.dirname(torch.__file__))  # site-packages


def test_test_tool_missing_checkpoint(toy_data, tmp_path):
    cfg = write_config(tmp_path / 'det.py', STUDENT, tiny_det_body(toy_data))
    res = run_tool(['tools/test.py', cfg, str(tmp_path / 'none.pth')])
    assert res.returncode == 2
    assert 'none.pth' in res.stderr and 'does not exist' in res.stderr


def load_tool(relpath, name):
    """A tool script as a module (``main``/``parse_args`` callable)."""
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Parsed(Exception):
    pass


def option_strings(parse_args):
    """The option strings of the parser a ``parse_args()`` function builds
    (it is stopped before parsing anything)."""
    found = []

    def capture(self, *a, **kw):
        found.extend(s for action in self._actions
                     for s in action.option_strings)
        raise _Parsed

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = capture
    try:
        with pytest.raises(_Parsed):
            parse_args()
    finally:
        argparse.ArgumentParser.parse_args = original
    return set(found)


@pytest.mark.parametrize('package', ['mmdet', 'mmseg'])
@pytest.mark.parametrize('tool', ['test.py', 'train.py'])
def test_tools_take_every_flag_of_mmdet_and_mmseg_tools(package, tool):
    """Every flag of mmdet's / mmseg's own tools/test.py and tools/train.py
    (read from the installed packages' .mim/tools) is a flag of ours."""
    path = osp.join(SITE, package, '.mim', 'tools', tool)
    if not osp.isfile(path):
        pytest.skip(f'{path} is not installed')
    spec = importlib.util.spec_from_file_location(f'{package}_{tool}', path)
    theirs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(theirs)
    ours = load_tool(tool, f'kdtools_tools_{tool[:-3]}')
    missing = option_strings(theirs.parse_args) - option_strings(
        ours.parse_args)
    assert not missing, f'{package} {tool} flags kdtools lacks: {missing}'


def test_mmdet_test_command_line_parses():
    """A command line written for mmdet's tools/test.py, unchanged."""
    tool = load_tool('test.py', 'kdtools_tools_test')
    args = tool.parse_args([
        'cfg.py', 'ckpt.pth', '--work-dir', 'w', '--out', 'r.pkl', '--show',
        '--show-dir', 'vis', '--wait-time', '0.5', '--cfg-options',
        'model.test_cfg.score_thr=0.1', '--launcher', 'none', '--tta',
        '--local-rank', '0'])
    assert (args.out, args.show, args.show_dir, args.wait_time, args.tta) \
        == ('r.pkl', True, 'vis', 0.5, True)
    assert args.cfg_options == {'model.test_cfg.score_thr': 0.1}


def _random_checkpoint(config, path, extra_meta=None):
    """A plain checkpoint of ``config``'s model with random weights."""
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model)
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(extra_meta or {})), str(path))
    return str(path)


def test_out_pickle_json_out_and_show_dir_det(toy_data, tmp_path):
    """mmdet's --out (a predictions pickle mmengine.load reads, one entry
    per test image with its pred_instances), --show-dir (relative: under
    work_dir/<timestamp>/, one drawn image per test image, as mmdet) and
    --json-out together; the checkpoint pickles a non-MMLab type and is
    trusted with --trust-checkpoint PATH, as the refusal advises."""
    import mmengine
    cfg = write_config(tmp_path / 'det.py', STUDENT, tiny_det_body(toy_data))
    ckpt = _random_checkpoint(cfg, tmp_path / 'det.pth',
                              dict(args=argparse.Namespace(a=1)))
    preds, metrics = tmp_path / 'preds.pkl', tmp_path / 'metrics.json'
    work = tmp_path / 'work'
    res = run_tool(['tools/test.py', cfg, ckpt, '--out', str(preds),
                    '--json-out', str(metrics), '--show-dir', 'vis',
                    '--work-dir', str(work), '--trust-checkpoint', ckpt,
                    '--cfg-options', 'model.test_cfg.score_thr=0.0'],
                   check=True)
    results = mmengine.load(str(preds))
    assert len(results) == 8  # the tiny val split
    assert all('pred_instances' in r and 'bboxes' in r['pred_instances']
               for r in results)
    assert 'coco/bbox_mAP' in json.loads(metrics.read_text())['metrics']
    drawn = list(work.glob('*/vis/*.png'))
    assert len(drawn) == 8, res.stdout[-2000:]


def test_show_dir_and_out_seg(toy_data, tmp_path):
    """--show-dir on a segmentation config draws with mmseg's
    SegLocalVisualizer (kdtools' default runtime has the generic
    Visualizer) into DIR/vis_data/vis_image as mmseg's tool; --out dumps
    the predicted masks."""
    import mmengine
    root = osp.join(toy_data, 'seg') + '/'
    cfg = write_config(tmp_path / 'seg.py', SEG, f"""
data_root = {root!r}
# mmseg's hook reads runner.iter, which builds the training loop
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
""")
    ckpt = _random_checkpoint(cfg, tmp_path / 'seg.pth')
    vis, preds = tmp_path / 'vis', tmp_path / 'preds.pkl'
    res = run_tool(['tools/test.py', cfg, ckpt, '--show-dir', str(vis),
                    '--out', str(preds), '--work-dir',
                    str(tmp_path / 'work')], check=True)
    drawn = list(vis.glob('vis_data/vis_image/*.png'))
    assert len(drawn) == 8, res.stdout[-2000:]
    results = mmengine.load(str(preds))
    assert len(results) == 8 and 'pred_sem_seg' in results[0]


def test_tta_without_tta_config_is_one_line(toy_data, tmp_path, capsys):
    tool = load_tool('test.py', 'kdtools_tools_test')
    cfg = write_config(tmp_path / 'det.py', STUDENT, tiny_det_body(toy_data))
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'not read: refused before')
    with pytest.raises(SystemExit) as e:
        tool.main([cfg, str(ckpt), '--tta', '--work-dir', str(tmp_path)])
    assert e.value.code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and '--tta' in err[0]
    assert 'tta_model' in err[0] and 'tta_pipeline' in err[0]


@pytest.mark.parametrize('flag', ['--out', '--json-out'])
def test_outputs_never_overwrite_inputs(toy_data, tmp_path, capsys, flag):
    """--out / --json-out naming the checkpoint or the config is refused
    before anything runs; both files are left as they were."""
    tool = load_tool('test.py', 'kdtools_tools_test')
    cfg = write_config(tmp_path / 'det.py', STUDENT, tiny_det_body(toy_data))
    ckpt = tmp_path / 'epoch_1.pkl'
    ckpt.write_bytes(b'checkpoint bytes')
    cfg_text = open(cfg).read()
    for target in (str(ckpt), cfg):
        with pytest.raises(SystemExit) as e:
            tool.main([cfg, str(ckpt), flag, target])
        assert e.value.code == 2
        assert 'being tested' in capsys.readouterr().err
    assert ckpt.read_bytes() == b'checkpoint bytes'
    assert open(cfg).read() == cfg_text


def test_out_must_be_a_pickle_for_detection(toy_data, tmp_path, capsys):
    tool = load_tool('test.py', 'kdtools_tools_test')
    cfg = write_config(tmp_path / 'det.py', STUDENT, tiny_det_body(toy_data))
    ckpt = tmp_path / 'c.pth'
    ckpt.write_bytes(b'x')
    with pytest.raises(SystemExit):
        tool.main([cfg, str(ckpt), '--out', str(tmp_path / 'preds.txt')])
    assert '.pkl' in capsys.readouterr().err


def test_model_task():
    tool = load_tool('test.py', 'kdtools_tools_test')
    for config, task in ((STUDENT, 'det'), (SEG, 'seg'),
                         ('cls/vit-tiny-p4_10e_toycls.py', 'cls'),
                         ('det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_'
                          '12e_toydet.py', 'det')):
        assert tool.model_task(load_config(osp.join(CONFIGS, config))) == \
            task, config
