"""A video standing in for a webcam plays on in time across windows (issue 23, item 4).

Tiny videos are written in the test (OpenCV); the clock is a fake one, so nothing waits real time.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.config import Settings
from emusify.desk.devices import Devices
from emusify.sensing.camera import open_source
from emusify.sensing.playhead import Playhead, VirtualClock
from tests.fakes import (
    FakeClock,
    FakeJournal,
    FakeLibrary,
    FakePlayer,
    FakePredictor,
    fake_vectorize,
    make_core,
    probs,
)

MOOD_OF_RED = {50: "happy", 150: "sad", 250: "angry"}
SONGS = {"angry": 2, "happy": 2, "neutral": 2, "sad": 2}


def write_video(path: Path, reds: list[int], fps: float) -> Path:
    """A 64x48 video whose frame i is red ``reds[i]`` (BGR)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for red in reds:
        image = np.zeros((48, 64, 3), np.uint8)
        image[..., 2] = red
        writer.write(image)
    writer.release()
    return path


def counting(path: Path, seconds: int, fps: float = 10.0) -> Path:
    """A video of ``seconds`` s (30 at most) whose red value is 8 * the second shown (0, 8, 16, ...)."""
    return write_video(path, [8 * (i // int(fps)) for i in range(int(seconds * fps))], fps)


def shown(frame) -> int:
    """The second of a :func:`counting` video a frame shows (JPEG moves the colour a little)."""
    return int(round(float(frame.image[..., 2].mean()) / 8))


class MoodOfRed:
    """A landmark extractor that reads the mood a test video's colour stands for."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def extract(self, image):
        value = int(round(float(image[..., 2].mean())))
        self.seen.append(value)
        return probs(MOOD_OF_RED[min(MOOD_OF_RED, key=lambda r: abs(r - value))])


def test_a_video_read_across_three_windows_shows_three_parts_of_it(tmp_path):
    # 90 s of a person: happy, then sad, then angry, 30 s each; windows of 5 s every 30 s.
    video = write_video(tmp_path / "day.avi", [50] * 150 + [150] * 150 + [250] * 150, fps=5.0)
    clock = FakeClock()
    settings = Settings(source=str(video), window=5, fps=4, every=0.5, cycles=3, min_face_frames=4)
    devices = Devices(
        open_source=partial(open_source, playhead=Playhead(clock)), extractor=MoodOfRed(),
        vectorize=fake_vectorize, predictor=FakePredictor(), player=FakePlayer(),
        library=FakeLibrary(SONGS), journal=FakeJournal(), clock=clock)
    assert make_core(settings, devices).run() == 0
    moods = [result.mood for _, result, _ in devices.journal.windows]
    assert moods == ["happy", "sad", "angry"]  # each window opened afresh once showed "happy" only
    assert devices.player.played()[-1].startswith("angry")


def test_each_opening_starts_where_the_clock_is_and_frames_follow_it(tmp_path):
    video = counting(tmp_path / "count.avi", 30)
    clock = VirtualClock()
    playhead = Playhead(clock)
    with open_source(str(video), playhead) as source:
        first = [source.read() for _ in range(3)]
    clock.sleep(20.0)  # the camera is off for 20 s
    with open_source(str(video), playhead) as source:
        second = source.read()
    assert [f.timestamp for f in first] == pytest.approx([0.0, 0.1, 0.2])
    assert clock.time == pytest.approx(20.2)  # reading waited for each frame's time
    assert second.timestamp == pytest.approx(20.2) and shown(second) == 20
    assert second.index == 0 and second.name == "count.avi"


def test_a_slow_reader_gets_every_frame_and_the_next_opening_catches_up(tmp_path):
    video = counting(tmp_path / "count.avi", 30)
    clock = VirtualClock()
    playhead = Playhead(clock)
    with open_source(str(video), playhead) as source:
        stamps = []
        for _ in range(4):
            stamps.append(source.read().timestamp)
            clock.sleep(3.0)  # three seconds of analysis per frame
    with open_source(str(video), playhead) as source:
        later = source.read()
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3])  # a window reads its seconds of video
    assert later.timestamp == pytest.approx(12.0) and shown(later) == 12


def test_the_video_loops_at_its_end_with_timestamps_that_go_on(tmp_path):
    video = counting(tmp_path / "count.avi", 10)
    clock = VirtualClock()
    playhead = Playhead(clock)
    clock.sleep(0.01)
    with open_source(str(video), playhead) as source:
        source.read()
    clock.sleep(24.0)
    with open_source(str(video), playhead) as source:
        frames = [source.read() for _ in range(65)]
    assert shown(frames[0]) == 4  # 24 s into a 10 s video: its fifth second
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps) and stamps[-1] == pytest.approx(30.4)  # on through the next loop
    assert shown(frames[-1]) == 0


def test_a_video_that_does_not_loop_ends_with_one_line(tmp_path, caplog):
    video = counting(tmp_path / "count.avi", 2)
    clock = VirtualClock()
    playhead = Playhead(clock, loop=False)
    with caplog.at_level(logging.INFO):
        with open_source(str(video), playhead) as source:
            assert len([f for f in iter(source.read, None)]) == 20
        clock.sleep(5.0)
        for _ in range(3):  # later windows read nothing and say nothing more
            with open_source(str(video), playhead) as source:
                assert source.read() is None
    assert caplog.text.count("played to its end") == 1 and "count.avi" in caplog.text


def test_without_a_shared_playhead_every_opening_starts_at_the_first_frame(tmp_path):
    video = counting(tmp_path / "count.avi", 3)
    for _ in range(2):
        with open_source(str(video), Playhead(VirtualClock())) as source:
            assert shown(source.read()) == 0
