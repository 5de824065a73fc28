"""Whether a process of this host still runs, without signalling it: how a run sees that a lock's holder died.

    pid_alive(4242) -> True | False

POSIX: `os.kill(pid, 0)` checks without sending anything. Windows has no signal 0: there `os.kill` with any value
but CTRL_C_EVENT/CTRL_BREAK_EVENT terminates the process, and 0 *is* CTRL_C_EVENT, which would interrupt a whole
console group. So on Windows the process is opened for a query and its exit code read (STILL_ACTIVE while it
runs), through the kernel32 API.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259
_ERROR_ACCESS_DENIED = 5


def pid_alive(pid: int) -> bool:
    if sys.platform == "win32":
        return windows_pid_alive(pid, ctypes.windll.kernel32)  # type: ignore[attr-defined]
    return posix_pid_alive(pid)


def posix_pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def windows_pid_alive(pid: int, kernel32: Any) -> bool:
    """`kernel32`: ctypes.windll.kernel32, or a test's object with the same three functions and GetLastError."""
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        # Access denied: it exists, under another user; any other failure (invalid parameter): no such process.
        return kernel32.GetLastError() == _ERROR_ACCESS_DENIED
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True  # cannot tell: treat as alive, so only the lock's age can free it
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)

