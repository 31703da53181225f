"""Shape-key generation maths (core/keygen, no Blender): fitting, regions, transfer and checks on real ICT geometry.

The strongest check available without an artist's keys: a head that *is* an ICT face (moved, turned, rescaled, with
an unrelated body part beside it) must get back ICT's own expressions, blinks must close, jawOpen must part the lips.
"""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.core.arkit import ARKIT_NAMES, INDEX
from blender_addon.core.errors import FacsimileError
from blender_addon.core.keygen.fit import fit_ict
from blender_addon.core.keygen.geometry import adjacency, components, edges_of, graph_distance, umeyama
from blender_addon.core.keygen.ict_data import FROWN_INNER, generator_mapping, ict_to_arkit, load_model
from blender_addon.core.keygen.pipeline import generate
from blender_addon.core.keygen.quality import compare
from blender_addon.core.keygen.regions import opening_labels


@pytest.fixture(scope="module")
def model():
    return load_model()


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    r = _rotation(rng)
    s, r2, t = umeyama(src, 0.37 * src @ r.T + [1.0, -2.0, 3.0])
    assert s == pytest.approx(0.37)
    np.testing.assert_allclose(r2, r, atol=1e-9)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-9)


def test_graph_distance_keeps_touching_strips_apart():
    """Two strips 1e-3 apart in space but joined only at one end: along the surface they are far apart."""
    x = np.linspace(0, 1, 11)
    top = np.c_[x, np.full(11, 1e-3), np.zeros(11)]
    bottom = np.c_[x, np.zeros(11), np.zeros(11)]
    back = np.c_[x, np.zeros(11), np.full(11, -0.1)]
    verts = np.vstack([top, bottom, back, [[-0.1, 0.0, 0.0]]])
    corner = 33
    tris = []
    for i in range(10):  # top strip to the back row, bottom strip to the back row: no edge between top and bottom
        tris += [[i, i + 1, 22 + i], [i + 1, 23 + i, 22 + i], [11 + i, 12 + i, 22 + i], [12 + i, 23 + i, 22 + i]]
    tris += [[corner, 0, 11]]  # the corner joins them
    tris = np.array(tris)
    csr = adjacency(len(verts), edges_of(tris), verts)
    d = graph_distance(csr, np.array([10]), 10.0)
    assert d[21] > 0.19  # bottom's far end: round through the back row, not the 1e-3 gap
    labels = opening_labels(csr, [(np.array([5]), np.array([16]))], [0.5])
    assert (labels[:11][3:8] == 0).all() and (labels[11:22][3:8] == 1).all()


def test_components_labels_separate_parts():
    tris = np.array([[0, 1, 2], [3, 4, 5], [5, 6, 3]])
    comp = components(7, edges_of(tris))
    assert comp[0] == comp[1] == comp[2] != comp[3]
    assert comp[3] == comp[4] == comp[5] == comp[6]


def test_ict_to_arkit_sums_the_halves(model):
    names = ["browInnerUp_L", "browInnerUp_R", "eyeBlink_L", "cheekRaiser_L"]
    m = ict_to_arkit(names)
    assert m[INDEX["browInnerUp"]].tolist() == [1, 1, 0, 0]
    assert m[INDEX["eyeBlinkLeft"]].tolist() == [0, 0, 1, 0]
    assert m[:, 3].sum() == 0  # extras outside ARKit drive nothing
    assert model.arkit_deltas.shape[0] == 52
    assert np.abs(model.arkit_deltas[INDEX["tongueOut"]]).max() == 0  # ICT has no tongue shape


