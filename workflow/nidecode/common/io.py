"""netCDF reading and the one atomic-write helper every output goes through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import xarray as xr


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; rename it to ``path`` only on success.

    A job that fails (or is killed) mid-write leaves nothing that looks complete, and never
    touches an existing ``path`` until the new file is whole. ``suffix`` keeps an extension
    that writers insist on (pynwb wants ``.nwb``).
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial{suffix}")
    try:
        yield tmp
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def open_netcdf(path: str | Path) -> xr.Dataset:
    """Load a netCDF file fully into memory and close it."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def write_netcdf(ds: xr.Dataset, path: str | Path) -> None:
    """Write ``ds`` to netCDF4 atomically."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
