"""Features of the baselines' own views for the method comparison
(:mod:`sdc_mmaction.apis.compare_methods`).

The comparison's shared extractor feeds every model the same RGB clips. A CoCon model
has one encoder per view, so its per-view features need the view's input:

- the RGB encoder takes the clip (``v``);
- the frame-difference encoder takes the differences of the clip's adjacent frames,
  derived from the clip (``d``, :class:`ViewEncoderFeatures`);
- the optical-flow encoder takes flow, which cannot be derived from a normalised clip:
  it is read from the rawframes that :func:`prepare_optical_flow` writes once per
  dataset (``flow``, :func:`extract_flow_features`), from clips sampled as the RGB clips
  are.
"""
import os.path as osp
from collections import OrderedDict
from typing import Mapping, Optional, Sequence

import torch

from .quickstart import PRETRAIN_CONFIG, VARIANT_LABELS, extract_all, extraction_clips

#: where :func:`prepare_optical_flow` writes a generated dataset's rawframes and lists
RAWFRAMES = 'rawframes'
#: flow of the comparison's CoCon: Farneback (TV-L1 is about 300x slower on a CPU)
FLOW_METHOD = 'farneback'
FLOW_TEMPLATE = 'flow_{}_{:05d}.jpg'


def _list_stem(variant: str) -> str:
    """The annotation stem whose list of a variant the extractor reads (e.g. ``action``)."""
    return next(iter(VARIANT_LABELS[variant].values()))


class ViewEncoderFeatures(torch.nn.Module):
    """The clip features of a :class:`~sdc_mmaction.models.CoCon` model's per-view
    encoders, for the shared extractor, which feeds RGB clips.

    ``v``: the global average pool of the RGB encoder's backbone over a clip (what
    ``tools/convert_pretrained.py --view rgb`` exports and fine-tuning uses). With
    ``derive_views``, ``d``: the same of the frame-difference encoder over the clip's
    T - 1 differences of adjacent frames, normalised as CoCon's data preprocessor
    normalises its ``diff`` view.

    Args:
        cocon: a CoCon model with an ``rgb`` view and optionally a ``diff`` view.
    """

    def __init__(self, cocon: torch.nn.Module):
        super().__init__()
        from mmaction.models import ActionDataPreprocessor

        if 'rgb' not in cocon.encoders:
            raise KeyError(f'ViewEncoderFeatures: the CoCon model has the views '
                           f'{list(cocon.encoders)}, no rgb')
        preprocessor = cocon.data_preprocessor
        self.data_preprocessor = ActionDataPreprocessor(
            mean=preprocessor.mean_rgb.tolist(), std=preprocessor.std_rgb.tolist(),
            format_shape='NCTHW')
        self.backbones = torch.nn.ModuleDict(
            {view: cocon.encoders[view]['backbone'] for view in cocon.encoders})
        if 'diff' in self.backbones:
            if preprocessor.mean_diff.abs().sum() != 0:
                raise ValueError('ViewEncoderFeatures: the diff view must not subtract a '
                                 f'mean, got {preprocessor.mean_diff.tolist()}')
            # (x[t+1] - x[t]) / std_diff from clips normalised with the RGB statistics
            self.register_buffer('diff_scale',
                                 (preprocessor.std_rgb / preprocessor.std_diff).view(
                                     1, -1, 1, 1, 1), persistent=False)

    def _pooled(self, view: str, clips: torch.Tensor) -> torch.Tensor:
        return self.backbones[view](clips).mean(dim=(2, 3, 4))

    def features(self, clips: torch.Tensor, derive_views: bool = False) -> dict:
        """(M, C, T, H, W) normalised RGB clips -> ``dict(v=(M, D)[, d=(M, D)])``."""
        out = dict(v=self._pooled('rgb', clips))
        if derive_views:
            if 'diff' not in self.backbones:
                raise KeyError('ViewEncoderFeatures: the CoCon model has no diff view to '
                               f'derive from a clip (views {list(self.backbones)})')
            diff = (clips[:, :, 1:] - clips[:, :, :-1]) * self.diff_scale
            out['d'] = self._pooled('diff', diff)
        return out


class _PooledView(torch.nn.Module):
    """One view's encoder for the extractor: its normalisation and backbone (``v`` is
    the backbone's global average pool)."""

    def __init__(self, cocon: torch.nn.Module, view: str):
        super().__init__()
        from mmaction.models import ActionDataPreprocessor

        preprocessor = cocon.data_preprocessor
        self.data_preprocessor = ActionDataPreprocessor(
            mean=getattr(preprocessor, f'mean_{view}').tolist(),
            std=getattr(preprocessor, f'std_{view}').tolist(), format_shape='NCTHW')
        self.backbone = cocon.encoders[view]['backbone']


def prepare_optical_flow(data_root: str, workers: int = 1) -> dict:
    """Optical flow (:data:`FLOW_METHOD`) of every video the comparison extracts from
    (the train and val lists of each variant), into ``<data_root>/rawframes`` with
    MMAction2's rawframe lists (``<split>_<stem>_rgb.txt`` / ``_flow.txt``). Finished
    videos are skipped, so a second call costs only the check.

    Returns:
        dict: list name -> ``tools/extract_flow.py``'s counts for it.
    """
    from .optical_flow import extract_flow_dataset

    out = OrderedDict()
    for variant in VARIANT_LABELS:
        for split in ('train', 'val'):
            name = f'{split}_{_list_stem(variant)}'
            result = extract_flow_dataset(
                osp.join(data_root, 'videos'), osp.join(data_root, RAWFRAMES),
                list_file=osp.join(data_root, 'annotations', f'{name}.txt'),
                method=FLOW_METHOD, workers=workers, progress=False)
            if result['failed']:
                raise RuntimeError(f'optical flow failed for {result["failed"]} videos of '
                                   f'{name}: {result["failures"][:3]}')
            out[name] = {k: result[k] for k in ('done', 'skipped', 'seconds')}
    return out


