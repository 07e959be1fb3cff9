from mmseg.datasets import BaseSegDataset

from kdtools.registry import DATASETS
from .toy_data import SEG_CLASSES


@DATASETS.register_module()
class ToySegDataset(BaseSegDataset):
    """The embedded semantic-segmentation set in mmseg layout
    (``img_dir/{train,val}``, ``ann_dir/{train,val}``, ``.png`` both).

    11 classes: 0 background, 1..10 the digits zero..nine; 255 marks the
    ambiguous anti-aliased edges and is ignored.
    """
    METAINFO = dict(
        classes=SEG_CLASSES,
        palette=[(0, 0, 0), (220, 20, 60), (119, 11, 32), (0, 0, 142),
                 (0, 0, 230), (106, 0, 228), (0, 60, 100), (0, 80, 100),
                 (0, 0, 70), (0, 0, 192), (250, 170, 30)])

    def __init__(self, img_suffix='.png', seg_map_suffix='.png',
                 reduce_zero_label=False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
