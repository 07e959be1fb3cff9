"""The teacher cache: a batch whose samples are all kept skips the teacher
and gives the same loss."""
import torch

from _helpers.cls import CONFIGS, _runner


def test_fsp_teacher_cache_skips_the_teacher_and_gives_the_same_loss(
        toy_data, teacher_ckpts, tmp_path):
    CONFIGS['fsp-cached'] = CONFIGS['fsp'].replace('fsp_', 'fsp-cached_')
    try:
        _, _, runner = _runner('fsp-cached', toy_data, teacher_ckpts,
                               tmp_path)
    finally:
        CONFIGS.pop('fsp-cached')
    model = runner.model
    assert model.teacher_cache
    teacher = next(iter(model.teacher_models.values()))
    calls = []
    handle = teacher.backbone.register_forward_pre_hook(
        lambda *a: calls.append(1))
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, True)
    model.eval()  # fixed BN statistics: the student's side is repeatable
    with torch.no_grad():
        first = model.loss(data['inputs'], data['data_samples'])
        assert len(calls) == 1
        again = model.loss(data['inputs'], data['data_samples'])
        assert len(calls) == 1  # served from the cache
    handle.remove()
    for key in ('loss_fsp_stage1', 'loss_fsp_stage2', 'loss_fsp_stage3'):
        assert torch.allclose(first[f'distill.{key}'],
                              again[f'distill.{key}'])
    kept = model._teacher_cache['loss_fsp_stage3']['teacher']
    assert len(kept) == len(batch['data_samples'])
    # stage 3: its 32-channel input x its 64-channel output
    assert next(iter(kept.values()))['teacher_summary'].shape == (32, 64)