def _flow_loader(data_root: str, list_name: str, clips: Mapping, num_clips: int):
    from .feature_extraction import build_video_dataloader, feature_pipeline

    rawframes = osp.join(data_root, RAWFRAMES)
    ann_file = osp.join(rawframes, f'{list_name}_flow.txt')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file} is missing: prepare_optical_flow('
                                f'{data_root!r}) writes it')
    return build_video_dataloader(
        ann_file, rawframes, feature_pipeline(**clips, num_clips=num_clips, rawframes=True),
        batch_size=8,
        dataset_cfg=dict(type='RawframeDataset', data_prefix=dict(img=rawframes),
                         modality='Flow', filename_tmpl=FLOW_TEMPLATE))


def _listed_videos(ann_file: str) -> list:
    with open(ann_file) as handle:
        return [osp.splitext(line.split()[0])[0] for line in handle if line.strip()]


def extract_flow_features(cocon: torch.nn.Module, data_root: str, meta: Mapping,
                          num_clips: int, desc: str) -> dict:
    """The flow encoder's ``v`` of every video, per ``(variant, split)``, in the order of
    the annotation lists the shared extractor reads: (num_videos, D) each. Clips are
    sampled as the shared extractor samples the RGB clips (the quick start's)."""
    from .feature_extraction import extract_video_features

    model = _PooledView(cocon, 'flow').eval()
    clips = extraction_clips(PRETRAIN_CONFIG, meta)
    out = {}
    for variant in VARIANT_LABELS:
        for split in ('train', 'val'):
            name = f'{split}_{_list_stem(variant)}'
            loader = _flow_loader(data_root, name, clips, num_clips)
            feats, _, _ = extract_video_features(model, loader, names=('v', ),
                                                 desc=f'{desc} flow {variant}/{split}')
            listed = _listed_videos(osp.join(data_root, 'annotations', f'{name}.txt'))
            dataset = loader.dataset
            frame_dirs = [osp.relpath(dataset.get_data_info(i)['frame_dir'],
                                      osp.join(data_root, RAWFRAMES))
                          for i in range(len(dataset))]
            if frame_dirs != listed:
                raise ValueError(f'the flow list of {name} does not hold the videos of '
                                 f'its annotation list in order; rerun '
                                 f'prepare_optical_flow({data_root!r})')
            out[(variant, split)] = feats['v']
    return out


def _extract_on_quickstart_clips(model: torch.nn.Module, data_root: str, meta: Mapping,
                                 num_clips: int, features: Sequence[str], desc: str,
                                 derive_views: bool) -> dict:
    extracted = extract_all(None, data_root, meta, num_clips, desc, PRETRAIN_CONFIG,
                            features=features, derive_views=derive_views, model=model)
    extracted.pop('model')
    return extracted


def extract_on_quickstart_clips(checkpoint: Optional[str], config: str, data_root: str,
                                meta: Mapping, num_clips: int, features: Sequence[str],
                                seed: int, desc: str) -> dict:
    """The shared extractor on ``config``'s model (``checkpoint`` loaded, or random
    weights drawn with ``seed``) fed the SDC quick start's clips, with the static frame
    and the frame difference derived from each clip: for a model whose own config samples
    clips otherwise (DCLR: two clips per video) and whose decoupled features need those
    views (DCLR's ``z_vs``, ``z_vd``). Returns ``(variant, split) -> (features,
    labels)``."""
    from .feature_extraction import build_model

    torch.manual_seed(seed)
    model, _ = build_model(config, checkpoint)
    return _extract_on_quickstart_clips(model, data_root, meta, num_clips, features, desc,
                                        derive_views=len(features) > 1)


def extract_view_encoders(checkpoint: Optional[str], config: str, data_root: str,
                          meta: Mapping, num_clips: int, features: Sequence[str], seed: int,
                          desc: str) -> dict:
    """The shared extractor on the per-view encoders of a CoCon model: ``v`` and ``d``
    from the clips of the SDC quick start (:class:`ViewEncoderFeatures`), ``flow`` from
    the flow of the same clips (:func:`extract_flow_features`). Returns ``(variant,
    split) -> (features, labels)``."""
    from .feature_extraction import build_model

    unknown = [f for f in features if f not in ('v', 'd', 'flow')]
    if unknown:
        raise KeyError(f'a CoCon model gives v, d (frame difference view) and flow, not '
                       f'{unknown}')
    torch.manual_seed(seed)
    cocon, _ = build_model(config, checkpoint)
    extracted = _extract_on_quickstart_clips(
        ViewEncoderFeatures(cocon).eval(), data_root, meta, num_clips,
        [f for f in features if f != 'flow'], desc, derive_views='d' in features)
    if 'flow' in features:
        flows = extract_flow_features(cocon, data_root, meta, num_clips, desc)
        for key, flow in flows.items():
            extracted[key][0]['flow'] = flow
    return extracted


__all__ = ['ViewEncoderFeatures', 'prepare_optical_flow', 'extract_flow_features',
           'extract_on_quickstart_clips', 'extract_view_encoders']
