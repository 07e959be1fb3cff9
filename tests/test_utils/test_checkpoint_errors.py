"""One-line refusals of bad checkpoint files, naming the file (issue 21):
zero-byte files, raw pickles and legacy torch.save files that pickle code;
and the WARNING each trusted load logs."""
import logging
import pickle

import pytest
import torch
from mmengine.logging import MMLogger

from kdtools.utils.checkpoint import load_checkpoint_file
from kdtools.utils.errors import CheckpointError, UnsafeCheckpointError


class _Payload:

    def __reduce__(self):
        return (print, ('payload ran',))


def test_zero_byte_checkpoint_is_named(tmp_path):
    path = tmp_path / 'epoch_3.pth'
    path.write_bytes(b'')
    with pytest.raises(CheckpointError, match=r"epoch_3\.pth' is empty"):
        load_checkpoint_file(str(path))


def test_raw_pickle_refusal_says_what_it_is(tmp_path, capsys):
    path = tmp_path / 'raw.pth'
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': {}, 'x': _Payload()}, f, protocol=4)
    with pytest.raises(UnsafeCheckpointError) as e:
        load_checkpoint_file(str(path))
    msg = str(e.value)
    assert '\n' not in msg and 'raw pickle stream' in msg and str(path) in msg
    assert 'Unsupported operand' not in msg
    assert 'payload ran' not in capsys.readouterr().out


def test_legacy_file_refusal_names_the_global(tmp_path, capsys):
    path = tmp_path / 'legacy.pth'
    torch.save({'x': _Payload()}, str(path),
               _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeCheckpointError) as e:
        load_checkpoint_file(str(path))
    msg = str(e.value)
    assert 'it pickles print,' in msg and 'add_safe_globals' not in msg
    assert 'payload ran' not in capsys.readouterr().out


def test_trusted_load_logs_a_warning_naming_the_file(tmp_path):
    path = tmp_path / 'mine.pth'
    torch.save({'w': torch.ones(1)}, str(path))
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        load_checkpoint_file(str(path), trusted=True)
    finally:
        logger.removeHandler(handler)
    assert any(r.levelno == logging.WARNING and str(path) in r.getMessage()
               for r in records)
