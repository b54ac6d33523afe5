"""Rerun hashes come from the modules a rule's command imports (mixrep.provenance), not from a hand-kept list."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mixrep.cli import COMMANDS
from mixrep.provenance import code_version, module_closure

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "mixrep"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "mixrep" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "mixrep"


def test_the_closure_follows_imports_inside_functions_relative_imports_and_named_modules(tmp_path):
    root = write(tmp_path, {
        "__init__.py": "",
        "cli.py": "import json\n\ndef main():\n    from mixrep.stage import run\n    return run()\n",
        "stage/__init__.py": "from .work import run\n",
        "stage/work.py": "from ..shared import helper\n\ndef run():\n    return helper()\n",
        "shared.py": "MODULES = ('mixrep.plugin',)\nAPI = 'mixrep.shared.helper'\n\ndef helper():\n    return 1\n",
        "plugin.py": "",
        "unused.py": "import mixrep.cli\n",
    })
    assert module_closure("mixrep.cli", root=root) == (
        "mixrep", "mixrep.cli", "mixrep.plugin", "mixrep.shared", "mixrep.stage", "mixrep.stage.work")
    assert module_closure("mixrep.stage.work", root=root) == ("mixrep", "mixrep.plugin", "mixrep.shared",
                                                              "mixrep.stage", "mixrep.stage.work")
    before = code_version("mixrep.cli", root=root)
    (root / "unused.py").write_text("import mixrep.cli  # edited\n")
    assert code_version("mixrep.cli", root=root) == before  # not imported: no rerun
    (root / "plugin.py").write_text("# edited\n")
    assert code_version("mixrep.cli", root=root) != before  # imported only by name, inside a function's module
    with pytest.raises(ValueError, match="no mixrep module mixrep.nothing"):
        code_version("mixrep.nothing", root=root)


def test_editing_runs_py_reruns_the_rules_that_import_it(tmp_path):
    copy = tmp_path / "src" / "mixrep"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    users = [m for m in ("mixrep.analyse.cli", "mixrep.pretrain.cli", "mixrep.evaluation.cli", "mixrep.plan")
             if "mixrep.runs" in module_closure(m)]
    assert "mixrep.evaluation.cli" in users and "mixrep.pretrain.cli" in users
    others = [m for m in ("mixrep.ratings.cli", "mixrep.corpus.cli") if "mixrep.runs" not in module_closure(m)]
    before = {m: code_version(m, root=copy) for m in users + others}
    assert before == {m: code_version(m) for m in users + others}  # the copy hashes like the package
    (copy / "runs.py").write_text((copy / "runs.py").read_text() + "\n# edited\n")
    after = {m: code_version(m, root=copy) for m in users + others}
    assert [m for m in users if after[m] == before[m]] == []
    assert [m for m in others if after[m] != before[m]] == []


def rule_blocks() -> dict[str, str]:
    blocks = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for match in re.finditer(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", path.read_text(), re.M):
            blocks[match.group(1)] = match.group(2)
    return blocks


RULES = {rule: body for rule, body in rule_blocks().items() if re.search(r'"\s*mixrep [a-z-]+', body)}


@pytest.mark.parametrize("rule", sorted(set(RULES) - {"bundle"}))  # bundle: one version per stage it packs
def test_every_rule_hashes_the_module_of_the_command_it_runs(rule):
    body = RULES[rule]
    modules = {COMMANDS[c][0] for c in re.findall(r'"\s*mixrep ([a-z-]+)', body)}
    versions = re.findall(r'get_code_version\("([^"]+)"\)', body)
    assert versions, f"rule {rule} runs {sorted(modules)} but has no get_code_version"
    assert set(versions) == modules, (rule, versions, modules)


def test_the_rules_are_found():
    assert len(RULES) >= 20 and {"analyse", "pretrain", "transfer", "regress", "bundle"} <= set(RULES)


def test_a_registry_entry_named_module_colon_class_is_in_the_closure():
    """The mechanisms are imported from "module:Class" strings: editing one must rerun pretraining."""
    from mixrep.provenance import module_closure

    closure = module_closure("mixrep.pretrain.cli")
    for name in ("film", "prepend", "xattn"):
        assert f"mixrep.model.conditioning_{name}" in closure
