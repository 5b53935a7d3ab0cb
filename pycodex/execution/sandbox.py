"""Operating-system isolation: namespaces, mounts, limits, an unprivileged uid. Standard library only.

Used by worker.py. Once per worker: C1 calls enter_namespaces() and forks the zygote Z, pid 1 of
the new PID namespace, which calls prepare_zygote() (read-only filesystem, /tmp, /proc, no IPC).
Z also calls prepare_samples() once (no_new_privs, a
scrubbed environment). Per sample: Z makes new_scratch() and forks the sample S, which calls
drop_privileges() (cwd, uid, capabilities) and set_limits(), then runs the harness. When Z dies the kernel kills everything
in its namespace. Every step that can fail degrades to a weaker layer and says so.
"""

from __future__ import annotations

import ctypes
import math
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
ISOLATING = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
_OPTION_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
                 "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SIGKILL = 9

SANDBOX_UID_BASE = 60000  # + worker slot: each slot its own uid, so RLIMIT_NPROC is per slot
JUDGE_UID_BASE = 70000  # + worker slot: the strict judge's uid, never a sample's (60000-64999)
SCRATCH = "/tmp/scratch"
FILE_SIZE_LIMIT = 16 * 1024 * 1024
OPEN_FILES_LIMIT = 256
PROCESS_LIMIT = 64

# libc through the interpreter's own symbols: ctypes.util would import subprocess and threading,
# whose at-fork handlers every sample would then run.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# Built once (in the zygote, by importing this module): in each sample the call is then cheap.
_CAP_HEADER = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
_CAP_NONE = (_CapData * 2)()
_libc.capset.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
_CAPSET_ARGS = (ctypes.addressof(_CAP_HEADER), ctypes.addressof(_CAP_NONE))


def drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable capability sets (ambient ones go with them).
    With no_new_privs set they can't come back. Without this, a sample that is root inside a user
    namespace could mount: a bind of the user's files, remounted read-write."""
    _check(_libc.capset(*_CAPSET_ARGS), "capset")


# seccomp: a sample may not change what SIGCHLD does. Ignoring it (or SA_NOCLDWAIT) makes the
# kernel reap children on its own, and an auto-reaped child's CPU time is added to nobody's
# rusage: the time limits (limits.py) could not see it. Foreign system-call ABIs are refused too
# (they would dodge the check). Built and installed once, in the zygote: every sample inherits it.
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 13, True), "aarch64": (0xC00000B7, 134, False)}.get(os.uname().machine)
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
_SIGCHLD = 17


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _sigchld_filter() -> _SockFprog | None:
    if _SECCOMP_ARCH is None:
        return None
    arch, rt_sigaction, x32 = _SECCOMP_ARCH
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    code = [(load, 0, 0, 4),  # arch
            (jeq, 1, 0, arch), (ret, 0, 0, deny),
            (load, 0, 0, 0)]  # system call number
    if x32:
        code += [(jge, 0, 1, 0x40000000), (ret, 0, 0, deny)]
    # (jump offsets count from the next instruction)
    code += [(jeq, 0, 6, rt_sigaction),  # not rt_sigaction: allowed
             (load, 0, 0, 16), (jeq, 0, 4, _SIGCHLD),  # args[0]: the signal; another one: allowed
             (load, 0, 0, 24), (jeq, 0, 3, 0),  # args[1], the new action: its low half, then its high half;
             (load, 0, 0, 28), (jeq, 0, 1, 0),  # NULL (only reading the action): allowed
             (ret, 0, 0, allow), (ret, 0, 0, deny)]
    program = (_SockFilter * len(code))(*[_SockFilter(*op) for op in code])
    fprog = _SockFprog(len(code), ctypes.cast(program, ctypes.POINTER(_SockFilter)))
    fprog.program = program  # (the instructions must live as long as the header pointing at them)
    return fprog


_SECCOMP_PROGRAM = _sigchld_filter()


def forbid_sigchld_changes() -> tuple[str, bool, str]:
    """In the sample, before its code (no_new_privs is set): rt_sigaction(SIGCHLD, new action)
    fails with EPERM. Returns its layer."""
    what = "changing SIGCHLD's action refused (no auto-reaped children hiding their CPU time)"
    if _SECCOMP_PROGRAM is None:
        return ("seccomp", False, f"no filter for {os.uname().machine}: auto-reaped children's CPU time can hide")
    ret = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(_SECCOMP_PROGRAM), 0, 0)
    if ret != 0:
        return ("seccomp", False, f"filter refused ({os.strerror(ctypes.get_errno())}): auto-reaped children's CPU time can hide")
    return ("seccomp", True, what)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


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
    return sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix, *sys.path)
                   if p and os.path.exists(p)})


# Top-level names in the private /tmp that hold Python's own directories, bound back read-only
# (a virtual environment or checkout under /tmp). Set once in the zygote; clean-ups keep them.
KEPT_IN_TMP: set[str] = set()


