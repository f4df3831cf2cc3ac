"""SDC data transforms (StaticFrame, FrameDifference, PackConceptInputs, checked decord
loading) and ConceptDataPreprocessor, checked frame by frame against direct numpy / OpenCV
computations on clips of real codecs: those the ``generated_clips`` fixture encodes, and
the real footage of ../shared/videos where it is present (those cases skip without it)."""
import os.path as osp

import cv2
import decord
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample
from sdc_mmaction.datasets import concept_pipeline

init_default_scope('mmaction')


def build(cfgs):
    return [TRANSFORMS.build(cfg) for cfg in cfgs]


def run(transforms, results):
    for t in transforms:
        results = t(results)
    return results


def video_results(path):
    return dict(filename=path, label=3, start_index=0, modality='RGB')


def read_frames(path, inds):
    """Independent reference: decord straight to numpy, nothing from MMAction2."""
    return decord.VideoReader(path).get_batch(list(inds)).asnumpy()


def resize(frame, width, height):
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)


# --------------------------------------------------------------------------------------
# FrameDifference + StaticFrame + PackConceptInputs on encoded clips, against numpy
# --------------------------------------------------------------------------------------
# generated: H.264 / Xvid AVI / 9 frames of an odd size (looped); real: ../shared/videos
@pytest.mark.parametrize('name,seed', [('h264_32frames_96x72.mp4', 0),
                                       ('xvid_60frames_80x60.avi', 1),
                                       ('h264_9frames_67x51.mp4', 3),
                                       ('short_32frames.mp4', 0), ('test_320x240.avi', 1),
                                       ('arm_wrestling_340x256.mp4', 2)])
def test_views_match_numpy_after_random_crop_and_flip(video_path, name, seed):
    """v, s and d of the training pipeline equal a direct computation from decoded frames,
    using the crop box and flip the pipeline drew (so d is on exactly v's crop)."""
    path = video_path(name)
    T, size, short = 8, 48, 56
    load = build([dict(type='CheckedDecordInit'),
                  dict(type='SampleFrames', clip_len=T + 1, frame_interval=2),
                  dict(type='CheckedDecordDecode')])
    augment = build([dict(type='Resize', scale=(-1, short)),
                     dict(type='RandomResizedCrop'),
                     dict(type='Resize', scale=(size, size), keep_ratio=False),
                     dict(type='Flip', flip_ratio=0.5)])
    views = build([dict(type='FrameDifference'),
                   dict(type='StaticFrame', clip_len=T),  # shared crop: after the crops
                   dict(type='PackConceptInputs')])
    flips = set()
    for trial in range(4):
        np.random.seed(seed * 10 + trial)
        results = run(load, video_results(path))
        decoded_inds = results['frame_inds'].copy()
        results = run(augment, results)
        crop_bbox, flipped = results['crop_bbox'].copy(), results['flip']
        flips.add(bool(flipped))
        packed = run(views, results)
        inputs = packed['inputs'].numpy()
        assert inputs.shape == (3, 3, T, size, size) and inputs.dtype == np.float32

        raw = read_frames(path, decoded_inds)  # T + 1 frames, uint8
        h, w = raw.shape[1:3]
        scale = short / min(h, w)  # Resize(scale=(-1, short)): short side to `short`
        new_w, new_h = int(w * scale + 0.5), int(h * scale + 0.5)
        x1, y1, x2, y2 = crop_bbox
        ref = []
        for frame in raw:
            frame = resize(frame, new_w, new_h)[y1:y2, x1:x2]
            frame = resize(frame, size, size)
            ref.append(frame[:, ::-1] if flipped else frame)
        ref = np.stack(ref).astype(np.float32)  # (T + 1, H, W, C)
        clip = ref[1:].transpose(3, 0, 1, 2)
        diff = ref[1:] - ref[:-1]
        diff[decoded_inds[1:] < decoded_inds[:-1]] = 0  # a short video's loop seam
        diff = diff.transpose(3, 0, 1, 2)
        np.testing.assert_array_equal(inputs[0], clip)
        np.testing.assert_array_equal(inputs[2], diff)
        # the static view is one clip frame (never the extra leading frame), repeated
        position = list(decoded_inds[1:]).index(packed['data_samples'].static_frame_ind)
        np.testing.assert_array_equal(inputs[1], np.repeat(clip[:, position:position + 1],
                                                           T, axis=1))
        assert packed['data_samples'].view_names == ('clip', 'static', 'diff')
        assert packed['data_samples'].gt_label.tolist() == [3]
    assert flips == {True, False}, 'the seeds should exercise both flip branches'


