"""MPRIS on a private session bus: a client steers a fake core and sees what it plays."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("dbus_fast")

from dbus_fast import BusType, Message, MessageType, Variant  # noqa: E402
from dbus_fast.aio import MessageBus  # noqa: E402

from emusify.desk.events import Command, PlayerState, start_frontends  # noqa: E402
from emusify.desk.mpris import BUS_NAME, OBJECT_PATH, Mpris  # noqa: E402
from tests.busfix import FakeCore, MprisClient, Seekeds, leave, needs_bus, private_bus  # noqa: E402
from tests.fakes import Song  # noqa: E402

pytestmark = needs_bus
PLAYER = "org.mpris.MediaPlayer2.Player"
SONG = Song(Path("/music/sad/rain.ogg"), "Rain", "Ada", 212.5, "sad")
OTHER = Song(Path("/music/happy/sun.mp3"), "Sun", None, None, "happy")


@pytest.fixture(scope="module")
def bus():
    with private_bus() as address:
        yield address


@pytest.fixture
def started(bus):
    core = FakeCore(PlayerState(status="playing", song=SONG, folder="sad", moods=("happy", "neutral", "sad")))
    mpris = Mpris()
    assert start_frontends(core, [mpris]) == [mpris]
    yield core, mpris
    mpris.close()


async def call(bus: MessageBus, member: str, interface: str = PLAYER, signature: str = "",
               body=()) -> Message:
    reply = await bus.call(Message(destination=BUS_NAME, path=OBJECT_PATH, interface=interface, member=member,
                                   signature=signature, body=list(body)))
    assert reply.message_type == MessageType.METHOD_RETURN, reply.body
    return reply


async def get(bus: MessageBus, name: str, interface: str = PLAYER):
    reply = await call(bus, "Get", "org.freedesktop.DBus.Properties", "ss", (interface, name))
    return reply.body[0].value


def unwrap(metadata: dict) -> dict:
    return {key: value.value for key, value in metadata.items()}


def test_method_calls_become_commands_to_the_core(started):
    core, _ = started

    async def client():
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        for member in ("PlayPause", "Next", "Stop", "Play", "Pause"):
            await call(bus, member)
        await call(bus, "Quit", "org.mpris.MediaPlayer2")
        for member in ("Previous", "OpenUri"):  # no-ops by the spec: no command
            await call(bus, member, signature="s" if member == "OpenUri" else "",
                       body=["file:///x.ogg"] if member == "OpenUri" else ())
        await leave(bus)

    asyncio.run(client())
    sent = [core.next_command() for _ in range(6)]
    assert [(c.name, c.source) for c in sent] == [
        ("play_pause", "mpris"), ("next", "mpris"), ("stop", "mpris"), ("play", "mpris"), ("pause", "mpris"),
        ("quit", "mpris")]
    assert core.commands.empty()


def test_a_client_reads_status_metadata_and_what_it_may_do(started):
    async def client():
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        values = {name: await get(bus, name) for name in (
            "PlaybackStatus", "Metadata", "CanGoNext", "CanGoPrevious", "CanPause", "CanSeek", "CanControl",
            "Rate", "Position")}
        values["Identity"] = await get(bus, "Identity", "org.mpris.MediaPlayer2")
        values["CanQuit"] = await get(bus, "CanQuit", "org.mpris.MediaPlayer2")
        await leave(bus)
        return values

    values = asyncio.run(client())
    assert values["PlaybackStatus"] == "Playing"
    metadata = unwrap(values["Metadata"])
    assert metadata["xesam:title"] == "Rain" and metadata["xesam:artist"] == ["Ada"]
    assert metadata["mpris:length"] == 212_500_000
    assert metadata["xesam:url"] == "file:///music/sad/rain.ogg"
    assert metadata["xesam:genre"] == ["sad"] and metadata["emusify:mood"] == "sad"
    assert metadata["mpris:trackid"].startswith("/org/emusify/track/")
    assert (values["CanGoNext"], values["CanGoPrevious"], values["CanPause"], values["CanSeek"]) == (
        True, False, True, False)
    assert values["CanControl"] and values["CanQuit"] and values["Identity"] == "Emusify"
    assert values["Rate"] == 1.0 and values["Position"] >= 0


def test_song_started_and_paused_reach_the_client_as_properties_changed(started):
    core, _ = started

    async def client():
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        changes: asyncio.Queue = asyncio.Queue()

        def on_message(message: Message) -> None:
            if message.member == "PropertiesChanged" and message.body[0] == PLAYER:
                changes.put_nowait(message.body[1])

        bus.add_message_handler(on_message)
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                               body=["type='signal',member='PropertiesChanged',path='/org/mpris/MediaPlayer2'"]))
        before = unwrap(await get(bus, "Metadata"))["mpris:trackid"]
        core.fire("song_started", when=1.0, song=OTHER)
        first = await asyncio.wait_for(changes.get(), 5)
        core.fire("paused", when=2.0)
        second = await asyncio.wait_for(changes.get(), 5)
        core.fire("note", when=3.0, text="nothing a client sees")
        core.fire("resumed", when=4.0)
        third = await asyncio.wait_for(changes.get(), 5)
        await leave(bus)
        return before, first, second, third

    before, first, second, third = asyncio.run(client())
    metadata = unwrap(first["Metadata"].value)
    assert metadata["xesam:title"] == "Sun" and metadata["xesam:genre"] == ["happy"]
    assert metadata["xesam:artist"] == [] and "mpris:length" not in metadata  # unknown: left out
    assert metadata["mpris:trackid"] != before  # a new song, a new track id
    assert second == {"PlaybackStatus": Variant("s", "Paused")}  # status only: the song did not change
    assert third == {"PlaybackStatus": Variant("s", "Playing")}


def test_a_second_player_takes_the_instance_name(started):
    second = Mpris()
    try:
        second.start(FakeCore())
        assert second.bus_name.startswith(BUS_NAME + ".instance")
    finally:
        second.close()


def test_no_session_bus_is_one_line_and_no_exception(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    core, mpris = FakeCore(), Mpris(timeout=2.0)
    with caplog.at_level(logging.WARNING):
        assert start_frontends(core, [mpris]) == []
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("mpris is off: no D-Bus session bus") and "\n" not in line
    assert not list(core.listeners)  # it did not stay to listen
    mpris.close()  # idempotent after a failed start


def test_the_bus_going_away_is_one_line_and_events_go_on_quietly(caplog):
    core, mpris = FakeCore(PlayerState(status="playing", song=SONG, folder="sad")), Mpris()
    with private_bus():  # a bus of its own, to take away
        assert start_frontends(core, [mpris]) == [mpris]
    try:
        with caplog.at_level(logging.WARNING):
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                core.fire("paused", when=1.0)
                core.fire("resumed", when=2.0)
                time.sleep(0.05)
            core.fire("song_started", when=3.0, song=OTHER)
            time.sleep(0.2)
        (line,) = [r.getMessage() for r in caplog.records]
        assert line.startswith("the session bus went away: media keys")
        assert list(core.listeners) == [mpris]  # still listening, harmlessly
    finally:
        mpris.close()


@pytest.mark.skipif(shutil.which("gdbus") is None, reason="needs gdbus (GLib's D-Bus tool, as GNOME uses)")
def test_glib_clients_read_and_steer_it_too(started):
    core, _ = started
    base = ["gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", OBJECT_PATH, "--method"]
    every = subprocess.run([*base, "org.freedesktop.DBus.Properties.GetAll", PLAYER], capture_output=True,
                           text=True, timeout=10, check=True).stdout
    assert "'PlaybackStatus': <'Playing'>" in every and "'xesam:title': <'Rain'>" in every
    subprocess.run([*base, f"{PLAYER}.Next"], capture_output=True, timeout=10, check=True)
    assert core.next_command().name == "next"


# Volume and position (issue 22): the desktop's slider and progress bar -------------------------

PLAYERCTL = shutil.which("playerctl")
needs_playerctl = pytest.mark.skipif(PLAYERCTL is None, reason="needs playerctl (Debian's package)")


def playerctl(*args: str) -> str:
    done = subprocess.run([PLAYERCTL, "-p", "emusify", *args], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def seekable(bus):
    core = FakeCore(PlayerState(status="playing", song=SONG, folder="sad", volume=0.8, can_seek=True))
    mpris = Mpris()
    assert start_frontends(core, [mpris]) == [mpris]
    client = MprisClient()
    yield core, client
    client.close()
    mpris.close()


def test_a_client_sets_the_volume_and_sees_it_change_once_the_core_made_it(seekable):
    core, client = seekable
    assert client.get("Volume") == 0.8 and client.get("CanSeek") is True
    client.call("Set", "org.freedesktop.DBus.Properties", "ssv", (PLAYER, "Volume", Variant("d", 0.4)))
    assert core.next_command() == Command("volume", source="mpris", value=0.4)
    assert client.get("Volume") == 0.8  # not yet: the core decides
    core.fire("volume_changed", when=1.0, volume=0.4)
    assert client.wait_for(lambda c: "Volume" in c, 5) == {"Volume": 0.4}
    client.call("Set", "org.freedesktop.DBus.Properties", "ssv", (PLAYER, "Volume", Variant("d", 1.7)))
    assert core.next_command().value == 1.0  # the spec's range


def test_seek_and_set_position_become_commands_and_seeked_is_signalled(seekable):
    core, client = seekable
    track = client.get("Metadata")["mpris:trackid"]
    client.call("Seek", signature="x", body=(-5_000_000,))
    assert core.next_command() == Command("seek", source="mpris", value=-5.0)
    client.call("SetPosition", signature="ox", body=(track, 30_000_000))
    assert core.next_command() == Command("position", source="mpris", value=30.0)
    client.call("SetPosition", signature="ox", body=("/org/emusify/track/999", 30_000_000))  # another song
    seeked = Seekeds(client)
    core.fire("seeked", when=2.0, position=30.0)
    assert seeked.next()[1] == pytest.approx(30_000_000, abs=200_000)
    assert client.get("Position") == pytest.approx(30_000_000, abs=1_000_000)
    assert core.commands.empty()


def test_a_song_that_cannot_seek_says_so_and_seek_does_nothing(seekable):
    core, client = seekable
    core.fire("state_changed", state=core.change(can_seek=False))
    assert client.wait_for(lambda c: "CanSeek" in c, 5) == {"CanSeek": False}
    client.call("Seek", signature="x", body=(5_000_000,))
    client.call("Next")
    assert core.next_command().name == "next"  # the seek sent nothing


@needs_playerctl
def test_playerctl_sets_volume_and_position(seekable):
    core, client = seekable
    assert playerctl("volume") == "0.800000"
    playerctl("volume", "0.4")
    assert core.next_command() == Command("volume", source="mpris", value=0.4)
    core.fire("volume_changed", when=1.0, volume=0.4)
    client.wait_for(lambda c: "Volume" in c, 5)
    assert playerctl("volume") == "0.400000"
    playerctl("position", "20")
    assert core.next_command() == Command("position", source="mpris", value=20.0)
    playerctl("position", "5+")
    assert core.next_command() == Command("seek", source="mpris", value=5.0)
    core.fire("seeked", when=2.0, position=25.0)
    time.sleep(0.1)
    assert float(playerctl("position")) == pytest.approx(25.0, abs=1.0)
