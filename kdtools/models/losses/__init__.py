from .bounded_regression_loss import TeacherBoundedRegressionLoss
from .feature_imitation_loss import FeatureImitationLoss
from .localization_distillation_loss import LocalizationDistillationLoss
from .weighted_soft_ce_loss import WeightedSoftCELoss

__all__ = [
    'FeatureImitationLoss', 'LocalizationDistillationLoss',
    'TeacherBoundedRegressionLoss', 'WeightedSoftCELoss'
]
