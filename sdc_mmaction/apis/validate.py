"""Check a training config before the runner is built, with errors that name the option.

Building a runner takes seconds to minutes (datasets are indexed, models built, workers
forked) and some mistakes only surface deep inside a worker as a decoder error or a shape
mismatch. :func:`validate_config` catches the common ones up front and reports *all* of
them at once, each with the dotted config key to fix:

- components whose ``type`` is not registered (the model and its direct sub-modules,
  datasets, pipeline transforms and transforms nested in them, hooks, the optimizer and its
  wrapper), with the registry searched and the closest registered names;
- a missing annotation file (``<loader>.dataset.ann_file``, joined with ``data_root`` as
  mmengine's ``BaseDataset`` does), a missing ``data_root`` or ``data_prefix`` folder;
- a frame-difference pipeline whose clips are too short: ``FrameDifference`` needs
  ``T + 1 >= 2`` decoded frames per clip (``SampleFrames(clip_len=T + 1)``), and a
  ``StaticFrame(clip_len=T)`` must repeat its frame as many times as the clip it ends up
  with (``SampleFrames.clip_len`` minus one after ``FrameDifference``).

Set ``validate_config=False`` in the config (``--cfg-options validate_config=False``) to
skip the checks. Only local paths are checked; a dataset with ``backend_args`` /
``file_client_args`` naming another storage back end, or a path with a ``scheme://``, is
left to the back end.
"""
import difflib
import os.path as osp
from typing import Iterable, List, Optional, Sequence, Tuple

#: dataset wrapper keys holding the wrapped dataset(s)
_WRAPPED_DATASET_KEYS = ('dataset', 'datasets')
#: model config keys that are not sub-modules built from MODELS
_NON_MODULE_KEYS = ('init_cfg', 'train_cfg', 'test_cfg', 'type')


class ConfigValidationError(ValueError):
    """A config has options that would fail (or silently misbehave) at training time.

    ``problems`` holds one ``(key, message)`` per problem.
    """

    def __init__(self, problems: List[Tuple[str, str]], filename: Optional[str] = None):
        self.problems = problems
        where = f' {filename}' if filename else ''
        lines = [f'invalid config{where} ({len(problems)} problem(s)):']
        lines += [f'  - {key}: {message}' for key, message in problems]
        super().__init__('\n'.join(lines))


def _get(node, key, default=None):
    try:
        return node.get(key, default)
    except AttributeError:
        return default


def _is_dict(node) -> bool:
    return isinstance(node, dict)  # ConfigDict is a dict


def _transform_lists(value, path: str):
    """``(path, list)`` for each list in ``value``, looking through plain dicts (not into
    dicts with a ``type``, which are components of their own)."""
    if isinstance(value, (list, tuple)):
        yield path, value
    elif _is_dict(value) and 'type' not in value:
        for name, inner in value.items():
            yield from _transform_lists(inner, f'{path}.{name}')


def _registry_for_scope(root, scope: Optional[str]):
    """The child registry of mmengine's ``root`` registry for ``scope`` (e.g. mmaction)."""
    if not scope:
        return root
    with root.switch_scope_and_registry(scope) as registry:
        return registry


def _registered_names(registry) -> List[str]:
    names, node = set(), registry
    while node is not None:
        names.update(node.module_dict)
        node = node.parent
    return sorted(names)


