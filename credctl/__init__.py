"""credctl: keep a team's credentials reference table true."""

__version__ = "0.2.0"
