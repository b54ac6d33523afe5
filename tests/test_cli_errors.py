"""The one error convention: any escape from a subcommand becomes one line and a non-zero exit."""

from __future__ import annotations

import pytest

from mixrep import cli
from mixrep.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, InputError, one_line


def test_input_error_names_file_and_problem():
    message, code = one_line("separate", InputError("shards.json", "no such file"))
    assert message == "mixrep separate: shards.json: no such file"
    assert code == EXIT_BAD_INPUT


def test_system_exit_text_gets_one_prefix():
    message, _ = one_line("embed", SystemExit("embed: x.pt: not an encoder"))
    assert message == "mixrep embed: x.pt: not an encoder"


def test_os_error_names_its_file():
    message, code = one_line("corpus", PermissionError(13, "Permission denied", "/root/x"))
    assert message == "mixrep corpus: /root/x: Permission denied"
    assert code == EXIT_BAD_INPUT


def test_unexpected_error_is_one_line(monkeypatch, capsys):
    def boom(argv):
        raise RuntimeError("deep\ninside a library")

    monkeypatch.setitem(cli.COMMANDS, "boom", ("mixrep.errors", "boom", "test"))
    import mixrep.errors as errors

    monkeypatch.setattr(errors, "boom", boom, raising=False)
    assert cli.main(["boom"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("mixrep boom: RuntimeError: deep inside a library")
    assert cli.main(["--debug", "boom"]) == EXIT_INTERNAL
    assert "Traceback" in capsys.readouterr().err


def test_argparse_exit_codes_pass_through(capsys):
    assert cli.main(["manifest", "--help"]) == 0
    assert cli.main(["manifest", "--no-such-option"]) == 2


def test_bad_settings_json_is_one_line(tmp_path, capsys):
    argv = ["separate", "--manifest", "m.parquet", "--shards", "s.json", "--shard", "shard-000",
            "--out", str(tmp_path), "--settings", "{bad json"]
    code = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT and len(err) == 1, err
    assert err[0].startswith("mixrep separate: --settings: not valid JSON"), err


def test_every_command_logs_in_the_one_format_and_no_stage_configures_logging_itself():
    """One CLI convention: the dispatcher sets up logging; a stage's cli.py never calls basicConfig."""
    import re
    from pathlib import Path

    package = Path(cli.__file__).parent
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if p.name != "cli.py" or p.parent != package
                 if re.search(r"logging\.basicConfig\(", p.read_text())]
    assert offenders == []
    assert "%(levelname)s %(name)s" in cli.LOG_FORMAT
