"""Artifact I/O: atomic, deterministic writes with provenance.

Outputs appear atomically: data is written to a temporary file in the target directory and renamed
into place, so a killed job never leaves a file that looks complete. NPZ archives are written with a
fixed timestamp so the same arrays give the same bytes.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import struct
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

PROVENANCE_KEY = "__provenance__"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_TRACKED_PACKAGES = ("camsweep", "numpy", "torch", "torchvision", "opencv-python-headless", "scipy", "pandas")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape camsweep's numbers (absent ones are skipped)."""
    versions = {}
    for name in _TRACKED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def provenance(params: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Provenance record: the config subset that made an artifact, plus package versions."""
    record: dict[str, Any] = {"params": dict(params or {}), "versions": package_versions()}
    record.update(extra)
    return record


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A job killed mid-write (SIGKILL skips the cleanup below) leaves its temporary file: drop it now.
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> None:
    """Write arrays (and a JSON ``meta`` record) to an uncompressed .npz, atomically and reproducibly."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        entries = dict(arrays)
        if meta is not None:
            entries[PROVENANCE_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
        for name, value in entries.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def load_npz(path: str | os.PathLike, mmap: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read an archive written by :func:`save_npz`: (arrays, meta).

    With ``mmap``, every member stored uncompressed (as :func:`save_npz` writes them) is a read-only
    ``np.memmap`` of the file, so taking some rows of it reads only those (``np.load``'s ``mmap_mode`` does
    not reach inside a zip); compressed and empty members are read.
    """
    try:
        if mmap:
            arrays = _mapped_members(path)
        else:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from error
    raw = arrays.pop(PROVENANCE_KEY, None)
    meta = json.loads(np.asarray(raw).tobytes().decode()) if raw is not None else {}
    return arrays, meta


_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length
_LOCAL_SIGNATURE = b"PK\x03\x04"


def _mapped_members(path: str | os.PathLike) -> dict[str, np.ndarray]:
    arrays = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            mapped = _mapped_member(path, handle, info) if info.compress_type == zipfile.ZIP_STORED else None
            if mapped is None:
                with archive.open(info) as member:
                    mapped = np.lib.format.read_array(member, allow_pickle=False)
            arrays[name] = mapped
    return arrays


def _mapped_member(path: str | os.PathLike, handle: BinaryIO, info: zipfile.ZipInfo) -> np.ndarray | None:
    """A stored member's array mapped in place: its data start after the zip local header (whose extra
    field may differ from the central directory's) and the .npy header. None where it cannot be mapped."""
    handle.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != _LOCAL_SIGNATURE:
        raise ValueError(f"member {info.filename}: bad zip local header")
    handle.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        return None
    if dtype.hasobject:
        raise ValueError(f"member {info.filename}: object arrays cannot be loaded without pickle")
    if not shape or 0 in shape:
        return None  # an empty mapping is not possible
    return np.memmap(path, dtype=dtype, mode="r", offset=handle.tell(), shape=shape, order="F" if fortran_order else "C")


def save_json(path: str | os.PathLike, record: Any) -> None:
    """Write JSON atomically with sorted keys (stable bytes)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def save_parquet(path: str | os.PathLike, frame: "pandas.DataFrame", meta: Mapping[str, Any] | None = None) -> None:  # noqa: F821
    """Write a DataFrame to parquet atomically, with ``meta`` stored in the file's key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"camsweep": json.dumps(meta, sort_keys=True).encode()}
        )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def load_parquet_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance record stored by :func:`save_parquet` (empty if none)."""
    import pyarrow.parquet as pq

    schema_meta = pq.read_schema(path).metadata or {}
    raw = schema_meta.get(b"camsweep")
    return json.loads(raw) if raw else {}


def save_csv(path: str | os.PathLike, frame: "pandas.DataFrame", float_format: str = "%.6g") -> None:  # noqa: F821
    """Write a table as CSV atomically, with a fixed float format so bytes are stable."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n")
