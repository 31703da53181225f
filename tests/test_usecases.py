"""One answer from every entry point: the same character (mapping, channel tuning, captured neutral) and the same
input give the same shape-key values through the panel's operators, `facsimile apply`, `photo`, `bake` and `batch`.

The generator's output is pinned (the real detector and tracker run, the weights they lead to are replaced by a
known vector), so the expected values follow from the mapping alone: jawOpen 0.4 with gain 2 -> 0.8, and
mouthSmileLeft 0.6 over a neutral of 0.2 -> (0.6 - 0.2) / (1 - 0.2) = 0.5. A second test runs the real generator and
checks that a photo applied in the panel and its solved weights applied by `facsimile apply` agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
import pytest
from addon_fixtures import addon, demo_head, moving_frames, photo, write_sequence  # noqa: F401

from blender_addon.core.arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from blender_addon.core.errors import FacsimileError
from blender_addon.core.face.pipeline import FaceSolver
from blender_addon.host import cli
from blender_addon.scene import character
from blender_addon.usecases import face_session

HEAD = "FacsimileHead"
INPUT = {"jawOpen": 0.4, "mouthSmileLeft": 0.6}
NEUTRAL = {"mouthSmileLeft": 0.2, "browInnerUp": 0.3}
EXPECTED = {"jawOpen": 0.8, "mouthSmileLeft": 0.5, "browInnerUp": 0.0, "eyeBlinkLeft": 0.0}


def _vector(values: dict[str, float]) -> np.ndarray:
    w = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, v in values.items():
        w[ARKIT_NAMES.index(name)] = v
    return w


class PinnedSolver(FaceSolver):
    """The real face detector and tracker; every face found gets the weights INPUT."""

    def _solve_faces(self, faces):
        solved = super()._solve_faces(faces)
        for f in solved:
            f.weights = _vector(INPUT)
        return solved


@pytest.fixture(scope="module")
def pinned_solver():
    return PinnedSolver(device="cpu")


@pytest.fixture
def tuned(addon, tmp_path, monkeypatch, pinned_solver):  # noqa: F811
    """The demo head with gain 2 on jawOpen and a captured neutral, saved as a scene; the solver pinned."""
    monkeypatch.setattr(face_session, "solver_for", lambda device: pinned_solver)
    return _tuned_head(addon, tmp_path)


def _tuned_head(context, folder: Path):
    head = demo_head(context)
    character.refresh_mapping(head)
    head.facsimile.mapping[ARKIT_NAMES.index("jawOpen")].gain = 2.0
    character.store_neutral(head, _vector(NEUTRAL), "rest.jpg")
    scene_path = folder / "tuned.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene_path), copy=True)
    return head, scene_path


def _values(obj) -> dict[str, float]:
    blocks = obj.data.shape_keys.key_blocks
    return {name: round(blocks[name].value, 5) for name in EXPECTED}


def _keyed(obj, frame: float) -> dict[str, float]:
    curves = character.shape_key_fcurves(obj)
    return {name: round(curves[f'key_blocks["{name}"].value'].evaluate(frame), 5) for name in EXPECTED}


def _opened(path: Path):
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    return bpy.data.objects[HEAD]


def _expected() -> dict[str, float]:
    return {k: pytest.approx(v, abs=1e-5) for k, v in EXPECTED.items()}


def test_every_entry_point_gives_the_same_shape_key_values(tuned, tmp_path, capsys):
    head, scene_path = tuned
    image = str(photo("neutral.jpeg"))
    clip = write_sequence(tmp_path / "clip", moving_frames("neutral.jpeg", 4))
    results: dict[str, dict[str, float]] = {}

    # The panel: Apply from Photo, then Bake from Video (synchronous in background mode), then write_pose directly
    # through the object's own mapping.
    assert bpy.ops.facsimile.apply_photo(filepath=image) == {"FINISHED"}
    results["panel photo"] = _values(head)
    settings = bpy.context.scene.facsimile
    settings.smoothing, settings.start_frame = False, 1
    assert bpy.ops.facsimile.bake_clip(filepath=str(clip), synchronous=True) == {"FINISHED"}
    results["panel bake"] = _keyed(head, 3)
    character.write_pose(head, character.mapping_for(head), _vector(INPUT))
    results["panel write_pose"] = _values(head)

    # `facsimile apply` (the object's tuning and neutral by default).
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps(INPUT))
    out = tmp_path / "apply.blend"
    assert (
        cli.main(["apply", "--blend", str(scene_path), "--object", HEAD, "--weights", str(weights), "--out", str(out)])
        == 0
    )
    results["apply"] = _values(_opened(out))

    # `facsimile photo` and `facsimile bake`.
    out = tmp_path / "photo.blend"
    assert cli.main(["photo", "--blend", str(scene_path), "--object", HEAD, "--image", image, "--out", str(out)]) == 0
    results["photo"] = _values(_opened(out))
    out = tmp_path / "bake.blend"
    argv = ["bake", "--blend", str(scene_path), "--object", HEAD, "--video", str(clip), "--out", str(out)]
    assert cli.main(argv + ["--smoothing", "0", "--start-frame", "1", "--quiet"]) == 0
    results["bake"] = _keyed(_opened(out), 3)

    # `facsimile batch`: one photo job and one bake job.
    jobs = tmp_path / "jobs.json"
    rows = [
        {"blend": str(scene_path), "object": HEAD, "image": image, "output": str(tmp_path / "b_photo.blend")},
        {
            "blend": str(scene_path),
            "object": HEAD,
            "video": str(clip),
            "output": str(tmp_path / "b_bake.blend"),
            "smoothing": 0,
            "start_frame": 1,
        },
    ]
    jobs.write_text(json.dumps(rows))
    assert cli.main(["batch", str(jobs)]) == 0, capsys.readouterr()
    results["batch photo"] = _values(_opened(tmp_path / "b_photo.blend"))
    results["batch bake"] = _keyed(_opened(tmp_path / "b_bake.blend"), 3)

    for path, values in results.items():
        assert values == _expected(), f"{path}: {values}"


def test_apply_raw_preset_ignores_tuning_and_neutral(tuned, tmp_path):
    _, scene_path = tuned
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps(INPUT))
    out = tmp_path / "raw.blend"
    argv = ["apply", "--blend", str(scene_path), "--object", HEAD, "--weights", str(weights), "--out", str(out)]
    assert cli.main(argv + ["--raw-preset"]) == 0
    values = _values(_opened(out))
    assert values["jawOpen"] == pytest.approx(0.4) and values["mouthSmileLeft"] == pytest.approx(0.6)


def test_real_photo_in_the_panel_equals_apply_of_its_solved_weights(addon, tmp_path):  # noqa: F811
    """No pinning: the panel's Apply from Photo and `facsimile apply` of the exported solve agree key for key."""
    head, scene_path = _tuned_head(addon, tmp_path)
    assert bpy.ops.facsimile.apply_photo(filepath=str(photo("happy-baby.jpeg"))) == {"FINISHED"}
    blocks = head.data.shape_keys.key_blocks
    panel = {kb.name: kb.value for kb in blocks}
    solved = tmp_path / "solved.json"
    assert bpy.ops.facsimile.export_weights_json(filepath=str(solved)) == {"FINISHED"}
    out = tmp_path / "apply.blend"
    assert (
        cli.main(["apply", "--blend", str(scene_path), "--object", HEAD, "--weights", str(solved), "--out", str(out)])
        == 0
    )
    applied = {kb.name: kb.value for kb in _opened(out).data.shape_keys.key_blocks}
    assert applied == {k: pytest.approx(v, abs=1e-5) for k, v in panel.items()}
    assert any(abs(v) > 0.05 for v in panel.values())  # the photo moved something


