#!/usr/bin/env python
"""How sharp a GFL-family detector's box-edge distributions are where its
own assigner puts positives, split by split: what localization
distillation (LD) hands a student.

For every image of a split the detector runs as in testing (the split's
images, the config's test pipeline with its annotations); the head's own
``get_targets`` (anchors, assigner, as in training) marks the positive
locations, and at each of their 4 edges the tool reads the predicted
distribution ``p`` over the ``reg_max + 1`` bins and the regression target
``t`` (in bins, as GFL encodes it). It prints, per split, the means over the
edges of

- ``entropy``: ``-sum_i p_i log p_i`` in nats (``log(reg_max + 1)`` for a
  uniform distribution, 0 for a one-bin one);
- ``dfl``: mmdet's ``distribution_focal_loss(p, t)`` (the two bins either
  side of ``t``; GFL's own target);
- ``edge_error``: ``|sum_i i p_i - t|`` in bins (one bin is one stride).

A teacher whose distributions on the students' training images are much
sharper and closer to the targets than on unseen images has memorised
those boxes: its LD targets there are the ground truth again.

Example:
    python tools/analysis_tools/box_edge_stats.py \\
        configs/det/gfl_mobilenetv2_fpn_12e_toydet.py \\
        work_dirs/demo/teacher/gfl_mobilenetv2_fpn_12e_toydet.pth \\
        --data data/toy --splits train val
"""
import argparse
import json
import math
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def build_detector(config, checkpoint, options=None):
    """The plain detector of ``config`` with ``checkpoint`` (strict), in
    eval mode, and its config."""
    from mmengine.registry import MODELS
    from mmengine.runner import load_checkpoint

    from kdtools.utils import load_config, register_all_modules
    register_all_modules()
    cfg = load_config(config, options)
    cfg.model.pop('init_cfg', None)
    if 'backbone' in cfg.model:
        cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    head = getattr(model, 'bbox_head', None)
    if head is None or not hasattr(head, 'reg_max'):
        raise ValueError(f'{config}: model.bbox_head is '
                         f'{type(head).__name__}; expected a GFL-family head '
                         '(with reg_max)')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                    logger='silent')
    return model.eval(), cfg


def split_loader(cfg, data, split, batch_size=8):
    """The config's test dataloader over ``data``'s ``split``, its
    annotations loaded right after the image so that the test resize scales
    the boxes with it (mmdet's test pipelines load them after the resize,
    in the original image's frame, for evaluation)."""
    from mmengine.runner import Runner
    loader = dict(cfg.test_dataloader)
    dataset = dict(loader['dataset'])
    steps = list(dataset['pipeline'])
    load_anns = [t for t in steps if 'LoadAnnotations' in t['type']]
    steps = [t for t in steps if 'LoadAnnotations' not in t['type']]
    steps.insert(1, load_anns[0] if load_anns else
                 dict(type='mmdet.LoadAnnotations', with_bbox=True))
    dataset.update(data_root=osp.join(data, 'det') + '/',
                   ann_file=f'annotations/instances_{split}.json',
                   data_prefix=dict(img=f'{split}/'), test_mode=True,
                   pipeline=steps)
    loader.update(dataset=dataset, batch_size=batch_size, num_workers=0,
                  persistent_workers=False)
    return Runner.build_dataloader(loader)


def edge_stats(model, loader):
    """Means over the positive edges of entropy, DFL and edge error (see
    the module's docstring), and the number of positive locations."""
    import torch
    from mmdet.models.losses.gfocal_loss import distribution_focal_loss

    from kdtools.models.heads.base_head_distiller import (cat_levels,
                                                          levels_to_flat)
    head = model.bbox_head
    bins = head.reg_max + 1
    sums = dict(entropy=0.0, dfl=0.0, edge_error=0.0)
    edges = 0
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            samples = data['data_samples']
            cls_scores, bbox_preds = head(model.extract_feat(data['inputs']))
            metas = [s.metainfo for s in samples]
            sizes = [c.shape[-2:] for c in cls_scores]
            anchors, valid = head.get_anchors(sizes, metas,
                                              device=cls_scores[0].device)
            anchors, labels, _, bbox_targets, _, _ = head.get_targets(
                anchors, valid, [s.gt_instances for s in samples], metas)
            strides = torch.cat([
                cls_scores[0].new_full((a.shape[1], ), float(s[0]))
                for a, s in zip(anchors, head.prior_generator.strides)])
            anchors, labels = cat_levels(anchors), cat_levels(labels)
            bbox_targets = cat_levels(bbox_targets)
            pos = (labels >= 0) & (labels < head.num_classes)
            stride = strides.expand(pos.shape[0], -1)[pos][:, None]
            target = head.bbox_coder.encode(
                head.anchor_center(anchors[pos]) / stride,
                bbox_targets[pos] / stride, head.reg_max).reshape(-1)
            logits = levels_to_flat(bbox_preds, 4 * bins)[pos].reshape(
                -1, bins)
            prob = logits.softmax(-1)
            sums['entropy'] += float(-(prob * prob.clamp_min(1e-12).log())
                                     .sum(-1).sum())
            sums['dfl'] += float(distribution_focal_loss(
                logits, target, reduction='none').sum())
            expected = (prob * torch.arange(bins, dtype=prob.dtype)).sum(-1)
            sums['edge_error'] += float((expected - target).abs().sum())
            edges += target.numel()
    if edges == 0:
        raise ValueError('no positive location in the split: nothing to '
                         'measure')
    out = {k: v / edges for k, v in sums.items()}
    out['positives'] = edges // 4
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the detector (GFL-family head)')
    parser.add_argument('checkpoint', help='its plain checkpoint')
    parser.add_argument('--data', default='data/toy',
                        help='an embedded set '
                        '(tools/dataset_converters/make_toy_data.py)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        choices=['train', 'val'])
    parser.add_argument('--out', help='also write the figures as JSON here')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='config overrides, key=value')
    args = parser.parse_args(argv)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            parser.error(f'{path} does not exist; expected a file')
    for split in args.splits:
        ann = osp.join(args.data, 'det', 'annotations',
                       f'instances_{split}.json')
        if not osp.isfile(ann):
            parser.error(f'--data {args.data}: no {ann}; expected an '
                         'embedded set '
                         '(tools/dataset_converters/make_toy_data.py)')
    model, cfg = build_detector(args.config, args.checkpoint,
                                args.cfg_options)
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  data=args.data, max_entropy=math.log(
                      model.bbox_head.reg_max + 1), splits={})
    print(f'{args.checkpoint} on {args.data} (uniform entropy '
          f'{result["max_entropy"]:.3f})')
    print(f'{"split":6s} {"positives":>9s} {"entropy":>8s} {"dfl":>7s} '
          f'{"edge_error":>10s}')
    for split in args.splits:
        stats = edge_stats(model, split_loader(cfg, args.data, split))
        result['splits'][split] = stats
        print(f'{split:6s} {stats["positives"]:9d} {stats["entropy"]:8.3f} '
              f'{stats["dfl"]:7.3f} {stats["edge_error"]:10.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
