import asyncio
import os
import time
from pathlib import Path

import pytest

from media.probe import ProbeError, ProbeResult, probe_file
from media.probe_pool import ProbePool
from tests.support.media_files import (
    make_audio,
    make_image,
    make_text,
    make_truncated,
    make_video,
    make_zero_byte,
)

FRAME_MS = 1000 / 24


# -- test-only probe targets (module level: the pool's workers import them by name) ----


def hanging_probe(path: str) -> ProbeResult:
    """Hangs on files named *hang*, recording its pid so the test can see it die."""
    if "hang" in os.path.basename(path):
        Path(path + ".pid").write_text(str(os.getpid()))
        time.sleep(120)
    return probe_file(path)


def crashing_probe(path: str) -> ProbeResult:
    """Kills its own worker process on files named *crash*, as a segfault would."""
    if "crash" in os.path.basename(path):
        os._exit(1)
    return probe_file(path)


def _video(result: ProbeResult):
    return next(s for s in result.streams if s.type == "video")


def _audio(result: ProbeResult):
    return next(s for s in result.streams if s.type == "audio")


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _is_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


# -- probe_file --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "codec", "audio", "container"),
    [
        ("clip.mkv", "h264", "aac", "mkv"),
        ("clip.mp4", "h264", "aac", "mp4"),
        ("clip.avi", "mpeg4", "mp3", "avi"),
        ("clip.webm", "vp9", "opus", "webm"),
        ("clip.ts", "h264", "ac3", "mpegts"),
        ("clip.mov", "h264", "aac", "mov"),
    ],
)
def test_probe_reads_container_and_streams(tmp_path, name, codec, audio, container):
    path = make_video(tmp_path / name, codec=codec, audio=audio)

    result = probe_file(str(path))

    assert result.container == container
    assert result.duration_ms is not None
    assert abs(result.duration_ms - 1000) <= 2 * FRAME_MS
    assert result.bitrate is not None and result.bitrate > 0
    assert [s.type for s in result.streams] == ["video", "audio"]
    video, sound = result.streams
    assert (video.index, video.codec, video.width, video.height) == (0, codec, 320, 240)
    assert video.frame_rate == 24.0
    assert video.bit_depth == 8
    assert video.hdr_type is None
    assert (sound.index, sound.codec, sound.channels, sound.channel_layout) == (
        1,
        audio,
        2,
        "stereo",
    )


def test_probe_h264_profile_and_level(tmp_path):
    result = probe_file(str(make_video(tmp_path / "a.mkv", audio=None)))

    video = _video(result)
    assert video.profile == "Constrained Baseline"
    assert video.level == 13


def test_probe_hdr10_hevc_ten_bit(tmp_path):
    path = make_video(
        tmp_path / "hdr.mkv", codec="hevc", pix_fmt="yuv420p10le", color_trc="smpte2084"
    )

    video = _video(probe_file(str(path)))

    assert (video.codec, video.profile, video.bit_depth, video.hdr_type) == (
        "hevc",
        "Main 10",
        10,
        "HDR10",
    )
    assert video.level == 60


def test_probe_hlg(tmp_path):
    path = make_video(
        tmp_path / "hlg.mp4", codec="hevc", pix_fmt="yuv420p10le", color_trc="arib-std-b67"
    )

    assert _video(probe_file(str(path))).hdr_type == "HLG"


def test_probe_bt709_is_sdr(tmp_path):
    path = make_video(tmp_path / "sdr.mkv", color_trc="bt709")

    assert _video(probe_file(str(path))).hdr_type is None


def test_probe_languages_titles_and_dispositions(tmp_path):
    path = make_video(
        tmp_path / "subs.mkv",
        audio_language="eng",
        subtitle=True,
        subtitle_language="fre",
        subtitle_title="Forced French",
        subtitle_forced=True,
    )

    result = probe_file(str(path))

    assert [s.type for s in result.streams] == ["video", "audio", "subtitle"]
    assert _audio(result).language == "eng"
    subtitle = result.streams[2]
    assert (subtitle.codec, subtitle.language, subtitle.title) == (
        "subrip",
        "fre",
        "Forced French",
    )
    assert subtitle.is_forced is True
    assert subtitle.is_default is False


def test_probe_ass_subtitle(tmp_path):
    path = make_video(tmp_path / "ass.mkv", subtitle=True, subtitle_codec="ass")

    assert probe_file(str(path)).streams[2].codec == "ass"


def test_probe_undetermined_language_is_none(tmp_path):
    result = probe_file(str(make_video(tmp_path / "und.mp4")))

    assert _audio(result).language is None
    assert _audio(result).is_default is True


def test_probe_surround_audio(tmp_path):
    path = make_video(tmp_path / "surround.mkv", audio="ac3", audio_channels=6)

    sound = _audio(probe_file(str(path)))

    assert (sound.codec, sound.channels, sound.channel_layout) == ("ac3", 6, "5.1(side)")
    assert sound.bitrate == 448000


def test_probe_video_without_audio(tmp_path):
    result = probe_file(str(make_video(tmp_path / "silent.mp4", audio=None)))

    assert [s.type for s in result.streams] == ["video"]


def test_probe_format_tags_lowercased(tmp_path):
    path = make_video(tmp_path / "tagged.mkv", metadata={"TITLE": "A Clip", "comment": "x"})

    result = probe_file(str(path))

    assert result.tags["title"] == "A Clip"
    assert result.tags["comment"] == "x"


