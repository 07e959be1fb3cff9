from .feature_imitation_loss import FeatureImitationLoss

__all__ = ['FeatureImitationLoss']
