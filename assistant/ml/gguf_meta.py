"""Reading a GGUF file's metadata header without loading the model.

The describer's import checks need two or three keys (`general.architecture`, the projector type); a
full GGUF reader decodes every field, including a 150k-entry vocabulary, which takes seconds on a big
model. This walks the key–value section once, skipping the values it is not asked for.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"

# value type -> struct format of a scalar (GGUF v2/v3); 8 = string, 9 = array
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
MAX_KEYS = 1 << 20
MAX_STRING = 1 << 26  # 64 MB: a chat template is a few kB; more than this is a damaged file


class GGUFError(ValueError):
    """Not a GGUF file, or a damaged header; the message says what was wrong."""


def _read(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise GGUFError("the header ends early (truncated file)")
    return data


def _unpack(fh: BinaryIO, fmt: str):
    return struct.unpack(fmt, _read(fh, struct.calcsize(fmt)))[0]


def _string(fh: BinaryIO, keep: bool = True) -> str | None:
    n = _unpack(fh, "<Q")
    if n > MAX_STRING:
        raise GGUFError(f"a string of {n} bytes in the header (damaged file)")
    if not keep:
        fh.seek(n, 1)
        return None
    return _read(fh, n).decode("utf-8", errors="replace")


def _value(fh: BinaryIO, vtype: int, keep: bool):
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        v = _unpack(fh, fmt)
        return v if keep else None
    if vtype == _STRING:
        return _string(fh, keep)
    if vtype == _ARRAY:
        etype, count = _unpack(fh, "<I"), _unpack(fh, "<Q")
        if etype in _SCALARS:
            size = struct.calcsize(_SCALARS[etype]) * count
            if not keep:
                fh.seek(size, 1)
                return None
            return [_value(fh, etype, True) for _ in range(count)]
        if keep:
            return [_value(fh, etype, True) for _ in range(count)]
        for _ in range(count):
            _value(fh, etype, False)
        return None
    raise GGUFError(f"unknown value type {vtype} in the header (damaged file, or a newer GGUF version)")


def read_metadata(path: Path | str, keys: set[str] | None = None) -> dict:
    """The header's key–value pairs (only `keys` when given). GGUFError for anything not a GGUF."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != MAGIC:
                raise GGUFError("not a GGUF file (no GGUF magic at the start)")
            version = _unpack(fh, "<I")
            if version not in (2, 3):
                raise GGUFError(f"GGUF version {version} is not supported (2 and 3 are)")
            _unpack(fh, "<Q")  # tensor count
            n_kv = _unpack(fh, "<Q")
            if n_kv > MAX_KEYS:
                raise GGUFError(f"{n_kv} metadata keys (damaged file)")
            out: dict = {}
            for _ in range(n_kv):
                key = _string(fh)
                vtype = _unpack(fh, "<I")
                want = keys is None or key in keys
                value = _value(fh, vtype, want)
                if want:
                    out[key] = value
                if keys is not None and len(out) == len(keys):
                    break
            return out
    except OSError as exc:
        raise GGUFError(f"cannot read the file ({exc.strerror or exc})") from None
