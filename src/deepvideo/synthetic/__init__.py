"""A seeded synthetic video-classification benchmark of real encoded videos.

The built-in default dataset of the project: small enough to generate in well under a minute on
one core, laid out exactly like the real datasets (``layout="sports1m"`` or ``"ucf101"``), and
built so that the ablations of Karpathy et al. (CVPR 2014) and Ng et al. (2015) mean something;
``layout="long"`` holds long videos for Ng et al.'s long-range models (below).

Content
-------
* **Frames.** ``height x width`` = 72 x 96 by default (non-square on purpose: the data layer
  center-crops), 15 fps, RGB, durations uniform in [``min_seconds``, ``max_seconds``] = [2.5, 6] s.
  All geometry is expressed in units of the short side ``S`` and all speeds per second, so other
  sizes and frame rates give the same content; only the fine texture is fixed at 2 px.
* **Objects and classes.** Every video shows one object (two for multi-label videos) of its class
  on a cluttered background. A class is an *appearance* (a pool of shapes and a texture; the
  colour, size and static orientation are drawn from one distribution shared by every class) and
  a *motion*. Each class belongs to a group (``class_groups.tsv``):

  - ``motion``: the appearance is the same generic pool for all of them (disc / square / pentagon,
    plain, random colour and orientation) and the classes differ ONLY in motion: drift direction
    and/or speed, or no motion at all (``hover``). The motion is a wrap-around drift designed so
    that **the distribution of any single frame is identical across the motion-only classes**:
    the object's offset from its centre is drawn uniformly in a disc of radius ``drift_radius``
    (``0.2 S``; the default benchmark of ``conf/data/synthetic.yaml`` uses ``0.3 S`` and drifts
    ``drift_speed`` = 1.5x the catalogue's speeds, so that a clip holds fewer wraps), then it
    moves along the class direction at constant speed and wraps around inside the chord of that
    disc it lies on. The offset is uniform on the chord given the perpendicular coordinate, a
    wrap-around shift keeps it uniform, so at every frame the offset is uniform on the disc,
    whatever the direction or speed (a hovering object keeps its uniform offset); the orientation
    is static and uniform. There is no motion blur and no other per-frame cue, so a single-frame
    model cannot beat chance among these classes, while any model that compares frames can (the
    wrap jumps are rare next to the steady displacement).
  - ``appearance``: the classes differ only in how the object looks, and share one motion
    distribution ("wander": an Ornstein-Uhlenbeck walk around the centre, std ``0.05 S``, time
    constant 1 s, plus a slow random walk of the orientation). Three of them (``horizontal
    stripes``, ``vertical stripes``, ``checkerboard``) differ ONLY in a **fine texture** of period
    2 px in luminance (+-``texture_amplitude`` in R, G and B alike, so it survives yuv420p's
    chroma subsampling), locked to the rounded object position so it stays crisp. Each 2x2 block
    holds two bright and two dark pixels in all three, so a 2x-downsampled (2x2 average pooled)
    context stream sees the same plain object, while the full-resolution fovea tells them apart.
    The others differ in coarse shape (triangle, cross; ring and bar in the UCF-101 layout).
  - ``both``: appearance and motion combinations (a checkerboard object drifting down, a
    spinning triangle, a spinning cross): each is told apart from an appearance class only by its
    motion (``checkerboard``, ``triangle``, ``cross`` wander) and from a motion class only by its
    appearance.
* **Left-right flips.** Training and evaluation flip clips left-right (the papers' augmentation),
  so no class may be the mirror image of another: ``drift left`` / ``drift right`` or clockwise /
  counterclockwise spins would each be trained on the other's clips half of the time and could
  not be learned by any model. Horizontal motions are therefore one class, ``drift sideways``
  (left or right, drawn per video), spins turn either way, and the other directions are vertical
  (a flip keeps them). :func:`mirror_safe` checks a class list for this.
* **Camera bias.** Objects sit near the frame centre: the centre of an object's motion is the
  frame centre plus a Gaussian offset of std ``center_sigma`` = 10% of the short side (clipped at
  2 std), as in YouTube framing; the fovea stream of the multiresolution net can exploit it.
* **Nuisances** (class-independent, identical in distribution for every class): a camera jitter
  (an integer random walk of the whole frame within +-``jitter_px`` = 3 px, integer so that fine
  texture is not blurred), clutter (a low-frequency sinusoidal background texture and 1-3 soft
  distractor blobs moving in straight lines and bouncing off the borders), and brightness /
  colour variation (per-video gain, colour cast and offset, plus a slow per-frame flicker).
* **Multi-label.** A fraction ``multi_label_fraction`` (4%) of the videos of each split show the
  objects of two classes side by side and carry both labels (``sports1m`` layout only).
* **Label noise.** A fraction ``label_noise`` (2%) of the train videos carry a wrong label in the
  partition file (one of their labels replaced by another class); the clean labels are in
  ``ground_truth.tsv``; test labels are always clean (``sports1m`` layout only).
* **Encoding.** H.264 in MP4 (``sports1m``) or XVID in AVI (``ucf101``), as the real datasets
  ship; see :mod:`deepvideo.synthetic.encode`.

The long layout
---------------
``layout="long"`` (``data=synthetic_long``) is the benchmark for Ng et al. 2015: Sports-1M's files,
5 fps videos of 20-60 s, and 12 classes told apart by *when* class-specific objects (a shape in a
fixed, saturated hue) are on screen next to a generic, greyish wandering object that every video
shows all along: ``window`` classes show theirs once, for 3-3.5 s, at a random time (a random
10-frame clip sees it 14% of the time, a 30-frame 1 fps example 82%); ``order`` classes show
three objects one at a time in a cyclic order, A-B-C or A-C-B, the same objects equally often at
every time in both classes, so only a model that keeps the frames' order can tell them apart;
``appearance`` classes (the control) show theirs all along. One class per video, no label noise.
See :mod:`deepvideo.synthetic.long`.

The layouts on disk and the determinism guarantees are in :mod:`deepvideo.synthetic.layouts`.

Modules
-------
The package sits below the data layer and imports nothing else of ``deepvideo``:

* :mod:`~deepvideo.synthetic.catalogue`: the classes (:class:`Appearance`, :class:`Motion`,
  :class:`Look`, :class:`SyntheticClass`, :func:`class_list`, :func:`mirror_safe`);
* :mod:`~deepvideo.synthetic.layouts`: :class:`SyntheticConfig`, :class:`VideoSpec` and the plan
  of every video of a layout (:func:`plan`);
* :mod:`~deepvideo.synthetic.render`: scene planning and drawing (:func:`plan_scene`,
  :func:`draw`, :func:`render_video`, :func:`make_spec`);
* :mod:`~deepvideo.synthetic.long`: the long layout's event timelines and scenes
  (:func:`plan_timeline`, :func:`plan_long_scene`);
* :mod:`~deepvideo.synthetic.encode`: :func:`encode_video`;
* :mod:`~deepvideo.synthetic.generate`: the dataset on disk (:func:`generate`,
  :func:`ensure_generated`, :func:`read_manifest`, :func:`is_generated`, :func:`remove_dataset`).
"""

