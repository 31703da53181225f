"""Generate the 52 ARKit shape keys on a head that has none (bpy-free maths).

landmarks on the mesh -> sunken lid margins dropped (lid_margins), mirror partners averaged on a mirror-built head
(symmetry) -> ICT identity + pose fit (fit) -> non-rigid registration of the ICT face onto the head
(register) -> lip/lid regions from topology (regions) -> displacement transfer with falloff (transfer) -> checks
(quality); rigid keys of the eye and teeth meshes (rigid). The Blender side (renders, ray casts, writing keys) is
blender_addon/scene/keygen_blender.py.
"""
