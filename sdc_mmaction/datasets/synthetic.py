"""A generated video dataset whose static and dynamic factors are known and separable.

Every video shows a textured, coloured background (the *scene*: the static factor) over
which one or more objects move (the *motion*: the dynamic factor). Nuisances vary freely:
texture phase and orientation, colour jitter, object size, start position, speed, phase,
and per-frame sensor noise (with ``object_look='random'`` also the objects' shape and
colour). The design makes each factor readable
from exactly one of SDC's derived views:

- **a single frame cannot tell the motion.** Objects live on a torus (they leave one edge
  and come back on the opposite one) and start at a uniformly random place, so the object
  position in any one frame is uniform whatever the motion. The ``pulse`` motion changes
  the object size; every other motion draws its (constant) size from the same marginal
  distribution, so size does not give it away either.
- **a frame difference cannot tell the scene.** Objects are drawn *additively* on an
  integer-valued background (a translucent layer, not an occluder) and pixel values are
  kept away from 0 and 255 by construction (see the value budget below), so
  ``x[t+1] - x[t]`` is exactly the difference of the object layers plus noise: the
  background cancels bit for bit. The objects look the same in every scene (by default
  they look the same in every video; a random look is drawn independently of both labels),
  for the same reason: objects are what ``d`` shows.
- the clip ``v`` shows both.

Scenes (static classes) differ by hue (evenly spaced on the colour wheel, at
``hue_amplitude`` levels from grey) and texture family (stripes, checker, rings, blobs,
cycling). With ``scene_colour='per_video'`` the hue is drawn for every video instead,
uniformly on the colour wheel and independently of both labels, so the texture family
alone tells the scenes apart (at most 4 scenes): a feature that sees only colour, such as
a frame's mean RGB, reads the scene at about chance. Motions (dynamic classes) are taken in
this order: ``up``, ``down``, ``oscillate_horizontal``, ``pulse``, ``left``, ``right``,
``orbit_cw``, ``orbit_ccw``, ``oscillate_vertical``. The first four are unchanged by a
horizontal flip (so MMAction2's ``Flip`` keeps their labels right); ``left``/``right`` and
``orbit_cw``/``orbit_ccw`` swap under a horizontal flip, which matters only if you train
a probe on them with ``Flip``.

Value budget (8-bit): background colour 128 +- 36 (hue) +- 18 (texture) +- 9 (jitter), object
layer clipped to +- 45 per channel, noise clipped to +- 3 sigma with sigma <= 4: every value
stays in [8, 248], so no pixel is ever clipped. Pixel values are rounded with
``floor(x + 0.5)`` on an integer background, which commutes with adding the background.

Videos are encoded losslessly by default (H.264 RGB, ``libx264rgb -crf 0`` through the
ffmpeg binary that ships with ``imageio-ffmpeg``), so decoded frames are the rendered
frames and the properties above hold for the decoded video too. ``codec='mp4v'`` uses
OpenCV's MPEG-4 writer instead: faster and smaller, but lossy (block artefacts then depend
a little on the background, so ``d`` is no longer exactly scene-free). Both are
byte-identical across runs for a seed (with the same ffmpeg / OpenCV build).

Layout written by :func:`generate_dataset` (``root`` = ``out_dir``)::

    root/
      meta.json                       class names, counts, options, file lists
      videos/                         the data_prefix for MMAction2's VideoDataset
        scenes/train/s{S}_d{D}_{i:03d}.mp4        S = scene class, D = motion class
        scenes/val/s{S}_d{D}_{i:03d}.mp4
        motion_only/train/d{D}_{i:03d}.mp4        one shared scene (scene 0)
        motion_only/val/d{D}_{i:03d}.mp4
      annotations/                    MMAction2 lists: "relative/path.mp4 label" per line
        {train,val}_static.txt        scenes/ videos, label = scene class S
        {train,val}_dynamic.txt       scenes/ videos, label = motion class D
        {train,val}_action.txt        scenes/ videos, label = S * num_dynamic + D
        {train,val}_motion_only.txt   motion_only/ videos, label = motion class D

Use with MMAction2 as
``dict(type='VideoDataset', ann_file=root + '/annotations/train_action.txt',
data_prefix=dict(video=root + '/videos'), pipeline=...)``.
"""
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

