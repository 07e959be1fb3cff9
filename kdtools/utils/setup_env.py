"""Register every kdtools module and set the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import kdtools' modules (and mmdet's, mmseg's, mmpretrain's) so that
    their registries are filled, and make ``kdtools`` the default scope.

    kdtools' types are then also in mmengine's root registries, so they
    resolve by their bare names from any default scope (a config inheriting
    a stock mmdet config keeps ``default_scope='mmdet'``); a script running
    such a config calls this with ``init_default_scope=False`` before
    ``Runner.from_cfg`` (the Runner sets the config's scope).

    Args:
        init_default_scope (bool): Set the default scope to ``kdtools``.
            Defaults to True.
    """
    import mmdet.utils
    import mmpretrain.utils
    import mmseg.utils

    import kdtools.datasets  # noqa: F401
    import kdtools.engine  # noqa: F401
    import kdtools.models  # noqa: F401
    mmdet.utils.register_all_modules(init_default_scope=False)
    mmseg.utils.register_all_modules(init_default_scope=False)
    mmpretrain.utils.register_all_modules(init_default_scope=False)

    if init_default_scope:
        current = DefaultScope.get_current_instance()
        if current is None or current.scope_name != 'kdtools':
            if current is not None:
                warnings.warn(f'The current default scope '
                              f'"{current.scope_name}" is not "kdtools"; '
                              '`register_all_modules` forces it to kdtools.')
            name = f'kdtools-{datetime.datetime.now()}'
            DefaultScope.get_instance(name, scope_name='kdtools')