def _mount_private_tmp() -> list[str]:
    """A fresh root-owned tmpfs on /tmp. Python's directories that lived under /tmp would vanish
    with it: bind them back, read-only."""
    outermost: list[str] = []
    for path in _python_paths():  # sorted: a parent comes before its children
        if path.startswith("/tmp/") and not any(path.startswith(done + "/") for done in outermost):
            outermost.append(path)
    handles = [(path, os.open(path, os.O_PATH)) for path in outermost]
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=0755")
    for path, fd in handles:
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        os.close(fd)
        KEPT_IN_TMP.add(path.split("/")[2])
    return outermost


def remove_tree_on_device(path: str, device: int) -> bool:
    """Remove path and everything below it that lives on `device`, without following symlinks and
    without ever crossing into another mount (a sample that managed to bind the user's files
    somewhere under it must not make the clean-up delete them). True when path is gone."""
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
    gone = all([remove_tree_on_device(os.path.join(path, name), device) for name in names])
    if not gone:
        return False
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


_stale = 0


def clear_tmp(mode: str, scratch: str) -> None:
    """After each sample (in the zygote): remove what it left in the scratch directory and anywhere
    else in the private /tmp, on the tmpfs only. Whatever can't go (a mount the sample somehow
    made) is moved aside, out of the next sample's way."""
    global _stale
    if mode == "plain":
        try:
            remove_tree_on_device(scratch, os.lstat(scratch).st_dev)
        except OSError:
            pass
        return
    device = os.lstat("/tmp").st_dev
    for name in os.listdir("/tmp"):
        if name in KEPT_IN_TMP or name.startswith(".stale-"):
            continue
        path = os.path.join("/tmp", name)
        if not remove_tree_on_device(path, device) and os.path.lexists(path):
            _stale += 1
            try:
                os.rename(path, f"/tmp/.stale-{_stale}")
            except OSError:
                pass


def _expose_python(layers: list) -> None:
    """Let the unprivileged uid import the standard library even when Python lives under /root:
    cover the closed directory with an empty tmpfs and bind the Python directories back into it."""
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


def _isolate_filesystem(uid: int, layers: list) -> None:
    """Private mounts, everything read-only, a root-owned tmpfs on /tmp, a fresh /proc."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if uid != os.getuid():
        _expose_python(layers)
    failed = remount_read_only()
    layers.append(("read-only filesystem", not failed,
                   "every mount remounted read-only (/dev/shm and /var/tmp included)" if not failed
                   else f"could not remount {', '.join(failed[:3])}"))
    kept = _mount_private_tmp()
    layers.append(("scratch directory", True, f"{SCRATCH} on a 64 MiB tmpfs, the only writable place; new for each sample"
                   + (f" ({', '.join(kept)} bound back read-only)" if kept else "")))
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
        layers.append(("private /proc", True, "fresh /proc: only the sandbox's PID namespace, other users' processes hidden"))
    except OSError as exc:
        layers.append(("private /proc", False, f"mount proc failed: {exc.strerror}"))
    # No System V IPC or POSIX message queues: one sample could leave them for the next.
    disabled = []
    for path, value in (("/proc/sys/kernel/shmmni", "0"), ("/proc/sys/kernel/msgmni", "0"),
                        ("/proc/sys/kernel/sem", "0 0 0 0"), ("/proc/sys/fs/mqueue/queues_max", "0")):
        try:
            with open(path, "w") as f:
                f.write(value)
            disabled.append(path.rsplit("/", 1)[-1])
        except OSError:
            pass
    layers.append(("no shared IPC", len(disabled) == 4, f"disabled in the sandbox's IPC namespace: {', '.join(disabled) or 'none'}"))


def prepare_zygote(mode: str, slot: int) -> list:
    """In the zygote (pid 1 of the sandbox's namespaces), once per worker. Returns its layers."""
    layers: list = []
    namespaced = mode in ("root", "userns")
    layers.append(("namespaces", namespaced, "own PID, network, mount, IPC and UTS namespaces" if namespaced
                   else "unshare not permitted: process group only"))
    layers.append(("no network", namespaced, "empty network namespace" if namespaced else "network reachable"))
    if namespaced:
        _isolate_filesystem(sample_uid(mode, slot), layers)
    else:
        layers.append(("read-only filesystem", False, "no mount namespace: the user's files are writable"))
        layers.append(("scratch directory", True, "fresh temporary directory for each sample, removed afterwards"))
        layers.append(("private /proc", False, "no PID namespace"))
    return layers


def sample_uid(mode: str, slot: int) -> int:
    return SANDBOX_UID_BASE + slot if mode == "root" else os.getuid()


def new_scratch(mode: str, slot: int) -> str:
    """An empty scratch directory owned by the sample's uid (called by the zygote per sample)."""
    if mode == "plain":
        import tempfile

        return tempfile.mkdtemp(prefix="pycodex-sample-")
    uid = sample_uid(mode, slot)
    os.mkdir(SCRATCH, 0o700)
    os.chown(SCRATCH, uid, uid)
    return SCRATCH


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