#: motion classes, in the order the dynamic labels use
MOTIONS: Tuple[str, ...] = ('up', 'down', 'oscillate_horizontal', 'pulse', 'left', 'right',
                            'orbit_cw', 'orbit_ccw', 'oscillate_vertical')
#: motions whose label changes under a horizontal flip
FLIP_SENSITIVE_MOTIONS: Tuple[str, ...] = ('left', 'right', 'orbit_cw', 'orbit_ccw')
#: texture families, cycled over the scene classes
TEXTURES: Tuple[str, ...] = ('stripes', 'checker', 'rings', 'blobs')
_HUE_NAMES = ('red', 'orange', 'yellow', 'chartreuse', 'green', 'spring', 'cyan', 'azure',
              'blue', 'violet', 'magenta', 'rose')
_SHAPES = ('disc', 'square', 'diamond')

# value budget (see the module docstring): these keep every pixel inside [8, 248]
_CHROMA = 36.0
_LUMA = 18.0
_JITTER_GLOBAL = 6
_JITTER_CHANNEL = 3
_LAYER_MAX = 45.0
_MAX_NOISE_STD = 4.0
_CODECS = ('lossless', 'mp4v')
_SCENE_COLOURS = ('class', 'per_video')
_SPLIT_IDS = {'train': 0, 'val': 1}
_VARIANT_IDS = {'scenes': 0, 'motion_only': 1}


