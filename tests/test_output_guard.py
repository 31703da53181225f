"""core.output_guard, core.atomic_io temporaries and core.formats.video_io's path rules (issue 12, findings 1, 3, 4, 8)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from pc2_samples import write_pc2

from blender_addon.core import atomic_io
from blender_addon.core.errors import FacsimileError
from blender_addon.core.formats import pc2
from blender_addon.core.formats.video_io import is_pattern, is_video_path, open_video, sequence_files
from blender_addon.core.output_guard import Named, check_outputs, outputs_in_folder, same_file


@pytest.fixture
def files(tmp_path):
    (tmp_path / "scene.blend").write_bytes(b"BLENDER-v")
    (tmp_path / "p.jpg").write_bytes(b"jpg")
    (tmp_path / "sub").mkdir()
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "f0.png").write_bytes(b"png")
    os.symlink(tmp_path / "scene.blend", tmp_path / "link.blend")
    os.link(tmp_path / "p.jpg", tmp_path / "hard.jpg")
    return tmp_path


@pytest.mark.parametrize(
    "out",
    ["scene.blend", "link.blend", "sub/../scene.blend", "./p.jpg", "hard.jpg", "seq/f0.png"],
)
def test_an_output_that_is_an_input_is_refused(files, out, monkeypatch):
    ins = [Named("--blend", files / "scene.blend"), Named("--image", files / "p.jpg"), Named("--video", files / "seq")]
    monkeypatch.chdir(files)
    with pytest.raises(FacsimileError, match="never replaces an input"):
        check_outputs(ins, [Named("--out", files / "o.blend"), Named("--json", out)])


def test_in_place_only_for_the_main_output(files):
    ins = [Named("--blend", files / "scene.blend")]
    pairs = [("--out", "--blend")]
    with pytest.raises(FacsimileError, match="pass --in-place"):
        check_outputs(ins, [Named("--out", files / "link.blend")], pairs)
    check_outputs(ins, [Named("--out", files / "link.blend")], pairs, in_place=True)
    with pytest.raises(FacsimileError, match="never replaces an input"):
        check_outputs(ins, [Named("--out", files / "o.blend"), Named("--json", files / "scene.blend")], pairs, True)


def test_two_outputs_one_file(files):
    outs = [Named("--out", files / "o.blend"), Named("--preview", files / "sub" / ".." / "o.blend")]
    with pytest.raises(FacsimileError, match="--preview .* and --out .* are the same file"):
        check_outputs([], outs)
    check_outputs([], [Named("--out", files / "o.blend"), None, Named("--json", "")])


def test_unwritable_output_is_found_before_the_work(files):
    blocker = files / "p.jpg"
    with pytest.raises(FacsimileError, match="cannot create output folder"):
        check_outputs([], [Named("--json", blocker / "x" / "w.json")])
    check_outputs([], [Named("--json", blocker / "x" / "w.json")], writable=False)


def test_same_file_resolves_links(files):
    assert same_file(files / "link.blend", files / "scene.blend")
    assert same_file(files / "hard.jpg", files / "p.jpg")
    assert not same_file(files / "p.jpg", files / "scene.blend")


def test_outputs_in_folder_never_share_a_name(tmp_path):
    got = outputs_in_folder(tmp_path, ["a/clip.mp4", "b/clip.mp4", "x/other.mp4", "shots/*.png", "a/clip.mov"], ".csv")
    names = [p.name for p in got]
    assert names == ["a_clip.csv", "b_clip.csv", "other.csv", "shots.csv", "a_clip_2.csv"]
    assert len(set(names)) == len(names)


def test_an_existing_path_is_never_a_pattern(tmp_path):
    (tmp_path / "face [1].jpg").write_bytes(b"x")
    (tmp_path / "face 1.jpg").write_bytes(b"y")
    assert not is_pattern(tmp_path / "face [1].jpg") and not is_video_path(tmp_path / "face [1].jpg")
    assert is_pattern(tmp_path / "face [2].jpg")  # does not exist: a pattern
    folder = tmp_path / "shots [a]*"
    folder.mkdir()
    for i in range(3):
        (folder / f"f{i}.png").write_bytes(b"p")
    assert not is_pattern(folder) and is_video_path(folder)
    assert [os.path.basename(f) for f in sequence_files(folder)] == ["f0.png", "f1.png", "f2.png"]
    assert open_video(folder).frame_count == 3
    assert open_video(str(tmp_path / "shots*" / "*.png")).frame_count == 3


def test_pc2_onto_a_folder_leaves_nothing(tmp_path):
    (tmp_path / "out.pc2").mkdir()
    with pytest.raises(FacsimileError, match="is a folder"):
        write_pc2(tmp_path / "out.pc2", np.zeros((2, 3, 3)))
    with pytest.raises(FacsimileError, match="incomplete"):
        with pc2.PC2Writer(tmp_path / "a.pc2", 3, 4) as w:
            w.write(np.zeros((1, 3, 3)))
    assert sorted(os.listdir(tmp_path)) == ["out.pc2"]


def test_failed_and_interrupted_writes_leave_no_temporary(tmp_path):
    target = tmp_path / "w.json"
    for exc in (FacsimileError("x"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with atomic_io.atomic_output(target) as tmp:
                tmp.write_text("half")
                raise exc
    assert os.listdir(tmp_path) == []


def test_a_killed_writer_s_temporary_is_swept_by_the_next_write(tmp_path):
    target = tmp_path / "w.json"
    code = (
        "import sys, time\n"
        "from blender_addon.core.atomic_io import atomic_output\n"
        "with atomic_output(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half'); print(tmp, flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
    tmp_name = child.stdout.readline().strip()
    assert atomic_io.TEMP_MARK in tmp_name and os.path.exists(tmp_name)
    assert atomic_io.stale_temporaries(target) == []  # its writer still runs: not stale
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    deadline = time.monotonic() + 10
    while not atomic_io.stale_temporaries(target) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [str(p) for p in atomic_io.stale_temporaries(target)] == [tmp_name]
    (tmp_path / ".other.json.1.facsimile-tmp.x.json").write_text("not this target's")
    atomic_io.atomic_write_text(target, "{}")
    assert sorted(os.listdir(tmp_path)) == [".other.json.1.facsimile-tmp.x.json", "w.json"]


# ---------------------------------------------------------------- issue 21: the output plan (core/output_plan.py)


def test_side_outputs_wait_for_the_main_output(tmp_path):
    from blender_addon.core import output_plan

    main, side = tmp_path / "o.blend", tmp_path / "w.json"
    side.write_text("old")
    with pytest.raises(FacsimileError):
        with output_plan.run_scope():
            output_plan.declare_main(main)
            atomic_io.atomic_write_text(side, "new")
            assert side.read_text() == "old"  # waits as a temporary
            raise FacsimileError("the save failed")
    assert side.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["w.json"]
    with output_plan.run_scope():
        output_plan.declare_main(main)
        atomic_io.atomic_write_text(side, "new")
        assert side.read_text() == "old"
        atomic_io.atomic_write_text(main, "scene")
        assert side.read_text() == "new"  # follows the main output at once
    assert sorted(os.listdir(tmp_path)) == ["o.blend", "w.json"]


def test_a_replaced_output_keeps_its_mode_and_a_read_only_one_is_refused(tmp_path):
    target = tmp_path / "w.json"
    target.write_text("x")
    os.chmod(target, 0o600)
    atomic_io.atomic_write_text(target, "y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "y"
    os.chmod(target, 0o444)
    with pytest.raises(FacsimileError, match="read-only"):
        atomic_io.atomic_write_text(target, "z")
    assert target.read_text() == "y"


def test_an_output_changed_since_written_needs_force(tmp_path):
    from blender_addon.core import output_plan, write_record

    target = tmp_path / "w.json"
    atomic_io.atomic_write_text(target, "ours")
    assert write_record.recorded_digests(target) == [write_record.digest_of(target)]
    atomic_io.atomic_write_text(target, "ours again")  # unchanged since: replaced
    with open(target, "a") as f:
        f.write(" and the user's edit")
    with pytest.raises(FacsimileError, match="changed since Facsimile wrote it"):
        atomic_io.atomic_write_text(target, "new")
    with output_plan.run_scope(force=True):
        atomic_io.atomic_write_text(target, "new")
    assert target.read_text() == "new"


def test_a_failed_run_removes_the_folders_it_created(tmp_path):
    from blender_addon.core import output_plan

    (tmp_path / "kept").mkdir()
    with pytest.raises(KeyboardInterrupt):
        with output_plan.run_scope():
            atomic_io.check_writable_dir(tmp_path / "new" / "deeper" / "o.json")
            atomic_io.check_writable_dir(tmp_path / "kept" / "sub" / "o.json")
            raise KeyboardInterrupt
    assert sorted(os.listdir(tmp_path)) == ["kept"] and os.listdir(tmp_path / "kept") == []


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".webp", ".bmp", ".ppm", ".pgm", ".jp2", ".hdr", ".exr"])
def test_image_headers_give_the_real_size(tmp_path, ext):
    import cv2

    from blender_addon.core.formats.image_header import read_header

    img = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    if ext == ".pgm":
        img = img[:, :, 0]
    if ext in (".hdr", ".exr"):
        img = img.astype(np.float32) / 255
    path = tmp_path / f"a{ext}"
    if ext == ".exr":
        os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    try:
        ok = cv2.imwrite(str(path), img)
    except cv2.error:
        ok = False
    if not ok:
        pytest.skip(f"this cv2 cannot write {ext}")
    header = read_header(path.read_bytes())
    assert header is not None and (header.width, header.height) == (53, 37), header
