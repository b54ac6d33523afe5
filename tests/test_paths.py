"""Per-track paths are injective: no two track ids share a stem folder, and the manifest refuses any that would.

`track_dirname` once mapped ``a b.wav`` / ``a_b.wav``, ``é.wav`` / ``ü.wav`` and ``x/y.wav`` / ``x__y.wav`` to one
folder each: the second track's stems overwrote the first's and both got identical features, silently.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from mixrep.datasets.manifest import DatasetSettings, build_manifest, list_candidates, reject_path_collisions
from mixrep.datasets.records import Candidate, Reason, reason_code
from mixrep.stems import HASH_SEPARATOR, track_dirname

COLLIDING_BEFORE = [("a b.wav", "a_b.wav"), ("é.wav", "ü.wav"), ("x/y.wav", "x__y.wav")]
SAFE_NAME = re.compile(r"[A-Za-z0-9._~-]+")


def lossy_dirname(track_id: str) -> str:
    """The old mapping (character substitution only): the collisions the check must catch."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", track_id.replace("/", "__")) or "_"


def assert_safe(name: str) -> None:
    assert SAFE_NAME.fullmatch(name), name
    assert not name.startswith(".") and len(name.encode()) <= 255


def test_the_three_colliding_pairs_get_distinct_folders() -> None:
    for first, second in COLLIDING_BEFORE:
        assert lossy_dirname(first) == lossy_dirname(second)  # the bug this guards against
        assert track_dirname(first) != track_dirname(second)
        assert_safe(track_dirname(first))
        assert_safe(track_dirname(second))
    # readable: the slug keeps what it can of the id
    assert track_dirname("é.wav").startswith("e.wav~") and track_dirname("x/y.wav").startswith("x__y.wav~")


def random_id(rng: random.Random) -> str:
    """A random id: ASCII, separators, accents, CJK, emoji, surrogate escapes of undecodable names."""
    alphabet = ("abcAB019 _-./~" + "éüÉßøñ" + "音楽" + "\U0001F3B8" + "\u0301" + "\udce9")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def test_track_dirname_is_injective_safe_and_stable_over_random_ids() -> None:
    rng = random.Random(14)
    ids = {random_id(rng) for _ in range(20000)}
    # near neighbours of each other: the substitutions the old mapping conflated
    ids |= {i.replace(" ", "_") for i in list(ids)[:3000]} | {i.replace("/", "__") for i in list(ids)[:3000]}
    ids |= {f"{i:06d}" for i in range(200)} | {f"syn-jazz-{i:03d}" for i in range(200)}
    names = {tid: track_dirname(tid) for tid in ids}
    assert len(set(names.values())) == len(ids)
    assert len({n.casefold() for n in names.values()}) == len(ids)  # also on case-insensitive disks
    for tid, name in names.items():
        assert_safe(name)
        assert track_dirname(tid) == name
        # plain names are the id itself and hold no '~'; every other name holds exactly one
        assert (name == tid) == (HASH_SEPARATOR not in name)


def test_plain_names_stay_readable_and_never_look_hashed() -> None:
    for tid in ("syn-jazz-001", "000123", "a_b.wav", "x__y.wav", "song.v2"):
        assert track_dirname(tid) == tid
    # an id that *looks* like a hashed name is itself hashed: it cannot take another id's folder
    looks_hashed = track_dirname("a b.wav")
    assert track_dirname(looks_hashed) != looks_hashed
    for tid in ("Song", "a b", ".x", "-x", "_x", "x" * 101, "a~b"):
        assert HASH_SEPARATOR in track_dirname(tid)