@dataclass(frozen=True)
class SyntheticOptions:
    """Options of the generated dataset (all validated by :meth:`validate`).

    Args:
        num_static (int): scene classes, 1..12. Defaults to 4.
        num_dynamic (int): motion classes, 1..9 (see :data:`MOTIONS`). Defaults to 4.
        train_per_class (int): training videos per (scene, motion) pair. Defaults to 8.
        val_per_class (int): validation videos per (scene, motion) pair. Defaults to 2.
        motion_only (bool): also write the motion-only variant (one shared scene; it has
            ``num_static`` times as many videos per motion as ``scenes/`` has per pair, so
            both variants are the same size). Defaults to True.
        height (int): frame height in pixels (>= 16). Defaults to 64.
        width (int): frame width in pixels (>= 16). Defaults to 64.
        num_frames (int): frames per video (>= 2). Defaults to 24, enough for 16-frame
            clips plus the extra frame the frame difference needs, with room to jitter.
        fps (int): frame rate written in the container. Defaults to 25.
        num_objects (int): moving objects per video, all with the video's motion.
            Defaults to 2 (so that most random crops still contain one).
        noise_std (float): per-frame Gaussian noise, in 8-bit levels, <= 4.
            Defaults to 2.0.
        object_look (str): ``'fixed'``: every object is the same bright square, so the
            only thing the clip shares with its frame difference is the motion (and where
            the objects are). ``'random'``: shape and colour offset are drawn per object;
            they are then a second factor that ``v`` and ``d`` share, which a
            self-supervised model can latch onto instead of the motion. Defaults to
            ``'fixed'``.
        codec (str): ``'lossless'`` (H.264 RGB, exact) or ``'mp4v'`` (OpenCV MPEG-4,
            lossy, even sizes only). Defaults to ``'lossless'``.
        hue_amplitude (float): how far each scene's mean colour lies from grey, in 8-bit
            levels per channel, in [0, 36]. The hue is the one scene cue that survives
            any pooling, so at 36 every feature of a small network tells the scenes
            apart; smaller values leave the texture family as the stronger cue (at 0
            it is the only one, so 0 allows at most one scene per texture family, 4).
            Object colours, noise and the colour jitter do not change. Defaults to 36.
        scene_colour (str): ``'class'``: each scene has its own hue (see
            ``hue_amplitude``). ``'per_video'``: each video's hue is drawn uniformly on the
            colour wheel, whatever its scene, so colour says nothing about the scene and
            the texture family is the only scene cue (``num_static`` <= 4). The other
            nuisances are drawn as with ``'class'``, so the same seed gives the same
            textures, objects and noise. Defaults to ``'class'``.
    """
    num_static: int = 4
    num_dynamic: int = 4
    train_per_class: int = 8
    val_per_class: int = 2
    motion_only: bool = True
    height: int = 64
    width: int = 64
    num_frames: int = 24
    fps: int = 25
    num_objects: int = 2
    noise_std: float = 2.0
    codec: str = 'lossless'
    object_look: str = 'fixed'
    hue_amplitude: float = _CHROMA
    scene_colour: str = 'class'

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option."""
        checks = [
            ('num_static', 1 <= self.num_static <= len(_HUE_NAMES), f'1..{len(_HUE_NAMES)}'),
            ('num_dynamic', 1 <= self.num_dynamic <= len(MOTIONS), f'1..{len(MOTIONS)}'),
            ('train_per_class', self.train_per_class >= 0, '>= 0'),
            ('val_per_class', self.val_per_class >= 0, '>= 0'),
            ('height', self.height >= 16, '>= 16'),
            ('width', self.width >= 16, '>= 16'),
            ('num_frames', self.num_frames >= 2, '>= 2'),
            ('fps', self.fps >= 1, '>= 1'),
            ('num_objects', self.num_objects >= 1, '>= 1'),
            ('noise_std', 0 <= self.noise_std <= _MAX_NOISE_STD,
             f'in [0, {_MAX_NOISE_STD}] (larger noise would clip pixels)'),
            ('codec', self.codec in _CODECS, f'one of {_CODECS}'),
            ('object_look', self.object_look in ('fixed', 'random'), "'fixed' or 'random'"),
            ('hue_amplitude', isinstance(self.hue_amplitude, (int, float)) and
             not isinstance(self.hue_amplitude, bool) and 0 <= self.hue_amplitude <= _CHROMA,
             f'a number in [0, {_CHROMA:g}] (larger would clip pixels)'),
            ('scene_colour', self.scene_colour in _SCENE_COLOURS, f'one of {_SCENE_COLOURS}'),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f'{name}={getattr(self, name)!r} is invalid: expected {expected}')
        if self.hue_amplitude == 0 and self.num_static > len(TEXTURES):
            # scenes k and k + len(TEXTURES) would then share the texture family and the
            # (grey) colour: two labels for one distribution of videos
            raise ValueError(f'hue_amplitude=0 leaves the texture family as the only scene '
                             f'cue, and there are {len(TEXTURES)} families: num_static='
                             f'{self.num_static} would repeat scenes; use num_static <= '
                             f'{len(TEXTURES)} or a hue_amplitude above 0')
        if self.scene_colour == 'per_video' and self.num_static > len(TEXTURES):
            # the texture family is then the only scene cue
            raise ValueError(f"scene_colour='per_video' leaves the texture family as the "
                             f'only scene cue, and there are {len(TEXTURES)} families: '
                             f'num_static={self.num_static} would repeat scenes; use '
                             f'num_static <= {len(TEXTURES)}')
        if self.codec == 'mp4v' and (self.height % 2 or self.width % 2):
            # OpenCV's writer silently drops the last row/column of odd-sized frames.
            raise ValueError(f"codec='mp4v' needs even frame sizes, got "
                             f'{self.height}x{self.width}; use codec=\'lossless\'')


def static_class_names(num_static: int, hue_amplitude: float = _CHROMA,
                       scene_colour: str = 'class') -> List[str]:
    """Names of the scene classes: ``'<hue>_<texture>'`` (``'grey_<texture>'`` when
    ``hue_amplitude`` is 0 and the scenes have no hue, ``'anyhue_<texture>'`` when the
    hue is drawn per video)."""
    names = []
    for k in range(num_static):
        hue_deg = 360.0 * k / num_static
        if hue_amplitude == 0:
            hue_name = 'grey'
        elif scene_colour == 'per_video':
            hue_name = 'anyhue'
        else:
            hue_name = _HUE_NAMES[int(round(hue_deg / 30.0)) % len(_HUE_NAMES)]
        names.append(f'{hue_name}_{TEXTURES[k % len(TEXTURES)]}')
    return names


def dynamic_class_names(num_dynamic: int) -> List[str]:
    """Names of the motion classes (the first ``num_dynamic`` of :data:`MOTIONS`)."""
    return list(MOTIONS[:num_dynamic])


def _scene_colour(scene: int, num_static: int, hue_amplitude: float = _CHROMA,
                  hue: Optional[float] = None) -> np.ndarray:
    """The background's mean colour: the scene's hue (or ``hue``, radians) at
    ``hue_amplitude`` levels from grey."""
    if hue is None:
        hue = 2 * math.pi * scene / num_static
    phases = np.array([0.0, 2 * math.pi / 3, 4 * math.pi / 3])
    return 128.0 + hue_amplitude * np.cos(hue - phases)


def render_background(scene: int, num_static: int, height: int, width: int,
                      rng: np.random.Generator,
                      hue_amplitude: float = _CHROMA,
                      scene_colour: str = 'class') -> np.ndarray:
    """The static background of one video: integer values as float64, shape (H, W, 3).

    The texture family and hue are the scene class (the hue at ``hue_amplitude`` levels
    from grey); orientation, frequency, phase and a small colour jitter are nuisances
    drawn from ``rng``. With ``scene_colour='per_video'`` the hue is a nuisance too, drawn
    from ``rng`` after the others (so the other nuisances match the ``'class'`` ones).
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    u /= width
    v /= height
    texture = TEXTURES[scene % len(TEXTURES)]
    theta = rng.uniform(0, math.pi)
    phase = rng.uniform(0, 2 * math.pi)
    along = u * math.cos(theta) + v * math.sin(theta)
    across = -u * math.sin(theta) + v * math.cos(theta)
    if texture == 'stripes':
        freq = rng.uniform(2.5, 4.0)
        pattern = 0.5 + 0.5 * np.sin(2 * math.pi * freq * along + phase)
    elif texture == 'checker':
        freq = rng.uniform(2.0, 3.0)
        raw = np.sin(2 * math.pi * freq * along + phase) * np.sin(
            2 * math.pi * freq * across + rng.uniform(0, 2 * math.pi))
        pattern = 0.5 + 0.5 * np.tanh(3 * raw) / math.tanh(3)
    elif texture == 'rings':
        freq = rng.uniform(3.0, 5.0)
        cu, cv = rng.uniform(0, 1, size=2)
        radius = np.sqrt((u - cu)**2 + (v - cv)**2)
        pattern = 0.5 + 0.5 * np.sin(2 * math.pi * freq * radius + phase)
    else:  # blobs: smooth random field, a coarse random grid upsampled
        import cv2
        coarse = rng.uniform(0, 1, size=(4, 4))
        field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        field -= field.min()
        pattern = field / max(field.max(), 1e-6)
    pattern = np.clip(pattern, 0.0, 1.0)
    jitter = rng.integers(-_JITTER_GLOBAL, _JITTER_GLOBAL + 1) + rng.integers(
        -_JITTER_CHANNEL, _JITTER_CHANNEL + 1, size=3)
    if scene_colour == 'per_video':
        # drawn last: the default data's draws, and so its videos, stay as they were
        colour = _scene_colour(scene, num_static, hue_amplitude,
                               hue=rng.uniform(0, 2 * math.pi))
    elif scene_colour == 'class':
        colour = _scene_colour(scene, num_static, hue_amplitude)
    else:
        raise ValueError(f'scene_colour={scene_colour!r} is invalid: expected one of '
                         f'{_SCENE_COLOURS}')
    background = colour + _LUMA * (2 * pattern[..., None] - 1) + jitter
    # integer-valued, so that floor(background + layer + 0.5) = background + floor(layer + 0.5)
    return np.floor(background + 0.5)


