"""Reading many files before training: the image header check (``images``)
and the loop that runs a per-file check over a dataset's files, in threads
when there are many, with a progress bar when there are more than
:data:`PROGRESS_MIN`."""
import os
import os.path as osp
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, Sequence, Tuple

from kdtools.utils.errors import DatasetError

# more files than this: a line naming the check and its switch, then a
# progress bar (rank 0 only)
PROGRESS_MIN = 1000
# fewer files than this are checked in the calling thread
THREADS_MIN = 64
MAX_THREADS = 8


def _one_line(e: BaseException) -> str:
    return ' '.join(str(e).split()) or type(e).__name__


def _is_rank_zero() -> bool:
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if var in os.environ:
            return os.environ[var] == '0'
    return True


class _Progress:
    """A line naming the check and its switch, then mmengine's progress bar,
    updated about 100 times in all (rank 0, more than
    :data:`PROGRESS_MIN` files); silent otherwise."""

    def __init__(self, n: int, what: str, key: str, switch: str) -> None:
        self.bar = None
        self.pending = 0
        self.step = max(1, n // 100)
        if n > PROGRESS_MIN and _is_rank_zero():
            from mmengine.utils import ProgressBar
            print(f'kdtools: checking {n} {what} of {key} (set '
                  f'preflight_checks=dict({switch}=False) in the config to '
                  'skip this)', flush=True)
            self.bar = ProgressBar(n, file=sys.stdout)

    def update(self) -> None:
        if self.bar is None:
            return
        self.pending += 1
        if self.pending >= self.step:
            self.bar.update(self.pending)
            self.pending = 0

    def close(self) -> None:
        if self.bar is None:
            return
        if self.pending:
            self.bar.update(self.pending)
        self.bar.file.write('\n')
        self.bar.file.flush()
        self.bar = None


def for_each_file(check: Callable, items: Sequence, what: str, key: str,
                  switch: str) -> None:
    """Run ``check(item)`` for every item; it raises :class:`DatasetError`
    on a bad file. The first bad item in ``items`` order is the one
    reported, threads or not; the rest are not checked."""
    progress = _Progress(len(items), what, key, switch)
    try:
        if len(items) < THREADS_MIN:
            for item in items:
                check(item)
                progress.update()
            return
        pool = ThreadPoolExecutor(
            max_workers=min(MAX_THREADS, os.cpu_count() or 1))
        try:
            for _ in pool.map(check, items):
                progress.update()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        progress.close()


def image_size(path: str, key: str, what: str = 'image',
               listed_in: Optional[str] = None) -> Tuple[int, int]:
    """``(width, height)`` from the file's header (no full decode); a
    missing or unreadable file is a :class:`DatasetError` naming it."""
    from PIL import Image
    where = f' listed in {listed_in!r}' if listed_in else ''
    if not osp.isfile(path):
        raise DatasetError(f'{what} {path!r}{where} ({key}) does not exist; '
                           f'expected the file on disk')
    try:
        with Image.open(path) as img:
            return img.size
    except Exception as e:  # PIL raises several types on bad bytes
        raise DatasetError(
            f'{what} {path!r}{where} ({key}) cannot be read as an image '
            f'({_one_line(e)}); expected an image file (JPEG, PNG, ...) whose '
            'header PIL can read') from None


def exif_transposed(path: str) -> bool:
    """Whether the file's EXIF orientation swaps width and height (mmcv's
    default image loading applies it)."""
    from PIL import Image
    try:
        with Image.open(path) as img:
            return img.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:
        return False
