"""Build the demo character in Blender: an ARKit-52 head mesh, a skinned mannequin body and its armature.

The geometry comes from demo.head / demo.body (numpy); this module only hands it to Blender in bulk
(from_pydata, foreach_set) so the whole character takes well under a second. The head is parented to the "head" bone
and the body is deformed by a real Armature modifier with vertex-group weights, so the face path (shape keys) and the
body path (bones, LBS) both have something to act on.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Matrix, Vector

from ..core.arkit import ARKIT_NAMES
from ..host.blender_compat import add_shape_key, material_node_tree
from .body import BODY_MATERIALS, BONES, HEAD_CENTRE, BodyGeometry, build_body
from .head import MATERIALS, HeadGeometry, build_head

HEAD_NAME = "FacsimileHead"
BODY_NAME = "FacsimileBody"
RIG_NAME = "FacsimileRig"
COLLECTION_NAME = "Facsimile Demo"
COLOR_ATTRIBUTE = "FacsimileColor"


@dataclass
class DemoCharacter:
    head: bpy.types.Object
    body: bpy.types.Object | None
    rig: bpy.types.Object | None
    head_geometry: HeadGeometry
    body_geometry: BodyGeometry | None


def _material(name: str, rgba: tuple[float, float, float, float]) -> bpy.types.Material:
    """A material that reads the same in Workbench (viewport colour) and Cycles/EEVEE (Principled base colour)."""
    mat = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    mat.diffuse_color = rgba
    mat.roughness = 0.6
    tree = material_node_tree(mat)
    bsdf = tree.nodes.get("Principled BSDF") if tree else None
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = rgba
        bsdf.inputs["Roughness"].default_value = 0.6
        # Colours come from the mesh's colour attribute (smooth lip and brow outlines); Workbench reads it directly.
        attr = tree.nodes.get(COLOR_ATTRIBUTE) or tree.nodes.new("ShaderNodeVertexColor")
        attr.name = COLOR_ATTRIBUTE
        attr.layer_name = COLOR_ATTRIBUTE
        tree.links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def _set_corner_colors(mesh: bpy.types.Mesh, colors: np.ndarray) -> None:
    attr = mesh.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "CORNER")
    attr.data.foreach_set("color", np.ascontiguousarray(colors, dtype=np.float32).ravel())
    mesh.color_attributes.active_color = attr
    mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index


def _mesh_object(
    name: str,
    verts: np.ndarray,
    faces: list[tuple[int, ...]],
    face_materials: np.ndarray,
    materials: tuple[tuple[str, tuple[float, float, float, float]], ...],
    collection: bpy.types.Collection,
    corner_colors: np.ndarray | None = None,
) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.astype(np.float64).tolist(), [], faces)
    for mat_name, rgba in materials:
        mesh.materials.append(_material(mat_name, rgba))
    mesh.polygons.foreach_set("material_index", face_materials.astype(np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    if corner_colors is None:  # flat colour per face from its material
        rgba = np.array([c for _, c in materials], dtype=np.float32)
        sizes = np.fromiter((len(f) for f in faces), dtype=np.int64, count=len(faces))
        corner_colors = rgba[np.repeat(face_materials, sizes)]
    _set_corner_colors(mesh, corner_colors)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def add_arkit_shape_keys(obj: bpy.types.Object, basis: np.ndarray, deltas: np.ndarray) -> None:
    """Basis + one key per ARKit name (exact camelCase, contract order), written with foreach_set."""
    if deltas.shape != (len(ARKIT_NAMES), len(basis), 3):
        raise ValueError(f"deltas must be (52, {len(basis)}, 3), got {deltas.shape}")
    add_shape_key(obj, "Basis")
    for name, delta in zip(ARKIT_NAMES, deltas):
        kb = add_shape_key(obj, name)
        kb.data.foreach_set("co", (basis + delta).astype(np.float32).ravel())
        kb.slider_min, kb.slider_max = 0.0, 1.0
    obj.data.shape_keys.use_relative = True


def _build_rig(collection: bpy.types.Collection) -> bpy.types.Object:
    arm = bpy.data.armatures.new(RIG_NAME)
    rig = bpy.data.objects.new(RIG_NAME, arm)
    collection.objects.link(rig)
    view_layer = bpy.context.view_layer
    previous = view_layer.objects.active
    view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        for b in BONES:
            eb = arm.edit_bones.new(b.name)
            eb.head, eb.tail = Vector(b.head), Vector(b.tail)
            eb.use_deform = b.deform
            # Roll so each bone's local Z points forward-ish (-Y) or up, the usual Blender convention.
            eb.align_roll(Vector((0.0, -1.0, 0.0)) if abs(eb.vector.normalized().y) < 0.9 else Vector((0.0, 0.0, 1.0)))
        for b in BONES:
            if b.parent:
                eb = arm.edit_bones[b.name]
                eb.parent = arm.edit_bones[b.parent]
                eb.use_connect = (eb.head - eb.parent.tail).length < 1e-6
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous if previous is not None else rig
    arm.display_type = "STICK"
    rig.show_in_front = True
    return rig


def _skin_body(body: bpy.types.Object, rig: bpy.types.Object, geo: BodyGeometry) -> None:
    for j, bone in enumerate(geo.bone_names):
        vg = body.vertex_groups.new(name=bone)
        col = geo.weights[:, j]
        idx = np.nonzero(col > 0)[0]
        # One add() per distinct weight (weights vary along each limb, not around it): a few hundred calls, and the
        # stored float32 weights equal demo.body's exactly, so an LBS deformer can be compared bit for bit.
        values, inverse = np.unique(col[idx].astype(np.float32), return_inverse=True)
        for k, value in enumerate(values):
            vg.add(idx[inverse == k].tolist(), float(value), "REPLACE")
    mod = body.modifiers.new("Armature", "ARMATURE")
    mod.object = rig
    mod.use_vertex_groups = True
    mod.use_bone_envelopes = False
    body.parent = rig


def _parent_to_bone(obj: bpy.types.Object, rig: bpy.types.Object, bone_name: str, world: Vector) -> None:
    """Bone-parent obj so that it sits at `world` in the rest pose (children hang off the bone's tail)."""
    bone = rig.data.bones[bone_name]
    obj.parent = rig
    obj.parent_type = "BONE"
    obj.parent_bone = bone_name
    tail_frame = rig.matrix_world @ bone.matrix_local @ Matrix.Translation((0.0, bone.length, 0.0))
    obj.matrix_parent_inverse = tail_frame.inverted()
    obj.matrix_basis = Matrix.Translation(world)


def build_demo_character(with_body: bool = True, scene: bpy.types.Scene | None = None) -> DemoCharacter:
    """Create the demo character in `scene` (default: the current one) and return its objects."""
    scene = scene or bpy.context.scene
    collection = bpy.data.collections.new(COLLECTION_NAME)
    scene.collection.children.link(collection)

    head_geo = build_head()
    head = _mesh_object(
        HEAD_NAME,
        head_geo.vertices,
        head_geo.faces,
        head_geo.face_materials,
        MATERIALS,
        collection,
        corner_colors=head_geo.corner_colors,
    )
    add_arkit_shape_keys(head, head_geo.vertices, head_geo.deltas)
    # Parts as vertex groups, so a user (or a test) can select the eyes, lids, teeth or tongue.
    from .head import PART_NAMES

    for k, part in enumerate(PART_NAMES):
        vg = head.vertex_groups.new(name=f"part_{part}")
        vg.add(np.nonzero(head_geo.part == k)[0].tolist(), 1.0, "REPLACE")

    body = rig = None
    body_geo = None
    if with_body:
        body_geo = build_body()
        rig = _build_rig(collection)
        body = _mesh_object(
            BODY_NAME, body_geo.vertices, body_geo.faces, body_geo.face_materials, BODY_MATERIALS, collection
        )
        _skin_body(body, rig, body_geo)
        _parent_to_bone(head, rig, "head", Vector(HEAD_CENTRE))
    else:
        head.location = Vector(HEAD_CENTRE)
    bpy.context.view_layer.update()
    return DemoCharacter(head=head, body=body, rig=rig, head_geometry=head_geo, body_geometry=body_geo)


# Body poses that accompany the sample sequence's expressions (Euler degrees in each bone's local axes; checked by
# tests: upper_arm.L +Z raises the arm, neck +Y turns the face to the character's left, head -X tilts it up).
BODY_POSES: dict[str, dict[str, tuple[float, float, float]]] = {
    "smile": {"upper_arm.L": (0.0, 0.0, 60.0), "forearm.L": (0.0, 0.0, 45.0)},
    "jaw open": {"head": (-6.0, 0.0, 0.0)},
    "brows up": {"head": (-4.0, 0.0, 0.0)},
    "frown": {"head": (6.0, 0.0, 0.0)},
    "look left": {"neck": (0.0, 10.0, 0.0)},
    "look right": {"neck": (0.0, -10.0, 0.0)},
}


def animate_demo_body(
    rig: bpy.types.Object, labels: tuple[str, ...], key_frames: np.ndarray, end_frame: int, start_frame: int = 1
) -> int:
    """Key the rig along with the face (a wave, nods, head turns) so the demo exercises the body path too.

    Every animated bone is keyed at every expression's frame (rest where the expression has no pose), and at rest
    on the first and last frames. Returns the number of keyframes written.
    """
    import math

    bones = sorted({b for pose in BODY_POSES.values() for b in pose})
    count = 0
    frames = [start_frame, *(start_frame + int(f) for f in key_frames), end_frame]
    names = ["", *labels, ""]
    for frame, label in zip(frames, names):
        pose = BODY_POSES.get(label, {})
        for bone in bones:
            pb = rig.pose.bones[bone]
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = [math.radians(a) for a in pose.get(bone, (0.0, 0.0, 0.0))]
            pb.keyframe_insert("rotation_euler", frame=frame, group=bone)
            count += 3
    for pb in rig.pose.bones:
        pb.rotation_euler = (0.0, 0.0, 0.0)
    return count