def test_generated_brow_down_lowers_the_inner_brow_too(model):
    """ARKit's browDown is also the frown: the generator's browDownLeft is ICT's browDown_L plus the reverse of ICT's
    browInnerUp_L (the subject's left inner brow goes down, the right one stays), while ict_to_arkit, the truth the
    ICT head is judged against, stays ICT's own."""
    names = ["browDown_L", "browDown_R", "browInnerUp_L", "browInnerUp_R"]
    gen, own = generator_mapping(names), ict_to_arkit(names)
    assert gen[INDEX["browDownLeft"]].tolist() == [1, 0, -FROWN_INNER, 0]
    assert gen[INDEX["browDownRight"]].tolist() == [0, 1, 0, -FROWN_INNER]
    assert own[INDEX["browDownLeft"]].tolist() == [1, 0, 0, 0]
    assert (
        np.delete(gen, [INDEX["browDownLeft"], INDEX["browDownRight"]], 0)
        == np.delete(own, [INDEX["browDownLeft"], INDEX["browDownRight"]], 0)
    ).all()
    # On the face: the inner ends of the brows (MediaPipe 336 subject's left, 107 right), along ICT's up axis (+Y).
    lm_down = model.landmarks(model.arkit_deltas[INDEX["browDownLeft"]].astype(np.float64))
    lm_up = model.landmarks(model.arkit_deltas[INDEX["browInnerUp"]].astype(np.float64))
    assert lm_up[336, 1] > 0.1 and lm_up[107, 1] > 0.1  # browInnerUp lifts both inner ends (cm)
    assert lm_down[336, 1] < -0.5 * FROWN_INNER * lm_up[336, 1]  # left inner end goes down
    assert abs(lm_down[107, 1]) < 0.3 * abs(lm_down[336, 1])  # the right one far less (ICT's halves overlap)


def test_fit_refuses_too_few_landmarks(model):
    lm = model.landmarks(model.neutral)
    valid = np.zeros(468, bool)
    valid[:50] = True
    with pytest.raises(FacsimileError, match="landed on the mesh"):
        fit_ict(model, lm, valid)


@pytest.fixture(scope="module")
def ict_head(model):
    """The ICT face in metres, turned and moved, plus a box far below it (a body that must not move)."""
    rng = np.random.default_rng(3)
    r = _rotation(rng)
    t = np.array([0.3, -1.2, 1.7])
    s = 0.01
    face = s * model.neutral @ r.T + t
    box = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float) * 0.3 + t - [0, 0, 0.5]
    box = box @ r.T
    box_tris = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1]]) + len(face)
    verts = np.vstack([face, box])
    tris = np.vstack([model.tris, box_tris])
    lm = model.landmarks(face)
    lm += rng.normal(scale=0.0005, size=lm.shape)  # half a millimetre of detector noise
    res = generate(verts, tris, lm, model=model)
    ref = np.zeros_like(res.deltas)
    ref[:, : len(face)] = s * model.arkit_deltas @ r.T
    return res, ref, len(face), verts


def test_ict_head_gets_its_own_expressions_back(ict_head):
    res, ref, n_face, _ = ict_head
    mask = np.zeros(res.deltas.shape[1], bool)
    mask[:n_face] = np.abs(ref[:, :n_face]).max(-1).max(0) > 1e-5
    cos, rel = compare(res.deltas, ref, mask)
    keys = [
        i for i, n in enumerate(ARKIT_NAMES) if n not in ("tongueOut", "eyeBlinkLeft", "eyeBlinkRight", "mouthClose")
    ]
    assert np.median(cos[keys]) > 0.97, np.round(cos, 3)
    assert cos[keys].min() > 0.85, ARKIT_NAMES[keys[int(np.argmin(cos[keys]))]]


def test_body_part_and_scale_do_not_leak(ict_head):
    res, _, n_face, _ = ict_head
    assert np.abs(res.deltas[:, n_face:]).max() == 0.0  # the box never moves
    jaw = res.deltas[INDEX["jawOpen"]]
    assert 0.01 < np.linalg.norm(jaw, axis=1).max() < 0.08  # metres: ICT's jaw drop of a few cm, not cm as metres


def test_quality_checks_pass_on_the_ict_head(ict_head):
    res, _, _, _ = ict_head
    checks = {c.name: c for c in res.checks}
    for side in ("Left", "Right"):
        assert abs(checks[f"eyeBlink{side}"].checks["gap_ratio"]) <= 0.10
    assert checks["jawOpen"].checks["lips_part"] >= 0.05
    failed = [c.name for c in res.checks if not c.ok]
    assert not failed, failed


