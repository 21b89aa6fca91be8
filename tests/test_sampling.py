"""Which frames a window and the shot analyse (emusify.sensing.sampling): one rule for both."""

from __future__ import annotations

from emusify.sensing.sampling import Sampling


def analysed(sampling: Sampling, timestamps) -> list[float]:
    """The timestamps a reader of ``sampling`` analyses, as the window's and the shot's loops do."""
    taken = []
    for t in timestamps:
        if sampling.over(t):
            break
        if sampling.due():
            taken.append(t)
            sampling.took()
    return taken


def test_video_frames_are_taken_fps_a_second_by_their_timestamps_until_the_length():
    frames = [i / 30 for i in range(1000)]  # a 30 fps camera, starting at 0
    taken = analysed(Sampling(5.0, 4.0, is_video=True), frames)
    assert len(taken) == 20 and taken[0] == 0.0 and max(taken) < 5.0
    for k, t in enumerate(taken):  # the first frame at or after each 0.25 s mark
        assert k * 0.25 - 1e-6 <= t < k * 0.25 + 1 / 30


def test_a_camera_slower_than_fps_gives_every_frame_it_has():
    frames = [10.0 + i / 2 for i in range(100)]  # 2 fps, timestamps not starting at 0
    assert len(analysed(Sampling(5.0, 4.0, is_video=True), frames)) == 10


def test_stills_count_for_the_shot_and_run_to_the_end_for_a_window():
    stills = [0.001 * i for i in range(50)]  # an image folder: read time, not a clock of the scene
    assert len(analysed(Sampling(5.0, 4.0, is_video=False, count_stills=True), stills)) == 20
    assert len(analysed(Sampling(5.0, 4.0, is_video=False), stills)) == 50
