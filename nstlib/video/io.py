"""Clips in and out: probe a clip, read its frames at a working size, write MP4 (H.264) or GIF.

Frames are (H, W, 3) uint8 RGB arrays. Decoding and MP4 encoding use PyAV, whose wheels bundle
FFmpeg with libx264, so nothing has to be installed besides the Python package. Both sides of a
frame are kept even: H.264 in yuv420p (what every player plays) needs even sides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ..errors import NSTError
from ..images import write_atomically

#: Files `write_video` can write, by suffix.
VIDEO_TYPES = (".mp4", ".gif")
#: x264's constant-quality setting: 18 is visually lossless on stylised frames (their texture is
#: what flicker measures, so it should survive the encoder).
MP4_CRF = 18


@dataclass(frozen=True)
class ClipInfo:
    """What a clip's header says: frame size, frame rate, and frame count (0 if it does not say)."""

    width: int
    height: int
    fps: float
    frames: int


def _open(path: Path):
    """Open a clip for reading, turning every way that fails into a one-line NSTError."""
    if not path.exists():
        raise NSTError(f"{path}: no such file; check the path (relative paths start at {Path.cwd()})")
    if path.is_dir():
        raise NSTError(f"{path}: is a directory; give the path of a video file inside it")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise NSTError(
            f"{path}: not a video FFmpeg can read ({type(err).__name__}); use an MP4, MOV, WebM or GIF file"
        ) from None
    if not container.streams.video:
        container.close()
        raise NSTError(f"{path}: has no video stream (audio only?); give a clip with pictures")
    return container


def probe(path: str | Path) -> ClipInfo:
    """Read a clip's header: size, frame rate and frame count, without decoding its frames."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        frames = stream.frames or (
            round(container.duration / av.time_base * fps) if container.duration else 0
        )
        return ClipInfo(stream.codec_context.width, stream.codec_context.height, fps, int(frames))


def frame_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """(height, width) with the long side at most `size` px (never enlarged), both sides even."""
    scale = min(1.0, size / max(width, height))
    return tuple(max(2, 2 * round(s * scale / 2)) for s in (height, width))


def read_frames(
    path: str | Path,
    *,
    size: int | None = None,
    max_frames: int | None = None,
    fps: float | None = None,
) -> tuple[list[np.ndarray], float]:
    """A clip's frames, long side `size` px (even sides), sampled at `fps`; returns them and their rate.

    `fps` below the clip's own rate keeps the frame nearest each 1/fps step, so the result lasts as
    long as the clip; `max_frames` stops early. A clip with no decodable frame is refused.
    """
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        own = float(stream.average_rate or stream.guessed_rate or 25)
        rate = own if fps is None else min(fps, own)
        frames, next_time = [], 0.0
        try:
            for index, frame in enumerate(container.decode(stream)):
                time = frame.time if frame.time is not None else index / own
                if time + 0.5 / own < next_time:
                    continue  # between two samples of the slower rate
                next_time += 1 / rate
                img = frame.to_image()
                if size is not None:
                    h, w = frame_shape(img.width, img.height, size)
                    img = img.resize((w, h), Image.Resampling.LANCZOS)
                frames.append(np.asarray(img.convert("RGB")))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except av.FFmpegError as err:
            if not frames:
                raise NSTError(f"{path}: the video is damaged ({type(err).__name__}); re-export it") from None
    if not frames:
        raise NSTError(f"{path}: the clip has no frames; give a clip with at least one picture")
    return frames, rate


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad an odd side by repeating its last row or column (H.264 in yuv420p needs even sides)."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else frame


def _write_mp4(frames: Iterable[np.ndarray], tmp: Path, fps: float) -> None:
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = None
        for frame in frames:
            frame = _even(np.ascontiguousarray(frame, dtype=np.uint8))
            if stream is None:
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt, stream.options = "yuv420p", {"crf": str(MP4_CRF)}
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        if stream is None:
            raise NSTError("no frames to write")
        container.mux(stream.encode())  # flush the encoder's delayed frames


def _write_gif(frames: Iterable[np.ndarray], tmp: Path, fps: float) -> None:
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    if not images:
        raise NSTError("no frames to write")
    # GIF stores delays in 1/100 s: 25 fps is exact, others are rounded
    delay = max(20, 10 * round(100 / fps))
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=delay, loop=0)


def write_video(frames: Iterable[np.ndarray] | Sequence[np.ndarray], path: str | Path, *, fps: float) -> None:
    """Write (H, W, 3) uint8 frames as MP4 (H.264, crf 18) or GIF by `path`'s suffix, atomically.

    `frames` may be a generator: MP4 frames are encoded as they come. The file appears whole or not
    at all (`nstlib.images.write_atomically`), so an interrupted run leaves no half-written clip.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_TYPES:
        raise NSTError(f"{path}: unknown video type {path.suffix!r}; end the name in .mp4 or .gif")
    if not (math.isfinite(fps) and fps > 0):
        raise NSTError(f"fps must be > 0, got {fps}")
    writer = _write_mp4 if suffix == ".mp4" else _write_gif
    write_atomically(path, lambda tmp: writer(frames, tmp, fps))


def pan(
    photo: Image.Image, *, shape: tuple[int, int], frames: int, step: tuple[int, int] = (2, 0)
) -> list[np.ndarray]:
    """A synthetic clip: a `shape` = (height, width) window moving `step` = (dx, dy) whole px a frame over `photo`.

    The motion is known exactly: frame t+1 is frame t moved by -step, so the backward flow is +step
    everywhere, and the strip the window uncovers on its leading side is the only occlusion.
    """
    h, w = shape
    dx, dy = step
    img = np.asarray(photo.convert("RGB"))
    need_w, need_h = w + abs(dx) * (frames - 1), h + abs(dy) * (frames - 1)
    if img.shape[0] < need_h or img.shape[1] < need_w:
        raise NSTError(f"a {frames}-frame pan of {w}x{h} px by {step} needs a {need_w}x{need_h} px photo")
    x0 = 0 if dx >= 0 else need_w - w
    y0 = 0 if dy >= 0 else need_h - h
    return [img[y0 + t * dy : y0 + t * dy + h, x0 + t * dx : x0 + t * dx + w].copy() for t in range(frames)]
