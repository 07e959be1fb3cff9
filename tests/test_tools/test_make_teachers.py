"""tools/misc/make_teachers.py (make teachers): every shipped embedded-data
distillation config's teacher is one command away, at the path the config
names; a missing teacher checkpoint's error names that command (issue 19)."""
import glob
import os.path as osp
import sys

import pytest

from conftest import CONFIGS, ROOT, TOOLS
from kdtools.utils import load_config

sys.path.insert(0, osp.join(TOOLS, 'misc'))
import make_teachers  # noqa: E402


def _teachers_of(path):
    model = load_config(path).model
    if model.get('type', '').split('.')[-1] not in ('Distiller',
                                                    'DataFreeDistiller'):
        return []
    teachers = model.get('teachers') or dict(teacher=model.get('teacher'))
    return [t for t in teachers.values() if t]


def test_every_embedded_teacher_is_made_where_its_configs_look():
    made = {ckpt: osp.normpath(osp.join(ROOT, cfg))
            for _, cfg, _, ckpt in make_teachers.planned(
                list(make_teachers.TEACHERS))}
    checked = 0
    for path in sorted(glob.glob(osp.join(CONFIGS, '**', '*.py'),
                                 recursive=True)):
        if '_base_' in path:
            continue
        for t in _teachers_of(path):
            ckpt = str(t.get('checkpoint') or '')
            if not ckpt.startswith('work_dirs/demo/'):
                continue
            assert ckpt in made, f'{path}: no make_teachers target for {ckpt}'
            assert osp.normpath(str(t.config)) == made[ckpt], path
            checked += 1
    assert checked >= 15  # hint, LD, Chen, SKD, CWD, KD, DeiT, FSP, ...


def test_list_and_train_only_what_is_missing(tmp_path, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(make_teachers, 'sh', lambda *a, **k: None)
    monkeypatch.setattr(make_teachers, 'train_teacher',
                        lambda cfg, tdir, ckpt, opts: trained.append(ckpt))
    work = str(tmp_path / 'demo')
    (_, _, tdir, ckpt), = make_teachers.planned(['seg'], work)
    make_teachers.main(['--tasks', 'seg', 'det', '--work-dir', work,
                        '--list'])
    assert 'missing' in capsys.readouterr().out and not trained
    # the seg teacher exists: only det's is trained
    import os
    os.makedirs(tdir)
    open(ckpt, 'w').close()
    open(osp.join(tdir, 'teacher.json'), 'w').close()
    make_teachers.main(['--tasks', 'seg', 'det', '--work-dir', work])
    assert trained == [make_teachers.planned(['det'], work)[0][3]]


def test_missing_teacher_checkpoint_names_the_command(tmp_path):
    from mmengine.registry import MODELS
    from kdtools.utils.errors import CheckpointError
    from _helpers.det import distiller_cfg
    cfg = distiller_cfg(str(tmp_path / 'nowhere.pth'))
    with pytest.raises(CheckpointError) as e:
        MODELS.build(cfg)
    msg = str(e.value)
    assert 'nowhere.pth' in msg and 'make teachers' in msg and \
        'tools/train.py' in msg and '\n' not in msg
