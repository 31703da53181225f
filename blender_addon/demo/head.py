"""The demo character's head, in pure numpy: vertices, faces, materials and one delta per ARKit shape.

Why procedural: the project ships no downloaded asset, yet every path (weights -> shape keys, the preview, the tests)
needs a face whose 52 ARKit keys visibly do what their names say. The head is one mesh made of parts (skin with a mouth
slit, eyeballs, eyelid shells, teeth, tongue, mouth cavity) so that a user maps a single object.

Frame (Blender's): metres, origin at the head centre, +Z up, the face looks down -Y, the character's left is +X (ARKit's
"Left" is the character's left, which is the image right when the face looks at the camera).

Shapes are built from region masks with smooth falloffs; the jaw, eyeballs and eyelids are rotations (about the jaw
hinge, the eye centre), evaluated at the full angle so that the key's target is a true hinge pose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.arkit import ARKIT_NAMES, INDEX

# Head proportions (half extents, metres).
HEAD_A, HEAD_B, HEAD_C = 0.100, 0.115, 0.130  # x (width), y (depth), z (height)
NLON, NLAT = 128, 96  # skin resolution (columns around, rows pole to pole)

Z_MOUTH = -0.058  # mouth slit height (target; the nearest skin row is used)
X_CORNER = 0.033  # half mouth width
EYE_X, EYE_Z = 0.040, 0.018  # eye centre (x for the left eye; the right eye is mirrored)
EYE_R = 0.021  # eyeball radius
EYE_SINK = 0.55  # eye centre depth behind the skin, in eyeball radii
LID_R_UP, LID_R_LO = 1.13, 1.10  # eyelid shell radii, in eyeball radii (upper in front so a blink overlaps)
JAW_PIVOT = np.array([0.0, 0.0, -0.012])  # the jaw hinge (between the ears)
JAW_OPEN_DEG = 20.0

# Upper/lower eyelid edge elevations (degrees above the eye's horizontal plane) at rest and per shape.
LID_UP_REST, LID_LO_REST = 22.0, -28.0
LID_TOP, LID_BOTTOM = 82.0, -82.0

PART_NAMES: tuple[str, ...] = (
    "skin",
    "eye_L",
    "eye_R",
    "lid_upper_L",
    "lid_lower_L",
    "lid_upper_R",
    "lid_lower_R",
    "teeth_upper",
    "teeth_lower",
    "tongue",
    "mouth_inside",
    "ear_L",
    "ear_R",
)
PART = {n: i for i, n in enumerate(PART_NAMES)}

# Materials: name -> RGBA base colour (chosen to read in Workbench's studio light).
MATERIALS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("FacsimileSkin", (0.80, 0.58, 0.47, 1.0)),
    ("FacsimileLips", (0.66, 0.25, 0.25, 1.0)),
    ("FacsimileBrow", (0.22, 0.13, 0.08, 1.0)),
    ("FacsimileSclera", (0.93, 0.93, 0.90, 1.0)),
    ("FacsimileIris", (0.17, 0.42, 0.55, 1.0)),
    ("FacsimilePupil", (0.02, 0.02, 0.02, 1.0)),
    ("FacsimileLash", (0.08, 0.05, 0.04, 1.0)),
    ("FacsimileTeeth", (0.95, 0.93, 0.85, 1.0)),
    ("FacsimileTongue", (0.78, 0.33, 0.36, 1.0)),
    ("FacsimileMouth", (0.22, 0.05, 0.06, 1.0)),
    ("FacsimileHair", (0.20, 0.12, 0.07, 1.0)),
)
MAT = {n.removeprefix("Facsimile").lower(): i for i, (n, _) in enumerate(MATERIALS)}


@dataclass
class HeadGeometry:
    """Everything Blender needs to build the head, plus named landmark vertices for tests and previews."""

    vertices: np.ndarray  # (V, 3) float32, basis positions
    faces: list[tuple[int, ...]]  # quads and triangles, outward winding
    face_materials: np.ndarray  # (F,) int32 index into MATERIALS
    deltas: np.ndarray  # (52, V, 3) float32, ARKit order
    part: np.ndarray  # (V,) int32 index into PART_NAMES
    corner_colors: np.ndarray | None = None  # (loops, 4) float32 RGBA per face corner, faces' order
    landmarks: dict[str, int] = field(default_factory=dict)
    eye_centres: dict[str, np.ndarray] = field(default_factory=dict)

    def delta(self, name: str) -> np.ndarray:
        return self.deltas[INDEX[name]]


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """0 at e0, 1 at e1 (either order), C1 in between."""
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(x: np.ndarray, z: np.ndarray, cx: float, cz: float, sx: float, sz: float) -> np.ndarray:
    return np.exp(-(((x - cx) / sx) ** 2) - ((z - cz) / sz) ** 2)


def rotate(points: np.ndarray, pivot: np.ndarray, axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """Rotate points about an axis through pivot (Rodrigues); angle may be per point (radians)."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    p = np.asarray(points, dtype=np.float64) - pivot
    a = np.broadcast_to(np.asarray(angle, dtype=np.float64), (p.shape[0],))[:, None]
    cos, sin = np.cos(a), np.sin(a)
    return pivot + p * cos + np.cross(k, p) * sin + k * (p @ k)[:, None] * (1.0 - cos)


class _Builder:
    """Accumulates parts into one vertex/face list."""

    def __init__(self) -> None:
        self.verts: list[np.ndarray] = []
        self.faces: list[tuple[int, ...]] = []
        self.mats: list[int] = []
        self.parts: list[np.ndarray] = []
        self.count = 0

    def add(self, verts: np.ndarray, faces: list[tuple[int, ...]], mats: list[int], part: int) -> int:
        """Append a part; returns its first vertex index."""
        start = self.count
        self.verts.append(np.asarray(verts, dtype=np.float64))
        self.faces.extend(tuple(int(i) + start for i in f) for f in faces)
        self.mats.extend(mats)
        self.parts.append(np.full(len(verts), part, dtype=np.int32))
        self.count += len(verts)
        return start


def _orient_outward(verts: np.ndarray, faces: list[tuple[int, ...]], centre: np.ndarray) -> list[tuple[int, ...]]:
    """Flip a part's faces if most of them face its centre, so smooth shading and Workbench light read right."""
    score = 0.0
    for f in faces:
        p = verts[list(f)]
        n = np.cross(p[1] - p[0], p[2] - p[0])
        score += float(n @ (p.mean(axis=0) - centre))
    return faces if score >= 0 else [tuple(reversed(f)) for f in faces]


