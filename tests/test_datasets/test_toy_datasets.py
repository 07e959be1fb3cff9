"""The embedded sets read through the MMLab dataset classes (ToyDetDataset,
ToySegDataset, mmpretrain's CustomDataset)."""
import os.path as osp

from kdtools.datasets import DIGIT_CLASSES


def test_mmlab_datasets_read_the_sets(toy_data):
    from mmengine.registry import DATASETS
    det = DATASETS.build(dict(
        type='ToyDetDataset', data_root=osp.join(toy_data, 'det'),
        ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
        pipeline=[]))
    assert len(det) == 8 and det.metainfo['classes'] == DIGIT_CLASSES
    seg = DATASETS.build(dict(
        type='ToySegDataset', data_root=osp.join(toy_data, 'seg'),
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=[]))
    assert len(seg) == 8
    cls = DATASETS.build(dict(
        type='mmpretrain.CustomDataset', _scope_='mmpretrain',
        data_root=osp.join(toy_data, 'cls'), data_prefix='val', pipeline=[]))
    assert len(cls) == 100 and len(cls.CLASSES) == 10
