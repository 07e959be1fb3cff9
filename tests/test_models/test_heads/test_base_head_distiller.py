"""Student and teacher heads that differ (classes, anchors, strides) are
refused at build time, naming both sides."""
import os.path as osp

import pytest

from kdtools.utils.errors import ConfigError
from conftest import CONFIGS
from _helpers.heads import CHEN_2STAGE, LD, _build


def test_anchor_and_class_mismatches_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r'num_classes: student 10 vs '
                       r'teacher 5'):
        _build(osp.join(CONFIGS, LD), tmp_path,
               **{'bbox_head.num_classes': 5})
    with pytest.raises(ConfigError, match=r'anchors of level 0'):
        _build(osp.join(CONFIGS, LD), tmp_path,
               **{'bbox_head.anchor_generator.octave_base_scale': 8})
    with pytest.raises(ConfigError, match=r'rcnn.*num_classes: student 10 '
                       r'vs teacher 4'):
        _build(osp.join(CONFIGS, CHEN_2STAGE), tmp_path,
               **{'roi_head.bbox_head.num_classes': 4})
    with pytest.raises(ConfigError, match=r'rpn.*strides: student \[8, 16, '
                       r'32\] vs teacher \[8, 16, 64\]'):
        _build(osp.join(CONFIGS, CHEN_2STAGE), tmp_path,
               **{'rpn_head.anchor_generator.strides': [8, 16, 64]})


def test_mismatch_names_the_teacher_once():
    """'reg_max: student 8 vs teacher teacher 16' read as a doubled word:
    the teacher is named once, by its config key."""
    from kdtools.models.heads.base_head_distiller import HeadMismatch
    diff = HeadMismatch('head_distillers.ld', 'teacher')
    diff.compare('reg_max', 8, 16)
    with pytest.raises(ConfigError) as e:
        diff.raise_if_any()
    msg = str(e.value)
    assert 'reg_max: student 8 vs teacher 16' in msg
    assert 'teachers.teacher' in msg and 'teacher teacher' not in msg