def _grid_faces(rows: int, cols: int, wrap: bool) -> list[tuple[int, ...]]:
    """Quads of a rows x cols vertex grid (row-major), optionally closed around the columns."""
    faces = []
    for r in range(rows - 1):
        for c in range(cols if wrap else cols - 1):
            c1 = (c + 1) % cols
            faces.append((r * cols + c, r * cols + c1, (r + 1) * cols + c1, (r + 1) * cols + c))
    return faces


def _uv_sphere(
    centre: np.ndarray, radii: np.ndarray, polar: np.ndarray, segments: int, axis: str = "y-"
) -> tuple[np.ndarray, list[tuple[int, ...]], np.ndarray]:
    """A sphere whose poles lie on `axis` ('y-': front pole looks down -Y, 'z': poles up/down).

    polar: ring angles in (0, pi) from the first pole. Returns vertices, faces, and each face's mean polar angle.
    """
    az = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    pa, aa = np.meshgrid(polar, az, indexing="ij")
    s = np.sin(pa)
    if axis == "y-":
        local = np.stack([s * np.cos(aa), -np.cos(pa), s * np.sin(aa)], axis=-1).reshape(-1, 3)
        first, last = np.array([0.0, -1.0, 0.0]), np.array([0.0, 1.0, 0.0])
    else:
        local = np.stack([s * np.cos(aa), s * np.sin(aa), -np.cos(pa)], axis=-1).reshape(-1, 3)
        first, last = np.array([0.0, 0.0, -1.0]), np.array([0.0, 0.0, 1.0])
    verts = np.vstack([first, local, last]) * radii + centre
    n = len(polar)
    ring = 1
    faces: list[tuple[int, ...]] = []
    face_polar: list[float] = []
    for c in range(segments):
        faces.append((0, ring + (c + 1) % segments, ring + c))
        face_polar.append(polar[0] / 2)
    for r in range(n - 1):
        for c in range(segments):
            c1 = (c + 1) % segments
            a, b = ring + r * segments, ring + (r + 1) * segments
            faces.append((a + c, a + c1, b + c1, b + c))
            face_polar.append((polar[r] + polar[r + 1]) / 2)
    top = 1 + n * segments
    for c in range(segments):
        a = ring + (n - 1) * segments
        faces.append((top, a + c, a + (c + 1) % segments))
        face_polar.append((polar[-1] + np.pi) / 2)
    faces = _orient_outward(verts, faces, centre)
    return verts, faces, np.asarray(face_polar)


# --------------------------------------------------------------------------------------------------------------------
# Skin


@dataclass
class _Skin:
    verts: np.ndarray
    faces: list[tuple[int, ...]]
    mats: list[int]
    base_xz: np.ndarray  # (V, 2) x, z before the forward feature displacement (masks are defined on these)
    upper_side: np.ndarray  # (V,) 1 above the mouth slit, 0 below, 0.5 on the slit row outside the slit
    lower_copy: np.ndarray  # (V,) bool: the slit's lower-lip duplicate
    slit_upper: np.ndarray  # indices of the slit's upper-lip vertices (sorted by x)
    slit_lower: np.ndarray  # their lower-lip duplicates
    corners: tuple[int, int]  # mouth corner vertices (left = +x, right)
    lip_bulge: np.ndarray  # (V,) forward lip displacement built into the basis
    z_mouth: float
    front: np.ndarray  # (V,) 1 on the face, 0 at the back of the head
    paint: np.ndarray  # (V, 3) lip, eyebrow and hair colour masks in [0, 1]


def _brow_line(ax: np.ndarray) -> np.ndarray:
    """Height of the eyebrow's centre line as a function of |x| (an arch over the eye)."""
    return 0.050 + 0.007 * np.clip(1 - ((ax - 0.043) / 0.034) ** 2, 0, 1)


def _padded(faces: list[tuple[int, ...]]) -> np.ndarray:
    """(F, 4) vertex indices; a triangle repeats its last corner (fine for per-face means of smooth masks)."""
    return np.array([f if len(f) == 4 else (*f, f[-1]) for f in faces], dtype=np.int64)


