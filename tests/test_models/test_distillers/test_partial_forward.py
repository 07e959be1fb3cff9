"""A teacher runs only as far as its recorders need."""
import pytest

from _helpers.det import batch, build, make_teacher_ckpt


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight GFL (MobileNetV2) teacher checkpoint."""
    return make_teacher_ckpt(tmp_path_factory)


def test_teacher_runs_only_as_far_as_recorders_need(teacher_ckpt):
    model = build(teacher_ckpt)
    (teacher, ) = model.teacher_models.values()
    calls = []
    teacher.bbox_head.register_forward_hook(lambda *a: calls.append('head'))
    teacher.neck.register_forward_hook(lambda *a: calls.append('neck'))
    model.train()
    model.loss(**model.data_preprocessor(batch(), True))
    assert calls == ['neck']  # backbone + neck, never the head
