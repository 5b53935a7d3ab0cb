"""The sample's filesystem: the interpreter, the standard library and the shared libraries they
load, read-only, on an otherwise empty root; a fresh tmpfs for each sample's scratch. Standard
library only (used by the zygote, see sandbox.py).

Z builds the root once, in its own mount namespace: a small tmpfs holding the directories on the
way to each allowed path (host symlinks such as /lib -> usr/lib copied as symlinks), each allowed
file or directory bind-mounted read-only at its own path, /dev with four devices, /tmp (no
/proc); then pivot_root into it and detach the old root, so that nothing else of the host is
reachable by any path (no site-packages, no pycodex, no problem data, no home, no project). The
standard library's site-packages and dist-packages are covered by empty read-only tmpfs mounts.
"""

from __future__ import annotations

import os
import struct
import sys
import sysconfig

HIDDEN = ("site-packages", "dist-packages")
DEVICES = ("null", "full", "random", "urandom")  # (not /dev/zero: its shared mappings are memfds)
_PT_INTERP, _PT_LOAD, _PT_DYNAMIC = 3, 1, 2
_DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 1, 5, 15, 29
_U64, _PHENT_NUM = struct.Struct("<Q"), struct.Struct("<HH")
_PHDR = struct.Struct("<IIQQQQ")  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz
_DYN = struct.Struct("<qQ")  # d_tag, d_val


def stdlib_dirs() -> list[str]:
    """The standard library's directories (its .py files, lib-dynload, the zip when there is one)."""
    found = {os.path.dirname(os.path.realpath(os.__file__))}
    for path in sys.path:
        if path.endswith(("lib-dynload", ".zip")) and os.path.exists(path):
            found.add(os.path.realpath(path))
    return sorted(found)


def _elf_dependencies(path: str) -> tuple[str | None, list[str], list[str]]:
    """(program interpreter, DT_NEEDED names, run paths) of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return None, [], []
        phoff, phentsize, phnum = _U64.unpack_from(header, 32)[0], *_PHENT_NUM.unpack_from(header, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        loads, dynamic, interp = [], None, None
        for i in range(phnum):
            kind, _, offset, vaddr, _, size = _PHDR.unpack_from(table, i * phentsize)
            if kind == _PT_LOAD:
                loads.append((vaddr, offset, size))
            elif kind == _PT_DYNAMIC:
                dynamic = (offset, size)
            elif kind == _PT_INTERP:
                f.seek(offset)
                interp = f.read(size).rstrip(b"\0").decode()
        if dynamic is None:
            return interp, [], []
        f.seek(dynamic[0])
        raw = f.read(dynamic[1])
        entries = list(_DYN.iter_unpack(raw[:len(raw) // 16 * 16]))
        strtab = next((value for tag, value in entries if tag == _DT_STRTAB), None)
        base = next((strtab - vaddr + offset for vaddr, offset, size in loads
                     if strtab is not None and vaddr <= strtab < vaddr + size), None)
        if base is None:
            return interp, [], []

        def string(at: int) -> str:
            f.seek(base + at)
            return f.read(4096).split(b"\0", 1)[0].decode(errors="replace")

        needed = [string(value) for tag, value in entries if tag == _DT_NEEDED]
        runpaths = [p for tag, value in entries if tag in (_DT_RPATH, _DT_RUNPATH) for p in string(value).split(":") if p]
        return interp, needed, runpaths


def _library_dirs() -> list[str]:
    arch = sysconfig.get_config_var("MULTIARCH") or f"{os.uname().machine}-linux-gnu"
    dirs = []
    try:
        for name in sorted(os.listdir("/etc/ld.so.conf.d")):
            with open(os.path.join("/etc/ld.so.conf.d", name)) as f:
                dirs += [line.strip() for line in f if line.strip().startswith("/")]
    except OSError:
        pass
    return dirs + [f"/lib/{arch}", f"/usr/lib/{arch}", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]


def shared_libraries(programs: list[str]) -> list[str]:
    """Every shared library the programs load (and the ELF interpreter), as the loader finds them."""
    system, found, queue = tuple(_library_dirs()), [], list(programs)
    seen = set(queue)
    where: dict[tuple[str, tuple[str, ...]], str] = {}  # (name, search path) -> the library found
    while queue:
        program = queue.pop()
        try:
            interp, needed, runpaths = _elf_dependencies(program)
        except (OSError, ValueError, IndexError):
            continue
        dirs = system
        if runpaths:
            origin = os.path.dirname(os.path.realpath(program))
            dirs = tuple(p.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for p in runpaths) + system
        names = [interp] if interp else []
        for name in needed:
            if "/" not in name and (name, dirs) not in where:
                where[name, dirs] = next((os.path.join(d, name) for d in dirs if os.path.exists(os.path.join(d, name))), "")
            names.append(name if "/" in name else where[name, dirs])
        for path in names:
            if path and path not in seen and os.path.exists(path):
                seen.add(path)
                found.append(path)
                queue.append(path)
    return found


def allowed_paths() -> tuple[list[str], list[str]]:
    """(directories, files) a sample may read: the standard library; the interpreter, its shared
    libraries and those of the standard library's extension modules."""
    dirs = stdlib_dirs()
    modules = [os.path.join(d, name) for d in dirs if os.path.isdir(d) for name in os.listdir(d) if name.endswith(".so")]
    programs = [os.path.realpath(sys.executable)]
    return dirs, programs + shared_libraries(programs + modules)