def _skin_paint(
    bx: np.ndarray, bz: np.ndarray, zm: float, upper_side: np.ndarray, front: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lip and eyebrow masks (0..1, soft over ~1 mm) from the base x, z of skin vertices."""
    ax = np.abs(bx)
    lw = np.clip(1 - (ax / (X_CORNER + 0.002)) ** 2, 0, 1)
    d = bz - zm
    soft = 0.0011
    h_up, h_lo = 0.002 + 0.0095 * lw, 0.003 + 0.011 * lw
    lip_up = smoothstep(h_up + soft, h_up - soft, d) * (upper_side > 0)
    lip_lo = smoothstep(h_lo + soft, h_lo - soft, -d) * (upper_side < 1)
    lips = np.maximum(lip_up, lip_lo) * smoothstep(X_CORNER + 0.003, X_CORNER - 0.0005, ax)
    zb = _brow_line(ax)
    half = 0.0055 - 0.0025 * smoothstep(0.02, 0.075, ax)
    brow = smoothstep(half + soft, half - soft, np.abs(bz - zb))
    brow = brow * smoothstep(0.009, 0.015, ax) * smoothstep(0.08, 0.072, ax)
    gate = smoothstep(0.4, 0.6, front)
    return lips * gate, brow * gate


def _hair(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hair colour mask (soft over ~3 mm, so the hairline is smooth whatever the grid) and its lift off the skull."""
    az = np.abs(np.arctan2(x, -y))  # 0 at the face, pi at the nape
    line = 0.083 - 0.05 * smoothstep(0.35, 1.5, az) - 0.09 * smoothstep(1.9, 3.0, az)
    return smoothstep(line - 0.003, line + 0.003, z), 0.006 * smoothstep(line - 0.002, line + 0.014, z)


def _build_skin() -> _Skin:
    """The skin: an ellipsoid grid shaped into a face, hair lifted off the scalp, a mouth slit cut into it, painted."""
    g = _skin_grid()
    zm, bulge = _raise_face_features(g)
    hair = _lift_hair(g)
    topo = _skin_topology(g)
    return _paint_skin(g, topo, zm, bulge, hair)


@dataclass
class _SkinGrid:
    """The skin's rows (pole to pole) x columns (around) before the mouth slit is cut."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    depth: np.ndarray  # > 0 at the front
    front: np.ndarray  # 1 on the face, 0 at the back
    rm: int  # the mouth slit's row


def _skin_grid() -> _SkinGrid:
    """An ellipsoid with a flatter face, a round back, a narrower jaw; rows and columns denser on the face."""
    rows = np.arange(1, NLAT)
    s = 2 * rows / NLAT - 1
    theta = (np.pi / 2) * (0.5 * s + 0.5 * s**3)  # denser near the face's middle
    cols = np.arange(NLON)
    u = 2 * (cols - NLON / 2) / NLON
    phi = np.pi * (0.45 * u + 0.55 * u**3)  # denser at the front (phi = 0 looks down -Y)
    rm = int(np.argmin(np.abs(theta - np.arcsin(Z_MOUTH / HEAD_C))))
    th, ph = np.meshgrid(theta, phi, indexing="ij")

    x = HEAD_A * np.cos(th) * np.sin(ph)
    z = HEAD_C * np.sin(th)
    depth = np.cos(th) * np.cos(ph)  # > 0 at the front
    p = np.where(depth > 0, 0.55, 1.0)  # flatter face, round back of the head
    y = -HEAD_B * np.sign(depth) * np.abs(depth) ** p
    x = x * (1 - 0.22 * smoothstep(-0.02, -0.125, z))  # narrower jaw and chin
    front = smoothstep(0.12, 0.5, depth)
    return _SkinGrid(x=x, y=y, z=z, depth=depth, front=front, rm=rm)


def _raise_face_features(g: _SkinGrid) -> tuple[float, np.ndarray]:
    """Forward features on the face (masks in x, z): nose, brow ridge, cheeks, chin, lips. Returns the mouth's
    height and the lips' forward bulge."""
    x, z = g.x, g.z
    ax = np.abs(x)
    nose = (
        0.024 * _gauss(x, z, 0, -0.024, 0.013, 0.013)
        + 0.011 * _gauss(x, z, 0, 0.004, 0.008, 0.024)
        + 0.007 * _gauss(ax, z, 0.015, -0.031, 0.008, 0.007)
    )
    ridge = 0.004 * _gauss(ax, z, 0.040, 0.050, 0.030, 0.010)
    cheeks = 0.005 * _gauss(ax, z, 0.052, -0.028, 0.022, 0.022)
    chin = 0.007 * _gauss(x, z, 0, -0.105, 0.025, 0.016)
    lipx = smoothstep(X_CORNER + 0.003, X_CORNER - 0.012, ax)
    zm = float(z[g.rm, 0])
    bulge = (
        0.0065 * np.exp(-(((z - (zm + 0.0055)) / 0.0045) ** 2))
        + 0.0075 * np.exp(-(((z - (zm - 0.0065)) / 0.0055) ** 2))
    ) * lipx
    g.y = g.y - g.front * (nose + ridge + cheeks + chin + bulge)
    return zm, bulge


def _lift_hair(g: _SkinGrid) -> np.ndarray:
    """Hair: painted on the scalp above a hairline (high on the forehead, low at the nape) and raised a little along
    the ellipsoid's normal. Returns the hair mask."""
    x, y, z = g.x, g.y, g.z
    hair, lift = _hair(x, y, z)
    nrm = np.stack([x / HEAD_A**2, y / HEAD_B**2, z / HEAD_C**2], axis=-1)
    nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True)
    g.x, g.y, g.z = (x + lift * nrm[..., 0], y + lift * nrm[..., 1], z + lift * nrm[..., 2])
    return hair


@dataclass
class _SkinTopology:
    verts: np.ndarray  # grid, the two poles, then the slit's lower-lip copies
    faces: list[tuple[int, ...]]
    idx: np.ndarray  # (rows, cols) grid vertex index
    slit_cols: np.ndarray  # the slit's columns, sorted by x
    n_base: int  # the first lower-lip copy
    pole_verts: np.ndarray


def _skin_topology(g: _SkinGrid) -> _SkinTopology:
    """Vertices and faces: the grid closed by two poles, and the mouth slit: row rm's front columns inside the
    corners get lower-lip duplicates, which the quads below the slit use."""
    x, rm = g.x, g.rm
    nr = x.shape[0]
    grid = np.stack([g.x, g.y, g.z], axis=-1).reshape(-1, 3)
    idx = np.arange(nr * NLON).reshape(nr, NLON)
    bottom, top = nr * NLON, nr * NLON + 1
    pole_verts = np.array([[0.0, 0.012, -HEAD_C * 0.97], [0.0, 0.0, HEAD_C + 0.006]])  # top lifted like the hair

    slit_cols = np.where((np.abs(x[rm]) < X_CORNER) & (g.depth[rm] > 0))[0]
    slit_cols = slit_cols[np.argsort(x[rm, slit_cols])]
    n_base = nr * NLON + 2
    lower_of = {int(c): n_base + k for k, c in enumerate(slit_cols)}
    verts = np.vstack([grid, pole_verts, grid[idx[rm, slit_cols]]])

    faces: list[tuple[int, ...]] = []
    for r in range(nr - 1):
        for c in range(NLON):
            c1 = (c + 1) % NLON
            q = [idx[r, c], idx[r, c1], idx[r + 1, c1], idx[r + 1, c]]
            if r + 1 == rm:  # the quad below the slit row uses the lower-lip copies
                q[2] = lower_of.get(c1, q[2])
                q[3] = lower_of.get(c, q[3])
            faces.append(tuple(int(i) for i in q))
    for c in range(NLON):
        c1 = (c + 1) % NLON
        faces.append((bottom, int(idx[0, c1]), int(idx[0, c])))
        faces.append((top, int(idx[nr - 1, c]), int(idx[nr - 1, c1])))
    faces = _orient_outward(verts, faces, np.zeros(3))
    return _SkinTopology(verts, faces, idx, slit_cols, n_base, pole_verts)


