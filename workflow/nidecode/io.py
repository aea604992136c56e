"""netCDF reading and atomic writing."""

from __future__ import annotations

from pathlib import Path

import xarray as xr


def open_netcdf(path: str | Path) -> xr.Dataset:
    """Load a netCDF file fully into memory and close it."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def write_netcdf(ds: xr.Dataset, path: str | Path) -> None:
    """Write ``ds`` to netCDF4 through a temporary file, so a failure leaves nothing behind."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        ds.to_netcdf(tmp, engine="netcdf4")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
