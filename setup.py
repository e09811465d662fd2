"""Package layout for CPython installs (metadata lives in pyproject.toml).

lib/microticket is the library (the same files a board gets); ports/cpython holds the top-level stand-ins
for MicroPython built-ins (cryptolib, micropython) that lib/ imports by those names.
"""

import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "lib")
packages = sorted(os.path.relpath(d, LIB).replace(os.sep, ".")
                  for d, _, files in os.walk(os.path.join(LIB, "microticket")) if "__init__.py" in files)
setup(
    package_dir={"microticket": "lib/microticket", "": "ports/cpython"},
    packages=packages,
    py_modules=["cryptolib", "micropython"],
)
