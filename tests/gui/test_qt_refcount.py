"""Guards the pinned Qt binding: PySide6 6.12.0 (with Python 3.11) released a reference to None on
every call of a method returning void, so a GUI session crashed with "Fatal Python error: none_dealloc"
once None's count ran out (a few seconds of scrolling a big library was enough). This test fails on
such a binding long before users would see the crash."""

from __future__ import annotations

import gc
import sys


def test_void_calls_keep_none_and_bools_alive(qapp):
    from PySide6.QtGui import QImageReader
    from PySide6.QtWidgets import QLabel, QWidget

    label, widget, reader = QLabel(), QWidget(), QImageReader()
    calls = (lambda: label.setText("x"), lambda: widget.setEnabled(True), lambda: reader.setQuality(50))
    for call in calls:
        call()
        gc.collect()
        before = (sys.getrefcount(None), sys.getrefcount(True))
        for _ in range(500):
            call()
        gc.collect()
        after = (sys.getrefcount(None), sys.getrefcount(True))
        assert after[0] - before[0] > -100, "the Qt binding leaks releases of None (PySide6 6.12.0?)"
        assert after[1] - before[1] > -100, "the Qt binding leaks releases of True"
