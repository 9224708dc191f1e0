"""The compiled parts of the package; everything else is in pyproject.toml. (Extensions
are declared here because setuptools' pyproject.toml form for them is experimental.)"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("ingest.numbers_kernel", ["ingest/numbers_kernel.pyx"]),
        Extension("ingest.dedupe_kernel", ["ingest/dedupe_kernel.pyx"]),
    ],
)
