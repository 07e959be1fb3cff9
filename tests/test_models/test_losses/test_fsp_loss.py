"""FSPLoss (Yim et al. 2017): FSP matrices by their definition, the loss
as the squared distance of the matrices, channel mismatches refused at
build time."""
import pytest
import torch
from mmengine.registry import MODELS

from kdtools.models.losses import FSPLoss, fsp_matrix
from kdtools.utils import load_config
from kdtools.utils.errors import ConfigError
from conftest import write_config
from _helpers.cls import CONFIGS, cls_body


def test_fsp_matrix_by_definition():
    f1 = torch.arange(2 * 2 * 2, dtype=torch.float).reshape(1, 2, 2, 2)
    f2 = torch.tensor([[[[1., 0.], [0., 1.]], [[2., 2.], [2., 2.]],
                        [[0., 1.], [1., 0.]]]])  # (1, 3, 2, 2)
    g = fsp_matrix(f1, f2)
    assert g.shape == (1, 2, 3)
    for i in range(2):
        for j in range(3):
            expected = sum(f1[0, i, s, t] * f2[0, j, s, t]
                           for s in range(2) for t in range(2)) / 4
            assert g[0, i, j].item() == pytest.approx(expected.item())
    # a larger map is max-pooled to the smaller one first
    big = torch.arange(16, dtype=torch.float).reshape(1, 1, 4, 4)
    pooled = torch.tensor([[[[5., 7.], [13., 15.]]]])
    assert torch.allclose(fsp_matrix(big, f2), fsp_matrix(pooled, f2))
    # the loss: squared Frobenius distance of the matrices, batch mean
    loss = FSPLoss(loss_weight=0.5)
    f1b, f2b = torch.rand(3, 2, 4, 4), torch.rand(3, 3, 2, 2)
    t1, t2 = torch.rand(3, 2, 4, 4), torch.rand(3, 3, 2, 2)
    expected = 0.5 * ((fsp_matrix(t1, t2) - fsp_matrix(f1b, f2b)) ** 2
                      ).sum(dim=(1, 2)).mean()
    assert loss(f1b, f2b, t1, t2).item() == pytest.approx(expected.item())
    assert loss(f1b, f2b, f1b, f2b).item() == 0
    with pytest.raises(ValueError, match='student has 2 channels, teacher 3'):
        FSPLoss.check_shapes(dict(s_first=(1, 2, 4, 4),
                                  t_first=(1, 3, 4, 4)))


def test_fsp_channel_mismatch_is_refused_at_build(toy_data, teacher_ckpts,
                                                  tmp_path):
    body = cls_body(toy_data, CONFIGS['fsp'], teacher_ckpts)
    body += ("model.update(distill_losses=dict(loss_fsp_stage1=dict(inputs="
             "dict(t_second='teacher.stage2_out'))))\n")
    path = write_config(tmp_path / 'bad.py', CONFIGS['fsp'], body)
    with pytest.raises(ConfigError, match='loss_fsp_stage1.*second layer: '
                       'student has 16 channels, teacher 32'):
        MODELS.build(load_config(path).model)