@pytest.mark.parametrize(
    ("name", "container", "codec", "bit_depth"),
    [
        ("song.mp3", "mp3", "mp3", None),
        ("song.flac", "flac", "flac", 16),
        ("song.m4a", "m4a", "aac", None),
        ("song.ogg", "ogg", "vorbis", None),
        ("song.opus", "ogg", "opus", None),
    ],
)
def test_probe_audio_files(tmp_path, name, container, codec, bit_depth):
    path = make_audio(tmp_path / name, tags={"title": "Song"})

    result = probe_file(str(path))

    assert result.container == container
    assert result.duration_ms is not None and abs(result.duration_ms - 1000) <= 10
    assert [(s.type, s.codec, s.channels, s.bit_depth) for s in result.streams] == [
        ("audio", codec, 2, bit_depth)
    ]
    assert result.tags["title"] == "Song"
    assert result.streams[0].title is None


def test_probe_zero_byte_file(tmp_path):
    with pytest.raises(ProbeError, match=r"^empty file$"):
        probe_file(str(make_zero_byte(tmp_path / "empty.mkv")))


def test_probe_missing_file(tmp_path):
    with pytest.raises(ProbeError, match=r"^cannot read file"):
        probe_file(str(tmp_path / "missing.mkv"))


@pytest.mark.parametrize("name", ["cut.mkv", "cut.webm", "cut.mp4", "cut.mov", "cut.avi"])
@pytest.mark.parametrize("fraction", [0.9, 0.5, 0.1])
def test_probe_truncated_files(tmp_path, name, fraction):
    codec, audio = ("vp9", "opus") if name.endswith(".webm") else ("h264", "aac")
    path = make_truncated(tmp_path / name, fraction=fraction, codec=codec, audio=audio)

    with pytest.raises(ProbeError, match=r"^truncated or corrupt: "):
        probe_file(str(path))


def test_probe_random_bytes(tmp_path):
    path = tmp_path / "noise.mkv"
    path.write_bytes(os.urandom(256 * 1024))

    with pytest.raises(ProbeError):
        probe_file(str(path))


def test_probe_text_renamed_to_mkv(tmp_path):
    with pytest.raises(ProbeError, match=r"^truncated or corrupt: "):
        probe_file(str(make_text(tmp_path / "notes.mkv")))


def test_probe_still_image_is_not_media(tmp_path):
    with pytest.raises(ProbeError, match="still image"):
        probe_file(str(make_image(tmp_path / "poster.png", 64, 48)))


def test_probe_error_message_is_one_line(tmp_path):
    path = make_truncated(tmp_path / "cut.mp4")

    with pytest.raises(ProbeError) as caught:
        probe_file(str(path))

    assert "\n" not in str(caught.value)


# -- ProbePool ---------------------------------------------------------------------------


async def test_pool_probes_concurrently(tmp_path):
    paths = [make_video(tmp_path / f"clip{i}.mkv") for i in range(4)]

    async with ProbePool(workers=2) as pool:
        results = await asyncio.gather(*(pool.probe(str(p)) for p in paths))

    assert [_video(r).width for r in results] == [320, 320, 320, 320]


async def test_pool_reports_probe_errors(tmp_path):
    async with ProbePool(workers=1) as pool:
        with pytest.raises(ProbeError, match=r"^empty file$"):
            await pool.probe(str(make_zero_byte(tmp_path / "empty.mkv")))
        result = await pool.probe(str(make_video(tmp_path / "ok.mkv")))

    assert result.container == "mkv"


async def test_pool_timeout_kills_hung_worker_and_recovers(tmp_path):
    hung = make_video(tmp_path / "hang.mkv")
    others = [make_video(tmp_path / f"ok{i}.mkv") for i in range(3)]

    async with ProbePool(workers=2, timeout_s=2.0, target=hanging_probe) as pool:
        outcomes = await asyncio.gather(
            pool.probe(str(hung)), *(pool.probe(str(p)) for p in others), return_exceptions=True
        )
        after = await pool.probe(str(others[0]))

    assert isinstance(outcomes[0], ProbeError)
    assert str(outcomes[0]) == "timed out after 2 s"
    assert [r.container for r in outcomes[1:]] == ["mkv", "mkv", "mkv"]
    assert after.container == "mkv"
    pid = int(_read(str(hung) + ".pid"))
    for _ in range(50):
        if _is_gone(pid):
            break
        await asyncio.sleep(0.1)
    assert _is_gone(pid)


async def test_pool_crashed_worker_fails_only_that_file(tmp_path):
    crash = make_video(tmp_path / "crash.mkv")
    others = [make_video(tmp_path / f"ok{i}.mkv") for i in range(3)]

    async with ProbePool(workers=2, target=crashing_probe) as pool:
        outcomes = await asyncio.gather(
            pool.probe(str(crash)), *(pool.probe(str(p)) for p in others), return_exceptions=True
        )
        again = await asyncio.gather(pool.probe(str(crash)), return_exceptions=True)
        after = await pool.probe(str(others[0]))

    assert isinstance(outcomes[0], ProbeError)
    assert str(outcomes[0]) == "probe worker crashed"
    assert [r.container for r in outcomes[1:]] == ["mkv", "mkv", "mkv"]
    assert isinstance(again[0], ProbeError)
    assert after.container == "mkv"


async def test_pool_closed_rejects_probes(tmp_path):
    pool = ProbePool(workers=1)
    await pool.close()

    with pytest.raises(ProbeError, match="closed"):
        await pool.probe(str(make_video(tmp_path / "ok.mkv")))


def test_probe_subtitle_only_file_has_no_media(tmp_path):
    path = tmp_path / "movie.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:02,000\nHello\n\n")

    with pytest.raises(ProbeError, match=r"^no audio or video streams$"):
        probe_file(str(path))
