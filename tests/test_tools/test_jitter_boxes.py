"""tools/dataset_converters/jitter_boxes.py."""
import json
import os
import os.path as osp

import numpy as np


def test_jitter_boxes_moves_train_edges_only(toy_data, tmp_path):
    """tools/dataset_converters/jitter_boxes.py: every training box edge
    moves by noise of the asked size (relative to the box's side), boxes
    stay inside the image, val boxes and images are the source's; a bad
    --sigma or a folder without a set is a one-line error naming it."""
    from conftest import run_tool
    out = tmp_path / 'noisy'
    res = run_tool(['tools/dataset_converters/jitter_boxes.py', toy_data,
                    str(out), '--sigma', '0.1'], check=True)
    ann = osp.join('det', 'annotations')
    with open(osp.join(toy_data, ann, 'instances_train.json')) as f:
        clean = json.load(f)
    with open(out / ann / 'instances_train.json') as f:
        noisy = json.load(f)
    assert f'{len(clean["annotations"])} training boxes' in res.stdout
    assert noisy['info']['box_noise']['sigma'] == 0.1
    size = {im['id']: (im['width'], im['height']) for im in noisy['images']}
    rel = []
    for a, b in zip(clean['annotations'], noisy['annotations']):
        assert a['id'] == b['id'] and a['category_id'] == b['category_id']
        (x, y, w, h), (nx, ny, nw, nh) = a['bbox'], b['bbox']
        iw, ih = size[b['image_id']]
        assert 0 <= nx and 0 <= ny and nw >= 1 and nh >= 1
        assert nx + nw <= iw + 1e-6 and ny + nh <= ih + 1e-6
        rel += [(nx - x) / w, (ny - y) / h]
    # std of the left/top edge shifts ~ sigma (clipping at the image
    # border only shrinks it); no edge is left where it was
    assert 0.05 < float(np.std(rel)) < 0.15
    assert sum(abs(r) > 1e-3 for r in rel) > 0.9 * len(rel)
    with open(osp.join(toy_data, ann, 'instances_val.json'), 'rb') as f, \
            open(out / ann / 'instances_val.json', 'rb') as g:
        assert f.read() == g.read()
    assert sorted(os.listdir(out / 'det' / 'train')) == sorted(
        os.listdir(osp.join(toy_data, 'det', 'train')))

    res = run_tool(['tools/dataset_converters/jitter_boxes.py', toy_data,
                    str(tmp_path / 'x'), '--sigma', '1.5'])
    assert res.returncode == 2 and '--sigma 1.5' in res.stderr
    res = run_tool(['tools/dataset_converters/jitter_boxes.py',
                    str(tmp_path / 'none'), str(tmp_path / 'y')])
    assert res.returncode == 2 and str(tmp_path / 'none') in res.stderr
    assert not osp.exists(tmp_path / 'y')
