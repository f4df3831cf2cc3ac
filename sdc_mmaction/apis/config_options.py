"""``--cfg-options`` overrides, merged the way a config file's own keys are read."""
from typing import Mapping

from mmengine.config import Config


def check_key_value(option, where: str = '') -> str:
    """Return ``option`` if it is a ``key=value`` string, else raise a ``ValueError`` that
    names it (and ``where`` it came from, when given)."""
    if not isinstance(option, str) or '=' not in option or option.startswith('='):
        place = f'{where}: ' if where else ''
        raise ValueError(f'{place}config override {option!r} is not of the form key=value')
    return option


def merge_cfg_options(cfg: Config, cfg_options: Mapping) -> Config:
    """Merge ``key=value`` overrides into ``cfg`` (in place) and return it.

    ``Config.fromfile`` imports the modules a config file lists in ``custom_imports``, but
    ``merge_from_dict`` does not, so ``--cfg-options custom_imports.imports=[my_module]``
    would be dropped silently and the run would fail later on a type that was never
    registered. When an override touches ``custom_imports``, its modules are imported here
    (an import that fails raises, unless ``allow_failed_imports`` is true).
    """
    cfg.merge_from_dict(dict(cfg_options))
    if any(key.split('.')[0] == 'custom_imports' for key in cfg_options):
        custom_imports = cfg.get('custom_imports')
        if not isinstance(custom_imports, dict) or 'imports' not in custom_imports:
            raise ValueError('--cfg-options set custom_imports without a '
                             f'custom_imports.imports list: {custom_imports!r}')
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(
            imports=custom_imports['imports'],
            allow_failed_imports=custom_imports.get('allow_failed_imports', False))
    return cfg
