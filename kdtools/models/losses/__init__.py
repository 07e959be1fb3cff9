from .bounded_regression_loss import TeacherBoundedRegressionLoss
from .channel_wise_divergence_loss import ChannelWiseDivergenceLoss
from .feature_imitation_loss import FeatureImitationLoss
from .fsp_loss import FSPLoss, fsp_matrix
from .kd_loss import KDLoss
from .kd_quality_focal_loss import KDQualityFocalLoss
from .localization_distillation_loss import LocalizationDistillationLoss
from .multi_teacher_distillation_loss import MultiTeacherDistillationLoss
from .pair_wise_kd_loss import PairWiseKDLoss
from .pixel_wise_kd_loss import PixelWiseKDLoss
from .pkd_loss import PKDLoss, standardize_channels
from .weighted_soft_ce_loss import WeightedSoftCELoss

__all__ = [
    'ChannelWiseDivergenceLoss', 'FeatureImitationLoss', 'FSPLoss',
    'fsp_matrix', 'KDLoss', 'KDQualityFocalLoss',
    'LocalizationDistillationLoss', 'MultiTeacherDistillationLoss',
    'PairWiseKDLoss', 'PixelWiseKDLoss', 'PKDLoss', 'standardize_channels',
    'TeacherBoundedRegressionLoss', 'WeightedSoftCELoss'
]