@pytest.mark.parametrize('name', ['h264_150frames_112x84.mp4', 'arm_wrestling_340x256.mp4'])
def test_difference_is_float_where_uint8_would_wrap(video_path, name):
    """A decoded frame pair where x[t+1] < x[t]: uint8 subtraction wraps to a large
    positive value; the transform gives the negative float difference."""
    path = video_path(name)
    T = 4
    pipeline = build([dict(type='CheckedDecordInit'),
                      dict(type='SampleFrames', clip_len=T + 1, test_mode=True),
                      dict(type='CheckedDecordDecode'),
                      dict(type='FrameDifference')])
    results = run(pipeline, video_results(path))
    raw = read_frames(path, np.concatenate([[results['frame_inds'][0] - 1],
                                            results['frame_inds']]))
    diff = results['diff_imgs']
    assert diff.dtype == np.float32 and diff.shape == (T, ) + raw.shape[1:]
    wrapped = raw[1:] - raw[:-1]  # what uint8 arithmetic would give
    decreasing = raw[1:] < raw[:-1]
    assert decreasing.sum() > 1000, 'the clip must contain pixels that get darker'
    assert (diff[decreasing] < 0).all()
    assert (wrapped[decreasing] > 0).all()  # the bug this guards against
    np.testing.assert_array_equal(diff, raw[1:].astype(np.float32) - raw[:-1])
    assert diff.min() >= -255 and diff.max() <= 255


def test_no_wrap_around_difference():
    """d[0] is x[1] - x[0], never the difference of the last and the first frame."""
    T = 6
    frames = [np.full((4, 5, 3), 10 * t, np.uint8) for t in range(T + 1)]
    frames[-1][:] = 250  # a big jump at the end
    results = dict(imgs=frames, clip_len=T + 1, num_clips=1,
                   frame_inds=np.arange(T + 1, dtype=np.int32))
    out = TRANSFORMS.build(dict(type='FrameDifference'))(results)
    diff = out['diff_imgs']
    assert diff.shape == (T, 4, 5, 3)
    np.testing.assert_array_equal(diff[:-1], np.full((T - 1, 4, 5, 3), 10.0))
    np.testing.assert_array_equal(diff[-1], np.full((4, 5, 3), 250.0 - 10 * (T - 1)))
    rolled = np.stack(frames[1:]).astype(np.float32)
    rolled = rolled - np.roll(rolled, 1, axis=0)  # the authors' x - roll(x, 1)
    assert not np.array_equal(diff[0], rolled[0])
    # the clip keeps the last T frames, untouched
    assert len(out['imgs']) == T and out['clip_len'] == T
    assert all(a is b for a, b in zip(out['imgs'], frames[1:]))
    np.testing.assert_array_equal(out['frame_inds'], np.arange(1, T + 1))


def test_two_clips_are_differenced_separately():
    T = 3
    frames = [np.full((2, 2, 3), v, np.uint8) for v in (0, 1, 3, 6, 100, 110, 130, 160)]
    results = dict(imgs=frames, clip_len=T + 1, num_clips=2,
                   frame_inds=np.array([0, 1, 2, 3, 10, 11, 12, 13]))
    out = TRANSFORMS.build(dict(type='FrameDifference'))(results)
    # no difference across the boundary between clip 1 (ends at 6) and clip 2 (starts at 100)
    assert out['diff_imgs'][:, 0, 0, 0].tolist() == [1, 2, 3, 10, 20, 30]
    assert [f[0, 0, 0] for f in out['imgs']] == [1, 3, 6, 110, 130, 160]
    packed = TRANSFORMS.build(dict(type='PackConceptInputs',
                                   view_names=('clip', 'diff', 'clip2', 'diff2')))(out)
    x = packed['inputs'][:, 0, :, 0, 0].tolist()
    assert x == [[1, 3, 6], [1, 2, 3], [110, 130, 160], [10, 20, 30]]


