from mmdet.datasets import CocoDataset

from kdtools.registry import DATASETS
from .toy_data import DIGIT_CLASSES


@DATASETS.register_module()
class ToyDetDataset(CocoDataset):
    """The embedded COCO-format detection set
    (``tools/dataset_converters/make_toy_data.py``): real MNIST digits, 10
    classes, on real photographs; boxes and RLE masks.

    Use it like :class:`mmdet.datasets.CocoDataset`; pipeline transforms are
    mmdet's (``mmdet.LoadAnnotations``, ``mmdet.PackDetInputs``, ...).
    """
    METAINFO = dict(
        classes=DIGIT_CLASSES,
        palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142), (0, 0, 230),
                 (106, 0, 228), (0, 60, 100), (0, 80, 100), (0, 0, 70),
                 (0, 0, 192), (250, 170, 30)])
