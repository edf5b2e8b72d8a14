"""The package's one compiled part; everything else is declared in pyproject.toml.

(setuptools reads C extensions from pyproject.toml only experimentally, with a warning on
every install.)"""

from setuptools import Extension, setup

setup(
    # the scan that finds a key repeated in one JSON object (cxreports/jsonkeys.py)
    ext_modules=[Extension("cxreports._jsonkeys", ["cxreports/_jsonkeys.c"])],
)
