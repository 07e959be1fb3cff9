"""SSD-KD's bounded replay buffer with priority sampling."""
import torch
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError


@MODELS.register_module()
class PriorityReplayBuffer(nn.Module):
    """The dynamic replay buffer of SSD-KD (Liu et al., "Small Scale
    Data-Free Knowledge Distillation", CVPR 2024), sampled as Prioritized
    Experience Replay (Schaul et al., ICLR 2016); DATAFREE.md 2.8-2.9::

        P(x) = (|delta(x)| + eps)^alpha / sum_x' (|delta(x')| + eps)^alpha
        w(x) = (N P(x))^-beta / max_x' (N P(x'))^-beta        (so w <= 1)
             or (N P(x))^-beta / mean_{j in batch} (N P(x_j))^-beta
             or (N P(x))^-beta                       (weight_norm='none')
        delta(x) <- w(x) * KL(f_t(x) || f_s(x))   (only the sampled x)

    N is the current number of items. A batch is drawn with replacement
    (``multinomial(P, b)``). New items enter at the current maximum
    priority (1 in an empty buffer), so each is drawn at least once in
    expectation soon. When full, an insert overwrites the oldest items
    (``evict='fifo'``, a ring buffer: "ordered, update partially") or the
    items of lowest priority (``evict='lowest_priority'``: those the student
    already fits).

    Everything is a buffer (checkpointed): ``images (capacity, C, H, W)``
    stored as uint8 (``dtype='uint8'``, Fast-Datafree's PNG quantisation)
    or float16/float32, ``priorities (capacity,)``, ``size``, ``ptr`` (the
    next FIFO slot) and ``inserted`` (items ever inserted).

    Args:
        capacity (int): N_max.
        image_shape (tuple): ``(C, H, W)``.
        alpha (float): priority exponent (0.6).
        eps (float): priority offset (1e-6).
        evict (str): 'fifo' or 'lowest_priority'.
        dtype (str): 'uint8', 'float16' or 'float32'.
        sampling (str): 'priority'; 'uniform' (with w = 1 and no priority
            updates) is Fast-Datafree's memory bank (see ``MemoryBank``).
        weight_norm (str): 'max' (PER's: divided by the largest weight of
            the buffer, so every w <= 1 and the loss shrinks as P grows
            uneven), 'batch_mean' (self-normalised: the drawn batch's
            weights average 1, the loss keeps its scale; our option) or
            'none' (SSD-KD's ``w = (N P)^-beta`` as written, without
            normalisation; :attr:`weights_loss` is False: ``w`` enters the
            priority ``delta`` only, and the student's loss is unweighted).
    """

    def __init__(self, capacity: int, image_shape=(3, 32, 32),
                 alpha: float = 0.6, eps: float = 1e-6, evict: str = 'fifo',
                 dtype: str = 'uint8', sampling: str = 'priority',
                 weight_norm: str = 'max') -> None:
        super().__init__()
        if int(capacity) < 1:
            raise ConfigError(f'buffer capacity={capacity}; expected >= 1')
        if evict not in ('fifo', 'lowest_priority'):
            raise ConfigError(f'buffer evict={evict!r}; expected fifo or '
                              'lowest_priority')
        if sampling not in ('priority', 'uniform'):
            raise ConfigError(f'buffer sampling={sampling!r}; expected '
                              'priority or uniform')
        if weight_norm not in ('max', 'batch_mean', 'none'):
            raise ConfigError(f'buffer weight_norm={weight_norm!r}; '
                              'expected max, batch_mean or none')
        self.weight_norm = weight_norm
        if dtype not in ('uint8', 'float16', 'float32'):
            raise ConfigError(f'buffer dtype={dtype!r}; expected uint8, '
                              'float16 or float32')
        self.capacity = int(capacity)
        self.alpha, self.eps = float(alpha), float(eps)
        self.evict, self.sampling, self.dtype = evict, sampling, dtype
        self.register_buffer('images', torch.zeros(
            (self.capacity, *image_shape), dtype=getattr(torch, dtype)))
        self.register_buffer('priorities', torch.zeros(self.capacity))
        for name in ('size', 'ptr', 'inserted'):
            self.register_buffer(name, torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.size)

    @property
    def weights_loss(self) -> bool:
        """Whether the drawn items' weights multiply the student's loss
        (priority sampling with ``weight_norm`` 'max' or 'batch_mean')."""
        return self.sampling == 'priority' and self.weight_norm != 'none'

    # ------------------------------------------------------------------
    def probabilities(self) -> Tensor:
        """P over the current items ``(N,)``."""
        n = len(self)
        if self.sampling == 'uniform':
            return torch.full((n, ), 1.0 / n, device=self.priorities.device)
        p = (self.priorities[:n].abs() + self.eps).pow(self.alpha)
        return p / p.sum()

    def weights(self, probs: Tensor, beta: float) -> Tensor:
        """Importance weights ``(N,)`` for ``probs`` (all items'),
        ``(N P)^-beta / max`` (``(N P)^-beta`` for ``weight_norm='none'``);
        all ones for uniform sampling."""
        if self.sampling == 'uniform':
            return torch.ones_like(probs)
        w = (len(self) * probs).pow(-beta)
        return w if self.weight_norm == 'none' else w / w.max()

    def sample(self, batch_size: int, beta: float):
        """``(indices (b,), images (b, C, H, W) in [0, 1], weights (b,))``,
        indices drawn with replacement from P."""
        if not len(self):
            raise RuntimeError('sampling an empty replay buffer')
        probs = self.probabilities()
        idx = torch.multinomial(probs.cpu(), batch_size, replacement=True)
        idx = idx.to(self.images.device)
        w = self.weights(probs, beta)[idx]
        if self.weight_norm == 'batch_mean':
            w = w / w.mean()
        return idx, self.to_float(self.images[idx]), w

    def update_priorities(self, indices: Tensor, delta: Tensor) -> None:
        """Refresh the priorities of the sampled items only (a repeated
        index keeps its last value)."""
        if self.sampling == 'uniform':
            return
        self.priorities[indices.to(self.priorities.device)] = \
            delta.detach().to(self.priorities).abs()

    # ------------------------------------------------------------------
    def to_float(self, images: Tensor) -> Tensor:
        return images.float() / 255 if self.dtype == 'uint8' else \
            images.float()

    def _stored(self, images: Tensor) -> Tensor:
        images = images.detach().clamp(0, 1)
        if self.dtype == 'uint8':
            return (images * 255).round().to(torch.uint8)
        return images.to(self.images.dtype)

    def _slots(self, k: int) -> Tensor:
        """Where ``k`` new items go: free slots first, then the evicted."""
        n = len(self)
        free = min(k, self.capacity - n)
        slots = [torch.arange(n, n + free)]
        rest = k - free
        if rest:
            if self.evict == 'fifo':
                slots.append((int(self.ptr) + torch.arange(rest)) %
                             self.capacity)
            else:
                order = torch.argsort(self.priorities[:n].cpu(),
                                      stable=True)
                slots.append(order[:rest])
        return torch.cat(slots)

    @torch.no_grad()
    def add(self, images: Tensor) -> Tensor:
        """Insert ``images (k, C, H, W)`` in [0, 1] at the current maximum
        priority; returns their slots. ``k`` may not exceed the capacity."""
        k = images.shape[0]
        if k > self.capacity:
            raise ValueError(f'adding {k} items to a buffer of capacity '
                             f'{self.capacity}')
        n = len(self)
        top = float(self.priorities[:n].max()) if n else 1.0
        slots = self._slots(k)
        dev = self.images.device
        self.images[slots.to(dev)] = self._stored(images).to(dev)
        self.priorities[slots.to(dev)] = top
        new_size = min(self.capacity, n + k)
        if n + k > self.capacity:  # the ring pointer moves past the evicted
            self.ptr.fill_((int(self.ptr) + n + k - self.capacity) %
                           self.capacity)
        self.size.fill_(new_size)
        self.inserted.add_(k)
        return slots
