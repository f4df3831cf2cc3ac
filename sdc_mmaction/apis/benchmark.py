"""Cost of SDC pre-training next to a stock supervised step, measured in one run.

A DCLR config is measured the same way (its ``DCLR`` model with six synthetic views per
sample in place of SDC's three, and its own train dataloader for the data part); the heads'
share (c) and the targets are SDC's and are left out for it.

What :func:`run_benchmark` measures, on one machine and in one call:

(a) **data pipeline** clips/s: the pipeline benchmark
    (``tools/benchmark_pipeline.py``, stock vs SDC pipeline) when it is importable,
    otherwise the config's train dataloader iterated for a few batches (SDC only).
(b) **training step** time and peak memory of SDC pre-training (the config's
    ``ConceptPretrainRecognizer``) and of a stock MMAction2 ``Recognizer3D`` with the same
    backbone, clip shape, batch and optimizer, whose head is an ``I3DHead`` (average pool,
    dropout, linear) trained with cross-entropy. A step is what
    ``BaseModel.train_step`` does after the data preprocessor: forward in ``mode='loss'``
    inside the optim wrapper's context (autocast with ``--amp``), ``parse_losses``,
    ``optim_wrapper.update_params`` (backward, optimizer step, zero grad). Inputs are
    synthetic tensors already on the device, with the config's clip shape: SDC gets
    ``(N, 3, C, T, H, W)`` (clip, static, diff), the stock model ``(N, 1, C, T, H, W)``, so
    the data loader cannot dominate. Time is the median over ``iters`` steps after
    ``warmup`` steps (CUDA is synchronised around every step).
(c) **share of the SDC step spent outside the backbone passes** ("heads"), two ways:
    - by subtraction: the backbone passes alone (``extract_feat`` on the same views, stacked
      or not as configured, a trivial loss on the pooled features, backward and the same
      optimizer step, which then only updates the backbone) are timed like a step;
      ``heads = step - backbone``. This counts the heads' forward and backward, Sinkhorn,
      the losses and the heads' parameter update;
    - directly: ``ConceptPretrainRecognizer.loss`` is run with its ``extract_feat``
      replaced by detached, precomputed feature maps (pooling them as Eq. 2 does), so the
      same head code runs and backpropagates to those maps but not into the backbone.
      This one decides the "heads <= 10 %" target; the subtraction, a difference of two
      noisy medians each about ten times the heads' cost, is a cross-check.

Peak memory, per model, measured in a fresh process for each model (``isolate=True``):
    - CUDA: ``torch.cuda.max_memory_allocated`` during warm-up and timed steps, reported
      absolute and above the allocation before the first step (model, optimizer, inputs).
    - CPU: the resident set size high-water mark (``VmHWM`` of ``/proc/self/status``),
      reset right before the first step by writing ``5`` to ``/proc/self/clear_refs``,
      minus the resident size at that moment (``VmRSS``). It counts activations,
      gradients, optimizer state created in the first step and allocator overhead, i.e.
      what training adds to the process. Without ``/proc`` (not Linux) the peak comes from
      ``resource.getrusage`` and cannot be reset, so it may include earlier peaks.
"""
import copy
import json
import math
import os
import os.path as osp
import platform
import statistics
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: the acceptance targets this benchmark reports against
TARGET_TIME_RATIO = 3.3
TARGET_HEADS_SHARE = 0.10

VIEW_NAMES = ('clip', 'static', 'diff')
#: the pre-training models this benchmark knows: model type -> (kind, view names)
PRETRAIN_MODELS = {
    'ConceptPretrainRecognizer': ('sdc', VIEW_NAMES),
    'DCLR': ('dclr', ('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')),
}
KIND_VIEWS = dict(PRETRAIN_MODELS.values())


# ----------------------------------------------------------------------------- machine
def resolve_device(device: str = 'auto') -> str:
    import torch
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device not in ('cpu', 'cuda'):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('device=cuda but torch.cuda.is_available() is False')
    return device


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def load_average() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def environment_info(device: str) -> Dict[str, Any]:
    """What the numbers depend on: versions, cores, threads, load."""
    import mmaction
    import mmengine
    import torch
    info = dict(
        device=device, torch=torch.__version__, mmengine=mmengine.__version__,
        mmaction=mmaction.__version__, python=platform.python_version(),
        cpu=_cpu_model(), nproc=len(os.sched_getaffinity(0))
        if hasattr(os, 'sched_getaffinity') else os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch_interop_threads=torch.get_num_interop_threads(),
        omp_num_threads=os.environ.get('OMP_NUM_THREADS'),
        # glibc allocator settings change CPU step times a lot (see docs/benchmark.md)
        malloc_env={k: v for k, v in os.environ.items() if k.startswith('MALLOC_')},
        ld_preload=os.environ.get('LD_PRELOAD'),
        load_average_1_5_15=load_average())
    if device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name()
        info['cuda'] = torch.version.cuda
        info['cudnn'] = torch.backends.cudnn.version()
    return info


