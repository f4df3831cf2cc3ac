"""Checkpoint tools: SDC pretraining checkpoint -> backbone checkpoint, and releases.

An SDC pretraining checkpoint is an mmengine checkpoint of a ``ConceptPretrainRecognizer``:
``state_dict`` holds the backbone under ``backbone.`` (with separate backbones per view,
``backbone.`` is the clip's; the static / difference backbones live under
``view_backbones.`` and are not exported) and the concept heads under ``align_head.`` /
``local_head.``, whose prototypes (``*prototypes``) mark the file as an SDC checkpoint.

A multi-view ``CoCon`` checkpoint keeps one backbone per view under
``encoders.<view>.backbone.`` (:func:`view_backbone_prefix`); ``convert_pretrained(...,
src_prefix=view_backbone_prefix('rgb'), require_concepts=False)`` exports one of them.

:func:`convert_pretrained` writes a checkpoint holding only the backbone, keyed
``backbone.<name>`` by default, which MMAction2 recognizers load with

- ``load_from = 'backbone.pth'`` (any recognizer; the classifier head is missing from the
  file and stays freshly initialised), or
- ``backbone=dict(..., init_cfg=dict(type='Pretrained', checkpoint='backbone.pth',
  prefix='backbone.'))`` for backbones that honour ``init_cfg`` (e.g. this package's
  ``S3D``; MMAction2's ``ResNet3d`` family, ``ResNet2Plus1d`` included, ignores
  ``init_cfg`` and takes ``pretrained=`` with un-prefixed keys: use ``load_from`` there, or
  convert with ``strip_prefix=True`` and set ``pretrained='backbone.pth'``).

:func:`publish_checkpoint` prepares a checkpoint for release: it keeps only the weights
and the metadata, and names the file ``<name>_<YYYYMMDD>-<sha256[:8]>.pth``.
"""
import datetime
import hashlib
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Any, Dict, Optional

import torch

BACKBONE_PREFIX = 'backbone.'
#: Substring of the parameter names that only an SDC concept head has.
CONCEPT_KEY_MARK = 'prototypes'
#: Key prefixes that mark other pretraining models of this package: DCLR's momentum key
#: encoder (its query encoder is ``backbone.``, the one exported).
PRETRAINING_KEY_PREFIXES = ('key_encoder.', )
#: What a released checkpoint keeps (everything else is training state).
RELEASE_KEYS = ('meta', 'state_dict')


class CheckpointFormatError(ValueError):
    """A checkpoint file is not what the caller needs; the message names the file."""


def load_checkpoint_file(filename: str) -> Any:
    """``torch.load`` a checkpoint on CPU, with errors that name the file."""
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        # mmengine checkpoints pickle a HistoryBuffer in their message hub, which
        # weights_only loading rejects; checkpoints are the user's own files.
        return torch.load(filename, map_location='cpu', weights_only=False)
    except Exception as error:  # noqa: BLE001 - re-raised with the file name
        raise CheckpointFormatError(f'{filename} is not a readable PyTorch checkpoint: '
                                    f'{type(error).__name__}: {error}') from error


def get_state_dict(checkpoint: Any, filename: str) -> 'OrderedDict[str, torch.Tensor]':
    """The weights of a loaded checkpoint (``checkpoint['state_dict']`` or a bare state
    dict), with DistributedDataParallel's ``module.`` prefix removed."""
    if not isinstance(checkpoint, dict):
        raise CheckpointFormatError(
            f'{filename} is not an SDC pretraining checkpoint: it holds a '
            f'{type(checkpoint).__name__}, not a dict with a state_dict')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointFormatError(f'{filename} has no state_dict (keys: '
                                    f'{sorted(checkpoint)[:10]})')
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointFormatError(
            f'{filename}: state_dict entries {bad[:5]} are not tensors; is this a '
            'checkpoint written by mmengine / torch.save(model.state_dict())?')
    out = OrderedDict()
    for key, value in state_dict.items():
        out[key[len('module.'):] if key.startswith('module.') else key] = value
    return out


