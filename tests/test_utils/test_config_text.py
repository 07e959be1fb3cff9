"""The config text is formatted once per content (issue 22): the Runner
asks for it before the first iteration and at every checkpoint save."""
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from mmengine.runner import Runner
from torch import nn

import mmengine.config.config as mmengine_config


class _Tiny(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, mode='loss'):
        return {'loss': self.fc(inputs).pow(2).mean()}


MODELS.register_module(name='ConfigTextTiny', module=_Tiny, force=True)


@DATASETS.register_module(name='ConfigTextData', force=True)
class _Data(torch.utils.data.Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)))


def test_runner_formats_its_config_once(tmp_path, monkeypatch):
    calls = []
    original = mmengine_config.FormatCode

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counting)
    cfg = Config(dict(
        model=dict(type='ConfigTextTiny'), work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=dict(type='ConfigTextData'),
            batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=3),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=False)),
        experiment_name='config_text'))
    runner = Runner.from_cfg(cfg)
    runner.train()  # three checkpoint saves, each with meta['cfg']
    assert len(calls) == 1
    ckpt = torch.load(str(tmp_path / 'iter_3.pth'), weights_only=False)
    assert ckpt['meta']['cfg'] == runner.cfg.pretty_text


def test_a_changed_config_is_formatted_anew():
    cfg = Config(dict(a=1, b=dict(c=[1, 2])))
    first = cfg.pretty_text
    cfg.b.c = [3]
    second = cfg.pretty_text
    assert second != first and '3' in second and '2' not in second
