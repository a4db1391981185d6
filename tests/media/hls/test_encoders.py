import av
import pytest

from media.hls.encoders import (
    EncoderChoice,
    EncoderProbe,
    choose_encoder,
    codec_of,
    detect_encoders,
    input_format,
    software_encoder,
)

X264 = {"preset": "veryfast"}
NVENC = {"preset": "p4", "tune": "hq", "forced-idr": "1"}


def _probes(*working):
    """A probe list in which only the named encoders work."""
    names = [
        ("h264", "h264_nvenc", "nvenc"),
        ("h264", "h264_qsv", "qsv"),
        ("h264", "h264_vaapi", "vaapi"),
        ("h264", "libx264", "software"),
        ("hevc", "hevc_nvenc", "nvenc"),
        ("hevc", "hevc_qsv", "qsv"),
        ("hevc", "hevc_vaapi", "vaapi"),
        ("hevc", "libx265", "software"),
    ]
    return [
        EncoderProbe(codec, name, kind, name in working, None if name in working else "no device")
        for codec, name, kind in names
    ]


def test_this_machine_has_no_gpu_so_detection_refuses_hardware_with_ffmpegs_reason():
    probes = {probe.name: probe for probe in detect_encoders()}

    assert [(p.name, p.kind, p.available) for p in probes.values()] == [
        ("h264_nvenc", "nvenc", False),
        ("h264_qsv", "qsv", False),
        ("h264_vaapi", "vaapi", False),
        ("libx264", "software", True),
        ("hevc_nvenc", "nvenc", False),
        ("hevc_qsv", "qsv", False),
        ("hevc_vaapi", "vaapi", False),
        ("libx265", "software", True),
    ]
    # NVENC and QSV are compiled into PyAV's FFmpeg but find no driver; VAAPI is not built in.
    assert "h264_nvenc" in av.codecs_available and "h264_vaapi" not in av.codecs_available
    assert probes["h264_nvenc"].reason == "PermissionError: Cannot load libcuda.so.1"
    assert probes["h264_qsv"].reason == "UnknownError: Error creating a MFX session: -9."
    assert probes["h264_vaapi"].reason == "not built into this FFmpeg"
    assert probes["libx264"].reason is None


def test_detection_runs_once_per_process():
    assert detect_encoders() == detect_encoders()
    assert detect_encoders() is not detect_encoders()  # callers get their own list


def test_auto_on_this_machine_chooses_software():
    assert choose_encoder() == EncoderChoice("libx264", "software", X264, None)
    assert choose_encoder("hevc") == EncoderChoice(
        "libx265", "software", {"preset": "veryfast", "x265-params": "log-level=error"}, None
    )


def test_asking_for_nvenc_here_falls_back_to_software_saying_why():
    choice = choose_encoder("h264", "nvenc")

    assert choice == EncoderChoice(
        "libx264",
        "software",
        X264,
        "h264_nvenc unavailable: PermissionError: Cannot load libcuda.so.1",
    )


def test_auto_prefers_nvenc_then_qsv_then_vaapi():
    assert choose_encoder("h264", "auto", probes=_probes("h264_nvenc", "h264_qsv")) == (
        EncoderChoice("h264_nvenc", "nvenc", NVENC)
    )
    assert choose_encoder("h264", "auto", probes=_probes("h264_qsv", "h264_vaapi")) == (
        EncoderChoice("h264_qsv", "qsv", {"preset": "veryfast", "forced_idr": "1"})
    )
    assert choose_encoder("hevc", "auto", probes=_probes("hevc_vaapi", "h264_nvenc")) == (
        EncoderChoice("hevc_vaapi", "vaapi", {})
    )
    assert choose_encoder("h264", "auto", probes=_probes()) == (
        EncoderChoice("libx264", "software", X264)
    )


def test_a_named_preference_takes_that_encoder_or_software_with_the_reason():
    probes = _probes("h264_nvenc", "h264_qsv")

    assert choose_encoder("h264", "qsv", probes=probes).name == "h264_qsv"
    assert choose_encoder("h264", "vaapi", probes=probes) == EncoderChoice(
        "libx264", "software", X264, "h264_vaapi unavailable: no device"
    )
    assert choose_encoder("h264", "software", probes=probes) == (
        EncoderChoice("libx264", "software", X264)
    )
    assert choose_encoder("h264", "nvenc", probes=[]).reason == (
        "h264_nvenc unavailable: not probed"
    )


def test_unknown_codecs_and_preferences_are_refused():
    with pytest.raises(ValueError, match="no encoders known for 'vp9'"):
        choose_encoder("vp9", probes=[])
    with pytest.raises(ValueError, match="unknown encoder preference 'amf'"):
        choose_encoder("h264", "amf", probes=[])


def test_each_choice_gets_its_own_options_dict():
    first = choose_encoder("h264", "software", probes=[])
    first.options["preset"] = "slow"  # type: ignore[index]

    assert choose_encoder("h264", "software", probes=[]).options == X264


def _reported(name):
    return [video_format.name for video_format in av.Codec(name, "w").video_formats]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("libx264", "yuv420p"),
        ("libx265", "yuv420p"),
        ("h264_qsv", "nv12"),
        ("hevc_qsv", "nv12"),
        ("h264_nvenc", "yuv420p"),
        ("hevc_nvenc", "yuv420p"),
    ],
)
def test_each_encoder_is_fed_a_frame_format_it_reports_accepting(name, expected):
    if name not in av.codecs_available:
        pytest.skip(f"{name} is not built into this FFmpeg")

    assert expected in _reported(name)
    assert input_format(name) == expected


def test_qsv_reports_no_yuv420p_so_it_gets_nv12():
    if "h264_qsv" not in av.codecs_available:
        pytest.skip("h264_qsv is not built into this FFmpeg")

    assert "yuv420p" not in _reported("h264_qsv")
    assert input_format("h264_qsv") == "nv12"


def test_an_encoder_taking_only_hardware_frames_has_no_input_format():
    assert input_format("h264_vaapi", ["vaapi"]) is None
    assert input_format("h264_vaapi", ["vaapi", "nv12"]) == "nv12"
    assert input_format("some_encoder", []) == "yuv420p"
    assert input_format("no_such_encoder") is None


def test_the_software_fallback_of_each_hardware_encoder():
    assert codec_of("h264_qsv") == "h264"
    assert codec_of("hevc_nvenc") == "hevc"
    assert codec_of("libx265") == "hevc"
    assert software_encoder(codec_of("h264_vaapi"), "why") == EncoderChoice(
        "libx264", "software", X264, "why"
    )
