"""Performance tooling: the benchmark tool, CPU mixed precision, float32 losses under autocast.

No timing assertions: timings depend on the machine and its load.
"""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS, OPTIM_WRAPPERS
from mmaction.structures import ActionDataSample
from sdc_mmaction.apis.benchmark import clip_shape_from_config, stock_model_cfg
from sdc_mmaction.engine.optim_wrappers import CPUAmpOptimWrapper, amp_optim_wrapper_cfg
from sdc_mmaction.models.losses import concept_codes
from sdc_mmaction.models.losses.precision import float32_under_autocast

TINY_CONFIG = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'
VIEWS = ('clip', 'static', 'diff')


@pytest.fixture(autouse=True, scope='module')
def mmaction_scope():
    init_default_scope('mmaction')


def tiny_cfg(repo_root):
    return Config.fromfile(osp.join(repo_root, TINY_CONFIG))


# ---------------------------------------------------------------------------- the tool
def test_benchmark_tool_runs_on_the_tiny_config(tool_runner, tmp_path, generated_clips):
    out = tmp_path / 'bench.json'
    video_dir = osp.dirname(generated_clips['h264_32frames_96x72.mp4'])
    proc = tool_runner([
        'tools/benchmark.py', TINY_CONFIG, '--iters', '2', '--warmup', '1', '--batch-size',
        '2', '--clip-shape', '4', '32', '32', '--pipeline-video-dir', video_dir,
        '--pipeline-clips', '1', '--pipeline-rounds', '1', '--no-isolate', '--out', str(out)
    ], timeout=300)
    assert 'train step, median ms' in proc.stdout and 'SDC / stock' in proc.stdout
    result = json.loads(out.read_text())
    assert result['settings']['clip_shape'] == [4, 32, 32]
    assert result['settings']['device'] in ('cpu', 'cuda')
    assert result['environment']['nproc'] >= 1 and result['environment']['torch_threads'] >= 1
    for kind in ('stock', 'sdc'):
        part = result[kind]
        assert len(part['step']['times_ms']) == 2 and part['step']['median_ms'] > 0
        assert part['losses_finite'], part['final_losses']
        assert part['memory']['peak_mib'] > 0 and part['memory']['memory_method']
    assert set(result['sdc']['final_losses']) >= {'loss_aln', 'loss_fid', 'loss_div',
                                                  'loss_loc'}
    assert set(result['stock']['final_losses']) >= {'loss_cls'}
    assert result['sdc']['backbone']['median_ms'] > 0
    assert result['sdc']['heads_direct']['median_ms'] > 0
    summary = result['summary']
    assert summary['time_ratio'] == pytest.approx(
        result['sdc']['step']['median_ms'] / result['stock']['step']['median_ms'], rel=1e-2)
    assert 0 <= summary['heads_share_direct']
    pipeline = result['pipeline']
    assert 'skipped' not in pipeline, pipeline
    assert pipeline['stock_clips_per_s'] > 0 and pipeline['sdc_clips_per_s'] > 0


def test_one_model_measured_in_a_fresh_process(repo_root):
    """The tool's default: each model in its own spawned process (exact memory peaks)."""
    from sdc_mmaction.apis.benchmark import measure_model_in_fresh_process, sdc_model_cfg
    cfg = tiny_cfg(repo_root)
    spec = dict(kind='stock', model=stock_model_cfg(sdc_model_cfg(cfg), num_classes=5),
                optim_wrapper=cfg.optim_wrapper.to_dict(), batch_size=2,
                clip_shape=(4, 32, 32), num_classes=5, iters=1, warmup=1, device='cpu',
                channels_last=False, threads=1, seed=0)
    result = measure_model_in_fresh_process(spec)
    assert result['kind'] == 'stock' and result['losses_finite']
    assert result['step']['median_ms'] > 0
    assert result['memory']['peak_above_start_mib'] >= 0
    assert 'VmHWM' in result['memory']['memory_method'] or 'getrusage' in \
        result['memory']['memory_method']


def test_benchmark_in_process_options(repo_root):
    """Per-view passes, channels_last_3d and bf16 autocast together, in this process."""
    from sdc_mmaction.apis.benchmark import format_report, run_benchmark
    result = run_benchmark(tiny_cfg(repo_root), batch_size=2, iters=1, warmup=1, amp=True,
                           channels_last=True, stack_views=False, device='cpu',
                           clip_shape=(4, 32, 32), pipeline_clips=0, isolate=False,
                           repeats=2)
    assert result['sdc']['repeats'] == 2 and len(result['sdc']['step']['times_ms']) == 2
    assert result['settings']['stack_views'] is False
    assert result['settings']['optim_wrapper'] == 'CPUAmpOptimWrapper'
    assert result['sdc']['optim_wrapper'] == 'CPUAmpOptimWrapper'
    assert result['sdc']['losses_finite'] and result['stock']['losses_finite']
    assert 'skipped' in result['pipeline']
    assert 'stack_views=False' in format_report(result)


def test_clip_shape_and_stock_model_follow_the_config(repo_root):
    cfg = tiny_cfg(repo_root)
    assert clip_shape_from_config(cfg) == (8, 64, 64)
    k400 = Config.fromfile(osp.join(repo_root, 'configs/sdc_r2plus1d_k400.py'))
    assert clip_shape_from_config(k400) == (16, 112, 112)
    # without the top-level variables the pipeline tells the shape
    pipeline_only = Config(dict(train_dataloader=cfg.train_dataloader.to_dict()))
    assert clip_shape_from_config(pipeline_only) == (8, 64, 64)
    with pytest.raises(ValueError, match='--clip-shape'):
        clip_shape_from_config(Config(dict(train_dataloader=dict(dataset=dict(pipeline=[])))))

    stock = stock_model_cfg(cfg.model.to_dict(), num_classes=5)
    assert stock['type'] == 'Recognizer3D'
    assert stock['backbone'] == cfg.model.backbone.to_dict()
    assert stock['cls_head']['in_channels'] == cfg.model.align_head.in_channels
    model = MODELS.build(stock)
    inputs = torch.randn(2, 1, 3, 4, 32, 32)
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    losses = model(inputs, samples, mode='loss')
    assert torch.isfinite(losses['loss_cls'])


# ---------------------------------------------------------------------------- CPU AMP
def test_amp_optim_wrapper_cfg_picks_the_device_wrapper():
    base = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
    cpu = amp_optim_wrapper_cfg(dict(base, loss_scale='dynamic'), use_cuda=False)
    assert cpu['type'] == 'CPUAmpOptimWrapper' and 'loss_scale' not in cpu
    cuda = amp_optim_wrapper_cfg(base, use_cuda=True)
    assert cuda['type'] == 'AmpOptimWrapper' and cuda['loss_scale'] == 'dynamic'
    assert amp_optim_wrapper_cfg(dict(base, dtype='float16'), use_cuda=False).get(
        'dtype') is None
    with pytest.raises(ValueError, match='custom optim_wrapper.type'):
        amp_optim_wrapper_cfg(dict(base, type='MyWrapper'), use_cuda=False)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match='bfloat16'):
        CPUAmpOptimWrapper(optimizer=optimizer, dtype='float16')
    with pytest.raises(ValueError, match='loss_scale'):
        CPUAmpOptimWrapper(optimizer=optimizer, loss_scale=512.0)
    assert OPTIM_WRAPPERS.get('CPUAmpOptimWrapper') is CPUAmpOptimWrapper


def test_train_amp_flag_uses_the_cpu_wrapper_without_cuda(repo_root):
    from sdc_mmaction.apis.train import merge_args, parse_args
    if torch.cuda.is_available():
        pytest.skip('checks the CPU choice')
    args = parse_args([TINY_CONFIG, '--amp', '--work-dir', '/tmp/unused'])
    optimizer = tiny_cfg(repo_root).optim_wrapper.optimizer.to_dict()
    cfg = merge_args(tiny_cfg(repo_root), args)
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer.to_dict() == optimizer


def _tiny_sdc_model(repo_root):
    cfg = tiny_cfg(repo_root)
    model_cfg = cfg.model.to_dict()
    model_cfg['align_head'].update(queue_length=0)
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


def test_bf16_cpu_autocast_training_step_is_finite(repo_root):
    model = _tiny_sdc_model(repo_root)
    model.train()
    wrapper_cfg = amp_optim_wrapper_cfg(
        dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        use_cuda=False)
    from mmengine.optim import build_optim_wrapper
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    assert isinstance(optim_wrapper, CPUAmpOptimWrapper)

    stem_dtypes = []
    model.backbone.conv1.register_forward_hook(
        lambda module, args, out: stem_dtypes.append(out.dtype))
    gen = torch.Generator().manual_seed(0)
    samples = [ActionDataSample() for _ in range(4)]
    for sample in samples:
        sample.set_metainfo(dict(view_names=VIEWS))
    # 4 x 32 x 32 clips: the last stage sees T' = 1 and the third T' = 2 < its temporal
    # kernel, the case CPUAmpOptimWrapper must keep out of oneDNN's bfloat16 path
    data = dict(inputs=[torch.rand(3, 3, 4, 32, 32, generator=gen) * 255 for _ in range(4)],
                data_samples=samples)
    before = model.backbone.conv1.conv.conv_s.weight.detach().clone()
    for _ in range(2):
        log_vars = model.train_step(data, optim_wrapper)
    assert stem_dtypes and all(d == torch.bfloat16 for d in stem_dtypes)
    assert {'loss', 'loss_aln', 'loss_fid', 'loss_div', 'loss_loc'} <= set(log_vars)
    for name, value in log_vars.items():
        assert value.dtype == torch.float32 and torch.isfinite(value), name
    weight = model.backbone.conv1.conv.conv_s.weight
    assert weight.dtype == torch.float32 and torch.isfinite(weight).all()
    assert not torch.equal(weight.detach(), before)  # the step updated the parameters


@pytest.mark.parametrize('kernel,padding,frames', [(3, 1, 2), (5, 2, 3), (3, 1, 4)])
def test_cpu_amp_conv3d_weight_gradients_match_float32(kernel, padding, frames):
    """oneDNN's bfloat16 conv3d weight gradient is wrong when the input is shorter than the
    kernel (T'=2 under a temporal kernel of 3); CPUAmpOptimWrapper runs those in float32."""
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(32, 16, (kernel, 1, 1), padding=(padding, 0, 0), bias=False)
    x = torch.randn(2, 32, frames, 4, 4)
    conv(x).sum().backward()
    reference = conv.weight.grad.clone()
    conv.weight.grad = None
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(conv.parameters(), lr=0.1))
    with wrapper.optim_context(conv):
        out = conv(x)
    out.float().sum().backward()
    assert 'forward' not in conv.__dict__  # the guard is gone after the context
    grad = conv.weight.grad
    assert torch.isfinite(grad).all()
    torch.testing.assert_close(grad, reference, rtol=3e-2, atol=3e-2 * reference.abs().max())
    expected = torch.float32 if frames < kernel else torch.bfloat16
    assert out.dtype == expected


# ---------------------------------------------------------------------------- fp32 losses
def _heads(channels=32, ks=6, kd=4):
    torch.manual_seed(0)
    align = MODELS.build(dict(type='ConceptAlignHead', in_channels=channels,
                              num_static_concepts=ks, num_dynamic_concepts=kd))
    local = MODELS.build(dict(type='LocalConceptContrastHead', in_channels=channels,
                              num_static_concepts=ks, num_dynamic_concepts=kd, top_k=2))
    return align, local


def _head_losses(align, local, feature_maps):
    maps = {v: m.clone().requires_grad_(True) for v, m in feature_maps.items()}
    pooled = {v: m.mean(dim=(2, 3, 4)) for v, m in maps.items()}
    codes = align(pooled)
    losses = dict(align.loss(pooled, codes))
    local_out = local(maps, align.prototypes)
    losses.update(local.loss(local_out, codes))
    sum(losses.values()).backward()
    return codes, local_out, losses, maps


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_head_losses_under_autocast_match_float32(dtype):
    align, local = _heads()
    gen = torch.Generator().manual_seed(3)
    feature_maps = {v: torch.randn(6, 32, 2, 3, 3, generator=gen) for v in VIEWS}
    codes32, local32, losses32, maps32 = _head_losses(align, local, feature_maps)
    align.zero_grad()
    local.zero_grad()
    with torch.autocast('cpu', dtype=dtype):
        codes, local_out, losses, maps = _head_losses(align, local, feature_maps)

    for view in VIEWS:
        # cosine codes, attention and local features stay float32 under autocast
        assert codes[view].dtype == torch.float32
        assert local_out['attention'][view].dtype == torch.float32
        assert local_out['features'][view].dtype == torch.float32
        torch.testing.assert_close(codes[view], codes32[view], rtol=1e-6, atol=1e-6)
    for name in ('loss_aln', 'loss_div', 'loss_loc'):
        assert losses[name].dtype == torch.float32
        torch.testing.assert_close(losses[name], losses32[name], rtol=1e-5, atol=1e-6)
    # the decoders g of Eq. 6 are network layers and do run in low precision
    torch.testing.assert_close(losses['loss_fid'], losses32['loss_fid'], rtol=2e-2, atol=1e-4)
    for view in VIEWS:
        assert torch.isfinite(maps[view].grad).all()
        torch.testing.assert_close(maps[view].grad, maps32[view].grad, rtol=5e-2, atol=1e-3)


def test_float32_under_autocast_only_acts_under_autocast():
    gen = torch.Generator().manual_seed(0)
    features, prototypes = torch.randn(4, 16, generator=gen), torch.randn(5, 16, generator=gen)
    reference = concept_codes(features, prototypes)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        guarded = concept_codes(features, prototypes)
        plain = torch.nn.functional.normalize(features, dim=1) @ \
            torch.nn.functional.normalize(prototypes, dim=1).t()
    assert plain.dtype == torch.bfloat16  # what the guard protects against
    assert guarded.dtype == torch.float32
    torch.testing.assert_close(guarded, reference)
    # without autocast, low-precision inputs keep their dtype (a model cast to bf16)
    low = concept_codes(features.bfloat16(), prototypes.bfloat16())
    assert low.dtype == torch.bfloat16

    @float32_under_autocast
    def dtypes(a, b=None):
        return a.dtype, b.dtype, torch.is_autocast_enabled('cpu')

    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert dtypes(features.bfloat16(), b=features.half()) == (torch.float32,
                                                                  torch.float32, False)
