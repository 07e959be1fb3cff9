from .checks import check_dataset_cfg, check_runner_datasets
from .nyuv2_dataset import NYU13_CLASSES, NYU40_CLASSES, NYUv2Dataset
from .toy_data import (DIGIT_CLASSES, SEG_CLASSES, SEG_IGNORE_INDEX,
                       make_toy_data, toy_data_ready)
from .toy_det_dataset import ToyDetDataset
from .toy_seg_dataset import ToySegDataset

__all__ = [
    'check_dataset_cfg', 'check_runner_datasets', 'DIGIT_CLASSES',
    'NYU13_CLASSES', 'NYU40_CLASSES', 'NYUv2Dataset',
    'SEG_CLASSES', 'SEG_IGNORE_INDEX', 'make_toy_data', 'toy_data_ready',
    'ToyDetDataset', 'ToySegDataset'
]