def test_photo_use_case_rejects_bad_input_before_any_work(addon, tmp_path):  # noqa: F811
    from blender_addon.usecases.photo import PhotoOptions, apply_photo

    head = demo_head(addon)
    before = {kb.name: kb.value for kb in head.data.shape_keys.key_blocks}
    with pytest.raises(FacsimileError, match="does not exist"):
        apply_photo(head, PhotoOptions(photo=tmp_path / "missing.jpg"))
    with pytest.raises(FacsimileError, match="face 5 asked for"):
        apply_photo(head, PhotoOptions(photo=photo("neutral.jpeg"), face=5, device="cpu"))
    with pytest.raises(FacsimileError, match="not a device; choose one of auto, cuda, cpu"):
        apply_photo(head, PhotoOptions(photo=photo("neutral.jpeg"), device="gpu"))
    assert {kb.name: kb.value for kb in head.data.shape_keys.key_blocks} == before


def test_one_retarget_map_per_operation(tuned, tmp_path, monkeypatch):
    """A photo apply and a bake each build the character's RetargetMap once (not once per step)."""
    from blender_addon.usecases.bake import BakeOptions, bake
    from blender_addon.usecases.photo import PhotoOptions, apply_photo

    head, _ = tuned
    built = []
    real = character.build_retarget_map
    monkeypatch.setattr(character, "build_retarget_map", lambda *a, **k: built.append(1) or real(*a, **k))
    apply_photo(head, PhotoOptions(photo=photo("neutral.jpeg"), key_frame=2))
    assert len(built) == 1
    clip = write_sequence(tmp_path / "clip", moving_frames("neutral.jpeg", 3))
    bake(head, BakeOptions(clip=clip, smoothing=0.0, start_frame=1))
    assert len(built) == 2


