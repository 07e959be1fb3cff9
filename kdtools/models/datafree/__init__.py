"""Data-free distillation: SSD-KD (Liu et al., CVPR 2024) on Fast-Datafree
(Fang et al., AAAI 2022) with DeepInversion's BN prior (Yin et al., CVPR
2020). See docs/en/methods/datafree.md."""
from ..losses.adversarial_disagreement_loss import AdversarialDisagreementLoss
from ..losses.modulated_task_loss import ModulatedTaskLoss, diversity_weight
from ..losses.weighted_kd_loss import WeightedKDLoss
from .bn_statistics_prior import BNStatisticsPrior, batch_statistics
from .datafree_distiller import DataFreeDistiller
from .datafree_optim_wrapper_constructor import \
    DataFreeOptimWrapperConstructor
from .fast_generator import FastGenerator
from .memory_bank import MemoryBank
from .pixel_generator import PixelGenerator
from .priority_replay_buffer import PriorityReplayBuffer
from .synthesis_augment import SynthesisAugment
from .synthetic_dataset import SyntheticDataset

__all__ = [
    'AdversarialDisagreementLoss', 'ModulatedTaskLoss', 'diversity_weight',
    'WeightedKDLoss', 'BNStatisticsPrior', 'batch_statistics',
    'DataFreeDistiller', 'DataFreeOptimWrapperConstructor', 'FastGenerator',
    'MemoryBank', 'PixelGenerator', 'PriorityReplayBuffer',
    'SynthesisAugment', 'SyntheticDataset'
]
