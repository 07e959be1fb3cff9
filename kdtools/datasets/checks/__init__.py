"""Pre-flight checks of the datasets a config names, run by the tools before
the Runner is built: a missing or empty folder, an annotation file that is
not what its dataset type reads, an image listed but missing or unreadable,
a segmentation label value that is neither a class index nor the ignore
index, or a COCO box with non-positive size or outside its image, is
reported in one line naming the file and what was expected, before any
training starts (docs/en/user_guides/data_checks.md).

- :mod:`.core`: which datasets a config names; ``preflight_checks``;
- :mod:`.coco`: COCO instances JSON, boxes, listed images;
- :mod:`.seg`: mmseg-layout images and label maps;
- :mod:`.images`: header reads, and the loop over many files (threads,
  progress bar).
"""
from .coco import check_coco_boxes, check_coco_images, check_coco_json
from .core import (CONTENT_CHECKS, check_dataset_cfg, check_runner_datasets,
                   resolve_checks)
from .images import image_size
from .seg import check_label_values, label_values, training_ids

__all__ = [
    'CONTENT_CHECKS', 'check_coco_boxes', 'check_coco_images',
    'check_coco_json', 'check_dataset_cfg', 'check_label_values',
    'check_runner_datasets', 'image_size', 'label_values',
    'resolve_checks', 'training_ids'
]
