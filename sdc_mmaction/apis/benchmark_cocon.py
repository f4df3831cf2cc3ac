"""Cost of a CoCon pretraining step against a stock supervised step with the same
backbone, and the throughput of optical flow extraction (``tools/benchmark.py`` with a
CoCon config).

- **training step**: ``CoCon`` from the config (one encoder per view) against MMAction2's
  ``Recognizer3D`` with the config's backbone for the first view (RGB) and a
  ``BlockGRUHead`` (the fine-tuning classifier), both fed the same number of clips of
  ``num_blocks`` blocks of ``T x H x W`` frames as synthetic tensors already on the
  device. A step is ``BaseModel.train_step`` after the data preprocessor: forward in
  ``mode='loss'`` inside the optim wrapper's context, ``parse_losses``, ``update_params``.
  Median, fastest and quartiles of the wall time and the median process CPU time over the
  timed steps are reported.
- **flow extraction**: for each method, frames of flow per second of single-threaded flow
  computation, and per second with decoding and JPEG writing, on the first frames of each
  video in a folder (``sdc_mmaction.apis.optical_flow.extract_video``).
"""
import copy
import os
import os.path as osp
import tempfile
from typing import Any, Dict, Optional, Sequence

from .benchmark import (_PeakMemory, _summary, _time_steps, environment_info, load_average,
                        resolve_device)


def stock_block_model_cfg(cocon_model: dict, num_classes: int = 400) -> dict:
    """A supervised ``Recognizer3D`` on the first view's encoder backbone, classifying
    clips of blocks with ``BlockGRUHead``."""
    first_view, view_cfg = next(iter(cocon_model['views'].items()))
    backbone = copy.deepcopy(cocon_model['backbone'])
    backbone.update(view_cfg.get('backbone', {}))
    backbone['in_channels'] = view_cfg['in_channels']
    preprocessor = cocon_model['data_preprocessor']
    from mmaction.registry import MODELS
    width = MODELS.build(copy.deepcopy(backbone)).out_channels
    return dict(
        type='Recognizer3D', backbone=backbone,
        cls_head=dict(type='BlockGRUHead', num_classes=num_classes, in_channels=width,
                      num_blocks=cocon_model['num_blocks'],
                      aggregator=dict(copy.deepcopy(cocon_model['aggregator']),
                                      dropout=0.0)),
        data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW',
                               mean=list(preprocessor['mean'][first_view]),
                               std=list(preprocessor['std'][first_view])))


def _inputs(kind: str, model_cfg: dict, batch_size: int, block_shape, num_classes: int,
            device: str, seed: int):
    import torch
    from mmaction.structures import ActionDataSample
    gen = torch.Generator().manual_seed(seed)
    t, h, w = block_shape
    if kind == 'cocon':
        blocks = model_cfg['num_blocks']
        inputs = {name: torch.randn(batch_size, blocks, view['in_channels'], t, h, w,
                                    generator=gen).to(device)
                  for name, view in model_cfg['views'].items()}
        return inputs, None
    blocks = model_cfg['cls_head']['num_blocks']
    channels = model_cfg['backbone']['in_channels']
    inputs = torch.randn(batch_size, blocks, channels, t, h, w, generator=gen).to(device)
    samples = [ActionDataSample().set_gt_label(int(torch.randint(num_classes, (1, ),
                                                                 generator=gen)))
               for _ in range(batch_size)]
    return inputs, samples


