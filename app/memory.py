"""Keep workers' memory flat: large blocks (argon2's working memory) go back to the system when freed.

glibc's malloc raises its mmap threshold after the first large block is freed, so later blocks of that size
come from the thread's heap and stay there: every thread that once checked a password keeps
ARGON2_MEMORY_COST KiB for good. A fixed threshold (MALLOC_MMAP_THRESHOLD bytes) turns that adjustment off,
so blocks above it are mapped and unmapped each time. No effect outside glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h


def set_mmap_threshold(size: int) -> bool:
    """Ask glibc to map blocks of `size` bytes or more on their own; False where that is not possible."""
    if size <= 0:
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, size) == 1