# ----------------------------------------------------------------------------- memory
def _proc_status_kib(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class _PeakMemory:
    """Peak memory of the steps run between :meth:`start` and :meth:`stop` (see module
    docstring for what is measured on each device)."""

    def __init__(self, device: str):
        self.device = device
        self.method = None
        self.baseline = 0

    def start(self) -> None:
        import torch
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.baseline = torch.cuda.memory_allocated()
            self.method = 'torch.cuda.max_memory_allocated'
            return
        rss = _proc_status_kib('VmRSS')
        reset = False
        if rss is not None:
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')  # resets VmHWM to the current RSS (Linux >= 4.0)
                reset = True
            except OSError:
                pass
        if reset:
            self.baseline = rss * 1024
            self.method = 'RSS high-water mark (/proc VmHWM, reset before the first step)'
        else:
            self.baseline = (rss or 0) * 1024
            self.method = ('resource.getrusage ru_maxrss (not resettable: may include '
                           'earlier peaks)')

    def stop(self) -> Dict[str, Any]:
        import torch
        mib = 1024.0**2
        if self.device == 'cuda':
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            hwm = _proc_status_kib('VmHWM')
            if hwm is None or 'getrusage' in self.method:
                import resource
                hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
            peak = hwm * 1024
        return dict(peak_mib=round(peak / mib, 1),
                    peak_above_start_mib=round((peak - self.baseline) / mib, 1),
                    start_mib=round(self.baseline / mib, 1), memory_method=self.method)


# ----------------------------------------------------------------------------- configs
def clip_shape_from_config(cfg) -> Tuple[int, int, int]:
    """(T, H, W) of a training clip: the config's ``clip_len`` / ``img_size`` variables,
    or else its train pipeline (``StaticFrame``/``SampleFrames`` clip length; the last
    fixed ``Resize`` scale or crop size)."""
    clip_len, size = cfg.get('clip_len', None), cfg.get('img_size', None)
    pipeline = []
    try:
        pipeline = list(cfg.train_dataloader.dataset.pipeline)
    except AttributeError:
        pass
    if clip_len is None:
        for t in pipeline:
            if t.get('type') == 'StaticFrame' and 'clip_len' in t:
                clip_len = t['clip_len']
        if clip_len is None:
            for t in pipeline:
                if str(t.get('type', '')).endswith('SampleFrames') and 'clip_len' in t:
                    has_diff = any(u.get('type') == 'FrameDifference' for u in pipeline)
                    # difference views decode T + 1 frames for T differences
                    clip_len = t['clip_len'] - (1 if has_diff else 0)
    if size is None:
        for t in pipeline:
            scale = t.get('scale') if t.get('type') == 'Resize' else None
            if scale is not None and not t.get('keep_ratio', True) \
                    and isinstance(scale, (tuple, list)) and min(scale) > 0:
                size = (scale[1], scale[0])  # mmaction's scale is (w, h)
            crop = t.get('crop_size', t.get('size')) if 'Crop' in str(t.get('type')) else None
            if isinstance(crop, int):
                size = crop
            elif isinstance(crop, (tuple, list)) and len(crop) == 2:
                size = (crop[1], crop[0])
    if clip_len is None or size is None:
        raise ValueError('cannot tell the clip shape from the config (no clip_len/img_size '
                         'variables and no StaticFrame/SampleFrames clip_len and fixed '
                         'Resize/crop size in train_dataloader.dataset.pipeline); pass '
                         '--clip-shape T H W')
    height, width = (size, size) if isinstance(size, int) else size
    return int(clip_len), int(height), int(width)


def pretrain_kind(model_cfg: dict) -> str:
    """'sdc' or 'dclr': which pre-training model a config's ``model`` builds."""
    model_type = str(model_cfg.get('type', '')).split('.')[-1]
    if model_type not in PRETRAIN_MODELS:
        raise ValueError(f'benchmark: the config\'s model.type is {model_cfg.get("type")!r}; '
                         f'expected a pre-training model, one of {sorted(PRETRAIN_MODELS)}')
    return PRETRAIN_MODELS[model_type][0]


def sdc_model_cfg(cfg, stack_views: Optional[bool] = None) -> dict:
    """The config's pre-training model (SDC's or DCLR's), SyncBN replaced by BN."""
    model = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict')
                          else dict(cfg.model))
    if pretrain_kind(model) == 'sdc' and stack_views is not None:
        model['stack_views'] = bool(stack_views)
    # One process, no process group: SyncBN would compute exactly BN3d's statistics, and
    # SyncBN layers cannot run on CPU modules at all.
    from sdc_mmaction.compat import _replace_sync_bn
    return _replace_sync_bn(model)