def measure_step(kind: str, model_cfg: dict, optim_cfg: dict, batch_size: int,
                 block_shape: Sequence[int], iters: int, warmup: int, device: str,
                 num_classes: int = 400, seed: int = 0) -> Dict[str, Any]:
    """Time ``iters`` training steps (after ``warmup``) of one model; see the module
    docstring."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import sdc_mmaction  # noqa: F401
    from mmaction.registry import MODELS

    init_default_scope('mmaction')
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(model_cfg)).to(device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(optim_cfg))
    inputs, samples = _inputs(kind, model_cfg, batch_size, block_shape, num_classes, device,
                              seed)
    last = {}

    def step():
        with optim_wrapper.optim_context(model):
            losses = model(inputs, samples, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        last.update({k: float(v.detach()) for k, v in log_vars.items()})

    memory = _PeakMemory(device)
    memory.start()
    times = _time_steps(step, iters, warmup, device)
    return dict(kind=kind, step=_summary(times), memory=memory.stop(),
                parameters=sum(p.numel() for p in model.parameters()), final_losses=last)


def measure_flow(video_dir: str, methods: Sequence[str] = ('farneback', 'tvl1'),
                 max_frames: int = 11, short_side: Optional[int] = 256) -> Dict[str, Any]:
    """Flow throughput per method on the first ``max_frames`` frames of every video in
    ``video_dir``, one thread (see the module docstring)."""
    import cv2

    from .optical_flow import extract_video, read_video_list
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    results = {}
    try:
        videos = [rel for rel, _ in read_video_list(None, video_dir)]
        if not videos:
            raise FileNotFoundError(f'no videos in {video_dir}')
        with tempfile.TemporaryDirectory(prefix='flow_bench_') as out:
            for method in methods:
                frames = flow_seconds = seconds = 0.0
                for index, rel in enumerate(videos):
                    info = extract_video(osp.join(video_dir, rel),
                                         osp.join(out, f'{method}_{index}'), method=method,
                                         short_side=short_side, max_frames=max_frames)
                    frames += info['num_flow']
                    flow_seconds += info['flow_seconds']
                    seconds += info['seconds']
                results[method] = dict(
                    videos=len(videos), flow_frames=int(frames),
                    flow_seconds=round(flow_seconds, 3), seconds=round(seconds, 3),
                    flow_fps_per_core=round(frames / flow_seconds, 2),
                    end_to_end_fps_per_core=round(frames / seconds, 2))
    finally:
        cv2.setNumThreads(threads)
    return dict(video_dir=video_dir, max_frames=max_frames, short_side=short_side,
                methods=results)


def run_cocon_benchmark(cfg, batch_size: Optional[int] = None, iters: int = 5,
                        warmup: int = 2, device: str = 'auto',
                        block_shape: Optional[Sequence[int]] = None, num_classes: int = 400,
                        flow_video_dir: Optional[str] = None, flow_frames: int = 11,
                        flow_short_side: Optional[int] = 256,
                        flow_methods: Sequence[str] = ('farneback', 'tvl1'),
                        seed: int = 0) -> Dict[str, Any]:
    """Both steps in this process, stock first, then the flow throughput (when
    ``flow_video_dir`` is given). Returns a JSON-serialisable dict."""
    if flow_video_dir and not osp.isdir(flow_video_dir):
        raise FileNotFoundError(f'--flow-video-dir: no such folder {flow_video_dir}')
    device = resolve_device(device)
    model_cfg = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict')
                              else cfg.model)
    if model_cfg.get('type') != 'CoCon':
        raise ValueError(f'run_cocon_benchmark needs a CoCon config, got model type '
                         f'{model_cfg.get("type")!r}')
    batch_size = batch_size or cfg.train_dataloader.batch_size
    if block_shape is None:
        sample = [t for t in cfg.train_dataloader.dataset.pipeline
                  if t['type'] == 'SampleFrames'][0]
        resize = [t for view in cfg.train_dataloader.dataset.pipeline[1]['views'].values()
                  for t in view['transforms'] if t['type'] == 'Resize'][0]
        block_shape = (sample['clip_len'] // model_cfg['num_blocks'], *resize['scale'][::-1])
    optim_cfg = copy.deepcopy(cfg.optim_wrapper.to_dict() if hasattr(cfg.optim_wrapper,
                                                                      'to_dict')
                              else cfg.optim_wrapper)
    stock_cfg = stock_block_model_cfg(model_cfg, num_classes)
    result = dict(environment=environment_info(device), batch_size=batch_size,
                  block_shape=list(block_shape), num_blocks=model_cfg['num_blocks'],
                  views=list(model_cfg['views']), load_before=load_average(),
                  omp_num_threads=os.environ.get('OMP_NUM_THREADS'))
    result['stock'] = measure_step('stock', stock_cfg, optim_cfg, batch_size, block_shape,
                                   iters, warmup, device, num_classes, seed)
    result['cocon'] = measure_step('cocon', model_cfg, optim_cfg, batch_size, block_shape,
                                   iters, warmup, device, num_classes, seed)
    result['ratio_median'] = round(result['cocon']['step']['median_ms']
                                   / result['stock']['step']['median_ms'], 3)
    result['ratio_cpu'] = round(result['cocon']['step']['cpu_median_ms']
                                / result['stock']['step']['cpu_median_ms'], 3)
    if flow_video_dir:
        result['flow'] = measure_flow(flow_video_dir, flow_methods, flow_frames,
                                      flow_short_side)
    result['load_after'] = load_average()
    return result


def format_cocon_report(result: Dict[str, Any]) -> str:
    stock, cocon = result['stock'], result['cocon']
    views = ' + '.join(result['views'])
    lines = [
        f'CoCon ({views}) vs stock Recognizer3D + BlockGRUHead ({result["views"][0]}), '
        f'batch {result["batch_size"]} x {result["num_blocks"]} blocks of '
        f'{" x ".join(map(str, result["block_shape"]))}, device '
        f'{result["environment"].get("device", "?")}',
        '',
        '|                          | stock | CoCon | CoCon / stock |',
        '|--------------------------|-------|-------|---------------|',
        f'| train step, median ms    | {stock["step"]["median_ms"]} | '
        f'{cocon["step"]["median_ms"]} | {result["ratio_median"]}x |',
        f'| train step, fastest ms   | {stock["step"]["min_ms"]} | {cocon["step"]["min_ms"]} '
        '| |',
        f'| train step, CPU ms       | {stock["step"]["cpu_median_ms"]} | '
        f'{cocon["step"]["cpu_median_ms"]} | {result["ratio_cpu"]}x |',
        f'| parameters, M            | {stock["parameters"] / 1e6:.2f} | '
        f'{cocon["parameters"] / 1e6:.2f} | |',
    ]
    flow = result.get('flow')
    if flow:
        lines += ['', f'optical flow, first {flow["max_frames"]} frames of each video in '
                  f'{flow["video_dir"]}, short side {flow["short_side"]}, one thread:', '',
                  '| method | flow frames | flow only, frames/s per core | with decoding and '
                  'JPEG writing, frames/s per core |', '| --- | --- | --- | --- |']
        for method, m in flow['methods'].items():
            lines.append(f'| {method} | {m["flow_frames"]} | {m["flow_fps_per_core"]} | '
                         f'{m["end_to_end_fps_per_core"]} |')
    return '\n'.join(lines)
