from .cifar_resnet import CifarResNet
from .wide_resnet_cifar import WideResNetCifar

__all__ = ['CifarResNet', 'WideResNetCifar']