def feature_channels(model_cfg: dict) -> int:
    for key in ('align_head', 'local_head', 'head'):
        head = model_cfg.get(key) or {}
        if isinstance(head.get('in_channels'), int):
            return head['in_channels']
    raise ValueError('benchmark: cannot tell the backbone\'s output channels: '
                     'model.align_head.in_channels is not set')


def stock_model_cfg(sdc_model: dict, num_classes: int = 400) -> dict:
    """A supervised ``Recognizer3D`` with the SDC config's backbone (as MMAction2's
    R(2+1)D recipes build it): I3DHead (average pool, dropout 0.5, linear), cross-entropy."""
    preprocessor = dict(type='ActionDataPreprocessor', format_shape='NCTHW',
                        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
    return dict(
        type='Recognizer3D',
        backbone=copy.deepcopy(sdc_model['backbone']),
        cls_head=dict(type='I3DHead', num_classes=num_classes,
                      in_channels=feature_channels(sdc_model), spatial_type='avg',
                      dropout_ratio=0.5, init_std=0.01, average_clips='prob',
                      loss_cls=dict(type='CrossEntropyLoss')),
        data_preprocessor=preprocessor)


# ----------------------------------------------------------------------------- one model
def _synthetic_batch(kind: str, batch_size: int, clip_shape, num_classes: int, device: str,
                     seed: int, channels_last: bool):
    import torch
    from mmaction.structures import ActionDataSample
    gen = torch.Generator().manual_seed(seed)
    t, h, w = clip_shape
    views = len(KIND_VIEWS[kind]) if kind != 'stock' else 1
    shape = (batch_size, views, 3, t, h, w)
    if channels_last:
        # channels innermost, so that every view slice (N, C, T, H, W) has
        # channels_last_3d strides and the first convolution needs no conversion
        inputs = torch.randn(batch_size, views, t, h, w, 3, generator=gen)
        inputs = inputs.to(device).permute(0, 1, 5, 2, 3, 4)
    else:
        inputs = torch.randn(*shape, generator=gen).to(device)
    samples = []
    for i in range(batch_size):
        sample = ActionDataSample()
        if kind == 'stock':
            sample.set_gt_label(int(torch.randint(num_classes, (1, ), generator=gen)))
        else:
            sample.set_metainfo(dict(view_names=KIND_VIEWS[kind]))
        samples.append(sample)
    return inputs, samples


def to_channels_last_3d(model) -> int:
    """Store every 5-D parameter (the 3-D convolutions' weights) in ``channels_last_3d``
    layout, in place; return how many. ``Module.to(memory_format=...)`` cannot be used:
    it fails on the 4-D and 2-D parameters that the heads and some stems hold."""
    import torch
    count = 0
    for param in model.parameters():
        if param.dim() == 5:
            param.data = param.data.contiguous(memory_format=torch.channels_last_3d)
            count += 1
    return count


def _minor_faults() -> int:
    try:
        import resource
    except ImportError:  # not POSIX
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _time_steps(step, iters: int, warmup: int, device: str) -> Dict[str, List[float]]:
    """Wall time, process CPU time (all threads) and minor page faults of each timed step.

    CPU time is steadier than wall time when other processes compete for the cores (it
    does not count time spent waiting for a core), and page faults show the cost of
    memory the allocator hands back to the system and takes again every step."""
    import torch
    record = dict(times_ms=[], cpu_times_ms=[], minor_faults=[])
    for i in range(warmup + iters):
        if device == 'cuda':
            torch.cuda.synchronize()
        faults, cpu, start = _minor_faults(), time.process_time(), time.perf_counter()
        step()
        if device == 'cuda':
            torch.cuda.synchronize()
        if i >= warmup:
            record['times_ms'].append((time.perf_counter() - start) * 1000.0)
            record['cpu_times_ms'].append((time.process_time() - cpu) * 1000.0)
            record['minor_faults'].append(_minor_faults() - faults)
    return record


def _summary(record: Dict[str, List[float]]) -> Dict[str, Any]:
    times = record['times_ms']
    ordered = sorted(times)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else ordered * 3
    return dict(median_ms=round(statistics.median(ordered), 2),
                min_ms=round(ordered[0], 2), p25_ms=round(quartiles[0], 2),
                p75_ms=round(quartiles[-1], 2),
                cpu_median_ms=round(statistics.median(record['cpu_times_ms']), 2),
                minor_faults_median=int(statistics.median(record['minor_faults'])),
                times_ms=[round(x, 2) for x in times],
                cpu_times_ms=[round(x, 2) for x in record['cpu_times_ms']],
                minor_faults=list(record['minor_faults']))


def measure_model(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Time (and measure the memory of) training steps of one model.

    ``spec`` keys: ``kind`` ('stock', 'sdc' or 'dclr'), ``model`` (config dict), ``optim_wrapper``
    (config dict, already switched to AMP when wanted), ``batch_size``, ``clip_shape``
    (T, H, W), ``num_classes``, ``iters``, ``warmup``, ``device``, ``channels_last``,
    ``threads`` (torch intra-op threads, or None), ``seed``, ``parts`` (SDC: also time the
    backbone passes alone and the heads alone).
    Meant to run in a fresh process (see :func:`run_benchmark`), but works in-process.
    """
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import sdc_mmaction  # noqa: F401  (compat fixes and registration)
    from mmaction.registry import MODELS

    if spec.get('threads'):
        torch.set_num_threads(int(spec['threads']))
    init_default_scope('mmaction')
    torch.manual_seed(spec['seed'])
    device, kind = spec['device'], spec['kind']
    if device == 'cuda':
        torch.backends.cudnn.benchmark = True

    model = MODELS.build(copy.deepcopy(spec['model'])).to(device)
    if spec['channels_last']:
        to_channels_last_3d(model)
    model.train()
    if kind == 'stock' and hasattr(model, 'cls_head'):
        # MMAction2's BaseHead.loss_by_feat hands the scores to numpy for its top-k
        # accuracy, and numpy has no bfloat16: under bf16 autocast the stock step would
        # fail. Scores in float32 cost nothing measurable (N x num_classes).
        model.cls_head.register_forward_hook(lambda module, args, out: out.float())
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(spec['optim_wrapper']))
    inputs, samples = _synthetic_batch(kind, spec['batch_size'], spec['clip_shape'],
                                       spec['num_classes'], device, spec['seed'],
                                       spec['channels_last'])

    last_losses = {}

    def step():
        with optim_wrapper.optim_context(model):
            losses = model(inputs, samples, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        last_losses.update(log_vars)

    memory = _PeakMemory(device)
    memory.start()
    times = _time_steps(step, spec['iters'], spec['warmup'], device)
    result = dict(kind=kind, step=_summary(times), memory=memory.stop(),
                  parameters=sum(p.numel() for p in model.parameters()),
                  optim_wrapper=type(optim_wrapper).__name__)
    result['final_losses'] = {k: float(v.detach().float()) for k, v in last_losses.items()}
    result['losses_finite'] = all(math.isfinite(v) for v in result['final_losses'].values())
    last_losses.clear()

    if kind == 'sdc' and spec.get('parts', True):
        result.update(_measure_sdc_parts(model, optim_wrapper, inputs, samples, spec))
    return result


def _measure_sdc_parts(model, optim_wrapper, inputs, samples, spec) -> Dict[str, Any]:
    """Backbone passes alone, and the heads alone (see the module docstring)."""
    import torch
    from sdc_mmaction.models.recognizers.concept_pretrain_recognizer import \
        global_average_pool

    device = spec['device']
    views, _ = model.split_views(inputs, samples, need_all_views=True)

    def backbone_step():
        with optim_wrapper.optim_context(model):
            pooled, _ = model.extract_feat(views)
            loss = sum(p.float().mean() for p in pooled.values())
        optim_wrapper.update_params(loss)

    backbone_times = _time_steps(backbone_step, spec['iters'], spec['warmup'], device)

    with torch.no_grad(), optim_wrapper.optim_context(model):
        _, fixed_maps = model.extract_feat(views)

    def detached_features(_views):
        maps = {n: m.detach().requires_grad_(True) for n, m in fixed_maps.items()}
        return {n: global_average_pool(m) for n, m in maps.items()}, maps

    def heads_step():
        with optim_wrapper.optim_context(model):
            losses = model.loss(inputs, samples)
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    model.extract_feat = detached_features  # instance attribute shadows the method
    try:
        heads_times = _time_steps(heads_step, spec['iters'], spec['warmup'], device)
    finally:
        del model.extract_feat
    return dict(backbone=_summary(backbone_times), heads_direct=_summary(heads_times))


def measure_model_in_fresh_process(spec: Dict[str, Any]) -> Dict[str, Any]:
    """:func:`measure_model` in a fresh (spawned) process, so that its memory peak is its
    own and no allocator cache of another model hides it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=1,
                             mp_context=multiprocessing.get_context('spawn')) as pool:
        return pool.submit(measure_model, spec).result()


# ----------------------------------------------------------------------------- pipeline
def _config_videos(cfg) -> Tuple[str, str]:
    """(ann_file, video folder) of the config's train dataset, ``data_root`` joined."""
    dataset = cfg.train_dataloader.dataset
    root = dataset.get('data_root', None) or ''
    ann_file = dataset.get('ann_file', None)
    prefix = (dataset.get('data_prefix', None) or {}).get('video', '')
    if not ann_file:
        raise ValueError('train_dataloader.dataset.ann_file is not set')
    ann_file = ann_file if osp.isabs(ann_file) else osp.join(root, ann_file)
    prefix = prefix if osp.isabs(prefix) else osp.join(root, prefix)
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'train_dataloader.dataset.ann_file {ann_file} does not exist '
                                '(pass --pipeline-video-dir DIR to measure on other videos)')
    return ann_file, prefix


