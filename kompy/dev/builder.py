"""The project's image builds, as ``kompy up`` and ``kompy dev`` use them: the plan and the
builder live with the converter (kompy.convert.builds), which builds for ``kompy convert
--build local`` too, so every command builds the same images under the same names."""

from kompy.convert.builds import BuildPlan, build_images, plan_builds

__all__ = ["BuildPlan", "build_images", "plan_builds"]
