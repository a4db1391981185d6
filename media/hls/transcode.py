"""The segment encoder: one source, one variant, a run of MPEG-TS segments laid out by a plan.

Blocking and CPU-heavy: it runs in a child process (``media.hls.process``). A run starts at any
segment by seeking to the keyframe at or before it, so a far segment is ready as fast as the first.

Timestamps: output = source timeline (0 = the video stream's ``start_time``) + ``OFFSET_SECONDS``,
in 90 kHz ticks, so segment n from a run at 0 and from a restart at n carry the same PTS; the offset
keeps B-frame DTS and AAC priming positive, and the muxer leaves timestamps alone
(``mpegts_copyts=1``: no ``max_delay`` shift; ``avoid_negative_ts=disabled``). Each segment is its
own muxer (PAT/PMT first) opening on a forced IDR (``forced-idr=1``): independently decodable. It
is written under a temporary name and renamed when complete: a reader never sees half of one.
"""

from __future__ import annotations

import bisect
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast

import av
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Disposition
from av.video.frame import PictureType

from media.hls.encoders import input_format
from media.hls.variants import SegmentPlan, Variant

if TYPE_CHECKING:
    from media.hls.burn_in import SubtitleOverlay

__all__ = ["OFFSET_SECONDS", "TranscodeError", "TranscodeProgress", "transcode_segments"]

OFFSET_SECONDS = 10.0
CLOCK = 90_000  # MPEG-TS ticks per second
OFFSET_TICKS = int(OFFSET_SECONDS * CLOCK)
_TOLERANCE = CLOCK // 1000  # plans carry float seconds; a tick or two of rounding is no boundary
_AUDIO_LAG_TICKS = 10 * CLOCK  # give up waiting for audio of a segment video passed this long ago
_PROGRESS_SECONDS = 0.5
_MUXER_OPTIONS = {"mpegts_copyts": "1", "avoid_negative_ts": "disabled"}
_X264_PARAMS = "forced-idr=1"
# A run's first segment is what a player waits for: encode it ~2.5x faster (superfast, full-pel
# motion search, fixed B-frames); x264 then writes byte-identical SPS/PPS (checked), one stream.
_FAST_START = {"veryfast": ("superfast", "subme=0:b-adapt=0")}


class TranscodeError(Exception):
    """A transcode that cannot go on; ``code`` is stable (SOURCE_UNREADABLE, DECODE_FAILED ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class TranscodeProgress:
    """Where a run is: ``speed`` is media seconds made per wall-clock second."""

    segment: int
    segments_ready: int
    frames: int
    fps: float
    speed: float
    elapsed: float


class _Segments:
    """Gathers output packets per segment and writes each segment once video and audio passed it."""

    def __init__(self, out_dir: str, boundaries: list[int], first: int, templates: list[Any]):
        # boundaries: shifted starts and the end; templates: [video, audio?] codec parameters
        self.out_dir, self.boundaries, self.templates = out_dir, boundaries, templates
        self.pending: dict[int, list[Packet[Any]]] = {}
        self.next_to_write, self.video_segment = first, first - 1  # no keyframe seen yet
        self.video_ticks, self.written = 0, 0
        self.audio_ticks = -1 if len(templates) > 1 else None

    def segment_of(self, ticks: int) -> int:
        return bisect.bisect_right(self.boundaries, ticks + _TOLERANCE) - 1

    def add_video(self, packet: Packet[Any], ticks: int, keyframe: bool) -> bool:
        """Route one video packet (decode order); False once it lies past the run's end."""
        segment = self.segment_of(ticks)
        if keyframe and segment > self.video_segment:
            if segment >= len(self.boundaries) - 1:
                return False
            self.video_segment = segment
        if self.video_segment >= self.next_to_write:  # else: pre-roll before the first keyframe
            self.video_ticks = max(self.video_ticks, ticks)
            self.pending.setdefault(self.video_segment, []).append(packet)
        return True

    def add_audio(self, packet: Packet[Any], ticks: int) -> None:
        self.audio_ticks = max(self.audio_ticks or 0, ticks)
        if self.next_to_write <= (segment := self.segment_of(ticks)) < len(self.boundaries) - 1:
            self.pending.setdefault(segment, []).append(packet)

    def write_ready(self, final: bool = False) -> list[int]:
        """Write, in order, every segment nothing more can arrive for; returns their numbers."""
        done: list[int] = []
        while self.next_to_write in self.pending:
            number = self.next_to_write
            end, audio = self.boundaries[number + 1], self.audio_ticks
            audio_passed = audio is None or audio >= end - _TOLERANCE
            audio_passed |= self.video_ticks - end > _AUDIO_LAG_TICKS  # stop waiting for it
            if not (final or (self.video_segment > number and audio_passed)):
                break
            self._write(number, self.pending.pop(number))
            self.next_to_write, self.written = number + 1, self.written + 1
            done.append(number)
        return done

    def _write(self, number: int, packets: list[Packet[Any]]) -> None:
        temporary = os.path.join(self.out_dir, f".seg_{number:05d}.ts.{os.getpid()}.tmp")
        try:
            with av.open(temporary, "w", format="mpegts", options=_MUXER_OPTIONS) as output:
                streams = [output.add_stream_from_template(t) for t in self.templates]
                for packet in packets:
                    packet.stream = streams[0 if packet.stream.type == "video" else 1]
                    output.mux(packet)
            os.replace(temporary, os.path.join(self.out_dir, f"seg_{number:05d}.ts"))
        finally:
            if os.path.exists(temporary):  # only when writing failed
                os.unlink(temporary)


