"""Facsimile's Blender-free core: numpy, OpenCV and onnxruntime only (never bpy, never torch)."""