@pytest.mark.parametrize('name', ['h264_150frames_112x84.mp4', 'test_340x256_300frames.mp4'])
def test_two_clip_pipeline_on_a_video(video_path, name):
    path = video_path(name)
    np.random.seed(0)
    packed = run(build(concept_pipeline(4, 32, two_clips=True)), video_results(path))
    assert packed['inputs'].shape == (4, 3, 4, 32, 32)
    assert packed['data_samples'].view_names == ('clip', 'static', 'diff', 'clip2')
    assert not torch.equal(packed['inputs'][0], packed['inputs'][3])


@pytest.mark.parametrize('name', ['h264_32frames_96x72.mp4', 'short_32frames.mp4'])
def test_loop_seam_of_a_short_video_is_zeroed(video_path, name):
    """A 32-frame video sampled for 41 frames loops (SampleFrames' default); the difference
    across the seam (frame 31 -> frame 0) is zero, every other one is x[t+1] - x[t]."""
    path = video_path(name)
    T = 40
    pipeline = build([dict(type='CheckedDecordInit'),
                      dict(type='SampleFrames', clip_len=T + 1, test_mode=True),
                      dict(type='CheckedDecordDecode'),
                      dict(type='Resize', scale=(32, 24), keep_ratio=False)])
    results = run(pipeline, video_results(path))
    inds = results['frame_inds'].copy()
    assert inds.tolist() == list(range(32)) + list(range(9))
    frames = np.stack(results['imgs']).astype(np.float32)
    out = TRANSFORMS.build(dict(type='FrameDifference'))(results)
    expected = frames[1:] - frames[:-1]
    seam = 31  # d[31] = x[32] - x[31] = frame 0 - frame 31
    assert np.abs(expected[seam]).max() > 0
    expected[seam] = 0
    np.testing.assert_array_equal(out['diff_imgs'], expected)
    # without the option the seam difference is kept
    results = run(pipeline, video_results(path))
    out = TRANSFORMS.build(dict(type='FrameDifference', zero_loop_seams=False))(results)
    np.testing.assert_array_equal(out['diff_imgs'][seam], frames[32] - frames[31])


@pytest.mark.parametrize('name', ['xvid_60frames_80x60.avi', 'test_320x240.avi'])
def test_independent_static_crop_uses_its_own_pipeline(video_path, name):
    """With crop_pipeline, s is the chosen uncropped frame put through that pipeline
    (here a deterministic one), while v gets the clip's crop."""
    path = video_path(name)
    T = 6
    pipeline = build([
        dict(type='CheckedDecordInit'),
        dict(type='SampleFrames', clip_len=T + 1, test_mode=True),
        dict(type='CheckedDecordDecode'),
        dict(type='StaticFrame', clip_len=T, test_mode=True, crop_pipeline=[
            dict(type='Resize', scale=(40, 30), keep_ratio=False),
            dict(type='Flip', flip_ratio=1.0)]),
        dict(type='CenterCrop', crop_size=(40, 30)),
        dict(type='FrameDifference'),
        dict(type='PackConceptInputs')])
    packed = run(pipeline, video_results(path))
    meta = packed['data_samples']
    raw = read_frames(path, [meta.static_frame_ind])[0]
    expected_static = resize(raw, 40, 30)[:, ::-1].astype(np.float32).transpose(2, 0, 1)
    inputs = packed['inputs'].numpy()
    assert inputs.shape == (3, 3, T, 30, 40)
    for t in range(T):
        np.testing.assert_array_equal(inputs[1][:, t], expected_static)
    # the clip was centre-cropped (not resized, not flipped): its own crop
    clip_frame = read_frames(path, [meta.static_frame_ind])[0]
    h, w = clip_frame.shape[:2]
    y1, x1 = (h - 30) // 2, (w - 40) // 2
    position = T // 2
    np.testing.assert_array_equal(inputs[0][:, position],
                                  clip_frame[y1:y1 + 30, x1:x1 + 40].transpose(2, 0, 1))


