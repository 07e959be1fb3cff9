"""Fast-Datafree's memory bank (uniform sampling, grows to the budget)."""
from kdtools.registry import MODELS
from .priority_replay_buffer import PriorityReplayBuffer


@MODELS.register_module()
class MemoryBank(PriorityReplayBuffer):
    """The memory bank of Fast-Datafree (Fang et al., AAAI 2022;
    ``ImagePool`` + a shuffled DataLoader over every image saved so far;
    DATAFREE.md 5.2 step 7): every synthesised image is kept (the data-free
    distiller sizes its capacity to the whole budget, so nothing is ever
    evicted) and the student samples uniformly, with unit weights and no
    priorities ("disorderly, imbalanced, update all at once" in SSD-KD's
    figure). Ours draws with replacement per batch instead of epochs of a
    shuffled loader (the same distribution per draw).

    Shapes and buffers as :class:`PriorityReplayBuffer`.

    Args:
        capacity (int): the synthesis budget.
        image_shape (tuple): ``(C, H, W)``.
        dtype (str): 'uint8' (Fast stores PNGs), 'float16' or 'float32'.
    """

    def __init__(self, capacity: int, image_shape=(3, 32, 32),
                 dtype: str = 'uint8') -> None:
        super().__init__(capacity, image_shape, dtype=dtype,
                         sampling='uniform')