def test_eye_look_turns_the_front_of_the_eye():
    """eyeLook* are rigid turns of the eye mesh about its centre: the pupil (front) moves the named way, the size
    stays."""
    from blender_addon.core.keygen.rigid import eye_look_deltas

    rng = np.random.default_rng(1)
    ball = rng.normal(size=(200, 3))
    ball = 0.012 * ball / np.linalg.norm(ball, axis=1, keepdims=True) + [0.03, 0.0, 0.0]  # subject's left eye
    front = ball[:, 2].argmax()  # looks along +Z; right (towards the subject's left) = +X, up = +Y
    d = eye_look_deltas(ball, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), "Left")
    assert d["eyeLookUpLeft"][front, 1] > 0.003 and d["eyeLookDownLeft"][front, 1] < -0.003
    assert d["eyeLookOutLeft"][front, 0] > 0.003 and d["eyeLookInLeft"][front, 0] < -0.003
    for delta in d.values():
        moved = ball + delta
        centre = (ball.min(0) + ball.max(0)) / 2
        np.testing.assert_allclose(np.linalg.norm(moved - centre, axis=1), np.linalg.norm(ball - centre, axis=1))


def test_lower_teeth_follow_the_chin_rigidly(ict_head):
    """Two rows of 'teeth' behind the ICT head's lips: the lower row takes the chin's rigid motion in jawOpen (down),
    the upper row stays."""
    from blender_addon.core.keygen.rigid import jaw_follow_deltas, lower_jaw

    res, _, _, verts = ict_head
    up, width = res.gaps.up, res.gaps.scale["mouth"]
    across = np.cross(up, res.gaps.forward)
    mouth = res.landmarks[[13, 14]].mean(0) - 0.2 * width * res.gaps.forward
    upper_row = mouth + 0.2 * width * up + np.linspace(-0.3, 0.3, 10)[:, None] * width * across
    teeth = np.vstack([upper_row, upper_row - 0.4 * width * up])
    lower = lower_jaw(teeth, np.repeat([0, 1], 10), res, verts)
    assert lower.tolist() == [False] * 10 + [True] * 10
    d = jaw_follow_deltas(verts, res, teeth, lower)
    assert np.abs(d["jawOpen"][:10]).max() == 0.0
    assert (d["jawOpen"][10:] @ up).mean() < -0.1 * width  # the lower row drops
    rows = teeth[10:] + d["jawOpen"][10:]
    np.testing.assert_allclose(np.linalg.norm(rows - rows[0], axis=1), np.linalg.norm(teeth[10:] - teeth[10], axis=1),
                               rtol=0.02)  # fmt: skip


def test_landmarks_of_a_mirrored_head_agree_across_the_mid_plane(model):
    """A lid landmark that slipped on one eye of a mirror-built head is pulled back by its partner; a head that is not
    mirror-built keeps its landmarks as found."""
    from blender_addon.core.keygen.symmetry import symmetrize_landmarks

    rng = np.random.default_rng(5)
    r = _rotation(rng)
    verts = 0.01 * model.neutral @ r.T + [0.2, 0.1, -0.4]
    true = model.landmarks(verts)
    iod = float(np.linalg.norm(true[33] - true[263]))
    found = true.copy()
    found[159] += 0.15 * iod * r[:, 2] * -1  # the right upper lid margin ray went into the eye hole
    out, valid, applied = symmetrize_landmarks(verts, found, np.ones(468, bool), model, iod)
    assert applied and valid.all()
    assert np.linalg.norm(out[159] - true[159]) < 0.6 * np.linalg.norm(found[159] - true[159])
    bumped = verts.copy()
    bumped[verts @ r[:, 0] > (verts @ r[:, 0]).mean()] += 0.03 * iod * r[:, 2]  # one half of the face pushed out
    _, _, applied = symmetrize_landmarks(bumped, found, np.ones(468, bool), model, iod)
    assert not applied


def test_lid_margin_landmarks_that_sank_into_the_eye_are_left_to_the_fit(model):
    """A margin landmark cast past the lid into the socket is flagged; margins level with their lid (ICT's own, or a
    lid shell standing in front of the eye) are kept."""
    from blender_addon.core.keygen.lid_margins import sunken_margins

    rng = np.random.default_rng(7)
    r = _rotation(rng)
    lm = model.landmarks(0.01 * model.neutral @ r.T + [1.0, 2.0, 3.0])
    valid = np.ones(468, bool)
    assert not sunken_margins(lm, valid).any()
    width = float(np.linalg.norm(lm[33] - lm[133]))
    forward = r[:, 2]  # ICT faces +Z
    sunk = lm.copy()
    sunk[[159, 158]] -= 0.5 * width * forward
    sunk[386] += 0.3 * width * forward  # in front (a lid shell): kept
    flagged = sunken_margins(sunk, valid)
    assert sorted(np.nonzero(flagged)[0].tolist()) == [158, 159]
