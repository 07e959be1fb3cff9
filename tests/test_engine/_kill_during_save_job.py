"""A tiny mmengine run that saves a 64 MB checkpoint every iteration, for
the kill-during-save tests: ``python _kill_during_save_job.py WORK_DIR
MAX_KEEP MAX_ITERS [resume]``. Prints ``SAVING <iter>`` just before each
save (flushed) and ``DONE <iter>`` at the end."""
import sys

import torch
from torch import nn

import kdtools  # noqa: F401  (installs the safe checkpoint order)
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner


class Tiny(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4096, 4096)

    def forward(self, inputs, mode='loss'):
        return {'loss': self.fc(inputs).pow(2).mean()}


class Announce(Hook):
    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint):
        print(f'SAVING {runner.iter}', flush=True)


def main():
    work_dir, max_keep, max_iters = sys.argv[1], int(sys.argv[2]), \
        int(sys.argv[3])
    resume = len(sys.argv) > 4
    data = [dict(inputs=torch.randn(4096)) for _ in range(8)]
    runner = Runner(
        model=Tiny(), work_dir=work_dir,
        train_dataloader=dict(
            dataset=data, batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-4)),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=1, by_epoch=False,
            max_keep_ckpts=max_keep)),
        custom_hooks=[Announce()],
        resume=resume, load_from=sys.argv[5] if resume else None)
    runner.train()
    print(f'DONE {runner.iter}', flush=True)


if __name__ == '__main__':
    main()
