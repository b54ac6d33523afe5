"""A YAML writer for webMUSHRA configs that webMUSHRA's own parser reads as PyYAML does.

webMUSHRA parses its config in the browser with its bundled yaml.js (Jeremy Faivre's parser, npm `yamljs`).
That parser does not understand PyYAML's compact nested sequences (`- - random`): it reads the whole group as
one string, and webMUSHRA then builds too few pages ("Type not specified."). This writer emits only the
subset both parsers agree on (checked against yamljs 0.3.0 in tests/test_mushra_webyaml.py):

- block style throughout; a sequence inside a sequence is written as a bare `-` with the inner sequence
  indented below it; a mapping inside a sequence starts on the dash line (`- key: value`);
- every string double-quoted, escaping only `\\`, `"` and control characters (`\\n`, `\\t`, `\\r`, `\\xNN`);
  other characters are written literally (UTF-8), because yamljs decodes `\\uNNNN` escapes wrongly;
- floats always with a dot and a signed exponent when there is one (PyYAML's YAML 1.1 reads `1e+20` as a
  string), integers only within JavaScript's exact range, `true`/`false`/`null`;
- empty collections as `{}` / `[]`; mapping keys plain only when they are identifiers, else double-quoted.

Anything else (non-finite floats, characters neither parser reads alike, other types) raises ValueError, so
a config is either written exactly or not at all.
"""

from __future__ import annotations

import math
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_JS_SAFE_INT = 2 ** 53
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _bad_char(ch: str) -> bool:
    """Characters PyYAML folds or refuses literally and yamljs cannot escape alike."""
    code = ord(ch)
    return (0x7F <= code <= 0x9F or code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF)
            or 0xD800 <= code <= 0xDFFF)


def quote(text: str) -> str:
    """A double-quoted scalar both parsers read back as `text`."""
    out = []
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        elif _bad_char(ch):
            raise ValueError(f"character U+{ord(ch):04X} in {text!r} cannot be written for webMUSHRA's parser")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def scalar(value: Any) -> str:
    """One scalar (str, bool, int, float, None) in the shared subset."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > _JS_SAFE_INT:
            raise ValueError(f"integer {value} is beyond JavaScript's exact range")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value} in a webMUSHRA config")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        return mantissa + (e + exponent if e else "")
    if isinstance(value, str):
        return quote(value)
    raise ValueError(f"cannot write a {type(value).__name__} ({value!r}) in a webMUSHRA config")


def key(name: Any) -> str:
    if not isinstance(name, str):
        raise ValueError(f"mapping key {name!r} is not a string")
    return name if _PLAIN_KEY.match(name) and name.lower() not in _RESERVED else quote(name)


def _lines(value: Any, indent: int) -> list[str]:
    """Block lines of a collection at `indent` spaces (the caller places scalars)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key(name)}:")
                lines += _lines(item, indent + 2)
            else:
                lines.append(f"{pad}{key(name)}: {_inline(item)}")
        return lines
    for item in value:  # list
        if isinstance(item, dict) and item:
            inner = _lines(item, indent + 2)
            lines.append(f"{pad}- {inner[0][indent + 2:]}")
            lines += inner[1:]
        elif isinstance(item, list) and item:
            lines.append(f"{pad}-")
            lines += _lines(item, indent + 2)
        else:
            lines.append(f"{pad}- {_inline(item)}")
    return lines


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def dumps(document: dict[str, Any]) -> str:
    """The YAML text of a mapping (a webMUSHRA config), ending in a newline."""
    if not isinstance(document, dict):
        raise ValueError("a webMUSHRA config is a mapping")
    if not document:
        return "{}\n"
    return "\n".join(_lines(document, 0)) + "\n"