def test_manifest_rejects_two_tracks_sharing_a_folder_naming_both() -> None:
    candidates = [Candidate(track_id=tid, source="folder", path=f"/data/{tid}")
                  for pair in COLLIDING_BEFORE for tid in pair]
    checked = {c.track_id: c.reason for c in reject_path_collisions(candidates, dirname=lossy_dirname)}
    assert len(checked) == 6  # every track keeps its row
    rejected = {tid: reason for tid, reason in checked.items() if reason}
    assert sorted(rejected) == ["a_b.wav", "x__y.wav", "ü.wav"]  # the later id of each pair, string order
    assert rejected["a_b.wav"] == ("path collision: 'a_b.wav' and 'a b.wav' both map to the per-track "
                                   "folder 'a_b.wav'")
    assert all(reason_code(r) == Reason.PATH_COLLISION.value for r in rejected.values())
    assert "'x/y.wav'" in rejected["x__y.wav"] and "'é.wav'" in rejected["ü.wav"]
    # the real mapping lets all six through; a case-only difference is a collision (case-insensitive disks)
    assert not any(c.reason for c in reject_path_collisions(candidates))
    upper = [Candidate(track_id=t, source="folder", path=t) for t in ("A.wav", "a.wav")]
    assert [c.reason is None for c in reject_path_collisions(upper, dirname=str)] == [True, False]


def test_folder_manifest_keeps_the_six_tracks_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for pair in COLLIDING_BEFORE:
        for tid in pair:
            (tmp_path / tid).parent.mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / tid, (0.1 * rng.standard_normal((22050, 2))).astype(np.float32), 44100)
    settings = DatasetSettings(source="folder", root=str(tmp_path), segment_s=0.25)
    table, _ = build_manifest(list_candidates(settings), settings)
    assert sorted(table["track_id"]) == sorted(t for pair in COLLIDING_BEFORE for t in pair)
    assert (table["status"] == "ok").all()
    assert table["track_id"].map(track_dirname).nunique() == 6


def test_the_read_audit_sees_an_open_outside_the_repository(outside_reads, repo_root: Path,
                                                            tmp_path: Path, monkeypatch) -> None:
    probe = repo_root.parent / "mixrep-audit-probe-not-a-file"
    before = list(outside_reads.seen)
    with outside_reads.capture() as caught:
        for attempt in (probe, repo_root / ".." / probe.name):
            try:
                open(attempt, "rb").close()
            except OSError:
                pass  # the audit event fires before the open fails
        monkeypatch.chdir(repo_root)
        try:
            open(Path("..") / probe.name, "rb").close()  # relative to the working directory
        except OSError:
            pass
        (repo_root / "pyproject.toml").read_bytes()  # inside the repository: fine
        (tmp_path / "x").write_text("x")  # the temporary folder: fine
    assert caught == [str(probe)] * 3
    assert outside_reads.is_outside(str(probe)) and not outside_reads.is_outside(str(repo_root / "src"))
    # a sibling whose name starts with the repository's is outside too (no bare string-prefix test)
    assert outside_reads.is_outside(str(repo_root) + "-sibling")
    assert outside_reads.seen == before  # what capture() caught stays out of the session's record


def test_nothing_was_read_outside_the_repository(outside_reads) -> None:
    """Runs last (tests/conftest.py): no fixture or test of the session opened a file beside the checkout."""
    assert outside_reads.seen == []


def test_a_checkout_inside_the_temporary_folder_still_has_its_parent_audited(tmp_path) -> None:
    import tempfile

    from conftest import OutsideReads, temp_roots

    temp = Path(tempfile.gettempdir())
    for repo in (temp / "ci-clone" / "main", temp / "main"):
        audit = OutsideReads(repo, temp_roots(repo))
        assert audit.is_outside(str(repo.parent.joinpath("shared", "reference", "x.pt"))), repo
        assert not audit.is_outside(str(repo / "tests" / "reference" / "x.pt"))
    audit = OutsideReads(temp / "main", temp_roots(temp / "main"))
    assert not audit.is_outside(str(temp / "tmpab12cd" / "file"))  # tempfile.mkdtemp's folders
    assert not audit.is_outside(str(temp / "mixrep-fs-x1" / "stem.wav"))
    assert temp_roots(Path("/work/main")) == (str(temp),)