def _paint_skin(g: _SkinGrid, t: _SkinTopology, zm: float, bulge: np.ndarray, hair: np.ndarray) -> _Skin:
    """Per-vertex masks over the final vertices (the slit's copies take their originals' values), which side of the
    slit each vertex is on, and paint: smooth lip and brow masks per vertex (colours blend along them, so outlines
    stay smooth), each face taking the material its corners mostly belong to."""
    verts, faces, idx, slit_cols, n_base, rm = t.verts, t.faces, t.idx, t.slit_cols, t.n_base, g.rm
    slit = idx[rm, slit_cols]
    nv = len(verts)
    base_xz = np.stack([g.x, g.z], axis=-1).reshape(-1, 2)
    base_xz = np.vstack([base_xz, t.pole_verts[:, [0, 2]], base_xz[slit]])
    bulge_flat = (g.front * bulge).reshape(-1)
    bulge_flat = np.concatenate([bulge_flat, [0, 0], bulge_flat[slit]])
    front_flat = g.front.reshape(-1)
    front_flat = np.concatenate([front_flat, [0, 0], front_flat[slit]])
    hair_flat = hair.reshape(-1)
    hair_flat = np.concatenate([hair_flat, [0, 1], hair_flat[slit]])
    lower_copy = np.zeros(nv, dtype=bool)
    lower_copy[n_base:] = True
    vz = verts[:, 2]
    upper_side = np.where(vz > zm + 1e-6, 1.0, np.where(vz < zm - 1e-6, 0.0, 0.5))
    upper_side[slit] = 1.0
    upper_side[n_base:] = 0.0
    corner_l = int(idx[rm, slit_cols[-1] + 1])
    corner_r = int(idx[rm, slit_cols[0] - 1])

    lip_m, brow_m = _skin_paint(base_xz[:, 0], base_xz[:, 1], zm, upper_side, front_flat)
    padded = _padded(faces)
    mats = np.full(len(faces), MAT["skin"], dtype=np.int32)
    mats[lip_m[padded].mean(axis=1) > 0.5] = MAT["lips"]
    mats[brow_m[padded].mean(axis=1) > 0.5] = MAT["brow"]
    mats[hair_flat[padded].mean(axis=1) > 0.5] = MAT["hair"]
    paint = np.stack([lip_m, brow_m, hair_flat], axis=-1)
    return _Skin(
        verts=verts,
        faces=faces,
        mats=mats,
        base_xz=base_xz,
        upper_side=upper_side,
        lower_copy=lower_copy,
        slit_upper=slit.astype(np.int64),
        slit_lower=np.arange(n_base, nv),
        corners=(corner_l, corner_r),
        lip_bulge=bulge_flat,
        z_mouth=zm,
        front=front_flat,
        paint=paint,
    )


# --------------------------------------------------------------------------------------------------------------------
# Eyes and lids


def _lid_points(
    centre: np.ndarray, radius: float, az: np.ndarray, t: np.ndarray, edge: float, far: float
) -> np.ndarray:
    """Points of an eyelid shell: elevation runs from the edge (t=0) to `far` (t=1), degrees."""
    el = np.radians(edge + (far - edge) * t)
    a = np.radians(az)
    return centre + radius * np.stack([np.cos(el) * np.sin(a), -np.cos(el) * np.cos(a), np.sin(el)], axis=-1)


_LID_AZ = np.linspace(-105.0, 105.0, 29)
_LID_T = np.linspace(0.0, 1.0, 9)


def _lid(
    centre: np.ndarray, upper: bool
) -> tuple[np.ndarray, list[tuple[int, ...]], list[int], np.ndarray, np.ndarray]:
    ag, tg = np.meshgrid(_LID_AZ, _LID_T, indexing="ij")
    ag, tg = ag.reshape(-1), tg.reshape(-1)
    radius = EYE_R * (LID_R_UP if upper else LID_R_LO)
    edge, far = (LID_UP_REST, LID_TOP) if upper else (LID_LO_REST, LID_BOTTOM)
    verts = _lid_points(centre, radius, ag, tg, edge, far)
    faces = _grid_faces(len(_LID_AZ), len(_LID_T), wrap=False)
    faces = _orient_outward(verts, faces, centre)
    mats = []
    for f in faces:
        edge_face = tg[list(f)].min() < 1e-9
        mats.append(MAT["lash"] if (upper and edge_face) else MAT["skin"])
    return verts, faces, mats, ag, tg


# --------------------------------------------------------------------------------------------------------------------
# Assembly and shapes


def build_head() -> HeadGeometry:
    """Build the head (about 14.5k vertices) and its 52 ARKit deltas; deterministic, about 0.5 s.

    The parts first (skin, eyes and lids, teeth, mouth cavity, tongue, ears), then the shapes region by region:
    jaw, mouth, brows, cheeks and nose, eyes, tongue.
    """
    skin = _build_skin()
    b = _Builder()
    skin_start = b.add(skin.verts, skin.faces, skin.mats, PART["skin"])
    eyes = _add_eyes(b, skin)
    inside = _add_mouth_inside(b, skin)
    _add_ears(b)

    shapes = _Shapes(np.vstack(b.verts), np.concatenate(b.parts), skin, skin_start)
    masks = _SkinMasks.of(skin)
    w_jaw, jaw_open = _jaw_shapes(shapes, masks, inside.cavity_centre)
    _mouth_shapes(shapes, masks, jaw_open)
    _brow_shapes(shapes, masks)
    _cheek_and_nose_shapes(shapes, masks)
    _eye_shapes(shapes, eyes)
    _tongue_shape(shapes, inside.tongue_centre, w_jaw)

    verts, part = shapes.verts, shapes.part
    landmarks = _landmarks(verts, part, skin, skin_start, eyes.start, eyes.lids, inside.tongue_start, eyes.centres)
    face_materials = np.asarray(b.mats, dtype=np.int32)
    return HeadGeometry(
        vertices=verts.astype(np.float32),
        faces=b.faces,
        face_materials=face_materials,
        corner_colors=_corner_colors(b.faces, face_materials, part, skin, skin_start),
        deltas=shapes.deltas.astype(np.float32),
        part=part,
        landmarks=landmarks,
        eye_centres=eyes.centres,
    )


# ------------------------------------------------------------------------------------------------------ the parts


@dataclass
class _Eyes:
    centres: dict[str, np.ndarray]  # eyeball centre per side ("L", "R")
    start: dict[str, int]  # first vertex of each eyeball
    lids: dict[tuple[str, bool], tuple[int, np.ndarray, np.ndarray]]  # (side, upper) -> first vertex, angles, rows


