"""tools/analysis_tools/box_edge_stats.py on a GFL head with uniform edge
distributions; a non-GFL head refused."""
import json
import os.path as osp
import sys

import pytest

from conftest import ROOT, tiny_det_body, write_config


def test_box_edge_stats_uniform_head(toy_data, tmp_path):
    """tools/analysis_tools/box_edge_stats.py on a GFL head whose edge
    logits are all 0: every distribution is uniform over the reg_max + 1
    bins, so entropy and DFL are both log(reg_max + 1) (DFL's two bin
    weights sum to 1), the expected edge is reg_max / 2 and the error at
    most that."""
    import math

    import torch
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    import box_edge_stats
    cfg = write_config(tmp_path / 'gfl.py',
                       'det/gfl_r18-base16_fpn_12e_toydet.py',
                       tiny_det_body(toy_data))
    from mmengine.registry import MODELS

    from kdtools.utils import load_config, register_all_modules
    register_all_modules()
    model_cfg = load_config(cfg).model
    model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    torch.nn.init.zeros_(model.bbox_head.gfl_reg.weight)
    torch.nn.init.zeros_(model.bbox_head.gfl_reg.bias)
    ckpt = str(tmp_path / 'gfl.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'stats.json'
    box_edge_stats.main([cfg, ckpt, '--data', toy_data, '--out', str(out)])
    result = json.loads(out.read_text())
    bins = model.bbox_head.reg_max + 1
    assert result['max_entropy'] == pytest.approx(math.log(bins))
    for split in ('train', 'val'):
        stats = result['splits'][split]
        assert stats['positives'] > 0
        assert stats['entropy'] == pytest.approx(math.log(bins), abs=1e-5)
        assert stats['dfl'] == pytest.approx(math.log(bins), abs=1e-5)
        assert 0 < stats['edge_error'] <= (bins - 1) / 2
    # a non-GFL head is refused naming the config and what is expected
    frcnn = write_config(tmp_path / 'frcnn.py',
                         'det/faster-rcnn_r18-base16_fpn_12e_toydet.py',
                         tiny_det_body(toy_data))
    with pytest.raises(ValueError, match='expected a GFL-family head'):
        box_edge_stats.build_detector(frcnn, ckpt)
