"""Video-level feature extraction shared by retrieval and concept analysis.

A video's feature is the average over ``num_clips`` uniformly spaced, centre-cropped
clips (MMAction2's ``SampleFrames(test_mode=True)`` + ``CenterCrop``) of a per-clip
feature. Per-clip features come from

- a model with a ``features`` method returning a dict of tensors (a
  ``ConceptPretrainRecognizer``: ``v``, ``q_v``, ``F_v``, ...; ``DCLR``: ``v`` and, from
  derived views, ``z_vs`` / ``z_vd``), or
- any other model with a ``backbone`` (e.g. MMAction2's ``Recognizer3D`` built from a
  downstream config): ``{'v': global average pool of the backbone's last feature map}``,

optionally turned into fixed-size vectors by a ``clip_transform`` (e.g. the concept
analysis's top-10 % reduction of ``F``) *before* clips are averaged.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

ClipTransform = Callable[[Dict[str, Tensor]], Dict[str, Tensor]]


def feature_pipeline(clip_len: int = 16,
                     frame_interval: int = 1,
                     num_clips: int = 10,
                     resize: Optional[int] = 128,
                     crop_size: int = 112,
                     rawframes: bool = False) -> List[dict]:
    """MMAction2 pipeline: ``num_clips`` uniformly spaced clips, short side resized to
    ``resize`` (None: no resize), centre crop ``crop_size``; packs (num_clips, C, T, H, W).

    Decoding goes through ``CheckedDecordInit`` / ``CheckedDecordDecode``, whose errors name
    the video file; with ``rawframes``, ``RawFrameDecode`` reads the frames of a
    ``RawframeDataset`` (RGB or flow, as the dataset's modality says)."""
    for name, value in (('clip_len', clip_len), ('frame_interval', frame_interval),
                        ('num_clips', num_clips), ('crop_size', crop_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')
    sampling = dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
                    num_clips=num_clips, test_mode=True)
    if rawframes:
        pipeline = [sampling, dict(type='RawFrameDecode')]
    else:
        pipeline = [dict(type='CheckedDecordInit'), sampling,
                    dict(type='CheckedDecordDecode')]
    if resize is not None:
        pipeline.append(dict(type='Resize', scale=(-1, int(resize))))
    pipeline += [
        dict(type='CenterCrop', crop_size=crop_size),
        dict(type='FormatShape', input_format='NCTHW'),
        # the file name (frame folder) lets other label lists over the same videos be matched
        dict(type='PackActionInputs',
             meta_keys=('img_shape', 'frame_dir' if rawframes else 'filename')),
    ]
    return pipeline


def build_video_dataloader(ann_file: str,
                           data_prefix: str,
                           pipeline: Sequence[dict],
                           batch_size: int = 4,
                           num_workers: int = 0,
                           dataset_cfg: Optional[dict] = None):
    """A non-shuffling loader over an MMAction2 video list (``path label`` per line).

    ``dataset_cfg``: another dataset than ``VideoDataset`` over ``data_prefix``, e.g.
    ``dict(type='RawframeDataset', data_prefix=dict(img=...), modality='Flow')``."""
    import sdc_mmaction  # noqa: F401  (registration)
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from torch.utils.data import DataLoader

    from mmaction.registry import DATASETS

    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    if not osp.isdir(data_prefix):
        raise FileNotFoundError(f'video folder (data prefix) not found: {data_prefix}')
    init_default_scope('mmaction')
    cfg = dict(type='VideoDataset', data_prefix=dict(video=data_prefix))
    cfg.update(dataset_cfg or {})
    dataset = DATASETS.build(
        dict(cfg, ann_file=ann_file, pipeline=list(pipeline), test_mode=True))
    if len(dataset) == 0:
        raise ValueError(f'{ann_file} lists no videos')
    return DataLoader(dataset, batch_size=batch_size, shuffle=False,
                      num_workers=num_workers, collate_fn=pseudo_collate)


def build_model(config: str,
                checkpoint: Optional[str] = None,
                cfg_options: Optional[dict] = None,
                device: str = 'cpu') -> Tuple[torch.nn.Module, str]:
    """Build ``config``'s model in eval mode and load ``checkpoint`` into it.

    The checkpoint is loaded strictly into the whole model when it holds every weight of
    the model (e.g. an SDC pretraining checkpoint with the pretraining config), otherwise
    strictly into ``model.backbone`` from its ``backbone.`` keys (a converted backbone, or
    a checkpoint of another recognizer). ``checkpoint=None`` keeps the random
    initialisation (a baseline).

    Returns:
        (model, what): ``what`` is ``'model'``, ``'backbone'`` or ``'random'``.
    """
    import sdc_mmaction  # noqa: F401  (registration)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import MODELS

    from .config_options import merge_cfg_options

    cfg = Config.fromfile(config)
    if cfg_options:
        merge_cfg_options(cfg, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    what = 'random'
    if checkpoint is None:
        if hasattr(model, 'init_weights'):
            _init_weights_quietly(model)
    else:
        what = load_weights(model, checkpoint)
    return model.to(device).eval(), what


def _init_weights_quietly(model: torch.nn.Module) -> None:
    """``model.init_weights()`` without mmengine's per-parameter initialisation report,
    which is hundreds of log lines for a baseline nobody asked to inspect."""
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def load_weights(model: torch.nn.Module, checkpoint: str) -> str:
    """Load ``checkpoint`` strictly into ``model`` or, failing a full match, into
    ``model.backbone``; see :func:`build_model`. Errors name the file and keys."""
    from .checkpoint import (BACKBONE_PREFIX, CheckpointFormatError, get_state_dict,
                             load_checkpoint_file)

    state = get_state_dict(load_checkpoint_file(checkpoint), checkpoint)
    model_keys = set(model.state_dict())
    if model_keys <= set(state):
        unexpected = sorted(set(state) - model_keys)
        if unexpected:
            raise CheckpointFormatError(
                f'{checkpoint} holds every weight of the {type(model).__name__} and '
                f'{len(unexpected)} more ({unexpected[:5]}): is the config the one it '
                'was trained with?')
        _strict_load(model, state, checkpoint, type(model).__name__)
        return 'model'
    backbone_state = {k[len(BACKBONE_PREFIX):]: v for k, v in state.items()
                      if k.startswith(BACKBONE_PREFIX)}
    if not backbone_state:
        raise CheckpointFormatError(
            f'{checkpoint} matches neither the whole {type(model).__name__} nor a backbone '
            f'(no {BACKBONE_PREFIX!r} keys; first keys: {list(state)[:5]})')
    if not hasattr(model, 'backbone'):
        raise CheckpointFormatError(f'{checkpoint} holds only a backbone but the '
                                    f'{type(model).__name__} has no backbone')
    _strict_load(model.backbone, backbone_state, checkpoint, 'backbone')
    return 'backbone'


def _strict_load(module: torch.nn.Module, state: Dict[str, Tensor], filename: str,
                 what: str) -> None:
    target = module.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    wrong = [f'{k}: {tuple(state[k].shape)} vs {tuple(target[k].shape)}' for k in target
             if k in state and state[k].shape != target[k].shape]
    if missing or unexpected or wrong:
        raise ValueError(f'{filename} does not fit the {what} of the config: missing '
                         f'{missing[:5]}, unexpected {unexpected[:5]}, shapes {wrong[:5]}')
    module.load_state_dict(state, strict=True)


def _has_features(model: torch.nn.Module) -> bool:
    return callable(getattr(model, 'features', None))


def clip_features(model: torch.nn.Module, clips: Tensor,
                  derive_views: bool = False) -> Dict[str, Tensor]:
    """Per-clip features of normalised clips (M, C, T, H, W); see the module docstring.

    ``derive_views`` (models with ``features`` only): also the features that need the
    static frame and the frame difference derived from each clip (an SDC model's ``s``,
    ``q_s``, ``d``, ``q_d``, ...; DCLR's ``z_vs``, ``z_vd``)."""
    if _has_features(model):
        out = model.features(clips, derive_views=True) if derive_views else \
            model.features(clips)
        if not isinstance(out, dict):
            raise TypeError(f'{type(model).__name__}.features returned '
                            f'{type(out).__name__}, expected a dict of tensors')
        return out
    if derive_views:
        raise TypeError(f'a {type(model).__name__} has no static frame or frame difference '
                        'views to derive (derive_views needs a model with features())')
    if not hasattr(model, 'backbone'):
        raise TypeError(f'cannot extract features from a {type(model).__name__}: it has '
                        'neither features() nor a backbone')
    feature_map = model.backbone(clips)
    if isinstance(feature_map, (tuple, list)):
        feature_map = feature_map[-1]
    if feature_map.dim() < 3:
        raise ValueError(f'the backbone returned {tuple(feature_map.shape)}; expected a '
                         'feature map (M, C, ...)')
    # the same reduction as ConceptPretrainRecognizer's pooling (Eq. 2)
    return dict(v=feature_map.mean(dim=tuple(range(2, feature_map.dim()))))


def _normalised_clips(model: torch.nn.Module, data_batch: dict) -> Tuple[Tensor, int]:
    """Run the model's data preprocessor; return clips (N * num_clips, C, T, H, W) and
    num_clips."""
    data = model.data_preprocessor(data_batch, training=False)
    inputs = data['inputs']
    if inputs.dim() == 6:
        return inputs.flatten(0, 1), inputs.shape[1]
    if inputs.dim() == 5:
        return inputs, 1
    raise ValueError(f'the data preprocessor returned inputs of shape '
                     f'{tuple(inputs.shape)}; expected (N, num_clips, C, T, H, W)')


@torch.no_grad()
def extract_video_features(model: torch.nn.Module,
                           dataloader,
                           clip_transform: Optional[ClipTransform] = None,
                           names: Optional[Sequence[str]] = None,
                           progress: bool = True,
                           desc: str = 'features',
                           derive_views: bool = False
                           ) -> Tuple[Dict[str, Tensor], Tensor, List[str]]:
    """Average per-clip features over each video's clips, for every video of a loader.

    Args:
        model: see :func:`clip_features`; put in eval mode here.
        dataloader: yields pseudo-collated MMAction2 batches (``inputs`` list of
            (num_clips, C, T, H, W) uint8 tensors, ``data_samples`` with ``gt_label``).
        clip_transform (callable, optional): maps the dict of per-clip outputs to the
            dict of (M, D) tensors to keep. Defaults to keeping every 2-D output.
        names (Sequence[str], optional): keep only these outputs (after the transform);
            missing names raise a KeyError.
        progress (bool): show a tqdm progress bar. Defaults to True.
        desc (str): the progress bar's label.
        derive_views (bool): see :func:`clip_features`. Defaults to False.

    Returns:
        (features, labels, filenames): ``features[name]`` (num_videos, D) float32 on CPU,
        ``labels`` (num_videos,) int64, the videos' file names in loader order.
    """
    from tqdm import tqdm

    model.eval()
    chunks: Dict[str, List[Tensor]] = {}
    labels: List[int] = []
    filenames: List[str] = []
    for data_batch in tqdm(dataloader, desc=desc, disable=not progress, unit='batch'):
        clips, num_clips = _normalised_clips(model, data_batch)
        out = clip_features(model, clips, derive_views=derive_views)
        if clip_transform is not None:
            out = clip_transform(out)
        else:
            out = {k: v for k, v in out.items() if v.dim() == 2}
        if names is not None:
            missing = [n for n in names if n not in out]
            if missing:
                raise KeyError(f'the model gives no {missing}; it gives {sorted(out)}')
            out = {n: out[n] for n in names}
        for name, value in out.items():
            if value.dim() != 2 or value.shape[0] != clips.shape[0]:
                raise ValueError(f'feature {name!r} has shape {tuple(value.shape)}; '
                                 f'expected ({clips.shape[0]}, D), one row per clip')
            video = value.float().reshape(-1, num_clips, value.shape[1]).mean(dim=1)
            chunks.setdefault(name, []).append(video.cpu())
        for sample in data_batch['data_samples']:
            label = torch.as_tensor(sample.gt_label).reshape(-1)
            if label.numel() != 1:
                raise ValueError(f'{sample.metainfo.get("filename")}: expected one label, '
                                 f'got {label.tolist()}')
            labels.append(int(label.item()))
            filenames.append(sample.metainfo.get('filename', ''))
    if not labels:
        raise ValueError('the data loader yielded no videos')
    features = {name: torch.cat(parts) for name, parts in chunks.items()}
    return features, torch.tensor(labels, dtype=torch.long), filenames


__all__ = [
    'feature_pipeline', 'build_video_dataloader', 'build_model', 'load_weights',
    'clip_features', 'extract_video_features'
]