def extract_backbone_state_dict(state_dict: Dict[str, torch.Tensor],
                                filename: str,
                                prefix: str = BACKBONE_PREFIX,
                                require_concepts: bool = True
                                ) -> 'OrderedDict[str, torch.Tensor]':
    """The backbone's weights of an SDC pretraining state dict, keys without ``prefix``.

    Args:
        state_dict (dict): a model state dict (``get_state_dict``'s output).
        filename (str): the file it came from, for error messages.
        prefix (str): where the exported backbone lives. Defaults to ``'backbone.'``.
        require_concepts (bool): demand the concept heads' prototype keys (or, for
            DCLR, the key encoder's), i.e. that this is a pretraining checkpoint and
            not, e.g., a fine-tuned recognizer. Defaults to True.

    Raises:
        CheckpointFormatError: no ``prefix`` keys, or (``require_concepts``) no concept
            prototypes.
    """
    backbone = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                           if k.startswith(prefix))
    if not backbone:
        hint = ''
        if any(k.startswith('encoders.') for k in state_dict):
            hint = ('; it has per-view encoders (encoders.<view>.backbone.*): export one '
                    'with --view <view> (tools/convert_pretrained.py)')
        raise CheckpointFormatError(
            f'{filename} is not an SDC pretraining checkpoint: no {prefix!r} keys '
            f'(first keys: {list(state_dict)[:5]}){hint}')
    if require_concepts:
        concept_keys = [k for k in state_dict
                        if not k.startswith(prefix) and (
                            CONCEPT_KEY_MARK in k or k.startswith(PRETRAINING_KEY_PREFIXES))]
        if not concept_keys:
            raise CheckpointFormatError(
                f'{filename} is not an SDC pretraining checkpoint: it has {prefix!r} keys '
                f'but no concept-head keys (*{CONCEPT_KEY_MARK}, e.g. '
                "'align_head.clip_prototypes'). Is it a fine-tuned or already converted "
                'model? It needs no conversion then.')
    return backbone


def view_backbone_prefix(view: str) -> str:
    """Where a multi-view pretraining model (``CoCon``) keeps the backbone of ``view``."""
    return f'encoders.{view}.backbone.'


def convert_pretrained(src: str,
                       dst: str,
                       strip_prefix: bool = False,
                       require_concepts: bool = True,
                       src_prefix: str = BACKBONE_PREFIX) -> Dict[str, Any]:
    """Write the backbone of an SDC pretraining checkpoint ``src`` to ``dst``.

    Args:
        src (str): the pretraining checkpoint (``epoch_*.pth`` of ``tools/train.py``).
        dst (str): where to write the backbone checkpoint (folders are created).
        strip_prefix (bool): write keys without ``backbone.`` (for ``ResNet3d``'s
            ``pretrained=`` or a prefix-less ``Pretrained`` init). Defaults to False.
        require_concepts (bool): see :func:`extract_backbone_state_dict`.
        src_prefix (str): where the backbone lives in ``src``. Defaults to
            ``'backbone.'`` (SDC); :func:`view_backbone_prefix` gives a CoCon view's.

    Returns:
        dict: ``dst``, ``num_tensors``, ``num_parameters`` (elements) and the ``prefix``
        of the written keys.
    """
    checkpoint = load_checkpoint_file(src)
    state_dict = get_state_dict(checkpoint, src)
    backbone = extract_backbone_state_dict(state_dict, src, prefix=src_prefix,
                                           require_concepts=require_concepts)
    out_prefix = '' if strip_prefix else BACKBONE_PREFIX
    weights = OrderedDict((out_prefix + k, v.clone()) for k, v in backbone.items())

    source_meta = checkpoint.get('meta', None) if isinstance(checkpoint, dict) else None
    meta = dict(
        converted_from=osp.basename(src),
        converted_by='sdc_mmaction.apis.checkpoint.convert_pretrained',
        backbone_prefix=out_prefix,
        source_prefix=src_prefix,
        source_sha256=sha256_of_file(src),
    )
    if isinstance(source_meta, dict):
        for key in ('epoch', 'iter', 'mmengine_version', 'exp_name'):
            if key in source_meta:
                meta[f'source_{key}'] = source_meta[key]
    dst_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(dst_dir, exist_ok=True)
    torch.save(dict(meta=meta, state_dict=weights), dst)
    return dict(dst=dst, num_tensors=len(weights), prefix=out_prefix,
                num_parameters=int(sum(v.numel() for v in weights.values())))


