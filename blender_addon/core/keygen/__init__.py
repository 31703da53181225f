"""Generate the 52 ARKit shape keys on a head that has none (bpy-free maths).

landmarks on the mesh -> ICT identity + pose fit (fit) -> non-rigid registration of the ICT face onto the head
(register) -> lip/lid regions from topology (regions) -> displacement transfer with falloff (transfer) -> checks
(quality). The Blender side (renders, ray casts, writing keys) is blender_addon/keygen_blender.py.
"""
