"""The "distill your own model" walkthrough, run as a user would run it.

docs/en/user_guides/distill_your_own_model.md shows the files a user adds
beside a config they already have (the teacher's config, the distillation
config, a script that runs the exported student); each is a ```python
block whose first line is ``# <file name>``. These tests take those blocks
from the page as they are (and check that the README's example is the
page's), write them beside a stock-style config of a detector and a
segmentor kdtools does not ship (RetinaNet R-18 on mmdet's own config,
DeepLabV3+ R-18 on mmseg's base; the embedded data at 64 px, two
iterations) and a random-weight teacher checkpoint, then in that folder:
``tools/train.py`` -> ``tools/model_converters/export_student.py`` -> the
page's script (``init_detector`` / ``inference_detector`` +
``DetLocalVisualizer``, ``init_model`` / ``inference_model`` +
``SegLocalVisualizer``) in a fresh process where kdtools cannot be
imported. About 50 s each on 2 cores: the segmentation half is marked
slow (``make test-slow``)."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import mmcv
import pytest

from conftest import ROOT, TOOLS
from _helpers.stock import random_teacher_ckpt

DOC = osp.join(ROOT, 'docs', 'en', 'user_guides', 'distill_your_own_model.md')
README = osp.join(ROOT, 'README.md')
# a ```python block whose first line is "# <file name>[: comment]"
BLOCK = re.compile(r'```python\n(# ([\w.-]+\.py)\b[^\n]*\n.*?)```', re.S)
CLASSES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
           'eight', 'nine')

# The user's own detector config, as users write them: on mmdet's packaged
# config, its data and schedule made small here; offline, its ImageNet
# weights are a local file (random ResNet-18 weights the test writes).
MY_RETINANET = """# my_retinanet.py: a stock mmdet config (RetinaNet, ResNet-18)
_base_ = ['mmdet::retinanet/retinanet_r18_fpn_1x_coco.py']
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=@BACKBONE@)),
    bbox_head=dict(num_classes=10))
data_root = @DATA_ROOT@
metainfo = dict(classes=@CLASSES@)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2,
                 val_interval=2)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(by_epoch=False)
"""

# The user's own segmentor config: mmseg's DeepLabV3+ base (whose top-level
# data_preprocessor has no crop size) at ResNetV1c-18 and small widths.
MY_DEEPLABV3PLUS = """# my_deeplabv3plus.py: a stock mmseg config (DeepLabV3+)
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py',
          'mmseg::_base_/default_runtime.py']
crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=512, channels=32, c1_in_channels=64,
                     c1_channels=16, num_classes=11, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=256, channels=16, num_classes=11,
                        norm_cfg=norm_cfg))