def _add_eyes(b: _Builder, skin: _Skin) -> _Eyes:
    """Eyeballs sunk behind the skin at (EYE_X, EYE_Z), and an upper and a lower lid shell on each."""
    eye_centres: dict[str, np.ndarray] = {}
    front_mask = skin.verts[:, 1] < 0
    for side, sign in (("L", 1.0), ("R", -1.0)):
        d = np.where(front_mask, np.hypot(skin.verts[:, 0] - sign * EYE_X, skin.verts[:, 2] - EYE_Z), np.inf)
        y_skin = skin.verts[int(np.argmin(d)), 1]
        eye_centres[side] = np.array([sign * EYE_X, y_skin + EYE_SINK * EYE_R, EYE_Z])

    eye_polar = np.radians([7, 14, 22, 30, 38, 46, 56, 68, 82, 98, 115, 132, 150, 166])
    eye_start: dict[str, int] = {}
    lid_info: dict[tuple[str, bool], tuple[int, np.ndarray, np.ndarray]] = {}
    for side in ("L", "R"):
        c = eye_centres[side]
        v, f, fp = _uv_sphere(c, np.full(3, EYE_R), eye_polar, 24, axis="y-")
        deg = np.degrees(fp)
        mats = [MAT["pupil"] if a < 15 else MAT["iris"] if a < 38 else MAT["sclera"] for a in deg]
        eye_start[side] = b.add(v, f, mats, PART[f"eye_{side}"])
    for side in ("L", "R"):
        for upper in (True, False):
            v, f, m, ag, tg = _lid(eye_centres[side], upper)
            start = b.add(v, f, m, PART[f"lid_{'upper' if upper else 'lower'}_{side}"])
            lid_info[(side, upper)] = (start, ag, tg)
    return _Eyes(eye_centres, eye_start, lid_info)


@dataclass
class _MouthInside:
    cavity_centre: np.ndarray
    tongue_centre: np.ndarray
    tongue_start: int


def _add_mouth_inside(b: _Builder, skin: _Skin) -> _MouthInside:
    """Teeth, the mouth cavity and the tongue, seated just behind the lips along the slit."""
    zm = skin.z_mouth
    sx = skin.verts[skin.slit_upper, 0]
    sy = skin.verts[skin.slit_upper, 1] + skin.lip_bulge[skin.slit_upper]

    def slit_depth(xq: np.ndarray) -> np.ndarray:
        return np.interp(xq, sx, sy)

    # Teeth: curved strips behind the lips (upper fixed to the skull, lower to the jaw).
    tx = np.linspace(-0.022, 0.022, 17)
    ty = slit_depth(tx) + 0.0075 + 0.012 * (tx / 0.03) ** 2
    for name, z0, z1 in (("teeth_upper", zm - 0.0005, zm + 0.009), ("teeth_lower", zm - 0.009, zm + 0.0005)):
        zz = np.array([z0, z1])
        gx, gz = np.meshgrid(tx, zz, indexing="ij")
        gy = np.repeat(ty[:, None], 2, axis=1)
        front_v = np.stack([gx, gy, gz], axis=-1).reshape(-1, 3)
        back_v = front_v + np.array([0.0, 0.004, 0.0])
        v = np.vstack([front_v, back_v])
        f = _grid_faces(len(tx), 2, wrap=False)
        p = v[list(f[0])]
        if np.cross(p[1] - p[0], p[2] - p[0])[1] > 0:  # the front strip must look forward (-Y)
            f = [tuple(reversed(q)) for q in f]
        n = len(front_v)
        f = f + [tuple(reversed([i + n for i in q])) for q in f]
        b.add(v, f, [MAT["teeth"]] * len(f), PART[name])

    # Mouth cavity: a dark ellipsoid behind the lips.
    cav_c = np.array([0.0, float(slit_depth(np.array([0.0]))[0]) + 0.033, zm - 0.004])
    v, f, _ = _uv_sphere(cav_c, np.array([0.030, 0.028, 0.026]), np.linspace(0.2, np.pi - 0.2, 12), 20, axis="z")
    b.add(v, f, [MAT["mouth"]] * len(f), PART["mouth_inside"])

    # Tongue: a flat ellipsoid on the jaw behind the lower teeth.
    tongue_c = np.array([0.0, float(slit_depth(np.array([0.0]))[0]) + 0.037, zm - 0.0135])
    v, f, _ = _uv_sphere(tongue_c, np.array([0.016, 0.024, 0.0055]), np.linspace(0.25, np.pi - 0.25, 10), 20, "y-")
    tongue_start = b.add(v, f, [MAT["tongue"]] * len(f), PART["tongue"])
    return _MouthInside(cav_c, tongue_c, tongue_start)


def _add_ears(b: _Builder) -> None:
    """Ears: flattened ellipsoids on the sides of the head."""
    for side, sign in (("L", 1.0), ("R", -1.0)):
        v, f, _ = _uv_sphere(
            np.array([sign * 0.0985, 0.014, -0.002]),
            np.array([0.011, 0.019, 0.03]),
            np.linspace(0.3, np.pi - 0.3, 10),
            16,
            "z",
        )
        b.add(v, f, [MAT["skin"]] * len(f), PART[f"ear_{side}"])


# ----------------------------------------------------------------------------------------------------- the shapes

X_AXIS = np.array([1.0, 0.0, 0.0])
Z_AXIS = np.array([0.0, 0.0, 1.0])


class _Shapes:
    """The 52 deltas being built over the whole head, and the helpers every region's shapes write through."""

    def __init__(self, verts: np.ndarray, part: np.ndarray, skin: _Skin, skin_start: int) -> None:
        self.verts, self.part, self.skin = verts, part, skin
        self.nv = len(verts)
        self.n_skin = len(skin.verts)
        self.sk = slice(skin_start, skin_start + self.n_skin)
        self.deltas = np.zeros((len(ARKIT_NAMES), self.nv, 3), dtype=np.float64)

    def put(self, name: str, d: np.ndarray) -> None:
        self.deltas[INDEX[name]] += d

    def skin_delta(self, d: np.ndarray) -> np.ndarray:
        """A (skin vertices, 3) delta placed into the whole head's vertex range."""
        full = np.zeros((self.nv, 3))
        full[self.sk] = d
        return full

    def vec(self, dx: np.ndarray | float = 0.0, dy: np.ndarray | float = 0.0, dz: np.ndarray | float = 0.0):
        """(skin vertices, 3) from per-axis components, each a scalar or a per-skin-vertex array."""
        return np.stack(np.broadcast_arrays(dx, dy, dz, np.zeros(self.n_skin))[:3], axis=-1)

    def jaw_rotation(self, angle_deg: float, weights: np.ndarray) -> np.ndarray:
        return rotate(self.verts, JAW_PIVOT, X_AXIS, np.radians(angle_deg) * weights) - self.verts


