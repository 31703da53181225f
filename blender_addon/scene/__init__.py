"""bpy adapters between Blender data and core arrays: a character's stored mapping and last solve, shape
keys, armatures read into skeletons, body motion baked to point caches, generated shape keys."""
