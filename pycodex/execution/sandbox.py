"""Operating-system isolation: namespaces, mounts, limits, an unprivileged uid. Standard library only.

Used by worker.py. Once per worker: C1 calls enter_namespaces() and forks the zygote Z, pid 1 of
the new PID namespace, which calls prepare_zygote() (read-only filesystem, /tmp, /proc, no IPC).
Z also calls prepare_samples() once (no_new_privs, a
scrubbed environment). Per sample: Z makes new_scratch() and forks the sample S, which calls
drop_privileges() (cwd, uid, capabilities) and set_limits(), then runs the harness; Z unmounts the
empty scratches of the samples before, a batch at a time (reap_scratch()), while S runs, and when
S is over moves S's own out of sight, or unmounts it if S wrote to it (clear_scratch()). When Z dies the kernel kills everything
in its namespace. Every step that can fail degrades to a weaker layer and says so.
"""

from __future__ import annotations

import ctypes
import math
import os
import resource

from pycodex.execution import rootfs, seccomp
from pycodex.execution.syscalls import (MNT_DETACH, MS_BIND, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE,
                                        MS_RDONLY, MS_REC, MS_REMOUNT, check, libc, mount, prctl, umount, unshare)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
ISOLATING = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS


_OPTION_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024,
                 "nodiratime": 2048, "relatime": 1 << 21}

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SIGKILL = 9

# Sandbox uids: SANDBOX_UID_BASE + slot for samples, JUDGE_UID_BASE + slot for the strict judge, where
# slot < SLOTS is drawn at random for each worker (executor.py): unique within a run, and a collision
# with another run alive at the same time has a chance of about 1 in 2^28 per pair of workers.
SANDBOX_UID_BASE = 1 << 30
JUDGE_UID_BASE = (1 << 30) + (1 << 28)
SLOTS = 1 << 28
SCRATCH = "/tmp/scratch"
# Where a finished sample's (empty) scratch waits, out of sight, for its unmount: a directory of
# the sample's root covered by an empty read-only mount; Z reaches it through a descriptor opened
# before the cover (no path leads there).
RETIRED = "/tmp/retired"
FILE_SIZE_LIMIT = 16 * 1024 * 1024
OPEN_FILES_LIMIT = 256
PROCESS_LIMIT = 64


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# Built once (in the zygote, by importing this module): in each sample the call is then cheap.
_CAP_HEADER = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
_CAP_NONE = (_CapData * 2)()
libc.capset.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
_CAPSET_ARGS = (ctypes.addressof(_CAP_HEADER), ctypes.addressof(_CAP_NONE))


def drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable capability sets (ambient ones go with them).
    With no_new_privs set they can't come back. Without this, a sample that is root inside a user
    namespace could mount: a bind of the user's files, remounted read-write."""
    check(libc.capset(*_CAPSET_ARGS), "capset")


def install_seccomp() -> tuple[str, bool, str]:
    """In Z, once, after no_new_privs (see seccomp.py)."""
    return seccomp.install(libc)


def enter_namespaces(is_root: bool) -> str:
    """In C1: new PID/net/mount/IPC/UTS namespaces (plus a user namespace when not root).

    Returns the mode the sample will run under: "root", "userns" or "plain" (no namespaces).
    """
    if is_root:
        try:
            unshare(ISOLATING)
            return "root"
        except OSError:
            pass
    uid, gid = os.getuid(), os.getgid()
    try:
        unshare(CLONE_NEWUSER | ISOLATING)
        for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"0 {uid} 1"),
                           ("/proc/self/gid_map", f"0 {gid} 1")):
            with open(path, "w") as f:
                f.write(text)
        return "userns"
    except OSError:
        return "plain"


