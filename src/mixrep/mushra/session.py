"""A webMUSHRA session (the JSON its `DataSender` posts), checked before anything is written.

The shape is webMUSHRA's (`lib/webmushra/datamodel/*.js`): `{testId, uuid, participant: {name: [...],
response: [...]}, trials: [{id, type, responses: [{stimulus, score, time, comment}]}]}`. The client sends
the slider value as a string ("72"), the time in ms as a number and `comment: null`; questionnaire answers are
strings, or null for an unanswered question. Clients from before the session `uuid` (webMUSHRA 1.4.3 and
older) send none; their sessions get one here. The check refuses everything `mushra-analysis` would refuse
later (a score outside [0, 100], a negative time, a stimulus rated twice), so one bad post can never make a
results file unreadable, and nothing is written for a session that fails it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any
from uuid import uuid4
from urllib.parse import parse_qs

FIXED_COLUMNS = ("session_uuid", "trial_id", "rating_stimulus", "rating_score", "rating_time", "rating_comment")
FIELD = "sessionJSON"
MAX_TEXT = 10_000  # characters in one field; a comment longer than this is not a listening-test comment


class SessionError(ValueError):
    """A posted session that cannot be stored, with the reason (answered as HTTP 400)."""


@dataclass(frozen=True)
class Rating:
    stimulus: str
    score: str
    time: str
    comment: str


@dataclass(frozen=True)
class MushraTrial:
    trial_id: str
    ratings: tuple[Rating, ...]


@dataclass(frozen=True)
class Session:
    test_id: str
    uuid: str
    names: tuple[str, ...]
    answers: tuple[str, ...]
    trials: tuple[MushraTrial, ...]  # the mushra trials only (write.php stores only those in mushra.csv)

    def header(self) -> list[str]:
        return ["session_test_id", *self.names, *FIXED_COLUMNS]

    def rows(self) -> list[list[str]]:
        return [[self.test_id, *self.answers, self.uuid, t.trial_id, r.stimulus, r.score, r.time, r.comment]
                for t in self.trials for r in t.ratings]


def decode_form(body: bytes) -> Any:
    """The JSON value of the `sessionJSON` field of a POST body.

    webMUSHRA's DataSender posts `"sessionJSON=" + JSON.stringify(session)` *without* URL-encoding it, so a
    `+`, `%` or `&` in a comment reaches the server as is; that form is read exactly first. A properly
    URL-encoded form (`%7B...`, what urllib or curl --data-urlencode send) is decoded as a form.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SessionError(f"body is not UTF-8 (byte {exc.start})") from None
    prefix = FIELD + "="
    if text.startswith(prefix + "{"):
        try:
            return _loads(text[len(prefix):])
        except SessionError:
            pass
    values = parse_qs(text, keep_blank_values=True).get(FIELD)
    if not values:
        raise SessionError(f"no {FIELD} form field")
    return _loads(values[0])


def _reject_constant(name: str) -> Any:
    raise SessionError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SessionError(f"{FIELD} is not JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:
        raise SessionError(f"{FIELD} is nested too deeply") from None


def parse_session(value: Any) -> Session:
    """The checked session, or SessionError naming the first problem."""
    obj = _expect(value, dict, "session")
    test_id = _text(obj.get("testId"), "testId", allow_number=True)
    if not re.sub(r"[^\w\-]+", "", test_id):
        raise SessionError(f"testId {test_id!r} has no letter or digit")
    # webMUSHRA added the session uuid after its 1.4.3 release (commit 13a105c); a client without it still
    # gets its session stored, under a uuid made here (one post = one session = one assessor).
    uuid = _text(obj["uuid"], "uuid") if "uuid" in obj else "server-" + uuid4().hex
    participant = obj.get("participant", {"name": [], "response": []})
    participant = _expect(participant, dict, "participant")
    names = _expect(participant.get("name", []), list, "participant.name")
    answers = _expect(participant.get("response", []), list, "participant.response")
    if len(names) != len(answers):
        raise SessionError(f"{len(names)} questionnaire names but {len(answers)} responses")
    names = [_text(n, f"participant.name[{k}]") for k, n in enumerate(names)]
    reserved = {"session_test_id", *FIXED_COLUMNS}
    for name in names:
        if name in reserved:
            raise SessionError(f"questionnaire name {name!r} is one of write.php's own columns")
    if len(set(names)) != len(names):
        raise SessionError(f"questionnaire names repeat: {names}")
    answers = [_cell(a, f"participant.response[{k}]") for k, a in enumerate(answers)]
    trials = []
    seen: set[tuple[str, str]] = set()
    for k, trial in enumerate(_expect(obj.get("trials"), list, "trials")):
        trial = _expect(trial, dict, f"trials[{k}]")
        if trial.get("type") != "mushra":
            continue
        trial_id = _text(trial.get("id"), f"trials[{k}].id", allow_number=True)
        ratings = []
        for j, response in enumerate(_expect(trial.get("responses", []), list, f"trials[{k}].responses")):
            where = f"trials[{k}].responses[{j}]"
            response = _expect(response, dict, where)
            stimulus = _text(response.get("stimulus"), f"{where}.stimulus")
            if (trial_id, stimulus) in seen:
                raise SessionError(f"{where}: stimulus {stimulus!r} of {trial_id!r} rated twice")
            seen.add((trial_id, stimulus))
            ratings.append(Rating(stimulus, _number(response.get("score"), f"{where}.score", 0.0, 100.0),
                                  _number(response.get("time"), f"{where}.time", 0.0, math.inf, optional=True),
                                  _cell(response.get("comment"), f"{where}.comment")))
        trials.append(MushraTrial(trial_id, tuple(ratings)))
    return Session(test_id, uuid, tuple(names), tuple(answers), tuple(trials))


def _expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise SessionError(f"{where} is {_kind(value)}, expected {_kind(kind())}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _clean(text: str, where: str) -> str:
    if len(text) > MAX_TEXT:
        raise SessionError(f"{where} is longer than {MAX_TEXT} characters")
    if "\x00" in text:
        raise SessionError(f"{where} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SessionError(f"{where} contains an unpaired surrogate") from None
    return text


def _text(value: Any, where: str, allow_number: bool = False) -> str:
    """A non-empty string (or, for ids, a number written as webMUSHRA's PHP would)."""
    if allow_number and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _scalar_text(value)
    text = _clean(_expect(value, str, where), where)
    if not text.strip():
        raise SessionError(f"{where} is empty")
    return text


def _cell(value: Any, where: str) -> str:
    """A questionnaire answer or comment: string, number, boolean or null (written empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _scalar_text(value)
    return _clean(_expect(value, str, where), where)


def _number(value: Any, where: str, low: float, high: float, optional: bool = False) -> str:
    """A number in [low, high], sent as a number or a numeric string (webMUSHRA sends the slider's text)."""
    if optional and (value is None or value == ""):
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SessionError(f"{where} is {_kind(value)}, expected a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise SessionError(f"{where} {value!r} is not a number") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise SessionError(f"{where} {number:g} outside [{low:g}, {high:g}]")
    return _scalar_text(value) if not isinstance(value, str) else value.strip()


def _scalar_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