def _ticks(value: int | None, time_base: Fraction | None) -> int:
    return 0 if value is None or time_base is None else round(value * time_base * CLOCK)


def transcode_segments(
    source: str,
    out_dir: str,
    variant: Variant,
    plan: SegmentPlan,
    *,
    start_segment: int = 0,
    end_segment: int | None = None,
    audio_stream_index: int | None = None,
    encoder_name: str = "libx264",
    encoder_options: dict[str, str] | None = None,
    on_progress: Callable[[TranscodeProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    burn_subtitle_index: int | None = None,
) -> None:
    """Write ``seg_{n:05d}.ts`` for n in [start_segment, end_segment) (default: to the plan's end).

    Returns when done or when ``should_stop()`` turns true (checked per packet, temporary files
    removed); raises ``TranscodeError`` when the source cannot be read or decoded.
    ``burn_subtitle_index`` paints that bitmap subtitle stream into the picture (``burn_in``)."""
    end = plan.count if end_segment is None else min(end_segment, plan.count)
    if not 0 <= start_segment < end:
        raise ValueError(f"no segments [{start_segment}, {end}) in a {plan.count}-segment plan")
    if burn_subtitle_index is not None and variant.copy_video:
        raise ValueError("burning subtitles in needs a transcoded video, not a copied one")
    run = _Run(source, variant, plan, (start_segment, end), audio_stream_index)
    try:
        if burn_subtitle_index is not None:  # imported here: burn_in imports TranscodeError
            from media.hls.burn_in import SubtitleOverlay

            run.overlay = SubtitleOverlay(source, burn_subtitle_index)
        run.open_encoders(encoder_name, encoder_options or {})
        run.go(out_dir, on_progress, should_stop or (lambda: False))
    finally:
        run.container.close()
        run.holder.close()
        if run.overlay is not None:
            run.overlay.close()


class _Run:
    """One pass over the source: demux, decode/encode or copy, hand packets to ``_Segments``."""

    def __init__(self, source: str, variant: Variant, plan: SegmentPlan, span: Any, audio: Any):
        try:
            self.container: InputContainer = av.open(source, "r")
        except (av.FFmpegError, OSError) as error:
            raise TranscodeError("SOURCE_UNREADABLE", f"{source}: {error}") from error
        streams = self.container.streams
        audios = sorted(streams.audio, key=lambda s: not s.disposition & Disposition.default)
        audios = [s for s in audios if audio is None or s.index == audio]
        if not streams.video or (audio is not None and not audios):
            self.container.close()
            missing = "no video stream" if not streams.video else f"no audio stream {audio}"
            raise TranscodeError("STREAM_NOT_FOUND", f"{source}: {missing}")
        self.video_in, self.audio_in = streams.video[0], audios[0] if audios else None
        self.variant, (self.first, self.end) = variant, span
        self.origin = _ticks(self.video_in.start_time, self.video_in.time_base)  # source "0"
        last = self.end - 1
        ends = [*plan.starts[self.first : self.end], plan.starts[last] + plan.durations[last]]
        # Indexed by segment number; the entries before the first are never used.
        self.boundaries = [0] * self.first + [OFFSET_TICKS + round(s * CLOCK) for s in ends]
        self.started, self.last_report = time.monotonic(), 0.0
        self.frames = self.media_ticks = 0
        self.video_done, self.audio_done = False, self.audio_in is None
        self.segment, self.last_slot = self.first, -1
        source_rate, wanted = self.video_in.average_rate, variant.frame_rate
        # A rung at half the source's rate keeps the first frame of each output frame slot.
        halve = wanted and source_rate and wanted * 1.25 < source_rate
        self.halve = Fraction(wanted).limit_denominator(1001) if wanted and halve else None
        self.holder: OutputContainer = av.open(io.BytesIO(), "w", "mpegts", _MUXER_OPTIONS)
        self.overlay: SubtitleOverlay | None = None

    def open_encoders(self, name: str, options: dict[str, str]) -> None:
        """Encoders live in a throwaway in-memory muxer so their opened parameters (AAC extradata
        for the TS muxer's ADTS wrapping) can be templates for each segment's streams."""
        variant, rate = self.variant, self.video_in.average_rate or Fraction(24)
        self.video_out = self.fast_out = self.audio_out = cast(Any, None)
        self.pix_fmt = "yuv420p"
        if not variant.copy_video:
            if (pix_fmt := input_format(name)) is None:
                raise TranscodeError("ENCODER_FAILED", f"{name}: no frame format it accepts")
            self.pix_fmt = pix_fmt
            bitrate = variant.video_bitrate
            settings = {"preset": "veryfast", "maxrate": str(bitrate * 3 // 2)}
            settings |= {"bufsize": str(bitrate * 2)} | options
            choices = [settings]
            if name == "libx264":
                extra = settings.get("x264-params")
                settings["x264-params"] = f"{extra}:{_X264_PARAMS}" if extra else _X264_PARAMS
                if fast := _FAST_START.get(settings["preset"]):
                    params = f"{settings['x264-params']}:{fast[1]}"
                    choices.append(settings | {"preset": fast[0], "x264-params": params})
            rate = Fraction(variant.frame_rate or rate).limit_denominator(1001)
            for chosen in choices:  # the run's encoder, then its fast-start twin
                stream: Any = self.holder.add_stream(name, rate=rate, options=chosen)
                stream.width, stream.height = variant.width, variant.height
                stream.pix_fmt, stream.bit_rate = self.pix_fmt, bitrate
                stream.codec_context.time_base = Fraction(1, CLOCK)
                self.video_out, self.fast_out = self.video_out or stream, self.video_out and stream
        if self.audio_in is not None and not variant.copy_audio:
            self.audio_out = self.holder.add_stream("aac", rate=48000, layout="stereo")
            self.audio_out.bit_rate = variant.audio_bitrate or 128_000
        try:
            if self.holder.streams:
                self.holder.start_encoding()
        except av.FFmpegError as error:
            raise TranscodeError("ENCODER_FAILED", f"{name}: {error}") from error

    def go(self, out_dir: str, on_progress: Any, should_stop: Callable[[], bool]) -> None:
        self.on_progress: Callable[[TranscodeProgress], None] | None = on_progress
        templates = [self.video_out or self.video_in]
        if self.audio_in is not None:
            templates.append(self.audio_out or self.audio_in)
            self.resampler = av.AudioResampler("fltp", "stereo", 48000, frame_size=1024)
        self.video_in.codec_context.thread_type = "AUTO"
        # A seek lands up to a GOP early: skip pre-roll B-frames nothing refers to (see _video).
        self.preroll = self.first > 0 and not self.variant.copy_video
        self.video_in.codec_context.skip_frame = "NONREF" if self.preroll else "DEFAULT"
        self.segments = _Segments(out_dir, self.boundaries, self.first, templates)
        if self.first > 0:  # to the keyframe at or before the first segment's start
            target = (self.boundaries[self.first] - OFFSET_TICKS + self.origin) / CLOCK
            self.container.seek(round(target / self.video_in.time_base), stream=self.video_in)
            if self.overlay is not None:
                self.overlay.seek(target)
        try:
            for packet in self.container.demux([s for s in (self.video_in, self.audio_in) if s]):
                if should_stop():
                    return  # nothing half-written: temporary files exist only inside _write
                if packet.stream is self.video_in and not self.video_done:
                    self._video(packet)
                elif packet.stream is not self.video_in and not self.audio_done:
                    self._audio(packet)
                self._report(self.segments.write_ready())
                if self.video_done and self.audio_done:
                    break
            self._drain(self.fast_out)
            self._drain(self.video_out)
            if self.audio_out is not None:
                self._encode_audio([*self.resampler.resample(None), None])
        except av.FFmpegError as error:
            raise TranscodeError("DECODE_FAILED", str(error)) from error
        self._report(self.segments.write_ready(final=True))
        if (missing := self.segments.next_to_write) < self.end:
            raise TranscodeError("SOURCE_TRUNCATED", f"the source ends before segment {missing}")

    def _video(self, packet: Packet[Any]) -> None:
        if self.variant.copy_video:
            if (ticks := self._shift(packet)) is not None:
                self.video_done = not self.segments.add_video(packet, ticks, packet.is_keyframe)
                self._count(ticks)
            return
        first = self.boundaries[self.first]
        if self.preroll and self._at(packet.pts, packet.time_base) > first - CLOCK:
            self.video_in.codec_context.skip_frame = "DEFAULT"  # decode all from 1 s before
            self.preroll = False
        for frame in packet.decode():
            if frame.pts is None:
                continue
            ticks = self._at(frame.pts, packet.time_base)
            if ticks < first - _TOLERANCE:
                continue  # pre-roll between the seek's keyframe and the first segment
            if ticks >= self.boundaries[self.end] - _TOLERANCE:
                self.video_done = True
                return
            slot = ticks * self.halve // CLOCK if self.halve else ticks
            if slot == self.last_slot:
                continue  # a frame dropped to halve the rate (or a duplicate timestamp)
            self.last_slot = slot
            if self.overlay is not None:  # on the source-size picture: caption positions fit
                frame = self.overlay.apply(frame, float(frame.pts * packet.time_base))
            picture = frame.reformat(self.variant.width, self.variant.height, self.pix_fmt)
            picture.pts, picture.time_base = ticks, Fraction(1, CLOCK)
            segment = self.segments.segment_of(ticks)
            if segment != self.segment or self.frames == 0:
                picture.pict_type = PictureType.I  # an IDR opens every segment
                self.segment = segment
            if self.fast_out is not None and segment > self.first:
                self._drain(self.fast_out)  # the first segment's last packets, without waiting
                self.fast_out, self.segments.video_segment = None, segment  # its video is done
            self._drain(self.fast_out or self.video_out, picture)
            self._count(ticks)

    def _drain(self, encoder: Any, picture: Any = None) -> None:
        if encoder is None:
            return
        try:
            packets = encoder.encode(picture)
        except av.FFmpegError as error:  # a hardware encoder can open and still fail here
            raise TranscodeError(
                "ENCODER_FAILED", f"{encoder.codec_context.name}: {error}"
            ) from error
        for encoded in packets:
            self.segments.add_video(encoded, encoded.pts, encoded.is_keyframe)

    def _audio(self, packet: Packet[Any]) -> None:
        if self.audio_out is None:
            if (ticks := self._shift(packet)) is not None:  # out-of-range packets are dropped
                self.audio_done = ticks >= self.boundaries[self.end] - _TOLERANCE
                self.segments.add_audio(packet, ticks)
            return
        for frame in cast(list[Any], packet.decode()):
            if frame.pts is None:
                continue
            ticks = self._at(frame.pts, packet.time_base)
            if ticks + frame.samples * CLOCK // frame.sample_rate <= self.boundaries[self.first]:
                continue
            if ticks >= self.boundaries[self.end]:
                self.audio_done = True
                return
            frame.pts = round(ticks * frame.sample_rate / CLOCK)
            frame.time_base = Fraction(1, frame.sample_rate)
            self._encode_audio(self.resampler.resample(frame))

    def _at(self, value: int | None, time_base: Fraction) -> int:
        """A source timestamp on the output timeline, in ticks."""
        return _ticks(value, time_base) - self.origin + OFFSET_TICKS

    def _shift(self, packet: Packet[Any]) -> int | None:
        """Move a copied packet onto the output timeline; its PTS in ticks (None: end marker)."""
        if packet.pts is None or packet.time_base is None:
            return None
        shift = round((OFFSET_TICKS - self.origin) / CLOCK / packet.time_base)
        dts = packet.dts
        packet.pts, packet.dts = packet.pts + shift, None if dts is None else dts + shift
        return _ticks(packet.pts, packet.time_base)

    def _encode_audio(self, frames: list[Any]) -> None:
        for frame in frames:
            for encoded in self.audio_out.encode(frame):
                self.segments.add_audio(encoded, _ticks(encoded.pts, encoded.time_base))

    def _count(self, ticks: int) -> None:
        self.frames, self.media_ticks = self.frames + 1, ticks - self.boundaries[self.first]
        self._report([0] if time.monotonic() - self.last_report >= _PROGRESS_SECONDS else [])

    def _report(self, written: list[int]) -> None:
        if not written or self.on_progress is None:
            return
        self.last_report = time.monotonic()
        elapsed = max(self.last_report - self.started, 1e-6)
        speed, segment = max(self.media_ticks, 0) / CLOCK / elapsed, self.segments.video_segment
        progress = (self.segments.written, self.frames, self.frames / elapsed, speed, elapsed)
        self.on_progress(TranscodeProgress(max(segment, self.first), *progress))
