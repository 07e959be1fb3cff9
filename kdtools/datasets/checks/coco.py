"""COCO instances files (mmdet's CocoDataset and its subclasses): the JSON
structure (always), the boxes against the image sizes the JSON states
(``boxes``), and the listed images on disk (``images``: each exists, its
header reads, its size is the one the JSON states)."""
import json
import math
import os.path as osp

from kdtools.utils.errors import DatasetError
from .images import exif_transposed, for_each_file, image_size

# real COCO boxes sometimes pass the border by a fraction of a pixel
BOX_TOLERANCE = 1.0


def check_coco_json(path: str, key: str) -> dict:
    """Check that ``path`` is a COCO instances file mmdet's CocoDataset can
    read (images, annotations, categories, consistent ids, xywh boxes,
    image sizes); return the parsed file."""
    expected = ('expected COCO instances JSON with "images", "annotations" '
                'and "categories" lists')
    try:
        with open(path) as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f'annotation file {path!r} ({key}) is not valid '
                           f'JSON ({e.msg} at line {e.lineno}); {expected}') \
            from None
    if not isinstance(coco, dict):
        raise DatasetError(f'annotation file {path!r} ({key}) holds a '
                           f'{type(coco).__name__}; {expected}')
    for field in ('images', 'annotations', 'categories'):
        if not isinstance(coco.get(field), list):
            raise DatasetError(f'annotation file {path!r} ({key}) has no '
                               f'"{field}" list; {expected}')
    if not coco['images']:
        raise DatasetError(f'annotation file {path!r} ({key}) lists no '
                           'images')
    image_ids = set()
    for i, img in enumerate(coco['images']):
        if not isinstance(img, dict) or 'id' not in img or \
                'file_name' not in img:
            raise DatasetError(f'annotation file {path!r} ({key}): images[{i}]'
                               ' lacks "id" or "file_name"')
        image_ids.add(img['id'])
    cat_ids = set()
    for i, cat in enumerate(coco['categories']):
        if not isinstance(cat, dict) or 'id' not in cat or 'name' not in cat:
            raise DatasetError(f'annotation file {path!r} ({key}): '
                               f'categories[{i}] lacks "id" or "name"')
        cat_ids.add(cat['id'])
    for i, ann in enumerate(coco['annotations']):
        where = f'annotation file {path!r} ({key}): annotations[{i}]'
        if not isinstance(ann, dict):
            raise DatasetError(f'{where} is not an object')
        bbox = ann.get('bbox')
        if not (isinstance(bbox, list) and len(bbox) == 4 and
                all(isinstance(v, (int, float)) for v in bbox)):
            raise DatasetError(f'{where} has bbox {bbox!r}; expected '
                               '[x, y, width, height]')
        if ann.get('image_id') not in image_ids:
            raise DatasetError(f'{where} has image_id {ann.get("image_id")!r}'
                               ' that no image has')
        if ann.get('category_id') not in cat_ids:
            raise DatasetError(f'{where} has category_id '
                               f'{ann.get("category_id")!r} that no category '
                               'has')
    for i, img in enumerate(coco['images']):
        w, h = img.get('width'), img.get('height')
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   and v > 0 for v in (w, h)):
            raise DatasetError(
                f'annotation file {path!r} ({key}): images[{i}] '
                f'({img["file_name"]!r}) has width {w!r} and height {h!r}; '
                'expected positive numbers (mmdet reads both)')
    return coco


def check_coco_boxes(coco: dict, path: str, key: str) -> None:
    """Every box ``[x, y, w, h]`` has ``w > 0`` and ``h > 0`` and lies in
    its image (the width and height the JSON states, with a
    :data:`BOX_TOLERANCE` pixel margin). mmdet would drop such boxes
    silently (or keep a box that reaches past the border)."""
    images = {img['id']: img for img in coco['images']}
    tol = BOX_TOLERANCE
    for i, ann in enumerate(coco['annotations']):
        img = images[ann['image_id']]
        x, y, w, h = ann['bbox']
        where = (f'annotation file {path!r} ({key}): annotations[{i}] '
                 f'(id {ann.get("id")!r}, image {img["file_name"]!r})')
        if not all(math.isfinite(v) for v in (x, y, w, h)):
            raise DatasetError(f'{where} has bbox {ann["bbox"]}; expected '
                               'finite numbers')
        if w <= 0 or h <= 0:
            raise DatasetError(
                f'{where} has bbox {ann["bbox"]} with width {w} and height '
                f'{h}; expected [x, y, width, height] with width > 0 and '
                'height > 0')
        W, H = img['width'], img['height']
        if x < -tol or y < -tol or x + w > W + tol or y + h > H + tol:
            raise DatasetError(
                f'{where} has bbox {ann["bbox"]} spanning x {x:g}..{x + w:g},'
                f' y {y:g}..{y + h:g}; expected it inside the {W}x{H} image '
                f'(width x height in "images", {tol:g}-pixel tolerance)')


def check_coco_images(coco: dict, path: str, img_dir: str, key: str) -> None:
    """Every listed image exists under ``img_dir``, its header reads, and
    its size is the width and height the JSON states (either way round
    when its EXIF orientation rotates it, as mmcv's loading does)."""

    def check(img):
        file = osp.join(img_dir, img['file_name'])
        w, h = image_size(file, key, listed_in=path)
        W, H = img['width'], img['height']
        if (w, h) != (W, H) and not ((h, w) == (W, H) and
                                     exif_transposed(file)):
            raise DatasetError(
                f'image {file!r} ({key}) is {w}x{h} (width x height) but '
                f'{path!r} states {W}x{H}; expected the size the annotation '
                'file states (its boxes are in that frame)')

    for_each_file(check, coco['images'], 'images (header read)', key,
                  'images')