dataset_type = 'BaseSegDataset'
data_root = @DATA_ROOT@
metainfo = dict(classes=('background', ) + @CLASSES@)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 img_suffix='.png', seg_map_suffix='.png',
                 data_prefix=dict(img_path='img_dir/train',
                                  seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 img_suffix='.png', seg_map_suffix='.png',
                 data_prefix=dict(img_path='img_dir/val',
                                  seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
"""

# run before the page's script: kdtools cannot be imported in that process
NO_KDTOOLS = """import sys
class _NoKDTools:
    def find_spec(self, name, path=None, target=None):
        if name == 'kdtools' or name.startswith('kdtools.'):
            raise ImportError('kdtools is not importable here')
sys.meta_path.insert(0, _NoKDTools())
"""
REPORT = """
import json
print('WALKTHROUGH ' + json.dumps(dict(
    model=type(model).__name__, classes=list(model.dataset_meta['classes']),
    fields=sorted(result.keys()),
    kdtools=sorted(m for m in sys.modules if m.split('.')[0] == 'kdtools'))))
"""


def doc_blocks(path):
    """The page's ```python blocks that start with ``# <file name>``, by
    file name."""
    with open(path) as f:
        text = f.read()
    return {m.group(2): m.group(1) for m in BLOCK.finditer(text)}


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def _run(args, cwd, timeout=600):
    """A tool or script with this interpreter, in the user's folder."""
    proc = subprocess.run([sys.executable] + list(args), cwd=str(cwd),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f'{args} failed ({proc.returncode}):\n'
                                  f'{proc.stdout[-3000:]}\n'
                                  f'{proc.stderr[-3000:]}')
    return proc.stdout + proc.stderr


def _user_config(template, data_root, backbone=None):
    return template.replace('@DATA_ROOT@', repr(data_root)).replace(
        '@CLASSES@', repr(CLASSES)).replace('@BACKBONE@', repr(backbone))


def _resnet18_weights(path):
    """Random ResNet-18 backbone weights, standing in for ImageNet's."""
    import torch
    from mmdet.models.backbones import ResNet
    torch.manual_seed(0)
    torch.save(dict(state_dict=ResNet(depth=18).state_dict()), str(path))
    return str(path)


def _walkthrough(proj, student_name, student_text, teacher_name,
                 teacher_ckpt, distill_name, script_name, export_name,
                 demo_image):
    """Write the user's config and the page's blocks in ``proj``, train,
    export, run the page's script without kdtools; return the training
    log, the exported config's text and what the script reported."""
    blocks = doc_blocks(DOC)
    for name in (teacher_name, distill_name, script_name):
        assert name in blocks, f'{DOC} has no block "# {name}"'
    os.makedirs(proj, exist_ok=True)
    _write(proj / student_name, student_text)
    _write(proj / teacher_name, blocks[teacher_name])
    distill = _write(proj / distill_name, blocks[distill_name])
    # the teacher "trained as usual", at the path the page's config names
    ckpt = re.search(r"checkpoint='([^']+)'", blocks[distill_name]).group(1)
    assert ckpt == teacher_ckpt, ckpt
    os.makedirs(proj / osp.dirname(ckpt))
    random_teacher_ckpt(str(proj / teacher_name), proj / ckpt)
    mmcv.imwrite(mmcv.imread(demo_image), str(proj / 'demo.jpg'))

    run = osp.splitext(distill_name)[0]
    log = _run([osp.join(TOOLS, 'train.py'), distill_name], proj)
    trained = proj / 'work_dirs' / run / 'iter_2.pth'
    assert trained.is_file(), log[-3000:]
    # the teacher was built from the page's teacher config and evaluated
    assert (proj / 'work_dirs' / run / 'teacher_eval.json').is_file()

    _run([osp.join(TOOLS, 'model_converters', 'export_student.py'),
          distill_name, str(trained), export_name], proj)
    exported = (proj / export_name).with_suffix('.py').read_text()

    out = _run(['-c', NO_KDTOOLS + blocks[script_name] + REPORT], proj)
    (line, ) = [x for x in out.splitlines() if x.startswith('WALKTHROUGH ')]
    report = json.loads(line[len('WALKTHROUGH '):])
    assert report['kdtools'] == [], report
    return log, exported, report, distill


def test_readme_example_is_the_walkthrough():
    """The README's example is the page's distillation config, word for
    word, with no scope line and no prefixes."""
    readme, doc = doc_blocks(README), doc_blocks(DOC)
    assert readme['my_hint_retinanet.py'] == doc['my_hint_retinanet.py']
    for text in (readme['my_hint_retinanet.py'],
                 doc['my_cwd_deeplabv3plus.py']):
        assert 'default_scope' not in text
        assert not re.search(r"type='(mmdet|mmseg|kdtools)\.", text)


def test_walkthrough_retinanet_hint(toy_data, tmp_path):
    from mmdet.models.detectors import RetinaNet
    from mmengine.config import Config
    proj = tmp_path / 'my_project'
    log, exported, report, distill = _walkthrough(
        proj, 'my_retinanet.py',
        _user_config(MY_RETINANET, osp.join(toy_data, 'det') + '/',
                     _resnet18_weights(tmp_path / 'resnet18.pth')),
        'my_retinanet_r34.py', 'work_dirs/my_retinanet_r34/epoch_12.pth',
        'my_hint_retinanet.py', 'run_student.py', 'student.pth',
        osp.join(toy_data, 'det', 'val', '000000.png'))
    # the page's config in the student's scope: the student, the teacher
    # from its own config (a ResNet-34) and the five hint terms trained
    assert Config.fromfile(str(distill)).default_scope == 'mmdet'
    for i in range(3, 8):
        assert f'distill.loss_hint_p{i}' in log
    assert 'student.loss_cls' in log and 'teacher/coco/bbox_mAP' in log
    assert "default_scope = 'mmdet'" in exported
    assert 'kdtools' not in exported and 'TeacherEvalHook' not in exported
    # stock mmdet ran the export and drew it
    assert report['model'] == RetinaNet.__name__
    assert report['classes'] == list(CLASSES)
    assert 'pred_instances' in report['fields']
    assert mmcv.imread(str(proj / 'result.jpg')).shape[:2] == (64, 64)


@pytest.mark.slow  # with the detection half, over 90 s on 2 loaded cores
def test_walkthrough_deeplabv3plus_cwd(toy_data, tmp_path):
    seg = osp.join(toy_data, 'seg')
    val = osp.join(seg, 'img_dir', 'val')
    proj = tmp_path / 'my_project'
    log, exported, report, _ = _walkthrough(
        proj, 'my_deeplabv3plus.py',
        _user_config(MY_DEEPLABV3PLUS, seg + '/'),
        'my_deeplabv3plus_r34.py',
        'work_dirs/my_deeplabv3plus_r34/iter_80000.pth',
        'my_cwd_deeplabv3plus.py', 'run_seg_student.py', 'seg_student.pth',
        osp.join(val, sorted(os.listdir(val))[0]))
    assert 'distill.loss_cwd' in log and 'student.decode.loss_ce' in log
    assert 'teacher/mIoU' in log
    assert "default_scope = 'mmseg'" in exported
    assert 'kdtools' not in exported and 'TeacherEvalHook' not in exported
    assert report['model'] == 'EncoderDecoder'
    assert report['classes'] == ['background'] + list(CLASSES)
    assert 'pred_sem_seg' in report['fields']
    assert mmcv.imread(str(proj / 'seg_result.jpg')).shape[:2] == (64, 64)