class _Checker:

    def __init__(self, cfg) -> None:
        from mmengine import registry as engine_registry

        self.cfg = cfg
        self.problems: List[Tuple[str, str]] = []
        scope = cfg.get('default_scope', None)
        self.scope = scope
        self.registries = {
            name: _registry_for_scope(getattr(engine_registry, name), scope)
            for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'HOOKS', 'OPTIM_WRAPPERS',
                         'OPTIMIZERS')
        }

    def add(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    # ------------------------------------------------------------------ registries
    def check_type(self, node, key: str, registry_name: str) -> Optional[str]:
        """Check ``node['type']``; return the type name when it is a registered string."""
        if not _is_dict(node) or 'type' not in node:
            return None
        type_name = node['type']
        if not isinstance(type_name, str):
            return None  # a class object (pure-Python config style): nothing to look up
        registry = self.registries[registry_name]
        try:
            found = registry.get(type_name)
        except Exception as err:  # e.g. 'scope.Name' with an unknown scope
            self.add(f'{key}.type', f'{type_name!r} cannot be looked up in the '
                     f'{registry_name} registry: {err}')
            return None
        if found is None:
            bare = type_name.split('.')[-1]
            close = difflib.get_close_matches(bare, _registered_names(registry), n=3,
                                              cutoff=0.6)
            hint = f'; close matches: {", ".join(close)}' if close else ''
            scope = f" (scope '{registry.scope}')" if registry.scope else ''
            self.add(f'{key}.type', f'{type_name!r} is not registered in the '
                     f'{registry_name} registry{scope}{hint}. Is the module that registers '
                     'it imported (custom_imports)?')
            return None
        return type_name

    # ------------------------------------------------------------------ model
    def check_model(self) -> None:
        model = self.cfg.get('model', None)
        if not _is_dict(model):
            return
        self.check_type(model, 'model', 'MODELS')
        for name, child in model.items():
            if name in _NON_MODULE_KEYS:
                continue
            if _is_dict(child) and 'type' in child:
                self.check_type(child, f'model.{name}', 'MODELS')
            elif isinstance(child, (list, tuple)):
                for i, item in enumerate(child):
                    if _is_dict(item) and 'type' in item:
                        self.check_type(item, f'model.{name}[{i}]', 'MODELS')

    # ------------------------------------------------------------------ data
    def check_dataloader(self, loader_key: str) -> None:
        loader = self.cfg.get(loader_key, None)
        if not _is_dict(loader):
            return
        dataset = _get(loader, 'dataset')
        if dataset is None:
            self.add(f'{loader_key}.dataset', 'missing')
            return
        for key, leaf in self._leaf_datasets(dataset, f'{loader_key}.dataset'):
            self.check_dataset(leaf, key)

    def _leaf_datasets(self, node, key) -> Iterable[Tuple[str, dict]]:
        if not _is_dict(node):
            return
        self.check_type(node, key, 'DATASETS')
        wrapped = False
        for wrapper_key in _WRAPPED_DATASET_KEYS:
            inner = _get(node, wrapper_key)
            if _is_dict(inner):
                wrapped = True
                yield from self._leaf_datasets(inner, f'{key}.{wrapper_key}')
            elif isinstance(inner, (list, tuple)):
                wrapped = True
                for i, item in enumerate(inner):
                    yield from self._leaf_datasets(item, f'{key}.{wrapper_key}[{i}]')
        if not wrapped:
            yield key, node

    @staticmethod
    def _local_storage(dataset) -> bool:
        for args_key in ('backend_args', 'file_client_args'):
            args = _get(dataset, args_key)
            if _is_dict(args) and args.get('backend', 'local') not in ('local', 'disk'):
                return False
        return True

    def check_dataset(self, dataset, key: str) -> None:
        local = self._local_storage(dataset)
        data_root = _get(dataset, 'data_root')
        ann_file = _get(dataset, 'ann_file')
        data_prefix = _get(dataset, 'data_prefix')
        # data_root only matters where a path is relative (mmengine joins it to those)
        paths = [ann_file] + (list(data_prefix.values()) if _is_dict(data_prefix) else [])
        root_used = any(isinstance(p, str) and p and not osp.isabs(p) for p in paths)
        if (local and root_used and isinstance(data_root, str) and data_root
                and '://' not in data_root and not osp.isdir(data_root)):
            self.add(f'{key}.data_root', f'folder {data_root!r} does not exist')

        def resolve(path: str) -> str:
            if isinstance(data_root, str) and data_root and not osp.isabs(path):
                return osp.join(data_root, path)
            return path

        if local and isinstance(ann_file, str) and ann_file and '://' not in ann_file:
            path = resolve(ann_file)
            if osp.isdir(path):
                self.add(f'{key}.ann_file', f'{path!r} is a folder, not an annotation file')
            elif not osp.isfile(path):
                joined = (f' (data_root {data_root!r} + ann_file {ann_file!r})'
                          if path != ann_file else '')
                self.add(f'{key}.ann_file', f'annotation file {path!r} does not exist{joined}')

        if local and _is_dict(data_prefix):
            for name, prefix in data_prefix.items():
                if not isinstance(prefix, str) or not prefix or '://' in prefix:
                    continue
                path = resolve(prefix)
                if not osp.exists(path):
                    self.add(f'{key}.data_prefix.{name}', f'folder {path!r} does not exist')

        pipeline = _get(dataset, 'pipeline')
        if isinstance(pipeline, (list, tuple)):
            self.check_pipeline(pipeline, f'{key}.pipeline')

    def check_pipeline(self, pipeline: Sequence, key: str) -> None:
        names = []
        for i, step in enumerate(pipeline):
            type_name = self.check_type(step, f'{key}[{i}]', 'TRANSFORMS')
            if type_name is None and _is_dict(step):
                type_name = str(step.get('type', ''))
            names.append((type_name or '').split('.')[-1])
            # transforms nested in a transform (e.g. StaticFrame's crop_pipeline, or the
            # per-view lists of MultiViewPipeline: views.<name>.transforms)
            for name, value in (step.items() if _is_dict(step) else ()):
                if name == 'type':
                    continue
                for path, inner_list in _transform_lists(value, f'{key}[{i}].{name}'):
                    for j, inner in enumerate(inner_list):
                        if _is_dict(inner) and 'type' in inner:
                            self.check_type(inner, f'{path}[{j}]', 'TRANSFORMS')

        sampled: Optional[int] = None  # clip_len of the last frame sampler
        frames: Optional[int] = None  # frames per clip at this point of the pipeline
        sampler, sampler_index = None, 0
        for i, (step, name) in enumerate(zip(pipeline, names)):
            label = f'{key}[{i}] ({name})'
            clip_len = _get(step, 'clip_len')
            is_int = isinstance(clip_len, int) and not isinstance(clip_len, bool)
            if 'Sample' in name and is_int:  # SampleFrames, UniformSample, ...
                sampled = frames = clip_len
                sampler, sampler_index = f'{key}[{i}].clip_len', i
            elif name == 'FrameDifference' and frames is not None:
                if frames < 2:
                    self.add(sampler,
                             f'clip_len={frames} is too short for the frame difference '
                             f'{label}: it needs T + 1 >= 2 decoded frames per clip; '
                             'sample one frame more than the clip length (clip_len=T + 1)')
                frames -= 1
            elif name == 'StaticFrame' and sampled is not None and is_int:
                # the static view must be as long as the clip at the end of the pipeline
                diffs_after_sampler = names[sampler_index:].count('FrameDifference')
                expected = sampled - diffs_after_sampler
                if clip_len != expected:
                    extra = (' minus one frame for FrameDifference'
                             if diffs_after_sampler else '')
                    self.add(f'{key}[{i}].clip_len',
                             f'{label} repeats its frame clip_len={clip_len} times, but the '
                             f'clips have {expected} frames ({sampler}={sampled}{extra})')

    # ------------------------------------------------------------------ the rest
    def check_hooks(self) -> None:
        for i, hook in enumerate(self.cfg.get('custom_hooks', None) or []):
            self.check_type(hook, f'custom_hooks[{i}]', 'HOOKS')
        default_hooks = self.cfg.get('default_hooks', None)
        if _is_dict(default_hooks):
            for name, hook in default_hooks.items():
                self.check_type(hook, f'default_hooks.{name}', 'HOOKS')

    def check_optim(self) -> None:
        wrapper = self.cfg.get('optim_wrapper', None)
        if not _is_dict(wrapper):
            return
        self.check_type(wrapper, 'optim_wrapper', 'OPTIM_WRAPPERS')
        optimizer = wrapper.get('optimizer', None)
        self.check_type(optimizer, 'optim_wrapper.optimizer', 'OPTIMIZERS')


def dataloaders_used_by_training(cfg) -> List[str]:
    """The dataloader keys a training run builds: train, and val unless validation is off."""
    keys = ['train_dataloader']
    if cfg.get('val_cfg', None) and cfg.get('val_dataloader', None):
        keys.append('val_dataloader')
    return keys


def validate_config(cfg, dataloaders: Optional[Sequence[str]] = None) -> None:
    """Raise :class:`ConfigValidationError` listing every problem found in ``cfg``.

    Args:
        cfg (mmengine.Config): the merged config (after ``--cfg-options``); the modules of
            its ``custom_imports`` must be imported already (``Config.fromfile`` does it).
        dataloaders (list[str], optional): dataloader keys to check. Defaults to those a
            training run builds (:func:`dataloaders_used_by_training`); pass
            ``['test_dataloader']`` for a test run.
    """
    if cfg.get('validate_config', True) is False:
        return  # escape hatch: --cfg-options validate_config=False
    checker = _Checker(cfg)
    checker.check_model()
    for key in (dataloaders_used_by_training(cfg) if dataloaders is None else dataloaders):
        checker.check_dataloader(key)
    checker.check_hooks()
    checker.check_optim()
    if checker.problems:
        raise ConfigValidationError(checker.problems, getattr(cfg, 'filename', None))


__all__ = ['ConfigValidationError', 'validate_config', 'dataloaders_used_by_training']