class _Plan:
    """What to create under the new root, worked out on the host before anything is covered."""

    def __init__(self) -> None:
        self.dirs: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.binds: list[tuple[str, int, bool]] = []  # (path, O_PATH descriptor of the source, a directory)
        self._done: set[str] = set()

    def add(self, path: str) -> None:
        """Make path reachable in the new root as on the host: symlinks on the way copied as
        symlinks, the target itself bound."""
        current = "/"
        parts = [p for p in path.split("/") if p]
        for index, part in enumerate(parts):
            current = os.path.join(current, part)
            if current in self._done:
                if os.path.islink(current):
                    self.add(os.path.realpath(current) + "/" + "/".join(parts[index + 1:]))
                    return
                continue
            self._done.add(current)
            if os.path.islink(current):
                self.links.append((current, os.readlink(current)))
                self.add(os.path.realpath(current) + "/" + "/".join(parts[index + 1:]))
                return
            if index < len(parts) - 1:
                self.dirs.append(current)
            else:
                self.binds.append((current, os.open(current, os.O_PATH | os.O_CLOEXEC), os.path.isdir(current)))

    def add_tree(self, path: str) -> None:
        if not any(path == bound or path.startswith(bound + "/") for bound, _, is_dir in self.binds if is_dir):
            self.add(path)


def _build(plan: _Plan, staging: str, hidden: list[str]) -> None:
    from pycodex.execution.syscalls import MS_BIND, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, mount, mount_flags

    for path in plan.dirs:
        os.makedirs(staging + path, mode=0o755, exist_ok=True)
    for path, target in plan.links:
        os.makedirs(os.path.dirname(staging + path), mode=0o755, exist_ok=True)
        if not os.path.lexists(staging + path):
            os.symlink(target, staging + path)
    for path, fd, is_dir in plan.binds:
        target = staging + path
        if is_dir:
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o444))
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags(fd))
        os.close(fd)
    for path in hidden:  # the standard library's site-packages: an empty read-only directory
        mount("tmpfs", staging + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")


def enter_sample_root(scratch: str, retired: str) -> list[str]:
    """In Z, root of its own mount namespace (private propagation): build the root and pivot into
    it, with an empty `scratch` and `retired`/batch (sandbox.py hides `retired`). Returns the
    allowed paths (for sandbox-info). There is no /proc: each of its entries takes
    its inode number from the counter that pipes and sockets use (see seccomp.py), and
    the standard library needs none of it."""
    from pycodex.execution.syscalls import MNT_DETACH, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REMOUNT, mount, pivot_root, umount

    dirs, files = allowed_paths()
    plan = _Plan()
    for path in dirs + files + [f"/dev/{name}" for name in DEVICES]:
        if os.path.exists(path):
            plan.add_tree(path)
    hidden = [os.path.join(d, name) for d in dirs for name in HIDDEN if os.path.isdir(os.path.join(d, name))]
    staging = "/tmp"  # (every source is held open by then: covering the host's /tmp loses nothing)
    mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    _build(plan, staging, hidden)
    for name in ("tmp", scratch.strip("/"), os.path.join(retired.strip("/"), "batch")):
        os.makedirs(os.path.join(staging, name), mode=0o755, exist_ok=True)
    os.chdir(staging)
    pivot_root(".", ".")
    umount(".", MNT_DETACH)  # the old root: nothing of the host is reachable now
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _forget_the_host(dirs, files[0])
    return dirs + files


def _forget_the_host(dirs: list[str], executable: str) -> None:
    """Python's own view: imports from the standard library only; modules loaded from anywhere
    else (site-packages, pycodex) dropped, so that a sample's import finds nothing."""
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) in dirs]
    sys.path_importer_cache.clear()
    import importlib.machinery

    importlib.machinery.PathFinder.find_spec("_pycodex_warm")  # each path's finder made (and its listing read) here, once
    sys.executable = sys._base_executable = executable  # type: ignore[attr-defined]
    sys.prefix, sys.exec_prefix = sys.base_prefix, sys.base_exec_prefix
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if where and not any(os.path.realpath(where).startswith(d + "/") for d in dirs):
            del sys.modules[name]
