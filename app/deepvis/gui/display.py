"""Can a window open here? Checked before Qt starts, because Qt aborts the whole process (no
exception, a core dump) when its platform plugin cannot load or its display cannot be reached.

No Qt is imported here: the checks use the environment, sockets and the dynamic loader.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys

HEADLESS_WAYS = ("Headless, use `deepvis snapshot INPUT --out FILE.png` or `deepvis probe INPUT`, "
                 "or run under a virtual display (xvfb-run deepvis)")
NO_DISPLAY = f"no display: the window needs one. {HEADLESS_WAYS}"

# The shared libraries Qt's xcb platform plugin loads, with the Debian/Ubuntu package of each.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",  # not on a fresh desktop: needed since Qt 6.5
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
}


def library_loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def missing_xcb_packages() -> list[str]:
    """The Debian/Ubuntu packages whose libraries Qt's xcb plugin needs and cannot load."""
    return [package for library, package in XCB_LIBRARIES.items() if not library_loads(library)]


def x_display_reachable(display: str, timeout: float = 1.0) -> bool:
    """Whether an X server answers at DISPLAY (":0", ":42.0", "host:10", "unix:0")."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix"):
        for address in (f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"):  # file, abstract
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        return False
    try:
        socket.create_connection((host, 6000 + int(number)), timeout=timeout).close()
        return True
    except OSError:
        return False


def wayland_reachable(name: str) -> bool:
    path = name if os.path.isabs(name) else os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), name)
    return os.path.exists(path)


def display_problem(environ=None, platform: str | None = None) -> str | None:
    """None when the window can open; else the one line that says why not and what to do."""
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "")
    display, wayland = environ.get("DISPLAY", ""), environ.get("WAYLAND_DISPLAY", "")
    if chosen and not chosen.startswith(("xcb", "wayland")):
        return None  # offscreen, vnc, eglfs...: the user chose a platform that needs no display
    if chosen.startswith("wayland") or (wayland and not chosen and not display):
        if wayland and wayland_reachable(wayland):
            return None
        return f"Wayland display {wayland or '(none)'} is not reachable: the window needs one. {HEADLESS_WAYS}"
    if not display:
        return NO_DISPLAY
    if not x_display_reachable(display):
        return f"display {display} is not reachable: the window needs one. {HEADLESS_WAYS}"
    missing = missing_xcb_packages()
    if missing:
        return (f"the window needs system libraries that are missing ({', '.join(missing)}): "
                f"sudo apt-get install {' '.join(missing)}")
    return None
