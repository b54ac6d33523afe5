"""webMUSHRA's own YAML parser (yamljs 0.3.0, run with node) reads every config we write as PyYAML does.

webMUSHRA loads its config with the bundled yaml.js (= npm `yamljs`); `scripts/setup.sh` installs the pinned
copy into tests/js/node_modules. Without node or that module these tests fail: they are the only check that
the browser sees the pages we meant.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mixrep.mushra import webyaml
from mixrep.mushra.cli import package_main
from mixrep.mushra.package import PackageSettings, experiment_config, mushra_page
from test_mushra_package import _write_inputs

YAMLJS = Path(__file__).resolve().parent / "js" / "node_modules" / "yamljs"
_NODE_SCRIPT = ("const Y = require(process.argv[1]); const fs = require('fs');"
                "process.stdout.write(JSON.stringify(Y.parse(fs.readFileSync(process.argv[2], 'utf8'))));")


def yamljs_load(path: Path) -> object:
    """The document as webMUSHRA's parser sees it (JSON round trip through node)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run scripts/setup.sh (webMUSHRA's YAML parser is checked with node)")
    if not (YAMLJS / "package.json").is_file():
        pytest.fail(f"{YAMLJS} is missing: run `npm ci --prefix tests/js` (scripts/setup.sh does)")
    done = subprocess.run([node, "-e", _NODE_SCRIPT, str(YAMLJS), str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"yamljs failed on {path}: {done.stderr}"
    return json.loads(done.stdout)


def _same(a: object, b: object) -> bool:
    """Equal as JSON data (floats compared exactly after JSON's round trip; 1 == 1.0 as in JavaScript)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _assert_parsers_agree(path: Path) -> tuple[object, object]:
    py = yaml.safe_load(path.read_text(encoding="utf-8"))
    js = yamljs_load(path)
    assert isinstance(js, dict) and isinstance(py, dict)
    assert list(js) == list(py)
    for name in py:
        if name != "pages":
            assert _same(js[name], py[name]), name
    assert len(js["pages"]) == len(py["pages"]), "webMUSHRA would build another number of pages"
    for k, (page_js, page_py) in enumerate(zip(js["pages"], py["pages"])):
        assert _same(page_js, page_py), f"page {k} differs: yamljs {page_js!r} vs PyYAML {page_py!r}"
    return js, py


def _webmushra_pages(pages: list) -> list[dict]:
    """Pages in the order webMUSHRA's addPagesToPageManager visits them (without shuffling)."""
    out = []
    for page in pages:
        if isinstance(page, list):
            out += _webmushra_pages(page[1:] if page and page[0] == "random" else page)
        else:
            out.append(page)
    return out


def test_the_package_config_reads_the_same_in_webmushra(tmp_path: Path) -> None:
    args = _write_inputs(tmp_path)
    settings = {"mushra": {"excerpt_s": 1.0, "degraded_levels": 2, "items_per_group": 1}}
    assert package_main(args + ["--settings", json.dumps(settings)]) == 0
    configs = sorted((tmp_path / "package" / "configs").glob("*.yaml"))
    assert configs, "the package wrote no config"
    for path in configs:
        js, _ = _assert_parsers_agree(path)
        text = path.read_text(encoding="utf-8")
        assert "- - " not in text  # the compact form yamljs misreads
        pages = _webmushra_pages(js["pages"])
        assert [p["type"] for p in pages] == ["generic", "mushra", "finish"]
        assert isinstance(js["pages"][1], list) and js["pages"][1][0] == "random"
        mushra = pages[1]
        assert mushra["reference"].endswith("reference.wav") and len(mushra["stimuli"]) == 6
        for stimulus in [mushra["reference"], *mushra["stimuli"].values()]:
            assert (tmp_path / "package" / stimulus).is_file()


def test_groups_and_awkward_strings_read_the_same(tmp_path: Path) -> None:
    awkward = ["x: y # not a comment", "- dash", "'single' \"double\" \\ back", "yes", "null", "~", "0x10",
               "1e3", "@at `tick` %pct {b} [s] |p >g ! & * ?", "tab\tnew\nline\rcr \x01", "  lead & trail  ",
               "Größe, 中文, émigré", ""]
    settings = PackageSettings(items_per_group=2, test_name="mixrep: a \"quoted\" #test", test_id="t 1")
    pages = [mushra_page(f"trial{k:02d}", f"Item {text}", f"stimuli/{k}/reference.wav",
                         {"source": f"stimuli/{k}/source.wav", "degraded_1": text or "x"}, settings)
             for k, text in enumerate(awkward)]
    config = experiment_config(pages, settings)
    config["numbers"] = [0, -3, 2 ** 53, 0.1, 1e20, -1.5e-05, 123.0, True, False, None, {}, []]
    config["quoted keys"] = {"a b": 1, "yes": 2, "with:colon": 3}
    path = tmp_path / "awkward.yaml"
    path.write_text(webyaml.dumps(config), encoding="utf-8")
    js, py = _assert_parsers_agree(path)
    assert _same(py, json.loads(json.dumps(config)))  # PyYAML reads back what we meant, too
    mushra = [p for p in _webmushra_pages(js["pages"]) if p["type"] == "mushra"]
    assert [p["id"] for p in mushra] == [f"trial{k:02d}" for k in range(len(awkward))]
    assert [len(g) for g in js["pages"][1:-1]] == [3] * 6 + [2]  # "random" + 2 pages, last group 1 page


def test_pyyaml_compact_groups_are_what_yamljs_misreads(tmp_path: Path) -> None:
    """The failure this writer exists for: PyYAML's `- - random` is one string to webMUSHRA's parser."""
    path = tmp_path / "pyyaml.yaml"
    path.write_text(yaml.safe_dump({"pages": [["random", {"type": "mushra", "id": "a"}]]}))
    assert "- - random" in path.read_text()
    assert yamljs_load(path) != yaml.safe_load(path.read_text())


@pytest.mark.parametrize("value", [float("nan"), math.inf, 2 ** 60, object(), "bad \u2028 separator", "\x85"])
def test_what_cannot_be_written_alike_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        webyaml.dumps({"key": value})


def test_scalar_forms() -> None:
    assert webyaml.scalar(1e20) == "1.0e+20" and webyaml.scalar(0.5) == "0.5" and webyaml.scalar(3) == "3"
    assert webyaml.quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    assert webyaml.key("type") == "type" and webyaml.key("no") == '"no"' and webyaml.key("a b") == '"a b"'
