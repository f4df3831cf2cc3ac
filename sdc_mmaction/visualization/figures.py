"""The quick start's pictures: the paper's Fig. 1/5 (concept attention over frames), Fig. 4
(per-class similarity of static and of dynamic codes) and the loss curves of each term."""
import glob
import json
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F


#: the fewest locations per frame (H' x W' of the last feature map) for which an attention
#: map is drawn: over 2 x 2 locations the upsampled map is one blurred gradient that shows
#: nothing about where a concept looks
MIN_ATTENTION_LOCATIONS = 9


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')  # files only: works without a display
    import matplotlib.pyplot as plt
    return plt


@torch.no_grad()
def attention_maps(model, clips: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Attention of the clip's most active static and dynamic concept, per frame.

    Args:
        model: a ``ConceptPretrainRecognizer`` in eval mode.
        clips (Tensor): normalised clips (N, C, T, H, W).

    Returns:
        dict: ``static``/``dynamic`` maps (N, T, H, W) upsampled to the input and scaled
        to [0, 1] per clip, and the chosen concept indices ``static_index``/
        ``dynamic_index`` (N,) (dynamic indices count from 0 within the dynamic concepts),
        and ``feature_map_size``, ``(T', H', W')`` of the attention before upsampling.
    """
    out = model.features(clips)
    num_static = model.num_static_concepts
    attn = out['attn_v']  # (N, Ks + Kd, T', H', W')
    n, (t, h, w) = clips.shape[0], clips.shape[2:]
    static_index = out['q_v_s'].argmax(dim=1)
    dynamic_index = out['q_v_d'].argmax(dim=1)
    rows = torch.arange(n)
    result = {}
    for name, index in (('static', static_index), ('dynamic', dynamic_index + num_static)):
        chosen = attn[rows, index].unsqueeze(1)  # (N, 1, T', H', W')
        up = F.interpolate(chosen.float(), size=(t, h, w), mode='trilinear',
                           align_corners=False)[:, 0]
        flat = up.flatten(1)
        low, high = flat.min(dim=1)[0], flat.max(dim=1)[0]
        scaled = (flat - low[:, None]) / (high - low).clamp_min(1e-12)[:, None]
        result[name] = scaled.reshape(n, t, h, w)
    result['feature_map_size'] = tuple(attn.shape[2:])
    result['static_index'] = static_index
    result['dynamic_index'] = dynamic_index
    return result


def attention_figure(frames: np.ndarray, maps: Mapping[str, torch.Tensor],
                     titles: Sequence[str], out_file: str, num_frames: int = 4) -> str:
    """Rows: videos; columns: frames, each with its static and dynamic concept overlay.

    Args:
        frames (ndarray): (N, T, H, W, 3) uint8 RGB frames of the clips.
        maps: the output of :func:`attention_maps`.
        titles: one label per video (e.g. its class).
    """
    plt = _pyplot()
    n, t = frames.shape[:2]
    steps = np.linspace(0, t - 1, num_frames).round().astype(int)
    fig, axes = plt.subplots(n, 3 * num_frames, figsize=(1.3 * 3 * num_frames, 1.5 * n),
                             squeeze=False)
    for row in range(n):
        for col, step in enumerate(steps):
            for kind_col, kind in enumerate((None, 'static', 'dynamic')):
                ax = axes[row, 3 * col + kind_col]
                ax.imshow(frames[row, step])
                if kind is not None:
                    ax.imshow(maps[kind][row, step].numpy(), cmap='jet', alpha=0.5,
                              vmin=0, vmax=1)
                    index = int(maps[f'{kind}_index'][row])
                    ax.set_title(f'{kind} #{index}' if row == 0 or col == 0 else '',
                                 fontsize=6)
                elif col == 0:
                    ax.set_title(titles[row], fontsize=6)
                ax.axis('off')
    fig.suptitle('Most active static and dynamic concept of each clip (attention maps)',
                 fontsize=8)
    fig.tight_layout()
    return _save(fig, out_file)


def code_similarity_figure(codes_static: torch.Tensor, codes_dynamic: torch.Tensor,
                           labels: torch.Tensor, class_names: Sequence[str],
                           out_file: str) -> str:
    """Cosine similarity between classes of their mean static and mean dynamic codes.

    Args:
        codes_static (Tensor): (N, Ks) ``q_v^s`` of N videos. codes_dynamic: (N, Kd).
        labels (Tensor): (N,) class of each video, indexing ``class_names``.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, codes, name in ((axes[0], codes_static, 'static codes $q_v^s$'),
                            (axes[1], codes_dynamic, 'dynamic codes $q_v^d$')):
        sim = class_code_similarity(codes, labels, len(class_names))
        image = ax.imshow(sim.numpy(), vmin=-1, vmax=1, cmap='coolwarm')
        ax.set_xticks(range(len(class_names)))
        ax.set_yticks(range(len(class_names)))
        ax.set_xticklabels(class_names, rotation=90, fontsize=6)
        ax.set_yticklabels(class_names, fontsize=6)
        ax.set_title(f'per-class similarity of {name}', fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _save(fig, out_file)


def class_code_similarity(codes: torch.Tensor, labels: torch.Tensor,
                          num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) cosine similarity of the per-class mean codes.

    Codes are centred on their overall mean first, so the similarity shows how classes
    differ rather than the offset every code shares. A class with no video gives NaN
    rows, which the figure shows as blank rather than as a made-up value.
    """
    centred = codes.float() - codes.float().mean(dim=0, keepdim=True)
    means = torch.full((num_classes, codes.shape[1]), float('nan'))
    for cls in range(num_classes):
        member = labels == cls
        if member.any():
            means[cls] = centred[member].mean(dim=0)
    return F.cosine_similarity(means[:, None], means[None], dim=-1)


def read_scalars(work_dir: str) -> List[dict]:
    """The training log records of the newest run in ``work_dir`` (mmengine's
    ``<timestamp>/vis_data/scalars.json``), in order."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}')
    records = []
    for path in files:  # a resumed run continues in a new timestamped folder
        with open(path) as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return [r for r in records if 'loss' in r]


def loss_curve_figure(work_dir: str, out_file: str) -> str:
    """Each loss term over the training iterations, with the static and dynamic halves of
    ``loss_aln`` (logged as ``aln_static`` / ``aln_dynamic``) on their own panels."""
    plt = _pyplot()
    records = read_scalars(work_dir)
    terms = sorted({k for r in records for k in r if k.startswith(('loss', 'aln_'))})
    fig, axes = plt.subplots(1, len(terms), figsize=(3 * len(terms), 2.6), squeeze=False)
    for ax, term in zip(axes[0], terms):
        points = [(r['step'], r[term]) for r in records if term in r]
        ax.plot([p[0] for p in points], [p[1] for p in points], lw=1)
        ax.set_title(term, fontsize=9)
        ax.set_xlabel('iteration', fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _save(fig, out_file)


def _save(fig, out_file: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=110)
    _pyplot().close(fig)
    return out_file


def quickstart_figures(out_dir: str, extracted: Mapping, meta: Mapping, data_root: str,
                       pretrain_dir: str, num_videos: int = 4,
                       clips: Optional[Mapping] = None) -> Dict[str, str]:
    """All quick-start pictures; returns name -> file. ``clips`` is
    ``dict(clip_len, frame_interval, resize, crop_size)`` of the clips shown (default: as
    the quick start's pretraining config sees ``meta``'s videos). The attention picture is
    left out (and a line says why) where the feature map has fewer than
    :data:`MIN_ATTENTION_LOCATIONS` locations per frame."""
    from sdc_mmaction.apis.feature_extraction import (build_video_dataloader,
                                                      feature_pipeline)
    from sdc_mmaction.apis.quickstart import PRETRAIN_CONFIG, extraction_clips

    model = extracted['model']
    files = {}
    # Fig. 1 / 5: a few val videos of different motions
    pipeline = feature_pipeline(**(clips or extraction_clips(PRETRAIN_CONFIG, meta)),
                                num_clips=1)
    loader = build_video_dataloader(
        osp.join(data_root, 'annotations', 'val_action.txt'), osp.join(data_root, 'videos'),
        pipeline, batch_size=64)
    batch = next(iter(loader))
    labels = [int(s.gt_label) for s in batch['data_samples']]
    picked, seen = [], set()
    for index, label in enumerate(labels):
        if label not in seen:
            picked.append(index)
            seen.add(label)
    step = max(1, len(picked) // num_videos)
    picked = picked[::step][:num_videos]
    small = dict(inputs=[batch['inputs'][i] for i in picked],
                 data_samples=[batch['data_samples'][i] for i in picked])
    data = model.data_preprocessor(small, training=False)
    clips = data['inputs'].flatten(0, 1)
    maps = attention_maps(model, clips)
    frames = torch.stack(small['inputs'])[:, 0].permute(0, 2, 3, 4, 1).numpy()
    names = meta['action_classes']
    _, height, width = maps['feature_map_size']
    if height * width >= MIN_ATTENTION_LOCATIONS:
        files['attention'] = attention_figure(frames.astype(np.uint8), maps,
                                              [names[labels[i]] for i in picked],
                                              osp.join(out_dir, 'concept_attention.png'))
    else:
        print(f'[quickstart] concept attention not drawn: the feature map has {height} x '
              f'{width} locations per frame, fewer than {MIN_ATTENTION_LOCATIONS}, so a map '
              'could not show where a concept looks', flush=True)
    # Fig. 4: on the val videos of the scenes variant
    feats, label_sets = extracted[('scenes', 'val')]
    files['code_similarity'] = code_similarity_figure(
        feats['q_v_s'], feats['q_v_d'], label_sets['action'], names,
        osp.join(out_dir, 'code_similarity.png'))
    files['loss_curves'] = loss_curve_figure(pretrain_dir,
                                             osp.join(out_dir, 'loss_curves.png'))
    return files
