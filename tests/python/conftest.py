"""pytest configuration for dolibak's Python tests.

The real-server fixtures live in their own plugin modules so that each can be
used alone: ``pg_server`` (PostgreSQL from Debian's packages) and ``s3_server``
(moto's server mode with signature checking on).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "testenv"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)

# The built Python module: the test command exports DOLIBAK_PYTHONPATH.
_build = os.environ.get("DOLIBAK_PYTHONPATH")
if _build:
    sys.path.insert(0, _build)

pytest_plugins = ["fixtures_pg", "fixtures_s3"]
