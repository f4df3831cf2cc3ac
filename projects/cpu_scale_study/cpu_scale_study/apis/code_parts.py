"""Which part of the clip's dynamic codes a linear probe reads each factor from.

A quick start's report probes ``q_v^d`` as a whole. Eq. 4 trains only what its softmax
sees of those codes, so a scene that a probe finds there may sit in the norm that Eq. 3
divides by, in the dot products with the dynamic prototypes, or in the shift shared by
one clip's codes (see ``cosine_code_parts``). :func:`probe_dynamic_code_parts` probes
each part of a finished quick start's model on the scene and the motion label
(see the study's README).
"""
import os.path as osp
from collections import OrderedDict
from typing import Optional

import torch

from .code_diagnostics import cosine_code_parts

#: the probed parts, in the order of the report
PARTS = ('norm', 'dots', 'codes', 'shift', 'centred')


def probe_dynamic_code_parts(work_dir: str, data_root: Optional[str] = None) -> OrderedDict:
    """Linear probes of every part of ``q_v^d`` of a finished quick start.

    Features come from one clip per video (sampled as the quick start samples them), so
    that ``sigma(v)`` of that clip gives back exactly the codes that the model computed;
    the report's own probes average three clips, so its ``q_v^d`` numbers differ a little.

    Args:
        work_dir: a quick start's work dir (``results.json`` names its checkpoint and
            config, and the config mmengine dumped in ``pretrain/`` builds the model).
        data_root: its generated dataset. Defaults to ``work_dir/data``.

    Returns:
        ``OrderedDict(part -> dict(static=top1, dynamic=top1))`` over :data:`PARTS`,
        validation accuracies in [0, 1] on the scene (``static``) and motion label.
    """
    from sdc_mmaction.apis.concept_analysis import linear_probe
    from sdc_mmaction.apis.quickstart import extract_all, trained_config

    from .quickstart_diagnostics import load_quickstart_run

    report, data_root, meta = load_quickstart_run(work_dir, data_root)
    config = trained_config(osp.join(work_dir, 'pretrain'), report['config'])
    # only the scenes videos carry both labels; the motion-only ones are not probed here
    extracted = extract_all(report['checkpoint'], data_root, meta, 1, 'SDC code parts',
                            config, variants=('scenes', ))
    # the recognizer that computes q_v^d (a two-tower model's dynamic tower) reads the
    # last in_channels of v; the gap check below catches any other layout
    model = extracted['model']
    head = getattr(model, 'dynamic_half_model', model).align_head.eval()
    num_static = head.num_concepts['static']
    parts = {}
    for split in ('train', 'val'):
        feats, labels = extracted[('scenes', split)]
        with torch.no_grad():
            projected = head.projections['clip'](feats['v'][:, -head.in_channels:])
        split_parts = cosine_code_parts(projected, head.clip_prototypes[num_static:])
        gap = (split_parts['codes'] - feats['q_v_d'].double()).abs().max().item()
        if gap > 1e-4:
            raise RuntimeError(f'the codes recomputed from v differ from the model\'s q_v_d by '
                               f'{gap:.2e} ({split} videos of {data_root})')
        parts[split] = (split_parts, labels)
    (train_parts, train_labels), (val_parts, val_labels) = parts['train'], parts['val']
    return OrderedDict(
        (part, {name: linear_probe(train_parts[part], train_labels[name],
                                   val_parts[part], val_labels[name])['top1']
                for name in ('static', 'dynamic')})
        for part in PARTS)


def format_code_parts(probes: OrderedDict) -> str:
    """A markdown table of :func:`probe_dynamic_code_parts`'s result (percent)."""
    lines = ['| part of q_v^d | scene | motion |', '|---|---|---|']
    lines += [f'| {part} | {100 * row["static"]:.1f} | {100 * row["dynamic"]:.1f} |'
              for part, row in probes.items()]
    return '\n'.join(lines)