def measure_pipeline(cfg, clip_shape: Sequence[int], num_clips: int, rounds: int = 2,
                     video_dir: Optional[str] = None, batch_size: Optional[int] = None,
                     own_pipeline: Optional[str] = None) -> Dict[str, Any]:
    """Data-pipeline clips/s, stock vs SDC, on the config's train videos (or on every video
    of ``video_dir``).

    Uses :func:`sdc_mmaction.apis.benchmark_pipeline.benchmark_pipelines`
    (both pipelines on the same videos, alternating rounds, one process, no workers);
    without it, or for ``own_pipeline`` (a method name, e.g. ``'dclr'``), iterates the
    config's train dataloader (that method's pipeline only). Missing data is not an
    error: the result then says why it was skipped.
    """
    if num_clips <= 0:
        return dict(skipped='pipeline measurement turned off (0 clips)')
    t, h, w = clip_shape
    try:
        from sdc_mmaction.apis.benchmark_pipeline import benchmark_pipelines
    except ImportError:
        benchmark_pipelines = None
    if own_pipeline:  # the stock-vs-SDC comparison does not know this method's pipeline
        benchmark_pipelines = None
    try:
        if benchmark_pipelines is None:
            return _iterate_train_dataloader(cfg, batch_size, num_clips,
                                             own_pipeline or 'sdc')
        if h != w:
            return dict(skipped=f'the pipeline benchmark crops squares; clip is {h}x{w}')
        if video_dir is not None:
            where = dict(video_dir=video_dir)
        else:
            ann_file, prefix = _config_videos(cfg)
            where = dict(ann_file=ann_file, data_prefix=prefix)
        out = benchmark_pipelines(**where, clip_len=t, img_size=h, clips_per_round=num_clips,
                                  rounds=rounds, warmup=1)
        return dict(source='sdc_mmaction.apis.benchmark_pipeline.benchmark_pipelines '
                    '(stock vs SDC pipeline, same videos, one process)', **out)
    except (FileNotFoundError, OSError, RuntimeError, ValueError, KeyError) as err:
        return dict(skipped=f'{type(err).__name__}: {err}'[:500])


