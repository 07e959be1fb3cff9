"""Student and teacher heads that differ (anchors, strides; classes where
a term compares class scores) are refused at build time, naming both
sides; box-only terms accept another class count."""
import os.path as osp

import pytest
import torch

from kdtools.utils.errors import ConfigError
from conftest import CONFIGS
from _helpers.det import train_steps
from _helpers.heads import CHEN_2STAGE, LD, _build

LD_KD = 'det/ld/ld-vlr-kd_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'


def test_ld_accepts_other_class_counts_cls_kd_refuses_them(tmp_path):
    """Box-only LD builds with a 5-class teacher for the 10-class student
    (as mmdet's LD does); with its classification KD the same pair is
    refused in one line naming both counts."""
    model = _build(osp.join(CONFIGS, LD), tmp_path,
                   **{'bbox_head.num_classes': 5})
    assert model.teacher_models['teacher'].bbox_head.num_classes == 5
    assert torch.isfinite(train_steps(model, n=1)[0]['distill.ld.loss_ld'])
    with pytest.raises(ConfigError) as e:
        _build(osp.join(CONFIGS, LD_KD), tmp_path,
               **{'bbox_head.num_classes': 5})
    msg = str(e.value)
    assert '\n' not in msg
    assert 'loss_cls_kd compares class scores but the student head has 10 ' \
        "classes and teachers.teacher's 5" in msg


def test_anchor_and_class_mismatches_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r'anchors of level 0'):
        _build(osp.join(CONFIGS, LD), tmp_path,
               **{'bbox_head.anchor_generator.octave_base_scale': 8})
    with pytest.raises(ConfigError, match=r'rcnn.*num_classes: student 10 '
                       r'vs teacher 4'):  # class-specific regression
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
