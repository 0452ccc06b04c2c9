"""d2l 14.12 against nstlib's fast path: measurement (speed.py) and its report (report.py)."""