def _iterate_train_dataloader(cfg, batch_size, num_clips, kind='sdc') -> Dict[str, Any]:
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    if batch_size is not None:
        loader_cfg['batch_size'] = batch_size
    loader_cfg['persistent_workers'] = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    iterator = iter(loader)
    next(iterator)  # worker start-up and the first decode are not throughput
    clips, start = 0, time.perf_counter()
    while clips < num_clips:
        try:
            batch = next(iterator)
        except StopIteration:
            break
        clips += len(batch['inputs'])
    elapsed = time.perf_counter() - start
    return dict(source=f'train dataloader ({kind.upper()} pipeline only)',
                num_workers=loader_cfg.get('num_workers', 0),
                batch_size=loader_cfg.get('batch_size'), clips=clips,
                seconds=round(elapsed, 3),
                **{f'{kind}_clips_per_s': round(clips / elapsed, 2)
                   if elapsed > 0 and clips else None})


# ----------------------------------------------------------------------------- driver
def run_benchmark(cfg,
                  batch_size: Optional[int] = None,
                  iters: int = 10,
                  warmup: int = 3,
                  amp: bool = False,
                  amp_dtype: Optional[str] = None,
                  channels_last: bool = False,
                  stack_views: Optional[bool] = None,
                  device: str = 'auto',
                  clip_shape: Optional[Sequence[int]] = None,
                  num_classes: int = 400,
                  pipeline_clips: int = 0,
                  pipeline_rounds: int = 2,
                  pipeline_video_dir: Optional[str] = None,
                  isolate: bool = True,
                  repeats: int = 1,
                  seed: int = 0,
                  config_path: Optional[str] = None) -> Dict[str, Any]:
    """Measure (a)-(c) of the module docstring and return everything as a dict.

    Args:
        cfg (mmengine.Config): an SDC pre-training config (``--cfg-options`` applied).
        batch_size (int, optional): clips per step; default the config's
            ``train_dataloader.batch_size``.
        iters, warmup (int): timed and untimed steps per measurement.
        amp (bool): mixed precision (``AmpOptimWrapper`` on CUDA, ``CPUAmpOptimWrapper``
            bfloat16 on CPU) for both models.
        amp_dtype (str, optional): CUDA autocast type (``'float16'`` default or
            ``'bfloat16'``); ignored on CPU (bfloat16).
        channels_last (bool): both models and inputs in ``channels_last_3d``.
        stack_views (bool, optional): override ``model.stack_views`` (None: config's).
        device (str): ``'auto'``, ``'cpu'`` or ``'cuda'``.
        clip_shape (T, H, W, optional): default from the config.
        num_classes (int): classes of the stock head (400 as Kinetics-400).
        pipeline_clips (int): clips per pipeline and round for the data-pipeline
            measurement (0 skips it); ``pipeline_rounds`` rounds.
        pipeline_video_dir (str, optional): measure the pipelines on the videos of this
            folder instead of the config's train list.
        isolate (bool): measure each model in a fresh process (exact memory peaks).
        repeats (int): measure each model this many times, alternating which goes first,
            and pool the step times (steadier ratios on a machine whose load changes).
        seed (int): seed of the models and synthetic inputs.
    """
    import torch
    from sdc_mmaction.engine.optim_wrappers import amp_optim_wrapper_cfg

    if iters < 1 or warmup < 0 or repeats < 1:
        raise ValueError(f'iters and repeats must be >= 1 and warmup >= 0, got iters={iters}, '
                         f'repeats={repeats}, warmup={warmup}')
    device = resolve_device(device)
    if batch_size is None:
        batch_size = int(cfg.train_dataloader.batch_size)
    if batch_size < 2:
        raise ValueError(f'batch_size must be >= 2 (BatchNorm and the local contrast need '
                         f'two clips), got {batch_size}')
    env_before = environment_info(device)

    if clip_shape is None:
        clip_shape = clip_shape_from_config(cfg)
    clip_shape = tuple(int(x) for x in clip_shape)
    if len(clip_shape) != 3 or min(clip_shape) < 1:
        raise ValueError(f'clip_shape must be T H W, got {clip_shape}')
    sdc_model = sdc_model_cfg(cfg, stack_views)
    kind = pretrain_kind(sdc_model)
    pipeline = measure_pipeline(cfg, clip_shape, pipeline_clips, rounds=pipeline_rounds,
                                video_dir=pipeline_video_dir, batch_size=batch_size,
                                own_pipeline=None if kind == 'sdc' else kind)

    optim_cfg = copy.deepcopy(cfg.optim_wrapper.to_dict() if hasattr(cfg.optim_wrapper,
                                                                    'to_dict')
                              else dict(cfg.optim_wrapper))
    if amp:
        optim_cfg = amp_optim_wrapper_cfg(optim_cfg, use_cuda=device == 'cuda')
        if device == 'cuda' and amp_dtype is not None:
            optim_cfg['dtype'] = amp_dtype
    common = dict(optim_wrapper=optim_cfg, batch_size=batch_size, clip_shape=clip_shape,
                  num_classes=num_classes, iters=iters, warmup=warmup, device=device,
                  channels_last=channels_last, threads=torch.get_num_threads(), seed=seed)
    runner = measure_model_in_fresh_process if isolate else measure_model
    models = {'stock': stock_model_cfg(sdc_model, num_classes), kind: sdc_model}
    runs = {'stock': [], kind: []}
    for repeat in range(repeats):
        # alternate the order, so that a change of machine load hits both models alike
        for name in (('stock', kind) if repeat % 2 == 0 else (kind, 'stock')):
            load = load_average()
            run = runner(dict(common, kind=name, model=models[name], parts=True))
            run['load_average_before'] = load
            runs[name].append(run)
    results = {name: _merge_runs(name_runs) for name, name_runs in runs.items()}
    stock, sdc = results['stock'], results[kind]
    stock_ms, sdc_ms = stock['step']['median_ms'], sdc['step']['median_ms']
    summary = dict(
        time_ratio=round(sdc_ms / stock_ms, 3),
        time_ratio_of_fastest_steps=round(sdc['step']['min_ms'] / stock['step']['min_ms'], 3),
        cpu_time_ratio=_ratio(sdc['step']['cpu_median_ms'], stock['step']['cpu_median_ms']),
        memory_ratio=_ratio(sdc['memory']['peak_above_start_mib'],
                            stock['memory']['peak_above_start_mib']))
    if kind != 'sdc':  # the acceptance targets and the heads' share are SDC's
        return dict(
            config=config_path, method=kind,
            settings=dict(batch_size=batch_size, clip_shape=list(clip_shape),
                          views=len(KIND_VIEWS[kind]), iters=iters, warmup=warmup, amp=amp,
                          optim_wrapper=optim_cfg.get('type', 'OptimWrapper'),
                          amp_dtype=(optim_cfg.get('dtype') or
                                     ('float16' if device == 'cuda' else 'bfloat16'))
                          if amp else None,
                          channels_last=channels_last, stack_views=None, device=device,
                          isolate=isolate, repeats=repeats, num_classes=num_classes,
                          seed=seed),
            environment=env_before, load_average_after=load_average(), pipeline=pipeline,
            stock=stock, summary=summary, **{kind: sdc})
    backbone_ms = sdc['backbone']['median_ms']
    heads_ms = sdc['heads_direct']['median_ms']
    summary = dict(
        time_ratio=round(sdc_ms / stock_ms, 3),
        # the fastest steps are the least disturbed by other processes on a shared machine
        time_ratio_of_fastest_steps=round(sdc['step']['min_ms'] / stock['step']['min_ms'], 3),
        cpu_time_ratio=_ratio(sdc['step']['cpu_median_ms'], stock['step']['cpu_median_ms']),
        memory_ratio=_ratio(sdc['memory']['peak_above_start_mib'],
                            stock['memory']['peak_above_start_mib']),
        heads_share_by_subtraction=round(max(sdc_ms - backbone_ms, 0.0) / sdc_ms, 4),
        heads_share_direct=round(heads_ms / sdc_ms, 4),
        backbone_share=round(backbone_ms / sdc_ms, 4))
    summary['meets_time_target'] = summary['time_ratio'] <= TARGET_TIME_RATIO
    # The direct measurement decides: the subtraction is a difference of two noisy
    # medians, each ~10x larger than the heads, so it is only a cross-check.
    summary['meets_heads_target'] = summary['heads_share_direct'] <= TARGET_HEADS_SHARE
    return dict(
        config=config_path,
        settings=dict(batch_size=batch_size, clip_shape=list(clip_shape),
                      views=len(VIEW_NAMES), iters=iters, warmup=warmup, amp=amp,
                      optim_wrapper=optim_cfg.get('type', 'OptimWrapper'),
                      amp_dtype=(optim_cfg.get('dtype') or
                                 ('float16' if device == 'cuda' else 'bfloat16'))
                      if amp else None,
                      channels_last=channels_last,
                      stack_views=sdc_model.get('stack_views',
                                                sdc_model.get('shared_backbone', True)),
                      device=device, isolate=isolate, repeats=repeats,
                      num_classes=num_classes, seed=seed),
        environment=env_before,
        load_average_after=load_average(),
        pipeline=pipeline,
        stock=stock,
        sdc=sdc,
        summary=summary,
        targets=dict(time_ratio=TARGET_TIME_RATIO, heads_share=TARGET_HEADS_SHARE))