@dataclass
class _SkinMasks:
    """Smooth region masks over the skin's vertices, in its undeformed (x, z) frame."""

    bx: np.ndarray
    bz: np.ndarray
    zm: float
    front: np.ndarray
    up: np.ndarray
    lo: np.ndarray
    ax: np.ndarray
    left: np.ndarray  # character's left (+X), with a soft middle
    right: np.ndarray
    mouthx: np.ndarray
    lip_up: np.ndarray
    lip_lo: np.ndarray
    mouth_reg: np.ndarray
    eye_region_guard: np.ndarray  # keeps lower-face shapes off the eyes
    upper_lip_ext: np.ndarray
    lower_lip_ext: np.ndarray

    @classmethod
    def of(cls, skin: _Skin) -> _SkinMasks:
        zm = skin.z_mouth
        bx, bz = skin.base_xz[:, 0], skin.base_xz[:, 1]
        front = skin.front
        up = skin.upper_side
        lo = 1.0 - up
        ax = np.abs(bx)
        mouthx = smoothstep(X_CORNER + 0.012, X_CORNER - 0.006, ax)
        return cls(
            bx=bx,
            bz=bz,
            zm=zm,
            front=front,
            up=up,
            lo=lo,
            ax=ax,
            left=smoothstep(-0.012, 0.02, bx),
            right=smoothstep(0.012, -0.02, bx),
            mouthx=mouthx,
            lip_up=np.exp(-(((bz - zm) / 0.011) ** 2)) * mouthx * up * front,
            lip_lo=np.exp(-(((bz - zm) / 0.013) ** 2)) * mouthx * lo * front,
            mouth_reg=np.exp(-((bx / 0.045) ** 2) - ((bz - zm) / 0.028) ** 2) * front,
            eye_region_guard=1.0 - _gauss(ax, bz, EYE_X, EYE_Z, 0.03, 0.02),
            upper_lip_ext=np.exp(-(((bz - zm) / 0.014) ** 2)) * mouthx * up * front,
            lower_lip_ext=np.exp(-(((bz - zm) / 0.02) ** 2)) * mouthx * lo * front,
        )

    def corner(self, sign: float, r: float = 0.015) -> np.ndarray:
        return (
            _gauss(self.bx, self.bz, sign * X_CORNER, self.zm, r, r)
            * self.front
            * (self.left if sign > 0 else self.right)
        )


