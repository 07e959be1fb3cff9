"""Every classification distillation config (tiny embedded data and
Fashion-MNIST idx files): it trains a step, predicts, and exports a
student that loads into plain mmpretrain strictly and computes the same."""
import pytest
import torch
from mmengine.registry import MODELS

from kdtools.models.distillers.export import export_student
from kdtools.utils import load_config
from _helpers.cls import CONFIGS, EXPECTED, _runner


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_cls_config_trains_predicts_exports(name, toy_data, fmnist_data,
                                            teacher_ckpts, tmp_path):
    data = fmnist_data if name.startswith('fmnist') else toy_data
    path, cfg, runner = _runner(name, data, teacher_ckpts, tmp_path)
    model = runner.model
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    batch = next(iter(runner.train_dataloader))
    model.train()
    log = model.train_step(batch, optim)
    assert torch.isfinite(log[f'distill.{EXPECTED[name]}'])
    model.eval()
    preds = model.test_step(batch)
    assert preds[0].pred_score.shape == (10, )
    ckpt = str(tmp_path / 'distill.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    plain_cfg = load_config(export_student(path, ckpt,
                                           str(tmp_path / 'student.pth')))
    assert 'kdtools' not in str(plain_cfg.model)
    plain = MODELS.build(plain_cfg.model)
    plain.load_state_dict(torch.load(str(tmp_path / 'student.pth'))[
        'state_dict'], strict=True)
    plain.eval()
    data = plain.data_preprocessor(batch, False)
    ours = model.student(data['inputs'], mode='tensor')
    assert torch.allclose(plain(data['inputs'], mode='tensor'), ours,
                          atol=1e-5)
