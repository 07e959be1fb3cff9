"""Shared fixtures: the tiny embedded data (made once per session), the
distillation configs and random teacher checkpoints several test folders
use, and helpers that write small configs inheriting the project's own and
run the tools.

The test tree mirrors kdtools/ and tools/ (test_models/test_losses/...,
test_tools/...); test modules have unique basenames (pytest imports them by
basename, with their folder on sys.path). Helpers shared between test
modules live in ``_helpers/`` (importable: this file's folder is on
sys.path)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs')
TOOLS = osp.join(ROOT, 'tools')

# keep the 2 cores for the suite's processes, not for oversubscribed BLAS
os.environ.setdefault('OMP_NUM_THREADS', '1')


@pytest.fixture(scope='session', autouse=True)
def _kdtools_modules():
    from kdtools.utils import register_all_modules
    register_all_modules()


@pytest.fixture(autouse=True)
def _kdtools_default_scope(_kdtools_modules):
    """Every test starts with ``kdtools`` as the default scope, and a scope
    a test makes current (a Runner it builds with another
    ``default_scope``) does not leak into the tests after it."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('kdtools'):
        yield


@pytest.fixture(scope='session')
def toy_data(tmp_path_factory):
    """The embedded sets at size 'tiny' (seed 0), made once."""
    from kdtools.datasets import make_toy_data
    out = str(tmp_path_factory.mktemp('toy'))
    make_toy_data(out, seed=0, size='tiny', img_size=64)
    return out


@pytest.fixture(scope='module')
def distill_cfg(toy_data, tmp_path_factory):
    """The hint-KD config on the tiny detection data with a random-weight
    teacher checkpoint (one per test module)."""
    from _helpers.det import make_distill_cfg
    return make_distill_cfg(toy_data, tmp_path_factory)


@pytest.fixture(scope='module')
def teacher_ckpts(tmp_path_factory):
    """Random-weight checkpoints for every teacher the classification
    configs name, by config file name (one set per test module)."""
    from _helpers.cls import make_teacher_ckpts
    return make_teacher_ckpts(tmp_path_factory)


@pytest.fixture(scope='module')
def fmnist_data(tmp_path_factory):
    """A Fashion-MNIST folder in the layout `make data-fashion-mnist`
    writes (the four un-gzipped idx files), 16 training and 8 test
    images."""
    from _helpers.cls import make_fmnist_data
    return make_fmnist_data(tmp_path_factory)


def write_config(path, base, body='', extra_bases=()):
    """Write a config at ``path`` that inherits ``base`` (relative to
    ``configs/``) and ``extra_bases`` (as written) and adds ``body``."""
    bases = [osp.join(CONFIGS, base)] + list(extra_bases)
    with open(path, 'w') as f:
        f.write(f"_base_ = {bases!r}\n{body}\n")
    return str(path)


PLAIN_DET_PIPELINE = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.Resize', scale=(128, 128), keep_ratio=True),
    dict(type='mmdet.PackDetInputs')
]


def tiny_det_body(data_dir, max_epochs=2, extra=''):
    """Config text that points the detection config at the tiny data and
    shrinks the schedule. Training is without random augmentation, so a
    resumed run repeats the uninterrupted one exactly (mmengine does not
    checkpoint the transforms' random state)."""
    root = osp.join(data_dir, 'det') + '/'
    return f"""
data_root = {root!r}
train_dataloader = dict(batch_size=4, dataset=dict(
    data_root=data_root, pipeline={PLAIN_DET_PIPELINE!r}))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs={max_epochs}, val_interval={max_epochs})
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=3,
                                     save_best=None))
log_processor = dict(window_size=1)
randomness = dict(seed=0, deterministic=True)
{extra}
"""


def run_tool(args, timeout=600, env=None, check=False):
    """Run a tool script with this interpreter; return CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault('PYTHON', sys.executable)
    proc = subprocess.run([sys.executable] + list(args), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc
