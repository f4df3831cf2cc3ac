"""MultiViewPipeline: same frames, own crop per view (one crop for all frames of a view),
input frames untouched; PackMultiViewInputs: blocks; and their error messages."""
import numpy as np
import pytest
import torch

from mmaction.registry import TRANSFORMS

import sdc_mmaction  # noqa: F401


def frames(num=6, size=32):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(num)]


def find_offset(crop, full):
    size = crop.shape[0]
    for y in range(full.shape[0] - size + 1):
        for x in range(full.shape[1] - size + 1):
            if np.array_equal(full[y:y + size, x:x + size], crop):
                return y, x
    return None


def test_views_share_frames_but_not_crops():
    pipeline = TRANSFORMS.build(dict(type='MultiViewPipeline', views=dict(
        a=dict(transforms=[dict(type='RandomCrop', size=12), dict(type='Flip', flip_ratio=1)]),
        b=dict(transforms=[dict(type='RandomCrop', size=12)]))))
    offsets_differ = False
    for seed in range(5):
        np.random.seed(seed)
        source = frames()
        copies = [f.copy() for f in source]
        out = pipeline(dict(imgs=source, clip_len=6, num_clips=1, modality='RGB',
                            img_shape=(32, 32), original_shape=(32, 32)))
        assert all(np.array_equal(f, c) for f, c in zip(out['imgs'], copies))  # untouched
        assert len(out['a_imgs']) == len(out['b_imgs']) == 6
        offsets = {}
        for view, flip in (('a', True), ('b', False)):
            found = {find_offset(f[:, ::-1] if flip else f, full)
                     for f, full in zip(out[f'{view}_imgs'], copies)}
            assert len(found) == 1 and None not in found, view  # one crop for all frames
            offsets[view] = found.pop()
        offsets_differ |= offsets['a'] != offsets['b']
    assert offsets_differ


def test_view_modality_and_output_key():
    seen = {}

    class Probe:
        def __init__(self, name):
            self.name = name

        def __call__(self, results):
            seen[self.name] = (results['modality'], results.get('filename_tmpl'))
            results['other'] = results['imgs']
            return results

    pipeline = TRANSFORMS.build(dict(type='MultiViewPipeline', views=dict(
        rgb=dict(transforms=[Probe('rgb')]),
        flow=dict(transforms=[Probe('flow')], modality='Flow', filename_tmpl='f_{}_{:05d}.jpg',
                  output_key='other'))))
    pipeline(dict(imgs=frames(2), modality='RGB', filename_tmpl='img_{:05d}.jpg'))
    assert seen == {'rgb': ('RGB', 'img_{:05d}.jpg'), 'flow': ('Flow', 'f_{}_{:05d}.jpg')}
    with pytest.raises(KeyError, match='output_key'):
        TRANSFORMS.build(dict(type='MultiViewPipeline', views=dict(
            d=dict(transforms=[], output_key='diff_imgs'))))(dict(imgs=frames(2)))
    with pytest.raises(ValueError, match='transforms'):
        TRANSFORMS.build(dict(type='MultiViewPipeline', views=dict(d=dict(crop=1))))


def test_pack_blocks():
    pack = TRANSFORMS.build(dict(type='PackMultiViewInputs', view_names=('rgb', 'flow'),
                                 num_blocks=3))
    rgb = [np.full((4, 5, 3), t, np.uint8) for t in range(6)]
    flow = [np.full((4, 5, 2), t, np.uint8) for t in range(6)]
    out = pack(dict(rgb_imgs=rgb, flow_imgs=flow, label=2, frame_dir='v'))
    assert out['inputs']['rgb'].shape == (3, 3, 2, 4, 5)
    assert out['inputs']['flow'].shape == (3, 2, 2, 4, 5)
    assert out['inputs']['flow'][:, 0, :, 0, 0].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert out['data_samples'].metainfo['view_names'] == ('rgb', 'flow')
    assert int(out['data_samples'].gt_label) == 2
    with pytest.raises(ValueError, match='multiple of num_blocks=3'):
        pack(dict(rgb_imgs=rgb[:5], flow_imgs=flow))
    with pytest.raises(KeyError, match="'flow_imgs'"):
        pack(dict(rgb_imgs=rgb))


def test_data_preprocessor_normalises_each_view_with_its_own_statistics():
    from mmaction.registry import MODELS
    pre = MODELS.build(dict(type='MultiViewDataPreprocessor',
                            mean=dict(rgb=[10.0, 20.0, 30.0], flow=[127.5]),
                            std=dict(rgb=[2.0, 4.0, 5.0], flow=[255.0])))
    rgb = [torch.full((2, 3, 1, 2, 2), 40.0) for _ in range(2)]
    flow = [torch.full((2, 2, 1, 2, 2), 255.0) for _ in range(2)]
    out = pre(dict(inputs=dict(rgb=rgb, flow=flow), data_samples=None))['inputs']
    assert out['rgb'].shape == (2, 2, 3, 1, 2, 2)
    assert out['rgb'][0, 0, :, 0, 0, 0].tolist() == [15.0, 5.0, 2.0]
    assert torch.allclose(out['flow'], torch.full_like(out['flow'], 0.5))
    with pytest.raises(KeyError, match='diff'):
        pre(dict(inputs=dict(diff=rgb), data_samples=None))
    with pytest.raises(ValueError, match='positive'):
        MODELS.build(dict(type='MultiViewDataPreprocessor', mean=dict(a=[0.0]),
                          std=dict(a=[0.0])))


def test_motion_crop_prefers_the_moving_region():
    crop = TRANSFORMS.build(dict(type='MotionCrop', size=8, num_candidates=50))
    flow = np.full((32, 32, 2), 128, np.uint8)
    flow[20:28, 2:10] = (255, 0)  # motion only here
    np.random.seed(0)
    out = crop(dict(imgs=[flow.copy() for _ in range(3)]))
    x1, y1, x2, y2 = out['crop_bbox']
    assert (x2 - x1, y2 - y1) == (8, 8) and out['img_shape'] == (8, 8)
    # 50 candidates on a 25 x 25 grid of offsets: the winner overlaps the moving patch
    assert abs(int(y1) - 20) < 8 and abs(int(x1) - 2) < 8
    assert all(np.array_equal(img, out['imgs'][0]) for img in out['imgs'])
    # the kept crop is the most moving of the candidates drawn (redrawn here, same seed)
    np.random.seed(0)
    motion = np.abs(flow.astype(float) - 127.5).sum(axis=2)
    candidates = [(np.random.randint(0, 25), np.random.randint(0, 25)) for _ in range(50)]
    top = max(motion[y:y + 8, x:x + 8].mean() for y, x in candidates)
    assert motion[y1:y2, x1:x2].mean() == pytest.approx(top)
    with pytest.raises(ValueError, match='larger than the frames'):
        TRANSFORMS.build(dict(type='MotionCrop', size=40))(dict(imgs=[flow]))
