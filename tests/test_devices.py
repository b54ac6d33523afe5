"""One runtime convention for every command that runs torch: --threads N, --device auto|cpu|cuda|cuda:N."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from mixrep.devices import add_runtime_arguments, configure_runtime


def parser(**kwargs) -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="mixrep x")
    add_runtime_arguments(made, **kwargs)
    return made


def test_defaults_and_accepted_values():
    args = parser().parse_args([])
    assert (args.threads, args.device) == (1, "auto")
    assert parser(device="cpu").parse_args([]).device == "cpu"
    for device in ("auto", "cpu", "cuda", "cuda:0", "cuda:12"):
        assert parser().parse_args(["--device", device, "--threads", "3"]).device == device
    assert not hasattr(parser(device=None).parse_args([]), "device")  # CPU-only commands: --threads alone


@pytest.mark.parametrize("argv", [["--threads", "0"], ["--threads", "two"], ["--device", "gpu"],
                                  ["--device", "cuda:x"], ["--device", "mps"]])
def test_bad_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        parser().parse_args(argv)
    assert stop.value.code == 2
    assert "invalid" in capsys.readouterr().err


def test_configure_runtime_sets_torch_threads_and_resolves_the_device(monkeypatch):
    import torch

    previous = torch.get_num_threads()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    try:
        assert configure_runtime(parser().parse_args(["--threads", "2"])) == torch.device("cpu")
        assert torch.get_num_threads() == 2
        assert configure_runtime(parser(device=None).parse_args([])) == torch.device("cpu")
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="CUDA is not available"):
            configure_runtime(parser().parse_args(["--device", "cuda:0"]))
    finally:
        torch.set_num_threads(previous)


def test_devices_imports_without_torch():
    """The module is imported by CLIs before they decide whether torch is needed."""
    code = "import sys, mixrep.devices; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