def _merge_runs(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One result from repeated measurements of a model: timings pooled (medians over all
    steps of all repeats), the largest memory peak, the last run's losses."""
    merged = dict(runs[-1])
    for key in ('step', 'backbone', 'heads_direct'):
        if key in merged:
            merged[key] = _summary({
                field: [x for run in runs for x in run[key][field]]
                for field in ('times_ms', 'cpu_times_ms', 'minor_faults')})
    merged['memory'] = max((run['memory'] for run in runs),
                           key=lambda m: m['peak_above_start_mib'])
    merged['losses_finite'] = all(run['losses_finite'] for run in runs)
    merged['repeats'] = len(runs)
    merged['step_median_ms_per_repeat'] = [run['step']['median_ms'] for run in runs]
    merged['load_average_before'] = [run['load_average_before'] for run in runs]
    return merged


def _ratio(a, b):
    return round(a / b, 3) if b else None


# ----------------------------------------------------------------------------- report
def format_report(result: Dict[str, Any]) -> str:
    """A plain-text table of :func:`run_benchmark`'s result."""
    s, env, summary = result['settings'], result['environment'], result['summary']
    kind = result.get('method', 'sdc')
    label = kind.upper()
    stock, sdc = result['stock'], result[kind]
    t, h, w = s['clip_shape']
    lines = [
        f"{label} benchmark: {result.get('config') or 'config'}",
        f"device {s['device']} ({env.get('gpu') or env['cpu']}), nproc {env['nproc']}, "
        f"torch threads {env['torch_threads']}, load average before "
        f"{env['load_average_1_5_15']} / after {result['load_average_after']}",
        f"batch {s['batch_size']} clips of {t}x{h}x{w} ({label}: x{s['views']} views), "
        f"{s['iters']} timed steps after {s['warmup']} warm-up"
        f"{' x ' + str(s['repeats']) + ' repeats' if s.get('repeats', 1) > 1 else ''}; "
        f"amp={s['amp']}"
        f"{' (' + str(s['amp_dtype']) + ')' if s['amp'] else ''}, "
        f"channels_last={s['channels_last']}, stack_views={s['stack_views']}",
        '',
    ]
    rows = [('', 'stock Recognizer3D', label, f'{label} / stock')]
    rows.append(('train step, median ms', f"{stock['step']['median_ms']:.1f}",
                 f"{sdc['step']['median_ms']:.1f}", f"{summary['time_ratio']:.2f}x"))
    rows.append(('train step, fastest ms', f"{stock['step']['min_ms']:.1f}",
                 f"{sdc['step']['min_ms']:.1f}",
                 f"{summary['time_ratio_of_fastest_steps']:.2f}x"))
    rows.append(('train step, CPU ms (all threads)', f"{stock['step']['cpu_median_ms']:.1f}",
                 f"{sdc['step']['cpu_median_ms']:.1f}",
                 f"{summary['cpu_time_ratio']:.2f}x" if summary['cpu_time_ratio'] else ''))
    rows.append(('minor page faults per step', str(stock['step']['minor_faults_median']),
                 str(sdc['step']['minor_faults_median']), ''))
    rows.append(('train step, p25-p75 ms',
                 f"{stock['step']['p25_ms']:.1f}-{stock['step']['p75_ms']:.1f}",
                 f"{sdc['step']['p25_ms']:.1f}-{sdc['step']['p75_ms']:.1f}", ''))
    rows.append(('ms per clip', f"{stock['step']['median_ms'] / s['batch_size']:.1f}",
                 f"{sdc['step']['median_ms'] / s['batch_size']:.1f}", ''))
    ratio = summary['memory_ratio']
    rows.append(('peak memory above start, MiB',
                 f"{stock['memory']['peak_above_start_mib']:.0f}",
                 f"{sdc['memory']['peak_above_start_mib']:.0f}",
                 f'{ratio:.2f}x' if ratio is not None else 'n/a'))
    rows.append(('peak memory, MiB', f"{stock['memory']['peak_mib']:.0f}",
                 f"{sdc['memory']['peak_mib']:.0f}", ''))
    rows.append(('parameters, M', f"{stock['parameters'] / 1e6:.2f}",
                 f"{sdc['parameters'] / 1e6:.2f}", ''))
    pipeline = result['pipeline']
    if 'skipped' not in pipeline:
        stock_cps = pipeline.get('stock_clips_per_s')
        sdc_cps = pipeline.get(f'{kind}_clips_per_s')
        rows.append(('data pipeline, clips/s',
                     f'{stock_cps:.1f}' if stock_cps else 'n/a',
                     f'{sdc_cps:.1f}' if sdc_cps else 'n/a',
                     f'{sdc_cps / stock_cps:.2f}x' if stock_cps and sdc_cps else ''))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, row in enumerate(rows):
        lines.append('| ' + ' | '.join(c.ljust(widths[j]) for j, c in enumerate(row)) + ' |')
        if i == 0:
            lines.append('|' + '|'.join('-' * (wd + 2) for wd in widths) + '|')
    lines.append('')
    if 'backbone' not in sdc:  # the parts and the targets are SDC's
        if 'skipped' in pipeline:
            lines.append(f"data pipeline: skipped ({pipeline['skipped']})")
        elif pipeline.get('source'):
            lines.append(f"data pipeline: {pipeline['source']}")
        lines.append(f"memory: {sdc['memory']['memory_method']}")
        if not (stock['losses_finite'] and sdc['losses_finite']):
            lines.append('WARNING: non-finite losses in the last step: '
                         f"stock {stock['final_losses']}, {label} {sdc['final_losses']}")
        return '\n'.join(lines)
    lines.append(
        f"SDC step {sdc['step']['median_ms']:.1f} ms: backbone passes "
        f"{sdc['backbone']['median_ms']:.1f} ms ({100 * summary['backbone_share']:.1f}%); "
        f"heads and losses {100 * summary['heads_share_by_subtraction']:.1f}% by subtraction, "
        f"{sdc['heads_direct']['median_ms']:.1f} ms = "
        f"{100 * summary['heads_share_direct']:.1f}% measured directly")
    if 'skipped' in pipeline:
        lines.append(f"data pipeline: skipped ({pipeline['skipped']})")
    elif pipeline.get('source'):
        lines.append(f"data pipeline: {pipeline['source']}")
    lines.append(f"memory: {sdc['memory']['memory_method']}")
    targets = result['targets']
    lines.append(
        f"targets: SDC/stock time <= {targets['time_ratio']}x: "
        f"{'met' if summary['meets_time_target'] else 'MISSED'} "
        f"({summary['time_ratio']:.2f}x of medians); heads (measured directly) <= "
        f"{100 * targets['heads_share']:.0f}% of the SDC step: "
        f"{'met' if summary['meets_heads_target'] else 'MISSED'}")
    if not (stock['losses_finite'] and sdc['losses_finite']):
        lines.append('WARNING: non-finite losses in the last step: '
                     f"stock {stock['final_losses']}, SDC {sdc['final_losses']}")
    return '\n'.join(lines)


def save_json(result: Dict[str, Any], path: str) -> None:
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(result, f, indent=2)


__all__ = ['run_benchmark', 'measure_model', 'measure_model_in_fresh_process',
           'to_channels_last_3d', 'measure_pipeline', 'format_report',
           'save_json', 'clip_shape_from_config', 'stock_model_cfg', 'sdc_model_cfg',
           'resolve_device', 'environment_info', 'TARGET_TIME_RATIO', 'TARGET_HEADS_SHARE']
