"""A training "dataset" with no data, for data-free distillation."""
from kdtools.registry import DATASETS


@DATASETS.register_module()
class SyntheticDataset:
    """``length`` empty samples: the train loop of a data-free run needs
    batches to count iterations, but reads no images (the
    ``DataFreeDistiller`` makes its own). Use with ``InfiniteSampler`` and
    ``IterBasedTrainLoop``; only the val/test splits are real.

    Each item is ``{}`` (collated by ``pseudo_collate`` to ``{}``).

    Args:
        length (int): number of items (any size; nothing is stored).
        metainfo (dict, optional): copied into checkpoints' meta.
    """

    def __init__(self, length: int = 1000000, metainfo=None) -> None:
        if int(length) < 1:
            raise ValueError(f'SyntheticDataset: length={length}; expected '
                             '>= 1')
        self.length = int(length)
        self.metainfo = dict(metainfo or {})

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx: int) -> dict:
        return {}
