"""The sample's seccomp filter: the system calls through which a sample could keep state for a
later sample, or see one beside it. Standard library only (installed by the zygote, see sandbox.py).

Installed once in Z, after its set-up (no_new_privs is set): Z and every sample it forks run
under it. Refused with EPERM:

* keyrings (add_key, request_key, keyctl): the session keyring is inherited from the evaluator and
  a uid's user keyring outlives its processes: both are stores a later sample could read;
* POSIX message queues and System V IPC (messages, semaphores, shared memory): objects that outlive
  their processes;
* inotify, fanotify, file locks (flock, fcntl locks and leases, dnotify): signals between samples
  that share a file (the standard library is the same inode for every worker);
* page-cache probes (fadvise, readahead, mincore, cachestat, preadv2/pwritev2 with flags such as
  RWF_NOWAIT) and io_uring (which would do them, or any of the above, outside this filter);
* the kernel log (syslog): a sample's crashes are written there, another could read them;
* new pipes, sockets and memfds (and shared anonymous mappings, memfds by another name): each
  takes its inode number from a per-CPU counter that every process advances, which a sample
  could set for the next one to read (fstat); IP sockets besides count in the network
  namespace's counters (a sample's own FIFOs in its scratch still work);
* pidfds (pidfd_open, clone's CLONE_PIDFD): a pidfd's inode number counts every process the
  machine made, which a sample could advance for the next one to read; memfd_secret and aio;
* new namespaces (unshare, setns, clone with a CLONE_NEW* flag; clone3 answers ENOSYS, so that
  libc falls back to clone) and the mount API beyond mount(2): with a user namespace of its own, a
  sample would have capabilities again;
* perf_event_open, bpf, userfaultfd;
* rt_sigaction(SIGCHLD, new action): an auto-reaped child's CPU time is added to nobody's
  rusage, and the time limits (limits.py) could not see it;
* foreign system-call ABIs (they would dodge every rule above).

mount(2) and umount2 stay allowed: Z mounts each sample's scratch (samples have no capabilities,
and with the rules above cannot get any). The deny list is for x86_64; elsewhere (aarch64) only
the SIGCHLD rule and the ABI check apply, and sandbox-info says so.
"""

from __future__ import annotations

import ctypes
import os

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
_LOAD, _JEQ, _JSET, _AND, _RET = 0x20, 0x15, 0x45, 0x54, 0x06
_ALLOW, _EPERM, _ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
_SIGCHLD = 17
_NEW_NAMESPACES = 0x7E021080  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME, and CLONE_PIDFD
_MAP_SHARED_ANONYMOUS = 0x21  # a shared anonymous mapping is a memfd by another name
# fcntl commands: F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE, F_NOTIFY
_LOCK_COMMANDS = (5, 6, 7, 36, 37, 38, 1024, 1026)

# x86_64 system-call numbers, by what they would let a sample do.
X86_64_DENIED = {
    "keyrings": (248, 249, 250),  # add_key, request_key, keyctl
    "POSIX message queues": (240, 241, 242, 243, 244, 245),
    "System V IPC": (29, 30, 31, 64, 65, 66, 67, 68, 69, 70, 71, 220),
    "inotify, fanotify": (253, 254, 255, 294, 300, 301),
    "file locks": (73,),  # flock (fcntl's lock commands below)
    "page-cache probes": (27, 187, 221, 451, 425, 426, 427),  # mincore, readahead, fadvise64, cachestat, io_uring
    "kernel log": (103,),  # syslog
    "namespaces and mounts": (272, 308, 155, 428, 429, 430, 431, 432, 433, 442),  # unshare, setns, pivot_root, new mount API
    "tracing": (298, 321, 323),  # perf_event_open, bpf, userfaultfd
    "pidfds": (434, 438),  # pidfd_open, pidfd_getfd: a pidfd's inode number counts every pid the machine made
    "secret memory, aio": (447, 206),  # memfd_secret, io_setup
    # Every new pipe, socket or memfd takes its inode number from a per-CPU counter that anything
    # on the machine advances: a sample could set it for the next one to read (fstat).
    "new pipes, sockets, memfds": (22, 293, 41, 53, 319),  # pipe, pipe2, socket, socketpair, memfd_create
}
_X86_64 = {"arch": 0xC000003E, "rt_sigaction": 13, "clone": 56, "clone3": 435, "fcntl": 72, "mmap": 9,
           "preadv2": 327, "pwritev2": 328}
_AARCH64 = {"arch": 0xC00000B7, "rt_sigaction": 134}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _arg(index: int) -> int:
    """Offset of the low half of args[index] in struct seccomp_data."""
    return 16 + 8 * index


