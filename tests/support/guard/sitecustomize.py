"""Installs the network guard in credctl processes started by the tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.support import netguard

netguard.install()
del sys.path[0]
