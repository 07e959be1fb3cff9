from .distiller_optim_wrapper_constructor import \
    DistillerOptimWrapperConstructor

__all__ = ['DistillerOptimWrapperConstructor']
