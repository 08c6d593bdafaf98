"""Progress for a person at a terminal: the line itself, and `train`/`invoke` showing it on a
pseudo-terminal and writing nothing on a pipe."""

import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from helpers import IRIS_CSV, SAMPLE_EVENT, iris_like
from linreg import progress
from linreg.cli import main
from linreg.progress import Progress, human_bytes, reading_text, training_text
from linreg.training import data

REWRITE, CLEAR = "\r", "\x1b[K"


class Screen(io.StringIO):
    """A text stream that says it is a terminal, or not."""

    def __init__(self, tty: bool = True) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def a_capable_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")


def shown_on(screen: Screen, clock: Clock, **options) -> Progress:
    return Progress(screen, total_bytes=options.pop("total_bytes", 1000), clock=clock, **options)


def drawn(screen: Screen) -> list[str]:
    """Each state drawn, in order, without the control characters."""
    text = screen.getvalue().replace(CLEAR, "").replace("\n", REWRITE)
    return [part for part in text.split(REWRITE) if part]


def test_reading_text_shows_bytes_of_the_total_rows_and_seconds():
    assert (
        reading_text(12_300_000, 240_000_000, 1_234_567, 3.24)
        == "read 12.3 MB of 240.0 MB (5%) · 1,234,567 rows · 3.2 s"
    )


def test_reading_text_without_a_total_has_no_percentage():
    assert reading_text(4_200, None, 150, 0.0) == "read 4.2 kB · 150 rows · 0.0 s"


def test_training_text_shows_the_iteration_of_all_the_loss_and_seconds():
    assert training_text(40, 100, 0.341234, 5.06) == "iteration 40 of 100 · loss 0.3412 · 5.1 s"


@pytest.mark.parametrize(
    ("count", "text"), [(999, "999 B"), (3_855, "3.9 kB"), (240_000_000, "240.0 MB")]
)
def test_bytes_are_shown_in_decimal_units(count, text):
    assert human_bytes(count) == text


def test_each_state_rewrites_the_line_in_place():
    screen, clock = Screen(), Clock()
    shown = shown_on(screen, clock, iterations=10)
    clock.now += 1
    shown.read(100)
    clock.now += 1
    shown.read(200)
    assert screen.getvalue() == (
        f"{REWRITE}read 100 B of 1.0 kB (10%) · 0 rows · 1.0 s{CLEAR}"
        f"{REWRITE}read 200 B of 1.0 kB (20%) · 0 rows · 2.0 s{CLEAR}"
    )


def test_the_first_frame_waits_one_redraw_interval():
    screen, clock = Screen(), Clock()
    # Binary fractions of a second, so the sums are exact.
    shown = shown_on(screen, clock, iterations=10, redraw_seconds=0.5)
    shown.read(2)
    clock.now += 0.25
    shown.read(500)
    assert screen.getvalue() == ""
    clock.now += 0.25
    shown.parsed(20)
    assert drawn(screen) == ["read 500 B of 1.0 kB (50%) · 20 rows · 0.5 s"]


def test_updates_closer_than_the_redraw_interval_are_not_drawn():
    screen, clock = Screen(), Clock()
    shown = shown_on(screen, clock, iterations=10, redraw_seconds=1.0)
    for rows in range(1, 11):
        clock.now += 0.25
        shown.parsed(rows)
    assert [state.split(" · ")[1] for state in drawn(screen)] == ["4 rows", "8 rows"]


def test_the_latest_state_is_drawn_when_the_line_ends():
    screen, clock = Screen(), Clock()
    shown = shown_on(screen, clock, iterations=10)
    shown.read(100)
    shown.read(1000)
    shown.close()
    assert drawn(screen)[-1] == "read 1.0 kB of 1.0 kB (100%) · 0 rows · 0.0 s"
    assert screen.getvalue().endswith(CLEAR + "\n")


def test_training_ends_the_reading_line_and_starts_its_own():
    screen, clock = Screen(), Clock()
    shown = shown_on(screen, clock, iterations=100)
    shown.read(1000)
    shown.parsed(150)
    clock.now += 2
    shown.trained(0, 24.25)
    shown.trained(99, 0.3423)
    shown.close()
    lines = [line.rsplit(REWRITE, 1)[-1] for line in screen.getvalue()[:-1].split("\n")]
    assert lines == [
        f"read 1.0 kB of 1.0 kB (100%) · 150 rows · 0.0 s{CLEAR}",
        f"iteration 100 of 100 · loss 0.3423 · 2.0 s{CLEAR}",
    ]