def _mountpoints() -> list[tuple[str, int]]:
    """(mount point, flags to keep) for every mount visible to this process, shallowest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            target = fields[4].replace("\\040", " ")
            flags = 0
            for opt in fields[5].split(","):
                flags |= _OPTION_FLAGS.get(opt, 0)
            points.append((target, flags))
    points.sort(key=lambda p: p[0].count("/") if p[0] != "/" else 0)
    return points


def remount_read_only(writable: tuple[str, ...] = ("/proc",)) -> list[str]:
    """Remount every mount visible here read-only (in a private mount namespace), except those at
    or under `writable`; returns the mount points that could not be remounted."""
    failed = []
    for target, keep in _mountpoints():
        if any(target == top or target.startswith(top + "/") for top in writable):
            continue
        try:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        except OSError:
            failed.append(target)
    return failed


def _hidden_ancestor(path: str) -> str | None:
    """The first directory on the way to path that other users cannot enter (like /root), or None."""
    current = "/"
    for part in path.strip("/").split("/"):
        current = os.path.join(current, part)
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None
        if os.path.isdir(current) and not mode & 0o001:
            return current if current != path else None
    return None


def _python_paths() -> list[str]:
    """Every directory this interpreter imports from (stdlib, site-packages, an editable checkout)."""
    import sys

    return sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix, *sys.path)
                   if p and os.path.exists(p)})


def remove_tree_on_device(path: str, device: int) -> bool:
    """Remove path and everything below it that lives on `device`, without following symlinks and
    without ever crossing into another mount. True when path is gone. ("plain" mode only: with
    namespaces each sample's scratch is a tmpfs of its own, unmounted afterwards.)"""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if info.st_dev != device:
        return False
    if not os.path.isdir(path) or os.path.islink(path):
        try:
            os.unlink(path)
            return True
        except OSError:
            return False
    try:
        names = os.listdir(path)
    except OSError:
        return False
    if not all([remove_tree_on_device(os.path.join(path, name), device) for name in names]):
        return False
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


def _expose_python(layers: list) -> None:
    """Let the unprivileged uid import the standard library even when Python lives under /root:
    cover the closed directory with an empty tmpfs and bind the Python directories back into it.
    (The strict judge's view; samples get rootfs.py's.)"""
    wanted = _python_paths()
    exposed: list[str] = []
    by_blocker: dict[str, list[str]] = {}
    for path in wanted:
        blocker = _hidden_ancestor(path)
        if blocker and not any(path.startswith(done + "/") for done in by_blocker.get(blocker, [])):
            by_blocker.setdefault(blocker, []).append(path)
    for blocker, paths in by_blocker.items():
        handles = [(path, os.open(path, os.O_PATH)) for path in paths]
        mount("tmpfs", blocker, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for path, fd in handles:
            os.makedirs(path, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
            exposed.append(path)
    if exposed:
        layers.append(("python visible", True, f"{', '.join(exposed)} shown read-only; the rest of {', '.join(by_blocker)} hidden"))


_pid_counter: int | None = None  # Z's descriptor on its PID namespace's ns_last_pid
_pid_range = (300, 32768)


def _open_pid_counter() -> bool:
    """Each sample's pid drawn at random (scatter_pid): otherwise it would count the processes
    every earlier sample of the zygote made, a number each of them chose."""
    global _pid_counter, _pid_range
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            _pid_range = (300, max(1000, min(int(f.read()), 1 << 22) - 1000))
        _pid_counter = os.open("/proc/sys/kernel/ns_last_pid", os.O_WRONLY | os.O_CLOEXEC)
        scatter_pid()
        return True
    except (OSError, ValueError):
        _pid_counter = None
        return False


def scatter_pid() -> None:
    """In Z, before forking a sample: the next pid of the namespace is a random one."""
    if _pid_counter is not None:
        low, high = _pid_range
        os.pwrite(_pid_counter, b"%d" % (low + int.from_bytes(os.urandom(4), "little") % (high - low)), 0)


def _isolate_filesystem(layers: list) -> None:
    """Private mounts, the sample's own root (rootfs.py), a fresh /proc, no IPC, random pids."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    try:  # a /proc of our PID namespace, for the sysctls below (its own, not the samples')
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass
    # No System V IPC or POSIX message queues (refused by seccomp as well): one sample could leave them for the next.
    disabled = []
    for path, value in (("/proc/sys/kernel/shmmni", "0"), ("/proc/sys/kernel/msgmni", "0"),
                        ("/proc/sys/kernel/sem", "0 0 0 0"), ("/proc/sys/fs/mqueue/queues_max", "0")):
        try:
            with open(path, "w") as f:
                f.write(value)
            disabled.append(path.rsplit("/", 1)[-1])
        except OSError:
            pass
    scattered = _open_pid_counter()
    allowed = rootfs.enter_sample_root(SCRATCH, RETIRED)
    _hide_retired()
    layers.append(("filesystem", True, f"an empty root with only the interpreter, the standard library and "
                   f"{len(allowed) - len(rootfs.stdlib_dirs()) - 1} shared libraries, read-only (no site-packages, "
                   "no pycodex, no data); the host's root detached"))
    layers.append(("scratch directory", True, f"{SCRATCH}: a new 64 MiB tmpfs for each sample, the only writable "
                   "place; afterwards moved where no path leads and unmounted"))
    layers.append(("no /proc", True, "the sample's root has no /proc (its entries' inode numbers are a counter "
                   "any process advances); the worker reads the time limits from the host's"))
    layers.append(("no shared IPC", len(disabled) == 4, f"disabled in the sandbox's IPC namespace: {', '.join(disabled) or 'none'}"))
    layers.append(("random pids", scattered, "each sample's pid drawn at random" if scattered
                   else "ns_last_pid not writable: a sample's pid counts the processes made before it"))


def prepare_zygote(mode: str, slot: int) -> list:
    """In the zygote (pid 1 of the sandbox's namespaces), once per worker. Returns its layers."""
    layers: list = []
    namespaced = mode in ("root", "userns")
    layers.append(("namespaces", namespaced, "own PID, network, mount, IPC and UTS namespaces" if namespaced
                   else "unshare not permitted: process group only"))
    layers.append(("no network", namespaced, "empty network namespace" if namespaced else "network reachable"))
    if namespaced:
        _isolate_filesystem(layers)
    else:
        layers.append(("filesystem", False, "no mount namespace: the user's files are readable and writable"))
        layers.append(("scratch directory", True, "fresh temporary directory for each sample, removed afterwards"))
        layers.append(("no /proc", False, "no mount namespace: the host's /proc"))
    return layers


def next_slot(taken: list[int]) -> int:
    """A worker's slot, hence its uids: drawn at random, never one the run has used. Not a count
    (a sample's uid would tell how many workers started before it, that is how many samples were
    slow) nor a pid (pids repeat, in PID namespaces most)."""
    while True:
        slot = int.from_bytes(os.urandom(4), "little") % SLOTS
        if slot not in taken:
            return slot


def sample_uid(mode: str, slot: int) -> int:
    return SANDBOX_UID_BASE + slot if mode == "root" else os.getuid()


def new_scratch(mode: str, slot: int) -> str:
    """An empty scratch directory owned by the sample's uid (called by the zygote per sample): its
    own tmpfs, so that nothing a sample leaves there (a tree too deep to remove, a fifo, a socket)
    can outlive it."""
    if mode == "plain":
        import tempfile

        return tempfile.mkdtemp(prefix="pycodex-sample-")
    uid = sample_uid(mode, slot)
    mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, f"size=64m,mode=0700,uid={uid},gid={uid}")
    return SCRATCH


BATCH = 8  # empty retired scratches unmounted together (one grace period for all)
_retired: int | None = None  # Z's descriptor on RETIRED beneath its cover (None: unmount in place)
_held = 0  # empty scratches moved into RETIRED/batch since it was mounted


def _hide_retired() -> None:
    """In Z, once: a descriptor on RETIRED, an empty read-only tmpfs over it, a batch beneath."""
    global _retired
    try:
        fd = os.open(RETIRED, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        mount("tmpfs", RETIRED, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
        _retired = fd
        _in_retired(_new_batch)
    except OSError:
        _retired = None
        os.close(fd)


def _in_retired(call, *args) -> None:
    """call(*args) with the working directory beneath RETIRED's cover (paths relative to it)."""
    assert _retired is not None
    os.fchdir(_retired)
    try:
        call(*args)
    finally:
        os.chdir("/")


def _new_batch() -> None:
    mount("tmpfs", "batch", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0700")
    for i in range(BATCH):
        os.mkdir(f"batch/{i}", 0o700)


def _unmount(target: str) -> None:
    try:
        umount(target)
    except OSError:
        umount(target, MNT_DETACH)


def _is_empty(scratch: str) -> bool:
    """Nothing written in it: no block used, no inode but its root."""
    found = os.statvfs(scratch)
    return found.f_bfree == found.f_blocks and found.f_files - found.f_ffree <= 1


def clear_scratch(mode: str, scratch: str) -> None:
    """After each sample (in the zygote, every process of the sample gone): its tmpfs unmounted.
    An empty one is moved (which waits for nothing) into RETIRED/batch, where no path leads, and
    reap_scratch() unmounts the batch of them at once; one the sample wrote to is unmounted here."""
    global _held
    if mode == "plain":
        try:
            remove_tree_on_device(scratch, os.lstat(scratch).st_dev)
        except OSError:
            pass
        return
    if _retired is not None and _held < BATCH and _is_empty(scratch):
        try:
            _in_retired(mount, scratch, f"batch/{_held}", None, MS_MOVE)
            _held += 1
            return
        except OSError:
            pass
    _unmount(scratch)


def reap_scratch() -> None:
    """In the zygote, once the next sample is forked: a full batch of retired scratches unmounted
    (one RCU grace period for BATCH of them, waited for while the sample runs) and a new batch."""
    global _held
    if _held >= BATCH:
        _in_retired(umount, "batch", MNT_DETACH)
        _held = 0
        _in_retired(_new_batch)


def _set_limits(memory_mb: int, timeout: float, mode: str, layers: list) -> None:
    cpu = math.ceil(timeout) + 1
    limits = [
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT),
        (resource.RLIMIT_NOFILE, OPEN_FILES_LIMIT),
        (resource.RLIMIT_CORE, 0),
    ]
    if mode == "root":  # per-slot uid: the count starts at zero. Elsewhere it would count the user's own processes.
        limits.append((resource.RLIMIT_NPROC, PROCESS_LIMIT))
    for which, value in limits:
        resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
    what = f"memory {memory_mb} MiB, CPU {cpu} s, files {FILE_SIZE_LIMIT >> 20} MiB, {OPEN_FILES_LIMIT} fds, no core dumps"
    if mode == "root":
        what += f", {PROCESS_LIMIT} processes"
    layers.append(("resource limits", True, what))


def prepare_samples() -> list:
    """In the zygote, once, what every sample inherits: no_new_privs and a scrubbed environment.
    Returns their layers."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": SCRATCH, "LANG": "C.UTF-8", "TMPDIR": SCRATCH})
    return [("no new privileges", True, "no_new_privs set, no capabilities, not dumpable"),
            ("clean environment", True, "environment scrubbed, stdin empty, other descriptors closed")]


def drop_privileges(mode: str, slot: int, scratch: str) -> list:
    """In the sample's process, before its code: cwd, uid, capabilities (no_new_privs and the
    environment come from prepare_samples)."""
    if mode == "plain":
        os.setsid()  # its own process group, which the zygote kills afterwards
        os.environ["HOME"] = os.environ["TMPDIR"] = scratch
    os.chdir(scratch)
    if mode == "root":
        uid = sample_uid(mode, slot)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        layer = ("unprivileged user", True, f"runs as uid {uid}")
    else:
        layer = ("unprivileged user", mode == "userns",
                 "root only inside its user namespace" if mode == "userns" else "runs as the invoking user")
    prctl(PR_SET_DUMPABLE, 0)
    if mode == "plain":  # (in a PID namespace the kernel kills S with Z, its pid 1)
        prctl(PR_SET_PDEATHSIG, SIGKILL)  # fork cleared it
    drop_capabilities()
    return [layer]


def set_limits(mode: str, memory_mb: int, timeout: float) -> list:
    """Once the job is known (limits can only be lowered by then, which is all they need)."""
    layers: list = []
    _set_limits(memory_mb, timeout, mode, layers)
    return layers
