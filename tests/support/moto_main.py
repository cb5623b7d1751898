"""`moto_server` with the fixes of `moto_fixes` applied: `python -m tests.support.moto_main`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from moto.server import main

from tests.support import moto_fixes

if __name__ == "__main__":
    moto_fixes.apply()
    main(sys.argv[1:])
