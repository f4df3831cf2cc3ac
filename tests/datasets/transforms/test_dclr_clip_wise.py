"""ClipWiseTransforms (each clip of a sample augmented on its own), ClipGaussianBlur, and
the DCLR packing of two clips with their static frames and differences."""
import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import TRANSFORMS

T, SIZE = 4, 12
DCLR_VIEWS = ('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')


def build(cfg):
    init_default_scope('mmaction')  # mmcv's wrappers build MMAction2's transforms by scope
    return TRANSFORMS.build(cfg)


def two_clips(frames_per_clip=T + 1, same_frames=False):
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    imgs = []
    for i in range(2 * frames_per_clip):
        # each frame a distinct constant offset of one texture (or all the same frame)
        imgs.append(texture.copy() if same_frames else np.full((SIZE, SIZE, 3), 10 * i,
                                                               np.uint8))
    return dict(imgs=imgs, clip_len=frames_per_clip, num_clips=2,
                frame_inds=np.arange(2 * frames_per_clip) + 100, img_shape=(SIZE, SIZE),
                original_shape=(SIZE, SIZE), modality='RGB')


def test_static_frame_and_difference_per_clip_without_wrap_around():
    wrapper = build(dict(type='ClipWiseTransforms', shared_keys=('static_frame_position', ),
                         transforms=[dict(type='StaticFrame', clip_len=T),
                                     dict(type='FrameDifference')]))
    for _ in range(5):
        out = wrapper(two_clips())
        position = out['static_frame_position']
        # clip c holds video frames c * 5 + 1 .. c * 5 + 4 (the first of each is dropped)
        assert [int(f[0, 0, 0]) for f in out['imgs']] == [10, 20, 30, 40, 60, 70, 80, 90]
        assert out['static_imgs'].shape == (2 * T, SIZE, SIZE, 3)
        # the same position in both clips (shared_keys), each clip's own frame
        assert int(out['static_imgs'][0, 0, 0, 0]) == 10 * (1 + position)
        assert int(out['static_imgs'][T, 0, 0, 0]) == 10 * (6 + position)
        # every difference is one frame step (10); none crosses from clip 0 into clip 1
        assert np.all(out['diff_imgs'] == 10)
        assert list(out['frame_inds']) == [101, 102, 103, 104, 106, 107, 108, 109]
        assert out['num_clips'] == 2 and out['clip_len'] == T
    packed = build(dict(type='PackConceptInputs', view_names=DCLR_VIEWS))(out)
    inputs = packed['inputs']
    assert tuple(inputs.shape) == (6, 3, T, SIZE, SIZE)
    assert inputs[3, 0, 0, 0, 0] == 60 and inputs[4, 0, 0, 0, 0] == 10 * (6 + position)


def test_each_clip_draws_its_own_crop_and_colour():
    crop = [dict(type='RandomResizedCrop', area_range=(0.2, 0.5)),
            dict(type='Resize', scale=(8, 8), keep_ratio=False),
            dict(type='RandomApply', prob=1.0,
                 transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                                  saturation=0.4, hue=0.1)])]
    wrapper = build(dict(type='ClipWiseTransforms', transforms=crop))
    together = [build(c) for c in crop]
    np.random.seed(0)
    for _ in range(3):
        out = wrapper(two_clips(same_frames=True))
        assert len(out['imgs']) == 2 * (T + 1) and out['imgs'][0].shape == (8, 8, 3)
        # identical input clips, different crops and colours
        assert not np.array_equal(out['imgs'][0], out['imgs'][T + 1])
        # within a clip one draw: all its frames (identical input) stay identical
        assert all(np.array_equal(out['imgs'][0], f) for f in out['imgs'][1:T + 1])
        # the stock transforms on the whole sample give both clips the same crop
        results = two_clips(same_frames=True)
        for t in together:
            results = t(results)
        assert np.array_equal(results['imgs'][0], results['imgs'][T + 1])


def test_clip_wise_errors_name_the_problem():
    wrapper = build(dict(type='ClipWiseTransforms', transforms=[dict(type='StaticFrame',
                                                                     clip_len=T)]))
    sample = two_clips()
    sample['imgs'] = sample['imgs'][:-1]
    with pytest.raises(ValueError, match='num_clips \\* clip_len'):
        wrapper(sample)
    with pytest.raises(ValueError, match='non-empty list'):
        build(dict(type='ClipWiseTransforms', transforms=[]))
    static = build(dict(type='StaticFrame', clip_len=T))
    with pytest.raises(ValueError, match='static_frame_position.*outside'):
        static(dict(imgs=[np.zeros((2, 2, 3))] * T, clip_len=T, static_frame_position=T))


def test_clip_gaussian_blur_blurs_every_frame_with_one_sigma():
    blur = build(dict(type='ClipGaussianBlur', kernel_size=5, sigma_range=(0.5, 2.0)))
    frames = [np.random.default_rng(i).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
              for i in range(3)]
    out = blur(dict(imgs=[f.copy() for f in frames]))
    sigma = out['blur_sigma']
    assert 0.5 <= sigma <= 2.0
    for got, frame in zip(out['imgs'], frames):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, cv2.GaussianBlur(frame, (5, 5), sigma, sigmaY=sigma))
    assert not np.array_equal(out['imgs'][0], frames[0])
    with pytest.raises(ValueError, match='odd'):
        build(dict(type='ClipGaussianBlur', kernel_size=4))
