"""Checkpoint rotation that never loses progress.

mmengine 0.10.7's ``CheckpointHook._save_checkpoint_with_step`` deletes the
outdated checkpoint (``max_keep_ckpts``) *before* it writes the new one, and
writes ``last_checkpoint`` in place: a run killed during the save (measured:
6 of 7 kills 0-0.25 s after "Saving checkpoint" with ``max_keep_ckpts=1``)
is left with no checkpoint at all and a ``last_checkpoint`` naming a missing
file. :func:`save_checkpoint_with_step` does the same work in the order that
keeps a loadable checkpoint at every instant:

1. write the new checkpoint (atomically: kdtools' ``LocalBackend.put`` writes
   a temporary file, fsyncs it and renames it, see
   :mod:`kdtools.utils.checkpoint`);
2. point ``last_checkpoint`` at it (temporary file + rename);
3. only then delete the outdated checkpoints.

:func:`kdtools.utils.checkpoint.patch_mmengine` installs it on mmengine's
``CheckpointHook``, so every run in a process that imported kdtools (kdtools'
configs and users' own mmdet/mmseg configs alike) rotates this way.
"""
import os
import os.path as osp


def write_text_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old or the new
    content, never a partial one."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint_with_step(self, runner, step, meta) -> None:
    """Stands in for ``CheckpointHook._save_checkpoint_with_step``: same
    arguments, same files and message-hub records, safe order."""
    from mmengine.dist import is_main_process
    outdated = []
    if self.max_keep_ckpts > 0:
        # _save_checkpoint and _save_best_checkpoint may both save this step
        if not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir,
        ckpt_filename,
        self.file_client_args,
        save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler,
        meta=meta,
        by_epoch=self.by_epoch,
        backend_args=self.backend_args,
        **self.args)
    if not is_main_process():
        return
    write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'),
                      str(self.last_ckpt))
    for old_step in outdated:
        path = self.file_backend.join_path(self.out_dir,
                                           self.filename_tmpl.format(old_step))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed saves directories
            self.file_backend.rmtree(path)