def test_static_frame_choice_train_and_test_mode():
    T = 5
    frames = [np.full((3, 3, 3), 10 * i, np.uint8) for i in range(T + 1)]  # extra frame 0
    base = dict(clip_len=T + 1, num_clips=1, frame_inds=np.arange(100, 100 + T + 1))
    chosen = set()
    train = TRANSFORMS.build(dict(type='StaticFrame', clip_len=T))
    for seed in range(60):
        np.random.seed(seed)
        out = train(dict(base, imgs=list(frames)))
        value = int(out['static_imgs'][0, 0, 0, 0])
        assert out['static_imgs'].shape == (T, 3, 3, 3)
        assert (out['static_imgs'] == value).all()
        assert out['static_frame_ind'] == 100 + value // 10
        chosen.add(value // 10)
    assert chosen == set(range(1, T + 1)), 'random over the clip, never the extra frame'

    test = TRANSFORMS.build(dict(type='StaticFrame', clip_len=T, test_mode=True))
    picks = set()
    for seed in range(5):
        np.random.seed(seed)
        picks.add(test(dict(base, imgs=list(frames)))['static_frame_ind'])
    assert picks == {100 + 1 + T // 2}


def test_static_frame_is_a_copy_not_flipped_with_the_clip():
    frame = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    results = dict(imgs=[frame.copy() for _ in range(3)], clip_len=3, num_clips=1,
                   img_shape=(2, 4), modality='RGB')
    results = TRANSFORMS.build(dict(type='StaticFrame', clip_len=3, test_mode=True))(results)
    results = TRANSFORMS.build(dict(type='Flip', flip_ratio=1.0))(results)  # in place
    np.testing.assert_array_equal(results['static_imgs'][0], frame)
    np.testing.assert_array_equal(results['imgs'][1], frame[:, ::-1])


@pytest.mark.parametrize('name', ['h264_150frames_112x84.mp4', 'test_340x256_300frames.mp4'])
def test_test_mode_pipeline_is_deterministic(video_path, name):
    path = video_path(name)
    pipeline = build(concept_pipeline(8, 32, test_mode=True))
    outputs = []
    for seed in (0, 1, 2):
        np.random.seed(seed)
        outputs.append(run(pipeline, video_results(path)))
    for other in outputs[1:]:
        assert torch.equal(outputs[0]['inputs'], other['inputs'])
        assert other['data_samples'].static_frame_ind == \
            outputs[0]['data_samples'].static_frame_ind
    # and training mode is not
    train = build(concept_pipeline(8, 32))
    np.random.seed(0)
    a = run(train, video_results(path))['inputs']
    np.random.seed(1)
    b = run(train, video_results(path))['inputs']
    assert not torch.equal(a, b)


@pytest.mark.parametrize('shape', [(33, 47), (33, 47, 3), (7, 5)])
def test_grayscale_and_odd_sized_frames(shape):
    T = 4
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(T + 1)]
    results = dict(imgs=[f.copy() for f in frames], clip_len=T + 1, num_clips=1,
                   img_shape=shape[:2], modality='RGB', label=0,
                   frame_inds=np.arange(T + 1))
    crop = (min(shape[1], 21), min(shape[0], 17))
    pipeline = build([
        dict(type='StaticFrame', clip_len=T, test_mode=True,
             crop_pipeline=[dict(type='CenterCrop', crop_size=crop)]),
        dict(type='CenterCrop', crop_size=crop),
        dict(type='Flip', flip_ratio=1.0),
        dict(type='FrameDifference'),
        dict(type='PackConceptInputs')])
    packed = run(pipeline, results)
    channels = 1 if len(shape) == 2 else 3
    w, h = crop
    assert packed['inputs'].shape == (3, channels, T, h, w)
    y1, x1 = (shape[0] - h) // 2, (shape[1] - w) // 2
    ref = np.stack([f[y1:y1 + h, x1:x1 + w][:, ::-1] for f in frames]).astype(np.float32)
    if channels == 1:
        ref = ref[..., None]
    ref = ref.transpose(3, 0, 1, 2)
    np.testing.assert_array_equal(packed['inputs'][0].numpy(), ref[:, 1:])
    np.testing.assert_array_equal(packed['inputs'][2].numpy(), ref[:, 1:] - ref[:, :-1])
    unflipped_static = frames[1 + T // 2][y1:y1 + h, x1:x1 + w].astype(np.float32)
    static = packed['inputs'][1, :, 0].numpy()
    np.testing.assert_array_equal(static, unflipped_static.reshape(h, w, channels)
                                  .transpose(2, 0, 1))

    # grayscale through the preprocessor needs a one-channel mean/std
    batch = dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']])
    if channels == 1:
        with pytest.raises(ValueError, match='mean has 3 values but the inputs have 1'):
            MODELS.build(dict(type='ConceptDataPreprocessor'))(batch)
        out = MODELS.build(dict(type='ConceptDataPreprocessor', mean=[128.0], std=[64.0],
                                diff_std=[32.0]))(batch)
        torch.testing.assert_close(out['inputs'][0, 0], (packed['inputs'][0] - 128) / 64)
        torch.testing.assert_close(out['inputs'][0, 2], packed['inputs'][2] / 32)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------
def test_frame_difference_and_static_frame_errors():
    frames = [np.zeros((4, 4, 3), np.uint8) for _ in range(5)]
    with pytest.raises(ValueError, match=r'5 frames but num_clips \* clip_len = 1 \* 4'):
        TRANSFORMS.build(dict(type='FrameDifference'))(dict(imgs=frames, clip_len=4))
    with pytest.raises(ValueError, match='T \\+ 1 >= 2'):
        TRANSFORMS.build(dict(type='FrameDifference'))(dict(imgs=frames[:1], clip_len=1))
    with pytest.raises(KeyError, match='clip_len'):
        TRANSFORMS.build(dict(type='FrameDifference'))(dict(imgs=frames))
    mixed = frames[:4] + [np.zeros((4, 5, 3), np.uint8)]
    with pytest.raises(ValueError, match='different shapes'):
        TRANSFORMS.build(dict(type='FrameDifference'))(dict(imgs=mixed, clip_len=5))
    with pytest.raises(ValueError, match=r'StaticFrame\(clip_len=8\) needs clips of at least'):
        TRANSFORMS.build(dict(type='StaticFrame', clip_len=8))(dict(imgs=frames, clip_len=5))
    with pytest.raises(ValueError, match='positive int'):
        TRANSFORMS.build(dict(type='StaticFrame', clip_len=0))


def test_pack_concept_inputs_errors():
    T = 3
    frames = [np.zeros((4, 4, 3), np.uint8) for _ in range(T)]
    diff = np.zeros((T, 4, 4, 3), np.float32)
    pack = TRANSFORMS.build(dict(type='PackConceptInputs'))
    with pytest.raises(KeyError, match="view 'static' needs results\\['static_imgs'\\].*"
                       'StaticFrame'):
        pack(dict(imgs=frames, clip_len=T, diff_imgs=diff))
    with pytest.raises(ValueError, match='remove FormatShape'):
        pack(dict(imgs=frames, clip_len=T, input_shape=(1, 3, T, 4, 4)))
    with pytest.raises(ValueError, match='static_imgs has 2 frames but the clip has 3'):
        pack(dict(imgs=frames, clip_len=T, diff_imgs=diff, static_imgs=diff[:2]))
    with pytest.raises(ValueError, match='different frame shapes'):
        pack(dict(imgs=frames, clip_len=T, diff_imgs=diff,
                  static_imgs=np.zeros((T, 5, 4, 3), np.uint8)))
    with pytest.raises(ValueError, match='num_clips=2'):
        TRANSFORMS.build(dict(type='PackConceptInputs', view_names=('clip', 'clip2')))(
            dict(imgs=frames, clip_len=T))
    with pytest.raises(ValueError, match='unknown view names'):
        TRANSFORMS.build(dict(type='PackConceptInputs', view_names=('clip', 'flow')))


# --------------------------------------------------------------------------------------
# checked decord loading
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['xvid_60frames_80x60.avi', 'h264_32frames_96x72.mp4',
                                  'h264_9frames_67x51.mp4', 'test_320x240.avi',
                                  'short_32frames.mp4'])
def test_checked_decord_reads_what_decord_init_reads(video_path, name):
    path = video_path(name)
    outputs = []
    for init, decode in (('DecordInit', 'DecordDecode'),
                         ('CheckedDecordInit', 'CheckedDecordDecode')):
        np.random.seed(0)
        results = run(build([dict(type=init), dict(type='SampleFrames', clip_len=5,
                                                   frame_interval=3),
                             dict(type=decode)]), video_results(path))
        outputs.append(results)
    assert outputs[0]['total_frames'] == outputs[1]['total_frames']
    assert outputs[0]['avg_fps'] == outputs[1]['avg_fps']
    np.testing.assert_array_equal(np.stack(outputs[0]['imgs']), np.stack(outputs[1]['imgs']))


# --------------------------------------------------------------------------------------
# ConceptDataPreprocessor
# --------------------------------------------------------------------------------------
def views_sample(names):
    sample = ActionDataSample()
    sample.set_metainfo(dict(view_names=tuple(names)))
    return sample


def concept_sample(names=('clip', 'static', 'diff'), shape=(3, 2, 4, 5), seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.rand((len(names), ) + shape, generator=gen) * 255
    return inputs, views_sample(names)


def test_preprocessor_normalises_each_view_by_its_kind():
    mean, std, diff_std = [100.0, 110.0, 120.0], [50.0, 60.0, 70.0], [8.0, 9.0, 10.0]
    pre = MODELS.build(dict(type='ConceptDataPreprocessor', mean=mean, std=std,
                            diff_std=diff_std))
    samples = [concept_sample(seed=i) for i in range(3)]
    out = pre(dict(inputs=[s[0] for s in samples], data_samples=[s[1] for s in samples]))
    x = out['inputs']
    assert x.shape == (3, 3, 3, 2, 4, 5) and x.dtype == torch.float32
    for n, (raw, _) in enumerate(samples):
        for v in (0, 1):
            for c in range(3):
                torch.testing.assert_close(x[n, v, c], (raw[v, c] - mean[c]) / std[c])
        for c in range(3):
            torch.testing.assert_close(x[n, 2, c], raw[2, c] / diff_std[c])
    assert len(out['data_samples']) == 3

    # default diff_std is std: d / std is the difference of the normalised frames
    pre = MODELS.build(dict(type='ConceptDataPreprocessor', mean=mean, std=std))
    a, b = torch.rand(3, 2, 4, 5) * 255, torch.rand(3, 2, 4, 5) * 255
    inputs = torch.stack([b, a, b - a])
    sample = views_sample(('clip', 'static', 'diff'))
    x = pre(dict(inputs=[inputs], data_samples=[sample]))['inputs'][0]
    torch.testing.assert_close(x[2], x[0] - x[1], rtol=1e-5, atol=1e-5)


def test_views_derived_from_a_clip_match_the_training_views():
    """The static frame and the differences derived from a normalised clip equal what
    the training path gives for the same frames (FrameDifference's d normalised by
    diff_std), for the differences that lie inside the clip."""
    mean, std, diff_std = [100.0, 110.0, 120.0], [50.0, 60.0, 70.0], [8.0, 9.0, 10.0]
    pre = MODELS.build(dict(type='ConceptDataPreprocessor', mean=mean, std=std,
                            diff_std=diff_std))
    gen = torch.Generator().manual_seed(0)
    frames = torch.rand(3, 6, 4, 5, generator=gen) * 255  # x[0] .. x[T], T = 5
    clip, diff = frames[:, 1:], frames[:, 1:] - frames[:, :-1]
    static = clip[:, 2:3].expand_as(clip)
    train = pre(dict(inputs=[torch.stack([clip, static, diff])],
                     data_samples=[views_sample(('clip', 'static', 'diff'))]))['inputs'][0]
    derived = pre.views_from_clip(train[:1])  # (M=1, C, T, H, W)
    assert derived['diff'].shape == (1, 3, 4, 4, 5)
    # d[0] = x[1] - x[0] needs the frame before the clip; the other four are derived
    torch.testing.assert_close(derived['diff'][0], train[2][:, 1:], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(derived['static'][0], train[1])
    with pytest.raises(ValueError, match=r'T >= 2, got \(1, 3, 1, 4, 5\)'):
        pre.views_from_clip(train[:1, :, :1])


def test_preprocessor_view_order_comes_from_the_samples():
    pre = MODELS.build(dict(type='ConceptDataPreprocessor', mean=[0, 0, 0], std=[2, 2, 2],
                            diff_std=1))
    inputs, sample = concept_sample(names=('diff', 'clip'))
    x = pre(dict(inputs=[inputs], data_samples=[sample]))['inputs'][0]
    torch.testing.assert_close(x[0], inputs[0])  # diff: / 1
    torch.testing.assert_close(x[1], inputs[1] / 2)


def test_preprocessor_clip_only_batches():
    mean, std = [100.0, 110.0, 120.0], [50.0, 60.0, 70.0]
    pre = MODELS.build(dict(type='ConceptDataPreprocessor', mean=mean, std=std))
    m = torch.tensor(mean).view(3, 1, 1, 1)
    s = torch.tensor(std).view(3, 1, 1, 1)
    clips = [torch.rand(3, 4, 6, 6) * 255 for _ in range(2)]
    out = pre(dict(inputs=clips, data_samples=None))
    assert out['inputs'].shape == (2, 3, 4, 6, 6)
    torch.testing.assert_close(out['inputs'][1], (clips[1] - m) / s)
    # MMAction2's PackActionInputs layout: (num_clips, C, T, H, W) per sample, uint8
    multi = [torch.randint(0, 256, (5, 3, 4, 6, 6), dtype=torch.uint8) for _ in range(2)]
    samples = [ActionDataSample() for _ in range(2)]
    out = pre(dict(inputs=multi, data_samples=samples))
    assert out['inputs'].shape == (2, 5, 3, 4, 6, 6) and out['inputs'].dtype == torch.float32
    torch.testing.assert_close(out['inputs'][0, 4], (multi[0][4].float() - m) / s)
    # a stacked tensor is accepted too
    out = pre(dict(inputs=torch.stack(clips)))
    torch.testing.assert_close(out['inputs'][0], (clips[0] - m) / s)


def test_preprocessor_to_rgb_and_errors():
    pre = MODELS.build(dict(type='ConceptDataPreprocessor', mean=[1, 2, 3], std=[1, 1, 1],
                            to_rgb=True))
    inputs, sample = concept_sample()
    x = pre(dict(inputs=[inputs], data_samples=[sample]))['inputs'][0]
    torch.testing.assert_close(x[0, 0], inputs[0, 2] - 1)
    torch.testing.assert_close(x[2, 0], inputs[2, 2] / 1)

    pre = MODELS.build(dict(type='ConceptDataPreprocessor'))
    a, sa = concept_sample()
    b, sb = concept_sample(names=('clip', 'diff', 'static'))
    with pytest.raises(ValueError, match='different view_names'):
        pre(dict(inputs=[a, a], data_samples=[sa, sb]))
    small, s_small = concept_sample(shape=(3, 2, 4, 4))
    with pytest.raises(ValueError, match='different shapes'):
        pre(dict(inputs=[a, small], data_samples=[sa, s_small]))
    with pytest.raises(ValueError, match=r'needs a batch \(N, 2, C, T, H, W\)'):
        bad = views_sample(('clip', 'diff'))
        pre(dict(inputs=[a], data_samples=[bad]))
    configured = MODELS.build(dict(type='ConceptDataPreprocessor',
                                   view_names=('clip', 'diff', 'static')))
    with pytest.raises(ValueError, match='configured with'):
        configured(dict(inputs=[a], data_samples=[sa]))
    # configured names apply to raw tensors without samples
    out = configured(dict(inputs=[a]))
    assert out['inputs'].shape == (1, 3, 3, 2, 4, 5)
    with pytest.raises(ValueError, match='std must be positive'):
        MODELS.build(dict(type='ConceptDataPreprocessor', diff_std=0))


def test_independent_difference_crop():
    """With crop_pipeline, d is the difference of its own crop; the clip stays uncropped
    (and the frames are not flipped in place) for the augmentations that follow."""
    T = 4
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8) for _ in range(T + 1)]
    originals = [f.copy() for f in frames]
    results = dict(imgs=list(frames), clip_len=T + 1, num_clips=1, img_shape=(6, 8),
                   modality='RGB')
    crop = [dict(type='CenterCrop', crop_size=4), dict(type='Flip', flip_ratio=1.0)]
    out = TRANSFORMS.build(dict(type='FrameDifference', crop_pipeline=crop))(results)
    cropped = np.stack(originals).astype(np.float32)[:, 1:5, 2:6, :][:, :, ::-1]
    np.testing.assert_array_equal(out['diff_imgs'], cropped[1:] - cropped[:-1])
    assert len(out['imgs']) == T and out['imgs'][0].shape == (6, 8, 3)
    for got, want in zip(out['imgs'], originals[1:]):
        np.testing.assert_array_equal(got, want)
    assert 'crop_pipeline' in repr(TRANSFORMS.build(dict(type='FrameDifference',
                                                         crop_pipeline=crop)))
    # the clip's own random crop afterwards leaves d alone
    out = TRANSFORMS.build(dict(type='RandomCrop', size=3))(out)
    assert out['imgs'][0].shape[:2] == (3, 3) and out['diff_imgs'].shape[1:3] == (4, 4)