def test_a_line_never_drawn_is_not_ended():
    screen = Screen()
    shown_on(screen, Clock(), iterations=10).close()
    assert screen.getvalue() == ""


def test_a_line_is_cut_to_the_terminal_width():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 20, 0, 0))
    with open(slave, "w") as terminal, open(master, "rb", buffering=0) as screen:
        Progress(terminal, total_bytes=1000, iterations=10, redraw_seconds=0).read(500)
        assert select.select([screen], [], [], 10)[0], "nothing drawn"
        received = screen.read(100).decode()
    # One column short of the width: writing the last one makes some terminals wrap.
    assert received == f"{REWRITE}read 500 B of 1.0 k{CLEAR}"


def test_a_run_shows_progress_only_within_on_terminal():
    with progress.for_run(total_bytes=1, iterations=1) as shown:
        assert shown is None


def test_nothing_is_written_to_a_stream_that_is_not_a_terminal():
    screen = Screen(tty=False)
    with progress.on_terminal(screen), progress.for_run(total_bytes=1, iterations=1) as shown:
        assert shown is None
    assert screen.getvalue() == ""


def test_a_dumb_terminal_gets_no_progress(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    with progress.on_terminal(Screen()), progress.for_run(total_bytes=1, iterations=1) as shown:
        assert shown is None


def test_the_line_is_ended_when_the_run_fails():
    screen = Screen()
    with (
        pytest.raises(RuntimeError),
        progress.on_terminal(screen),
        progress.for_run(total_bytes=1000, iterations=1) as shown,
    ):
        shown.read(10)
        raise RuntimeError
    assert screen.getvalue().endswith("\n")


def test_load_reports_the_rows_read_after_each_block():
    rows = []
    data.load_bytes(iris_like(2_000), block_bytes=8_192, on_rows=rows.append)
    assert len(rows) > 2
    assert rows == sorted(rows) and rows[-1] == 2_000


def test_verbose_train_on_a_terminal_leaves_the_terminal_to_its_own_lines(tmp_path, monkeypatch):
    stdout, stderr = Screen(), Screen()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    options = ["--iterations", "3", "--verbose"]
    assert main(["train", str(IRIS_CSV), "--out", str(tmp_path), *options]) == 0
    assert [line.split(",")[0] for line in stdout.getvalue().splitlines()][:3] == [
        "iteration 1",
        "iteration 2",
        "iteration 3",
    ]
    assert stderr.getvalue() == ""


def linreg_on_terminal(*args: str, cwd) -> tuple[int, str]:
    """``python -m linreg ARGS`` with stderr on a pseudo-terminal: its exit code and what
    the terminal received."""
    master, slave = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "linreg", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        cwd=cwd,
        env={**os.environ, "TERM": "xterm"},
    ) as child:
        os.close(slave)
        received = read_until_closed(master, timeout_seconds=120)
        code = child.wait(timeout=10)
    os.close(master)
    return code, received.decode()


def read_until_closed(fd: int, timeout_seconds: float) -> bytes:
    received, ends = b"", time.monotonic() + timeout_seconds
    while select.select([fd], [], [], max(0.0, ends - time.monotonic()))[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        received += chunk
    return received


@pytest.mark.slow
def test_train_on_a_terminal_shows_bytes_of_the_file_rows_and_iterations(tmp_path):
    code, received = linreg_on_terminal(
        "train", str(IRIS_CSV), "--out", str(tmp_path / "out"), cwd=tmp_path
    )
    assert code == 0, received
    assert "read 3.9 kB of 3.9 kB (100%) · 150 rows" in received
    assert "iteration 100 of 100 · loss 0.3423" in received


@pytest.mark.slow
def test_train_on_a_terminal_never_shows_the_format_sniff_as_progress(tmp_path):
    code, received = linreg_on_terminal(
        "train", str(IRIS_CSV), "--out", str(tmp_path / "out"), cwd=tmp_path
    )
    assert code == 0, received
    assert "read 2 B" not in received


@pytest.mark.slow
def test_train_on_a_pipe_writes_nothing_to_stderr(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "linreg", "train", str(IRIS_CSV), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "TERM": "xterm"},
    )
    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.slow
def test_invoke_on_a_terminal_shows_the_upload_read_and_trained(tmp_path):
    code, received = linreg_on_terminal("invoke", str(SAMPLE_EVENT), cwd=tmp_path)
    assert code == 0, received
    assert "read 3.9 kB of 3.9 kB (100%) · 150 rows" in received
    assert "iteration 100 of 100" in received
