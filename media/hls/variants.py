"""The shapes the HLS modules share: one rendition of the ladder, and the segment plan.

A transcode session offers a source as a few ``Variant``s (the adaptive ladder); each variant is
encoded on demand into MPEG-TS segments laid out by one ``SegmentPlan`` that every variant
shares, so a player switching variants at segment ``n`` finds the same time span there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SEGMENT_SECONDS", "SegmentPlan", "Variant"]

# Six-second segments: Apple's HLS authoring guidance, and short enough to start and seek fast.
SEGMENT_SECONDS = 6.0


@dataclass(frozen=True, slots=True)
class Variant:
    """One rendition: ``name`` is its path segment in URLs and the scratch folder ("720p")."""

    name: str
    width: int
    height: int
    video_bitrate: int  # bits per second; for a copied video, the source's
    audio_bitrate: int  # bits per second; for copied audio, the source's (0 when unknown)
    video_codec: str  # FFmpeg name of the output video codec ("h264"), or the source's on copy
    audio_codec: str | None  # "aac", or the source's on copy; None: no audio
    copy_video: bool  # stream-copy the video (HLS remux): segments follow source keyframes
    copy_audio: bool
    codecs: str  # the RFC 6381 CODECS attribute, e.g. 'avc1.64001f,mp4a.40.2'
    frame_rate: float | None = None

    @property
    def bandwidth(self) -> int:
        """Peak bits per second as the master playlist's BANDWIDTH states it."""
        return int((self.video_bitrate + self.audio_bitrate) * 1.2)


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """Where each segment starts and how long it lasts, in seconds of the source's timeline
    (0 = the source's first frame). Transcoded variants cut every ``SEGMENT_SECONDS`` with a
    keyframe forced at each boundary; a stream-copied video cuts at the source keyframe nearest
    after each boundary, so its plan comes from the keyframe index."""

    starts: tuple[float, ...]
    durations: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.starts) != len(self.durations) or not self.starts:
            raise ValueError("a segment plan has as many starts as durations, at least one")

    @property
    def count(self) -> int:
        return len(self.starts)

    @property
    def target_duration(self) -> int:
        """EXT-X-TARGETDURATION: the longest segment, rounded up."""
        return max(1, int(-(-max(self.durations) // 1)))

    def segment_at(self, seconds: float) -> int:
        """The segment that holds ``seconds`` (clamped to the plan)."""
        low, high = 0, len(self.starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.starts[middle] <= seconds:
                low = middle
            else:
                high = middle - 1
        return low