from deepvideo.synthetic.catalogue import (
    ALL_LAYOUTS,
    GENERIC_SHAPES,
    GROUPS,
    HUES,
    LAYOUTS,
    LONG,
    LONG_GROUPS,
    MIRROR_SYMMETRIC_SHAPES,
    TEXTURES,
    Appearance,
    Look,
    Motion,
    SyntheticClass,
    class_list,
    mirror_safe,
)
from deepvideo.synthetic.encode import encode_video
from deepvideo.synthetic.generate import (
    GENERATOR,
    GENERATOR_VERSION,
    LONG_VERSION,
    ensure_generated,
    generate,
    generator_version,
    is_generated,
    read_manifest,
    remove_dataset,
)
from deepvideo.synthetic.layouts import (
    LONG_FIELDS,
    SHORT_CLIP_FRAMES,
    SyntheticConfig,
    VideoSpec,
    plan,
    plan_sports1m,
    plan_ucf101,
    ucf_file,
)
from deepvideo.synthetic.long import Event, Timeline, plan_long_scene, plan_timeline
from deepvideo.synthetic.render import (
    ObjectTrack,
    ScenePlan,
    draw,
    hue_color,
    make_spec,
    plan_scene,
    render_video,
)

__all__ = [
    "ALL_LAYOUTS",
    "GENERATOR",
    "GENERATOR_VERSION",
    "GENERIC_SHAPES",
    "GROUPS",
    "HUES",
    "LAYOUTS",
    "LONG",
    "LONG_FIELDS",
    "LONG_GROUPS",
    "LONG_VERSION",
    "MIRROR_SYMMETRIC_SHAPES",
    "SHORT_CLIP_FRAMES",
    "TEXTURES",
    "Appearance",
    "Event",
    "Look",
    "Motion",
    "ObjectTrack",
    "ScenePlan",
    "SyntheticClass",
    "SyntheticConfig",
    "Timeline",
    "VideoSpec",
    "class_list",
    "draw",
    "encode_video",
    "ensure_generated",
    "generate",
    "generator_version",
    "hue_color",
    "is_generated",
    "make_spec",
    "mirror_safe",
    "plan",
    "plan_long_scene",
    "plan_scene",
    "plan_sports1m",
    "plan_timeline",
    "plan_ucf101",
    "read_manifest",
    "remove_dataset",
    "render_video",
    "ucf_file",
]
