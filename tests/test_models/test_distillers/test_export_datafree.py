"""A data-free distiller's checkpoint exports as a plain mmpretrain or
mmseg student (its config without the synthetic training loader and the
generator's optimizer), loadable with strict=True by stock code (issue
20)."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, MODELS

from kdtools.models.distillers.export import export_student, student_config

CONFIGS = {
    'mmpretrain': ('configs/datafree/ssd-kd_resnet32-cifar_to_resnet14-cifar_'
                   'toycls.py', 'ImageClassifier'),
    'mmseg': ('configs/datafree/ssd-kd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_'
              'toyseg.py', 'EncoderDecoder'),
}


@pytest.mark.parametrize('scope', sorted(CONFIGS))
def test_datafree_checkpoint_exports_a_plain_student(scope, tmp_path):
    config, model_type = CONFIGS[scope]
    cfg = student_config(config)
    assert cfg.model.type.split('.')[-1] == model_type
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler'):
        assert key not in cfg
    student = MODELS.build(cfg.model)
    state = {f'student.{k}': v for k, v in student.state_dict().items()}
    state['generator.fc.weight'] = torch.zeros(2, 2)  # the distiller's own
    ckpt = tmp_path / 'iter_8.pth'
    torch.save(dict(state_dict=state, meta=dict(iter=8)), str(ckpt))
    out_cfg = export_student(config, str(ckpt), str(tmp_path / 's.pth'))
    plain = Config.fromfile(out_cfg)
    import mmpretrain.models  # noqa: F401  (stock libraries, no kdtools type)
    import mmseg.models  # noqa: F401
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(plain.model)
    exported = torch.load(str(tmp_path / 's.pth'), weights_only=False)
    model.load_state_dict(exported['state_dict'], strict=True)