def _jaw_shapes(s: _Shapes, m: _SkinMasks, cavity_centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """jawOpen (a hinge rotation), jawForward, jawLeft, jawRight; returns the jaw weights and jawOpen's delta."""
    verts, part = s.verts, s.part
    bx, bz, zm, up, ax = m.bx, m.bz, m.zm, m.up, m.ax
    prof = np.clip(1 - (bx / X_CORNER) ** 2, 0, 1) * (ax < X_CORNER)
    base_w = smoothstep(zm + 0.012, zm - 0.032, bz)
    w_jaw_skin = np.where(up >= 1.0, base_w * (1 - prof), np.where(up <= 0.0, np.maximum(base_w, prof), base_w))
    w_jaw_skin *= smoothstep(0.045, -0.02, verts[s.sk][:, 1])
    w_jaw = np.zeros(s.nv)
    w_jaw[s.sk] = w_jaw_skin
    w_jaw[part == PART["teeth_lower"]] = 1.0
    w_jaw[part == PART["tongue"]] = 1.0
    cav = part == PART["mouth_inside"]
    w_jaw[cav] = smoothstep(cavity_centre[2] + 0.012, cavity_centre[2] - 0.016, verts[cav, 2])

    jaw_open = s.jaw_rotation(JAW_OPEN_DEG, w_jaw)
    s.put("jawOpen", jaw_open)
    s.put("jawForward", w_jaw[:, None] * np.array([0.0, -0.011, 0.0]))
    s.put("jawLeft", w_jaw[:, None] * np.array([0.012, 0.0, 0.0]))
    s.put("jawRight", w_jaw[:, None] * np.array([-0.012, 0.0, 0.0]))
    return w_jaw, jaw_open


def _mouth_shapes(s: _Shapes, m: _SkinMasks, jaw_open: np.ndarray) -> None:
    """The mouth's shapes, on the skin only."""
    skin, put, skin_delta, vec = s.skin, s.put, s.skin_delta, s.vec
    bx, bz, zm, lo, up = m.bx, m.bz, m.zm, m.lo, m.up
    lip_up, lip_lo, mouth_reg, front = m.lip_up, m.lip_lo, m.mouth_reg, m.front
    left, right = m.left, m.right

    # mouthClose: the lips seal while the jaw is open (ARKit's meaning: used together with jawOpen).
    gap_z = float(jaw_open[skin.slit_lower[len(skin.slit_lower) // 2], 2])  # < 0
    close = -0.62 * jaw_open[s.sk] * m.lower_lip_ext[:, None]
    close[:, 2] += 0.38 * gap_z * m.upper_lip_ext * np.clip(1 - (bx / X_CORNER) ** 2, 0, 1)
    put("mouthClose", skin_delta(close))

    lips = lip_up + lip_lo
    put(
        "mouthFunnel",
        skin_delta(
            vec(
                -0.38 * bx * mouth_reg,
                -0.010 * lips - 0.003 * mouth_reg,
                (0.0055 * lip_up - 0.0075 * lip_lo) * np.clip(1 - (bx / X_CORNER) ** 2, 0.15, 1),
            )
        ),
    )
    put(
        "mouthPucker",
        skin_delta(vec(-0.55 * bx * mouth_reg, -0.014 * lips - 0.004 * mouth_reg, -0.0015 * lip_up + 0.002 * lip_lo)),
    )
    shift_reg = np.exp(-((bx / 0.06) ** 2) - ((bz - zm) / 0.03) ** 2) * front * m.eye_region_guard
    put("mouthLeft", skin_delta(vec(0.014 * shift_reg)))
    put("mouthRight", skin_delta(vec(-0.014 * shift_reg)))

    cheek_l = _gauss(bx, bz, 0.048, -0.028, 0.02, 0.018) * front * left
    cheek_r = _gauss(bx, bz, -0.048, -0.028, 0.02, 0.018) * front * right
    for side, sign, cnr, chk, sm in (
        ("Left", 1.0, m.corner(1.0), cheek_l, left),
        ("Right", -1.0, m.corner(-1.0), cheek_r, right),
    ):
        put(
            f"mouthSmile{side}",
            skin_delta(vec(sign * 0.006 * cnr, 0.004 * cnr - 0.003 * chk, 0.012 * cnr + 0.004 * chk)),
        )
        put(f"mouthFrown{side}", skin_delta(vec(sign * 0.002 * cnr, 0.001 * cnr, -0.011 * cnr)))
        dent = _gauss(bx, bz, sign * (X_CORNER + 0.011), zm, 0.006, 0.008) * front
        put(f"mouthDimple{side}", skin_delta(vec(sign * 0.007 * cnr, 0.007 * cnr + 0.004 * dent)))
        lip_side = sm * _gauss(bx, bz, sign * 0.02, zm, 0.022, 0.03)
        put(
            f"mouthStretch{side}",
            skin_delta(vec(sign * 0.011 * cnr, 0.003 * cnr, -0.006 * cnr - 0.004 * lip_lo * lip_side)),
        )
        press = sm * _gauss(bx, bz, sign * 0.018, zm, 0.02, 0.02)
        put(
            f"mouthPress{side}",
            skin_delta(
                vec(
                    sign * 0.002 * cnr,
                    0.9 * skin.lip_bulge * press + 0.002 * lips * press,
                    (-0.002 * lip_up + 0.002 * lip_lo + 0.45 * (zm - bz) * lips) * press,
                )
            ),
        )
        put(
            f"mouthLowerDown{side}",
            skin_delta(vec(0.0, 0.002 * lip_lo * lip_side, -0.011 * m.lower_lip_ext * lip_side)),
        )
        put(
            f"mouthUpperUp{side}",
            skin_delta(vec(0.0, 0.002 * lip_up * lip_side, 0.010 * m.upper_lip_ext * lip_side)),
        )

    # Roll: the lip's red part curls in towards the slit and back; shrug: the lip and chin (or upper lip) push up.
    put("mouthRollLower", skin_delta(vec(0.0, 1.2 * skin.lip_bulge * lo + 0.004 * lip_lo, 0.65 * (zm - bz) * lip_lo)))
    put("mouthRollUpper", skin_delta(vec(0.0, 1.2 * skin.lip_bulge * up + 0.004 * lip_up, 0.65 * (zm - bz) * lip_up)))
    chin_reg = _gauss(bx, bz, 0, zm - 0.03, 0.035, 0.03) * front * lo
    put("mouthShrugLower", skin_delta(vec(0.0, -0.003 * chin_reg, 0.007 * np.maximum(chin_reg, lip_lo))))
    # The upper lip pushes up and out; the lower lip follows most of the way so the mouth stays closed.
    put(
        "mouthShrugUpper",
        skin_delta(vec(0.0, -0.005 * lip_up - 0.002 * lip_lo, 0.005 * m.upper_lip_ext + 0.004 * lip_lo)),
    )


def _brow_shapes(s: _Shapes, m: _SkinMasks) -> None:
    """browInnerUp, browOuterUp and browDown: a band along the brow line, inner and outer parts."""
    bx, bz, ax, front = m.bx, m.bz, m.ax, m.front
    zb = _brow_line(ax)
    brow_band = np.where(bz > zb, np.exp(-(((bz - zb) / 0.028) ** 2)), np.exp(-(((bz - zb) / 0.009) ** 2)))
    brow_band = brow_band * front * smoothstep(0.1, 0.085, ax)
    inner = np.exp(-(((ax - 0.017) / 0.017) ** 2))
    outer = np.exp(-(((ax - 0.068) / 0.02) ** 2))
    s.put("browInnerUp", s.skin_delta(s.vec(0.0, 0.0, 0.011 * inner * brow_band)))
    for side, sign, sm in (("Left", 1.0, m.left), ("Right", -1.0, m.right)):
        hard = (bx * sign > 0).astype(float)
        s.put(f"browOuterUp{side}", s.skin_delta(s.vec(0.0, 0.0, 0.011 * outer * brow_band * hard)))
        s.put(
            f"browDown{side}",
            s.skin_delta(
                s.vec(
                    -sign * 0.003 * inner * brow_band * sm,
                    -0.002 * brow_band * sm,
                    -0.008 * (0.55 + 0.45 * inner) * brow_band * sm,
                )
            ),
        )


def _cheek_and_nose_shapes(s: _Shapes, m: _SkinMasks) -> None:
    """cheekPuff, the skin part of cheekSquint, noseSneer."""
    bx, bz, ax, front = m.bx, m.bz, m.ax, m.front
    puff = (_gauss(ax, bz, 0.058, m.zm + 0.01, 0.022, 0.022) * front) * m.eye_region_guard
    s.put("cheekPuff", s.skin_delta(s.vec(np.sign(bx) * 0.011 * puff, -0.010 * puff)))
    for side, sign, sm in (("Left", 1.0, m.left), ("Right", -1.0, m.right)):
        hard = (bx * sign > 0).astype(float)
        under_eye = _gauss(bx, bz, sign * 0.045, -0.012, 0.02, 0.014) * front * hard
        s.put(f"cheekSquint{side}", s.skin_delta(s.vec(0.0, -0.002 * under_eye, 0.007 * under_eye)))
        # Sneer: the nostril wing and the skin beside it lift and flare; the skin above bunches (a crease).
        wing = _gauss(bx, bz, sign * 0.016, -0.027, 0.013, 0.014) * front * hard
        crease = _gauss(bx, bz, sign * 0.022, -0.008, 0.01, 0.008) * front * hard
        s.put(
            f"noseSneer{side}",
            s.skin_delta(
                s.vec(
                    sign * 0.003 * wing,
                    -0.002 * wing + 0.003 * crease,
                    0.009 * wing + 0.003 * crease + 0.0015 * m.upper_lip_ext * sm * (bx * sign > 0),
                )
            ),
        )


def _eye_shapes(s: _Shapes, eyes: _Eyes) -> None:
    """Rotations of the eyeball, lid edges moved along their shells (blink, squint, wide, look, cheek squint)."""
    verts, part, nv = s.verts, s.part, s.nv

    def lid_delta(side: str, upper: bool, edge_deg: float) -> np.ndarray:
        start, ag, tg = eyes.lids[(side, upper)]
        radius = EYE_R * (LID_R_UP if upper else LID_R_LO)
        far = LID_TOP if upper else LID_BOTTOM
        new = _lid_points(eyes.centres[side], radius, ag, tg, edge_deg, far)
        d = np.zeros((nv, 3))
        d[start : start + len(ag)] = new - verts[start : start + len(ag)]
        return d

    def eye_turn(side: str, axis: np.ndarray, deg: float) -> np.ndarray:
        m = part == PART[f"eye_{side}"]
        d = np.zeros((nv, 3))
        d[m] = rotate(verts[m], eyes.centres[side], axis, np.radians(deg)) - verts[m]
        return d

    put = s.put
    for side, sign, name in (("L", 1.0, "Left"), ("R", -1.0, "Right")):
        put(f"eyeBlink{name}", lid_delta(side, True, -14.0) + lid_delta(side, False, -9.0))
        put(f"eyeSquint{name}", lid_delta(side, True, 13.0) + lid_delta(side, False, -9.0))
        put(f"eyeWide{name}", lid_delta(side, True, 40.0) + lid_delta(side, False, -35.0))
        # Positive angle about +X turns the front (-Y) down; about +Z turns it towards +X... see tests for signs.
        put(f"eyeLookUp{name}", eye_turn(side, X_AXIS, -24.0) + lid_delta(side, True, 30.0))
        put(
            f"eyeLookDown{name}",
            eye_turn(side, X_AXIS, 24.0) + lid_delta(side, True, 6.0) + lid_delta(side, False, -33.0),
        )
        # "Out" turns the eye away from the nose: towards +X for the left eye, -X for the right.
        put(f"eyeLookOut{name}", eye_turn(side, Z_AXIS, sign * 28.0))
        put(f"eyeLookIn{name}", eye_turn(side, Z_AXIS, -sign * 28.0))
        # Cheek squint pushes the lower lid up too.
        put(f"cheekSquint{name}", lid_delta(side, False, -18.0))


def _tongue_shape(s: _Shapes, tongue_centre: np.ndarray, w_jaw: np.ndarray) -> None:
    """tongueOut: the tongue comes out over the lower teeth, through slightly parted lips."""
    tmask = s.part == PART["tongue"]
    tv = s.verts[tmask]
    reach = smoothstep(tongue_centre[1] + 0.024, tongue_centre[1] - 0.024, tv[:, 1])  # 0 at the root, 1 at the tip
    tongue = s.jaw_rotation(9.0, w_jaw).copy()
    tongue[tmask] += np.stack([0 * reach, -0.012 - 0.034 * reach, 0.006 + 0.004 * reach], axis=-1)
    s.put("tongueOut", tongue)


def material_rgba() -> np.ndarray:
    return np.array([rgba for _, rgba in MATERIALS], dtype=np.float32)


def _corner_colors(
    faces: list[tuple[int, ...]], face_materials: np.ndarray, part: np.ndarray, skin: _Skin, skin_start: int
) -> np.ndarray:
    """Per face-corner colours: the skin blends smoothly into lips and brows; other parts take their face's colour."""
    rgba = material_rgba()
    vcol = np.repeat(rgba[[MAT["skin"]]], len(part), axis=0)
    lips, brow = skin.paint[:, 0:1], skin.paint[:, 1:2]
    sk = slice(skin_start, skin_start + len(skin.verts))
    vcol[sk] = vcol[sk] * (1 - lips) + rgba[MAT["lips"]] * lips
    vcol[sk] = vcol[sk] * (1 - brow) + rgba[MAT["brow"]] * brow
    hair = skin.paint[:, 2:3]
    vcol[sk] = vcol[sk] * (1 - hair) + rgba[MAT["hair"]] * hair
    sizes = np.fromiter((len(f) for f in faces), dtype=np.int64, count=len(faces))
    loops = np.fromiter((i for f in faces for i in f), dtype=np.int64, count=int(sizes.sum()))
    face_of_loop = np.repeat(np.arange(len(faces)), sizes)
    on_skin = part[loops] == PART["skin"]
    return np.where(on_skin[:, None], vcol[loops], rgba[face_materials[face_of_loop]]).astype(np.float32)


def _landmarks(
    verts: np.ndarray,
    part: np.ndarray,
    skin: _Skin,
    skin_start: int,
    eye_start: dict[str, int],
    lid_info: dict[tuple[str, bool], tuple[int, np.ndarray, np.ndarray]],
    tongue_start: int,
    eye_centres: dict[str, np.ndarray],
) -> dict[str, int]:
    """Named vertices used by the tests and by anyone checking a shape's direction."""
    out: dict[str, int] = {}
    bx, bz = skin.base_xz[:, 0], skin.base_xz[:, 1]
    fr = skin.front > 0.9

    def nearest_skin(x: float, z: float) -> int:
        d = np.where(fr, np.hypot(bx - x, bz - z), np.inf)
        return skin_start + int(np.argmin(d))

    mid = len(skin.slit_upper) // 2
    out["upper_lip"] = skin_start + int(skin.slit_upper[mid])
    out["lower_lip"] = skin_start + int(skin.slit_lower[mid])
    out["mouth_corner_L"], out["mouth_corner_R"] = (skin_start + c for c in skin.corners)
    slit_x = skin.verts[skin.slit_upper, 0]
    for side, sign in (("L", 1.0), ("R", -1.0)):
        k = int(np.argmin(np.abs(slit_x - sign * 0.018)))
        out[f"upper_lip_{side}"] = skin_start + int(skin.slit_upper[k])
        out[f"lower_lip_{side}"] = skin_start + int(skin.slit_lower[k])
    out["chin"] = nearest_skin(0.0, -0.105)
    out["nose_tip"] = nearest_skin(0.0, -0.024)
    for side, sign in (("L", 1.0), ("R", -1.0)):
        out[f"pupil_{side}"] = eye_start[side]  # the sphere's front pole
        for upper, tag in ((True, "upper"), (False, "lower")):
            start, ag, tg = lid_info[(side, upper)]
            out[f"{tag}_lid_{side}"] = start + int(np.argmin(np.abs(ag) + 100 * tg))
        out[f"brow_inner_{side}"] = nearest_skin(sign * 0.018, float(_brow_line(np.array(0.018))))
        out[f"brow_outer_{side}"] = nearest_skin(sign * 0.068, float(_brow_line(np.array(0.068))))
        out[f"cheek_{side}"] = nearest_skin(sign * 0.058, skin.z_mouth + 0.01)
        out[f"under_eye_{side}"] = nearest_skin(sign * 0.045, -0.012)
        out[f"nose_wing_{side}"] = nearest_skin(sign * 0.015, -0.026)
    tongue = np.where(part == PART["tongue"])[0]
    out["tongue_tip"] = int(tongue[np.argmin(verts[tongue, 1])])
    return out
