"""The malloc settings every workflow job inherits (nidecode.common.constants.MALLOC_REUSE).

glibc accepts an mmap threshold of at most 32 MiB on 64-bit machines and silently keeps its
default above that, so a larger value would look set and do nothing.
"""

from __future__ import annotations

from nidecode.common.constants import MALLOC_REUSE


def test_values_are_ones_glibc_accepts():
    assert set(MALLOC_REUSE) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                 "MALLOC_TOP_PAD_"}
    threshold = int(MALLOC_REUSE["MALLOC_MMAP_THRESHOLD_"])
    assert 0 < threshold <= 32 * 2**20
    # Freed memory is kept (not trimmed) at least up to what one mmap-free block can be.
    assert int(MALLOC_REUSE["MALLOC_TRIM_THRESHOLD_"]) >= threshold

