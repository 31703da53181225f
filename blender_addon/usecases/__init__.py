"""What Facsimile does, once, for the panel, the CLI and batch: one function per use case over an options dataclass.

Operators, commands and batch jobs only parse their input into the options, call the use case and report its result.
Each use case builds the character's RetargetMap once (character.mapping_for: stored mapping, tuning and neutral)
and resolves the device once (preferences.requested_device). Modules: photo (apply a photo, capture a neutral),
bake (video / image sequence), apply (weights files, Live Link import), export (Live Link CSV, solved JSON),
skin (LBS body to PC2, pose-library poses to shape keys), solve (photos and videos to weights, JSON and
Live Link CSV, without Blender: it never imports bpy).
"""