def test_bake_apply_export_and_skin_reject_bad_input_clearly(addon, tmp_path):  # noqa: F811
    from blender_addon.usecases.apply import ApplyOptions, apply_weights
    from blender_addon.usecases.bake import BakeOptions, bake
    from blender_addon.usecases.export import ExportCsvOptions, export_csv, export_solved_json
    from blender_addon.usecases.skin import SkinOptions, skin_to_pc2

    head = demo_head(addon)
    before = {kb.name: kb.value for kb in head.data.shape_keys.key_blocks}
    clip = write_sequence(tmp_path / "clip", moving_frames("neutral.jpeg", 2))
    cases = [
        (lambda: bake(head, BakeOptions(clip=tmp_path / "none.mp4")), "video file not found"),
        (lambda: bake(head, BakeOptions(clip=clip, stride=0, device="cpu")), "stride must be 1 or more"),
        (lambda: bake(head, BakeOptions(clip=clip, smoothing=-1, device="cpu")), "smoothing must be >= 0"),
        (lambda: apply_weights(head, ApplyOptions(weights=tmp_path / "none.json")), "does not exist"),
        (lambda: apply_weights(head, ApplyOptions(weights=_write(tmp_path / "b.json", "{"))), "b.json"),
        (lambda: apply_weights(head, ApplyOptions(weights=_write(tmp_path / "u.json", '{"nope": 1}'))), "nope"),
        (lambda: export_csv(head, ExportCsvOptions(out=tmp_path / "take.txt")), "must end in .csv"),
        (lambda: export_csv(head, ExportCsvOptions(out=tmp_path / "take.csv")), "no shape-key animation"),
        (lambda: export_csv(head, ExportCsvOptions(out=tmp_path / "t.csv", frames=(5, 2))), "frame range 5:2"),
        (lambda: export_solved_json(head, tmp_path / "s.json"), "no solved weights yet"),
        (lambda: skin_to_pc2(head, SkinOptions(out=tmp_path / "b.obj")), "must end in .pc2"),
        (lambda: skin_to_pc2(head, SkinOptions(out=tmp_path / "b.pc2", bvh=tmp_path / "x.bvh")), "does not exist"),
    ]
    for call, message in cases:
        with pytest.raises(FacsimileError, match=message):
            call()
    assert {kb.name: kb.value for kb in head.data.shape_keys.key_blocks} == before
    assert head.data.shape_keys.animation_data is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "clip", "u.json"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
