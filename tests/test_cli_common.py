import logging

from emusify.cli.common import make_parser, run_main
from emusify.errors import ExitStatus, ModelError


def failing(message):
    def command(args):
        raise ModelError(message)

    return command


def test_error_is_one_line_and_exit_1(capsys):
    status = run_main(make_parser("x", "test"), failing("no model: run train.py"), [])
    assert status == ExitStatus.ERROR
    err = capsys.readouterr().err
    assert err == "error: no model: run train.py\n"


def test_debug_shows_traceback(capsys):
    run_main(make_parser("x", "test"), failing("boom"), ["--debug"])
    assert "Traceback" in capsys.readouterr().err


def test_wrong_flag_is_usage_exit_2(capsys):
    try:
        run_main(make_parser("x", "test"), lambda args: 0, ["--nope"])
    except SystemExit as exc:
        assert exc.code == ExitStatus.USAGE
    else:
        raise AssertionError("argparse should have exited")
    assert "--help" in capsys.readouterr().err


def test_ctrl_c_is_130(capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    assert run_main(make_parser("x", "test"), interrupted, []) == ExitStatus.INTERRUPTED


def test_verbosity_flags_set_level():
    run_main(make_parser("x", "test"), lambda args: 0, ["-q"])
    assert logging.getLogger().level == logging.WARNING
    run_main(make_parser("x", "test"), lambda args: 0, ["-vv"])
    assert logging.getLogger().level == logging.DEBUG
