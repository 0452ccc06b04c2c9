"""Style transfer for video without flicker (Ruder et al. 2016), on a CPU.

    python -m nstlib.video clip.mp4 -o out.mp4 --style painting.jpg --max-frames 24
    python -m nstlib.video clip.mp4 -o out.gif --model night-cafe

Rooms: `io` (clips in and out, PyAV), `flow` (OpenCV optical flow, warping, occlusions), `temporal`
(the temporal loss, added to the course's objective), `stylize` (frame by frame: optimisation or a
real-time network), `metrics` (warping error, per-frame ratios), `synthetic` (clips with known
motion: a pan, a moving disc), `cli`. They use the course's
pieces; the course's modules never import these.
"""

from .flow import flow_pair, flow_to_color, occlusions, optical_flow, reliable, warp, warp_frame
from .io import ClipInfo, pan, probe, read_frames, write_video
from .metrics import clip_motion, frame_ratios, plot_flicker, temporal_error, warping_errors
from .stylize import Frame, realtime_frames, stylize_frames
from .synthetic import pan_motion, sprite_clip
from .temporal import FrameDifferenceLoss, TemporalLoss, VideoTerms, WithTemporal

__all__ = [
    "ClipInfo",
    "Frame",
    "FrameDifferenceLoss",
    "TemporalLoss",
    "VideoTerms",
    "WithTemporal",
    "clip_motion",
    "flow_pair",
    "flow_to_color",
    "frame_ratios",
    "occlusions",
    "optical_flow",
    "pan",
    "pan_motion",
    "plot_flicker",
    "probe",
    "read_frames",
    "realtime_frames",
    "reliable",
    "sprite_clip",
    "stylize_frames",
    "temporal_error",
    "warp",
    "warp_frame",
    "warping_errors",
    "write_video",
]