def sample_object_tracks(motion: str, num_frames: int, height: int, width: int,
                         rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Centre and radius of one object in every frame, in pixels.

    Returns dict(cx=(T,), cy=(T,), radius=(T,)). The start position is uniform on the
    torus and the radius marginal is the same for every motion (see module docstring).
    """
    if motion not in MOTIONS:
        raise ValueError(f'unknown motion {motion!r}; expected one of {MOTIONS}')
    t = np.arange(num_frames, dtype=np.float64)
    scale = min(height, width)
    x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
    speed = rng.uniform(0.75, 1.25) * 0.04 * scale  # pixels per frame
    amplitude = rng.uniform(0.75, 1.25) * 0.12 * scale
    omega = 2 * math.pi / rng.uniform(10.0, 14.0)  # one cycle every 10-14 frames
    phase = rng.uniform(0, 2 * math.pi)
    base_radius = rng.uniform(0.09, 0.13) * scale
    pulse_depth = 0.35
    # Every motion draws its radius from the pulse's marginal, so size tells nothing.
    size_phase = rng.uniform(0, 2 * math.pi)
    radius = np.full_like(t, base_radius * (1 + pulse_depth * math.sin(size_phase)))
    cx, cy = np.full_like(t, x0), np.full_like(t, y0)
    if motion == 'up':
        cy = y0 - speed * t
    elif motion == 'down':
        cy = y0 + speed * t
    elif motion == 'left':
        cx = x0 - speed * t
    elif motion == 'right':
        cx = x0 + speed * t
    elif motion == 'oscillate_horizontal':
        cx = x0 + amplitude * np.sin(omega * t + phase)
    elif motion == 'oscillate_vertical':
        cy = y0 + amplitude * np.sin(omega * t + phase)
    elif motion == 'pulse':
        radius = base_radius * (1 + pulse_depth * np.sin(omega * t + phase))
    elif motion in ('orbit_cw', 'orbit_ccw'):
        # image rows grow downwards, so an increasing angle turns clockwise on screen
        sign = 1.0 if motion == 'orbit_cw' else -1.0
        cx = x0 + amplitude * np.cos(sign * omega * t + phase)
        cy = y0 + amplitude * np.sin(sign * omega * t + phase)
    return dict(cx=np.mod(cx, width), cy=np.mod(cy, height), radius=radius)


def render_object_layer(motion: str, num_frames: int, height: int, width: int,
                        num_objects: int, rng: np.random.Generator,
                        object_look: str = 'fixed') -> np.ndarray:
    """The additive object layer, float64 (T, H, W, 3), clipped to +-45 per channel."""
    rows = np.arange(height, dtype=np.float64)[None, :, None]
    cols = np.arange(width, dtype=np.float64)[None, None, :]
    layer = np.zeros((num_frames, height, width, 3))
    for _ in range(num_objects):
        # draw the look either way, so both settings give the same tracks for a seed
        shape = _SHAPES[rng.integers(len(_SHAPES))]
        offset = rng.choice([-1.0, 1.0], size=3) * rng.uniform(25.0, 40.0, size=3)
        if object_look == 'fixed':
            shape, offset = 'square', np.full(3, 40.0)
        track = sample_object_tracks(motion, num_frames, height, width, rng)
        cx = track['cx'][:, None, None]
        cy = track['cy'][:, None, None]
        # shortest signed distance on the torus
        dx = np.mod(cols - cx + width / 2, width) - width / 2
        dy = np.mod(rows - cy + height / 2, height) - height / 2
        if shape == 'disc':
            dist = np.sqrt(dx**2 + dy**2)
        elif shape == 'square':
            dist = np.maximum(np.abs(dx), np.abs(dy))
        else:
            dist = (np.abs(dx) + np.abs(dy)) / 1.3
        alpha = np.clip(track['radius'][:, None, None] - dist + 0.5, 0.0, 1.0)
        layer += alpha[..., None] * offset
    return np.clip(layer, -_LAYER_MAX, _LAYER_MAX)


def render_video(static_class: int, dynamic_class: int, scene_seed, motion_seed,
                 options: Optional[SyntheticOptions] = None) -> np.ndarray:
    """Render one video as uint8 (T, H, W, 3) RGB.

    ``scene_seed`` drives the background nuisances, ``motion_seed`` the objects and the
    noise: two calls with the same ``motion_seed`` and different scenes give videos whose
    frame differences are identical.
    """
    options = options or SyntheticOptions()
    num_frames, height, width = options.num_frames, options.height, options.width
    scene_rng = np.random.default_rng(scene_seed)
    motion_rng, noise_rng = (np.random.default_rng(s)
                             for s in np.random.SeedSequence(motion_seed).spawn(2))
    background = render_background(static_class, options.num_static, height, width, scene_rng,
                                   options.hue_amplitude, options.scene_colour)
    layer = render_object_layer(MOTIONS[dynamic_class], num_frames, height, width,
                                options.num_objects, motion_rng, options.object_look)
    if options.noise_std > 0:
        noise = noise_rng.normal(0.0, options.noise_std, size=layer.shape)
        layer += np.clip(noise, -3 * options.noise_std, 3 * options.noise_std)
    frames = background[None] + np.floor(layer + 0.5)
    if frames.min() < 0 or frames.max() > 255:  # impossible by the value budget
        raise AssertionError('pixel budget exceeded: frames would be clipped')
    return frames.astype(np.uint8)


def write_video(path: str, frames: np.ndarray, fps: int, codec: str = 'lossless') -> None:
    """Encode uint8 RGB frames (T, H, W, 3) to ``path`` (see module docstring)."""
    num_frames, height, width = frames.shape[:3]
    if codec == 'lossless':
        import subprocess

        import imageio_ffmpeg
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-loglevel', 'error', '-f', 'rawvideo',
               '-pix_fmt', 'rgb24', '-s', f'{width}x{height}', '-r', str(fps), '-i', '-',
               '-an', '-c:v', 'libx264rgb', '-crf', '0', '-preset', 'ultrafast',
               '-threads', '1', path]
        proc = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise RuntimeError(f'ffmpeg failed to write {path}: '
                               f'{proc.stderr.decode(errors="replace")[-2000:]}')
    elif codec == 'mp4v':
        import cv2
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV could not open a mp4v writer for {path}')
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV wants BGR
        writer.release()
    else:
        raise ValueError(f'codec={codec!r} is invalid: expected one of {_CODECS}')
    if not osp.isfile(path) or osp.getsize(path) == 0:
        raise RuntimeError(f'writing {path} with codec {codec!r} produced no file')


def check_decodable(path: str, frames: np.ndarray, codec: str) -> None:
    """Read ``path`` back with decord; raise ``ValueError`` if it cannot (or, for the
    lossless codec, if the frames differ).

    decord 0.6.0 fails on some frame widths whatever the codec (seen: 16, 24, 48 and 72
    pixels: "DECORDArrayCopyFromTo: The size must exactly match"), so a dataset of such
    videos would be unreadable by MMAction2's decord pipeline.
    """
    import decord
    try:
        reader = decord.VideoReader(path)
        decoded = reader.get_batch(list(range(len(reader)))).asnumpy()
    except Exception as err:
        message = ' '.join(str(err).split())[:300]
        raise ValueError(
            f'decord cannot read the generated {frames.shape[2]}x{frames.shape[1]} (WxH) '
            f'video {path} ({type(err).__name__}: {message}); decord 0.6.0 fails on some '
            'frame widths (e.g. 16, 24, 48, 72): choose another size') from err
    if decoded.shape != frames.shape:
        raise ValueError(f'{path} decodes to shape {decoded.shape}, expected {frames.shape}')
    if codec == 'lossless' and not np.array_equal(decoded, frames):
        raise ValueError(f'{path} does not decode to the frames written (lossless codec)')


def _jobs(options: SyntheticOptions) -> List[dict]:
    """Every video to write, in a fixed order."""
    jobs = []
    for split in ('train', 'val'):
        per_class = options.train_per_class if split == 'train' else options.val_per_class
        for scene in range(options.num_static):
            for motion in range(options.num_dynamic):
                for i in range(per_class):
                    jobs.append(dict(variant='scenes', split=split, static=scene,
                                     dynamic=motion, index=i,
                                     path=f'scenes/{split}/s{scene}_d{motion}_{i:03d}.mp4'))
        if options.motion_only:
            for motion in range(options.num_dynamic):
                for i in range(per_class * options.num_static):
                    jobs.append(dict(variant='motion_only', split=split, static=0,
                                     dynamic=motion, index=i,
                                     path=f'motion_only/{split}/d{motion}_{i:03d}.mp4'))
    return jobs


def _seeds(seed: int, job: dict) -> Tuple[list, list]:
    """Per-video seeds: fixed by the video's identity, not by how many videos there are."""
    key = [seed, _VARIANT_IDS[job['variant']], _SPLIT_IDS[job['split']], job['static'],
           job['dynamic'], job['index']]
    return key + [0], key + [1]


def generate_dataset(out_dir: str,
                     *,
                     seed: int = 0,
                     num_static: int = 4,
                     num_dynamic: int = 4,
                     train_per_class: int = 8,
                     val_per_class: int = 2,
                     motion_only: bool = True,
                     size: Union[int, Sequence[int]] = 64,
                     num_frames: int = 24,
                     fps: int = 25,
                     num_objects: int = 2,
                     noise_std: float = 2.0,
                     codec: str = 'lossless',
                     object_look: str = 'fixed',
                     hue_amplitude: float = _CHROMA,
                     scene_colour: str = 'class',
                     overwrite: bool = False,
                     num_workers: int = 2,
                     progress: bool = False) -> dict:
    """Write the generated dataset to ``out_dir`` and return its metadata.

    Args:
        out_dir (str): where to write (created if missing; see the module docstring for
            the layout).
        seed (int): the whole dataset is a deterministic function of ``seed`` and the
            options. Each video's content depends only on the seed and its own identity
            (variant, split, classes, index), so more videos per class keep the first ones.
        size (int | (int, int)): frame size, ``S`` or ``(H, W)``.
        overwrite (bool): allow writing into a non-empty ``out_dir``.
        num_workers (int): videos rendered and encoded at once (threads; the encoder is
            a separate process). Does not change the output. Defaults to 2.
        progress (bool): show a tqdm progress bar.
        other arguments: see :class:`SyntheticOptions`.

    Returns:
        dict: the content of ``meta.json`` plus ``root`` (the absolute ``out_dir``).
    """
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    options = SyntheticOptions(
        num_static=num_static, num_dynamic=num_dynamic, train_per_class=train_per_class,
        val_per_class=val_per_class, motion_only=motion_only, height=height, width=width,
        num_frames=num_frames, fps=fps, num_objects=num_objects, noise_std=float(noise_std),
        codec=codec, object_look=object_look, hue_amplitude=hue_amplitude,
        scene_colour=scene_colour)
    options.validate()
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f'{out_dir} is not empty; pass overwrite=True '
                              '(--overwrite) to write into it')

    video_root = osp.join(out_dir, 'videos')
    ann_root = osp.join(out_dir, 'annotations')
    jobs = _jobs(options)
    for job in jobs:
        os.makedirs(osp.dirname(osp.join(video_root, job['path'])), exist_ok=True)
    os.makedirs(ann_root, exist_ok=True)

    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    def make_video(job):
        scene_seed, motion_seed = _seeds(seed, job)
        frames = render_video(job['static'], job['dynamic'], scene_seed, motion_seed, options)
        write_video(osp.join(video_root, job['path']), frames, options.fps, options.codec)
        return frames

    with tqdm(total=len(jobs), desc='generating videos', unit='video',
              disable=not progress) as bar:
        if jobs:  # the first one alone, to fail early on a size the decoder cannot read
            frames = make_video(jobs[0])
            check_decodable(osp.join(video_root, jobs[0]['path']), frames, options.codec)
            bar.update()
        if num_workers <= 1:
            for job in jobs[1:]:
                make_video(job)
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=num_workers) as pool:
                for _ in pool.map(make_video, jobs[1:]):
                    bar.update()

    lists: Dict[str, List[str]] = {}
    for split in ('train', 'val'):
        for name in ('static', 'dynamic', 'action', 'motion_only'):
            lists[f'{split}_{name}'] = []
        for job in jobs:
            if job['split'] != split:
                continue
            if job['variant'] == 'scenes':
                lists[f'{split}_static'].append(f"{job['path']} {job['static']}")
                lists[f'{split}_dynamic'].append(f"{job['path']} {job['dynamic']}")
                action = job['static'] * options.num_dynamic + job['dynamic']
                lists[f'{split}_action'].append(f"{job['path']} {action}")
            else:
                lists[f'{split}_motion_only'].append(f"{job['path']} {job['dynamic']}")
    if not options.motion_only:
        lists = {k: v for k, v in lists.items() if not k.endswith('motion_only')}
    annotations = {}
    for name, lines in lists.items():
        rel = f'annotations/{name}.txt'
        with open(osp.join(out_dir, rel), 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
        annotations[name] = rel

    static_names = static_class_names(options.num_static, options.hue_amplitude,
                                      options.scene_colour)
    dynamic_names = dynamic_class_names(options.num_dynamic)
    meta = dict(
        format_version=1,
        seed=seed,
        options=asdict(options),
        videos_dir='videos',
        annotations=annotations,
        static_classes=static_names,
        dynamic_classes=dynamic_names,
        action_classes=[f'{s}+{d}' for s in static_names for d in dynamic_names],
        motion_only_scene=static_names[0] if options.motion_only else None,
        flip_sensitive_dynamic_classes=[d for d in dynamic_names if d in FLIP_SENSITIVE_MOTIONS],
        counts={name: len(lines) for name, lines in lists.items()},
        label_rules=dict(static='scene class S', dynamic='motion class D',
                         action='S * num_dynamic + D', motion_only='motion class D'),
    )
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write('\n')
    return dict(meta, root=osp.abspath(out_dir))


__all__ = ['generate_dataset', 'check_decodable', 'render_video', 'render_background',
           'render_object_layer', 'sample_object_tracks', 'write_video', 'SyntheticOptions',
           'MOTIONS', 'FLIP_SENSITIVE_MOTIONS', 'TEXTURES', 'static_class_names',
           'dynamic_class_names']
