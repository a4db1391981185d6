import pytest

from media.hls.plan import keyframe_plan, keyframe_times, uniform_plan
from tests.support.media_files import make_video


def test_uniform_plan_ends_with_a_shorter_segment():
    plan = uniform_plan(20.0)

    assert plan.starts == (0.0, 6.0, 12.0, 18.0)
    assert plan.durations == (6.0, 6.0, 6.0, 2.0)
    assert plan.target_duration == 6


def test_uniform_plan_folds_a_tiny_tail_into_the_last_segment():
    plan = uniform_plan(18.3)

    assert plan.starts == (0.0, 6.0, 12.0)
    assert plan.durations == (6.0, 6.0, 6.3)
    assert plan.target_duration == 7


def test_uniform_plan_keeps_a_half_second_tail_and_exact_multiples():
    assert uniform_plan(12.5).durations == (6.0, 6.0, 0.5)
    assert uniform_plan(12.0).durations == (6.0, 6.0)


def test_uniform_plan_of_a_clip_shorter_than_a_segment_is_one_segment():
    assert uniform_plan(0.2).durations == (0.2,)
    assert uniform_plan(4.0, segment_seconds=2.0).starts == (0.0, 2.0)


def test_uniform_plan_rejects_nonpositive_durations():
    with pytest.raises(ValueError):
        uniform_plan(0.0)


def test_keyframe_plan_cuts_at_the_first_keyframe_at_least_a_target_after_the_last_cut():
    keyframes = [0.0, 2.0, 4.0, 6.006, 8.0, 10.0, 12.0, 14.5, 19.0]

    plan = keyframe_plan(keyframes, 22.0)

    # 12.0 is under 6 s after the 6.006 cut: a segment never runs short of the target.
    assert plan.starts == (0.0, 6.006, 14.5)
    assert plan.durations == (6.006, 8.494, 7.5)


def test_keyframe_plan_with_sparse_keyframes_makes_long_segments():
    plan = keyframe_plan([0.0, 10.0, 25.0], 30.0)

    assert plan.starts == (0.0, 10.0, 25.0)
    assert plan.durations == (10.0, 15.0, 5.0)
    assert plan.target_duration == 15


def test_keyframe_plan_folds_a_tiny_tail_and_ignores_keyframes_past_the_end():
    plan = keyframe_plan([0.0, 6.0, 12.0, 12.2, 13.0], 12.2)

    assert plan.starts == (0.0, 6.0)
    assert plan.durations == (6.0, 6.2)
    assert keyframe_plan([0.0, 6.0, 12.0], 12.5).durations == (6.0, 6.0, 0.5)


def test_keyframe_plan_without_keyframes_is_one_segment():
    assert keyframe_plan([], 9.5).durations == (9.5,)


def test_keyframe_times_reads_the_encoders_keyframes(tmp_path):
    # libx264's default keyint is 250 frames: at 24 fps a keyframe every 10.41667 s.
    clip = make_video(tmp_path / "clip.mp4", seconds=25, fps=24)

    times = keyframe_times(str(clip))

    assert times == [0.0, 10.416667, 20.833333]
    assert keyframe_plan(times, 25.0).durations == (10.416667, 10.416666, 4.166667)


def test_keyframe_times_are_relative_to_the_stream_start_in_mpegts(tmp_path):
    # MPEG-TS starts its clock at 1.4 s; the times still start at 0.
    clip = make_video(tmp_path / "clip.ts", seconds=12, fps=24, codec="mpeg4", audio=None)

    times = keyframe_times(str(clip), video_stream_index=0)

    assert times[:4] == [0.0, 0.5, 1.0, 1.5]
    assert len(times) == 24


def test_keyframe_times_refuses_a_stream_that_is_not_video(tmp_path):
    clip = make_video(tmp_path / "clip.mkv", seconds=1)

    with pytest.raises(ValueError, match="stream 1 is not video"):
        keyframe_times(str(clip), video_stream_index=1)


def test_keyframe_times_refuses_a_file_without_video(tmp_path):
    from tests.support.media_files import make_audio

    song = make_audio(tmp_path / "song.m4a")

    with pytest.raises(ValueError, match="no video stream"):
        keyframe_times(str(song))
