"""A checkpoint as mmengine's Runner writes one (numpy scalars, a
ConfigDict, the message hub, optimizer and scheduler states, a
HistoryBuffer)."""
import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import save_checkpoint


def _mmengine_style_checkpoint(path):
    hub = MessageHub.get_instance('kdtools-test-hub')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_info('iter', 7)
    model = torch.nn.Linear(3, 2)
    ckpt = dict(
        meta=dict(epoch=1, iter=7, seed=np.int64(3),
                  cfg='model = dict(type="X")',
                  dataset_meta=dict(classes=('a', 'b')),
                  mmengine_version='0.10.7', experiment_name='exp',
                  hook_msgs=dict(best_score=np.float32(0.25)),
                  cfg_dict=ConfigDict(a=1, b=dict(c=2))),
        state_dict=model.state_dict(),
        message_hub=hub.state_dict(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1).state_dict(),
        param_schedulers=[dict(last_epoch=3, base_lrs=[0.1])],
        history=HistoryBuffer([1.0, 2.0], [1, 1]),
        array=np.arange(4, dtype=np.float32))
    save_checkpoint(ckpt, str(path))
    return model