def check_backbone_loads(backbone_state: Dict[str, torch.Tensor], config: str,
                         filename: str = '<backbone>') -> None:
    """Load ``backbone_state`` (keys without prefix) strictly into the backbone that
    ``config`` builds; raise a ValueError naming the mismatched keys and shapes.

    This is the check that ``load_from`` (which loads non-strictly, only warning) does
    not make.
    """
    import sdc_mmaction  # noqa: F401  (registration)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import MODELS

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'backbone'):
        raise ValueError(f'{config}: the model ({type(model).__name__}) has no backbone')
    target = model.backbone.state_dict()
    missing = [k for k in target if k not in backbone_state]
    unexpected = [k for k in backbone_state if k not in target]
    wrong_shape = [f'{k}: file {tuple(backbone_state[k].shape)} vs model '
                   f'{tuple(target[k].shape)}' for k in target
                   if k in backbone_state and backbone_state[k].shape != target[k].shape]
    if missing or unexpected or wrong_shape:
        raise ValueError(
            f'the backbone of {filename} does not match the backbone of {config}: '
            f'{len(missing)} missing keys {missing[:5]}, {len(unexpected)} unexpected '
            f'keys {unexpected[:5]}, {len(wrong_shape)} shape mismatches '
            f'{wrong_shape[:5]}')


def sha256_of_file(filename: str, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(filename, 'rb') as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def publish_checkpoint(src: str,
                       out_dir: str,
                       name: Optional[str] = None,
                       date: Optional[str] = None) -> str:
    """Write a release copy of ``src``: weights and metadata only.

    Drops the optimizer, the message hub, the parameter schedulers and any other
    training state (hooks' saved state such as queues, EMA copies): everything except
    ``meta`` and ``state_dict``. The file is named ``<name>_<date>-<sha[:8]>.pth``, where
    ``sha`` is the SHA-256 of the written file (OpenMMLab's release naming).

    Args:
        src (str): a checkpoint written by mmengine (or a dict with ``state_dict``).
        out_dir (str): folder for the released file (created).
        name (str, optional): model name; defaults to ``src``'s file name without
            extension.
        date (str, optional): ``YYYYMMDD``; defaults to today (local time).

    Returns:
        str: the path of the released file.
    """
    checkpoint = load_checkpoint_file(src)
    state_dict = get_state_dict(checkpoint, src)  # validates the format
    if name is None:
        name = osp.splitext(osp.basename(src))[0]
    if not name or any(c in name for c in '/\\'):
        raise ValueError(f'publish_checkpoint: invalid model name {name!r}')
    if date is None:
        date = datetime.date.today().strftime('%Y%m%d')
    try:
        datetime.datetime.strptime(date, '%Y%m%d')
    except ValueError as error:
        raise ValueError(f'publish_checkpoint: date must be YYYYMMDD, got {date!r}') \
            from error
    meta = dict(checkpoint.get('meta', None) or {}) if 'state_dict' in checkpoint else {}
    release = dict(meta=meta, state_dict=state_dict)

    os.makedirs(out_dir, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(suffix='.pth', dir=out_dir)
    os.close(handle)
    try:
        torch.save(release, tmp_path)
        sha = sha256_of_file(tmp_path)
        final_path = osp.join(out_dir, f'{name}_{date}-{sha[:8]}.pth')
        os.replace(tmp_path, final_path)
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
    return final_path


__all__ = [
    'BACKBONE_PREFIX', 'CheckpointFormatError', 'load_checkpoint_file', 'get_state_dict',
    'extract_backbone_state_dict', 'convert_pretrained', 'check_backbone_loads',
    'sha256_of_file', 'publish_checkpoint'
]