def _assemble(code: list) -> list[tuple[int, int, int, int]]:
    """Instructions (op, jt, jf, k) whose jt/jf may be label names; ("label", name) marks a place."""
    places, count = {}, 0
    for op in code:
        if op[0] == "label":
            places[op[1]] = count
        else:
            count += 1
    out: list[tuple[int, int, int, int]] = []
    for op in code:
        if op[0] == "label":
            continue
        here = len(out) + 1
        jumps = [places[j] - here if isinstance(j, str) else j for j in op[1:3]]
        assert all(0 <= j < 256 for j in jumps), op  # BPF jumps forward, by at most 255
        out.append((op[0], jumps[0], jumps[1], op[3]))
    return out


def _program(machine: str) -> list[tuple[int, int, int, int]] | None:
    table = {"x86_64": _X86_64, "aarch64": _AARCH64}.get(machine)
    if table is None:
        return None
    code: list = [(_LOAD, 0, 0, 4), (_JEQ, 1, 0, table["arch"]), (_RET, 0, 0, _EPERM), (_LOAD, 0, 0, 0)]
    if machine == "x86_64":
        code += [(0x35, 0, 1, 0x40000000), (_RET, 0, 0, _EPERM)]  # x32: refused
        for numbers in X86_64_DENIED.values():
            code += [(_JEQ, "deny", 0, nr) for nr in numbers]
        code += [(_JEQ, "enosys", 0, table["clone3"]),
                 (_JEQ, "clone", 0, table["clone"]), (_JEQ, "fcntl", 0, table["fcntl"]),
                 (_JEQ, "mmap", 0, table["mmap"]),
                 (_JEQ, "flags", 0, table["preadv2"]), (_JEQ, "flags", 0, table["pwritev2"])]
    code += [(_JEQ, 0, "allow", table["rt_sigaction"]),
             (_LOAD, 0, 0, _arg(0)), (_JEQ, 0, "allow", _SIGCHLD),  # another signal: allowed
             (_LOAD, 0, 0, _arg(1)), (_JEQ, 0, "deny", 0),  # the new action, low half then high half:
             (_LOAD, 0, 0, _arg(1) + 4), (_JEQ, "allow", "deny", 0)]  # NULL (only reading it): allowed
    if machine == "x86_64":  # (BPF jumps only forward: the returns come last)
        code += [("label", "clone"), (_LOAD, 0, 0, _arg(0)), (_JSET, "deny", "allow", _NEW_NAMESPACES),
                 ("label", "fcntl"), (_LOAD, 0, 0, _arg(1))]
        code += [(_JEQ, "deny", 0, command) for command in _LOCK_COMMANDS]
        code += [(_RET, 0, 0, _ALLOW),
                 ("label", "mmap"), (_LOAD, 0, 0, _arg(3)), (_AND, 0, 0, _MAP_SHARED_ANONYMOUS),
                 (_JEQ, "deny", "allow", _MAP_SHARED_ANONYMOUS),
                 ("label", "flags"), (_LOAD, 0, 0, _arg(5)), (_JEQ, "allow", "deny", 0),
                 ("label", "enosys"), (_RET, 0, 0, _ENOSYS)]
    code += [("label", "allow"), (_RET, 0, 0, _ALLOW), ("label", "deny"), (_RET, 0, 0, _EPERM)]
    return _assemble(code)


def _compiled() -> _SockFprog | None:
    code = _program(os.uname().machine)
    if code is None:
        return None
    program = (_SockFilter * len(code))(*[_SockFilter(*op) for op in code])
    fprog = _SockFprog(len(code), ctypes.cast(program, ctypes.POINTER(_SockFilter)))
    fprog.program = program  # (the instructions must live as long as the header pointing at them)
    return fprog


_PROGRAM = _compiled()


def install(libc) -> tuple[str, bool, str]:
    """In Z, once, after no_new_privs: Z and every sample it forks run under the filter. Returns its layer."""
    machine = os.uname().machine
    if _PROGRAM is None:
        return ("seccomp", False, f"no filter for {machine}: auto-reaped children's CPU time can hide; "
                "keyrings, IPC and locks are not refused")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(_PROGRAM), 0, 0) != 0:
        return ("seccomp", False, f"filter refused ({os.strerror(ctypes.get_errno())}): auto-reaped children's "
                "CPU time can hide; keyrings, IPC and locks are not refused")
    if machine != "x86_64":
        return ("seccomp", True, "changing SIGCHLD's action refused; keyrings, IPC, locks and the rest of "
                f"the deny list are x86_64 only (not refused on {machine})")
    return ("seccomp", True, "refused: changing SIGCHLD's action, " + ", ".join(X86_64_DENIED)
            + ", fcntl locks, shared anonymous mappings, new namespaces, foreign ABIs")
