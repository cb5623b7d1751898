"""Installs the network guard (and, when asked, a crash point) in credctl processes
started by the tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.support import crashpoint, netguard

netguard.install()
crashpoint.install()
del sys.path[0]
