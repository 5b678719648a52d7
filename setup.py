"""The package list, which pyproject.toml cannot express: every ``kompy*`` package plus
``kompy.templates``, whose files live in the top-level ``templates/`` folder (package-dir in
pyproject.toml). ``find_packages`` only sees folders under ``kompy/``, so without this a
wheel (pip install, pre-commit's hook environment) shipped no templates."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["kompy*"]), "kompy.templates"])
