#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every example of README.md and of the man pages, as a reader would (TAP).

The README's tour runs `./dev demo` and the tour's commands against it.  The
admin examples and the man pages' run on a system made in mount, network and
PID namespaces of the test's own: /usr, /etc and /var are overlays, so
`meson install -C build` really installs (and goes with the test), a real
system bus and polkitd run, and the default ports are free.  This script is
PID 1 there and plays systemd for `systemctl` (start, stop, reload as the
installed unit says), so every documented command runs as written; the few
rewrites (`meson setup` of the build under test is checked rather than run,
`meson test` is this suite, `apt-get install` is simulated) are named in the
output.  Each example is also checked for what it must show.  Root only.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SANDBOX_ENV = "HKP_DOCS_SANDBOX"
LONG = 90  # seconds any one step may take, however loaded the machine


# ---- TAP -------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, name, why="", skip=None):
        self.n += 1
        if skip is not None:
            print(f"ok {self.n} - {name} # SKIP {skip}", flush=True)
            return
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}", flush=True)
        if not ok:
            self.failed += 1
            for line in why.rstrip().splitlines():
                print(f"# {line}", flush=True)

    def note(self, text):
        for line in text.rstrip().splitlines():
            print(f"# {line}", flush=True)


# ---- the examples ----------------------------------------------------------

class Block:
    def __init__(self, source, heading, line, info, text):
        self.source, self.heading, self.line, self.info, self.text = source, heading, line, info, text

    @property
    def name(self):
        first = next((l for l in self.text.splitlines() if l.strip()), "")
        return f"{os.path.basename(self.source)}:{self.line} ({self.heading}): {first.strip()[:60]}"


def fenced_blocks(path, unescape=False):
    """Every ``` block of a markdown or scdoc file, with the heading it is under."""
    blocks, heading, current = [], "", None
    for number, raw in enumerate(open(path, encoding="utf-8").read().splitlines(), 1):
        stripped = raw.strip()
        if current is None:
            if raw.startswith("#"):
                heading = raw.lstrip("#").strip()
            if stripped.startswith("```"):
                indent = raw[: len(raw) - len(raw.lstrip())]
                current = (number, stripped[3:].strip(), indent, [])
            continue
        if stripped == "```":
            number0, info, indent, lines = current
            text = "\n".join(lines) + "\n"
            if unescape:
                text = text.replace("\\\\", "\\")  # scdoc's one escape
            blocks.append(Block(path, heading, number0, info, text))
            current = None
            continue
        current[3].append(raw[len(current[2]):] if raw.startswith(current[2]) else raw)
    return blocks


def rendered_man(page):
    """The page as `man` shows it, without overstriking; hyphens as typed."""
    env = dict(os.environ, MANWIDTH="250", MANPAGER="cat", PAGER="cat")
    out = subprocess.run(["man", "-l", page], env=env, capture_output=True, text=True, check=True).stdout
    out = re.sub(r".\x08", "", out)
    return out.replace("\u2010", "-").replace("\u2212", "-").replace("\u2019", "'").replace("\u2018", "`")


# ---- processes ---------------------------------------------------------------

def run(command, cwd, env, timeout=LONG):
    """Runs a shell example; returns (exit status, output)."""
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return p.returncode, p.stdout


def wait_for(predicate, what, timeout=LONG):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


def reap():
    """As PID 1 of the namespace, waits for orphans that ended."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ---- the service manager `systemctl` talks to ---------------------------------

class Unit:
    """What systemd would do with the installed unit file, for the few verbs the documents use."""

    def __init__(self, path, log_path):
        self.keys = {}
        for line in open(path, encoding="utf-8"):
            if "=" in line and not line.startswith("#"):
                key, value = line.rstrip("\n").split("=", 1)
                self.keys.setdefault(key, []).append(value)
        self.log_path = log_path
        self.process = None
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_path = os.path.join(os.path.dirname(log_path), "notify.sock")
        self.notify.bind(self.notify_path)
        self.messages = []
        self.lock = threading.Condition()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self):
        while True:
            data = self.notify.recv(4096).decode("utf-8", "replace")
            with self.lock:
                self.messages.extend(data.splitlines())
                self.lock.notify_all()

    def _wait_message(self, needle, after):
        with self.lock:
            ok = self.lock.wait_for(lambda: any(m == needle for m in self.messages[after:]), LONG)
        if not ok:
            raise TimeoutError(f"the daemon never said {needle}")

    def start(self):
        if self.process is not None and self.process.poll() is None:
            return ""
        for key, base, mode in (("RuntimeDirectory", "/run", 0o755), ("StateDirectory", "/var/lib", 0o700),
                                ("ConfigurationDirectory", "/etc", 0o755)):
            for name in " ".join(self.keys.get(key, [])).split():
                os.makedirs(os.path.join(base, name), mode=mode, exist_ok=True)
        with self.lock:
            seen = len(self.messages)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(shlex.split(self.keys["ExecStart"][-1]), stdout=log, stderr=log, env=env)
        self._wait_message("READY=1", seen)
        return ""

    def stop(self):
        if self.process is None:
            return ""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(LONG)
        self.process = None
        if code != 0:
            raise RuntimeError(f"hkp-plugind exited {code} when stopped")
        return ""

    def reload(self):
        with self.lock:
            seen = len(self.messages)
        command = self.keys["ExecReload"][-1].replace("$MAINPID", str(self.process.pid))
        subprocess.run(shlex.split(command), check=True)
        # systemd returns at once for Type=dbus; waiting for the rescan's end keeps the next example in order.
        self._wait_message("RELOADING=1", seen)
        self._wait_message("READY=1", seen)
        return ""

    def status(self):
        with self.lock:
            statuses = [m for m in self.messages if m.startswith("STATUS=")]
        active = self.process is not None and self.process.poll() is None
        return f"hkp-plugind.service: {'active (running)' if active else 'inactive'}\n" + \
            (f"  Status: \"{statuses[-1][7:]}\"\n" if statuses else "")


class ServiceManager:
    """systemd's part: the unit is read when first needed (once installed), the system bus and polkitd
    start before the service first does."""

    def __init__(self, work, unit_path):
        self.work, self.unit_path, self._unit, self.children = work, unit_path, None, []
        self.socket_path = os.path.join(work, "systemctl.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.socket_path)
        self.server.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            conn, _ = self.server.accept()
            with conn:
                argv = json.loads(conn.makefile().readline())
                try:
                    out, code = self.handle(argv), 0
                except Exception as e:  # the client prints it, as systemctl would
                    out, code = f"systemctl {' '.join(argv)}: {e}\n", 1
                conn.sendall(json.dumps({"code": code, "out": out}).encode() + b"\n")

    @property
    def unit(self):
        if self._unit is None:
            self._unit = Unit(self.unit_path, os.path.join(self.work, "hkp-plugind.log"))
        return self._unit

    def start(self):
        if not self.children:
            self.children = start_system_bus_and_polkit(self.work)
        return self.unit.start()

    def close(self):
        if self._unit is not None:
            self._unit.stop()
        for child in self.children:
            child.terminate()
            child.wait(LONG)

    def handle(self, argv):
        words = [a for a in argv if not a.startswith("-")]
        verb, units = words[0], [u.removesuffix(".service") for u in words[1:]]
        if verb == "daemon-reload":
            return ""
        if any(u != "hkp-plugind" for u in units):
            raise ValueError(f"unit {units} not known here")
        if verb == "enable":
            return self.start() if "--now" in argv else ""
        if verb == "restart":
            self.unit.stop()
            return self.start()
        return {"start": self.start, "stop": self.unit.stop, "reload": self.unit.reload,
                "status": self.unit.status}[verb]()


SYSTEMCTL_SHIM = """#!/usr/bin/python3
# systemctl for the documentation test: asks the test, which plays systemd, and prints its answer.
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(%r)
s.sendall(json.dumps(sys.argv[1:]).encode() + b"\\n")
answer = json.loads(s.makefile().readline())
sys.stdout.write(answer["out"])
sys.exit(answer["code"])
"""


# ---- checks on what an example shows ---------------------------------------

def expect(output, *needles):
    missing = [n for n in needles if not re.search(n, output, re.M)]
    return "" if not missing else "missing " + ", ".join(repr(m) for m in missing)


def generic_problems(output):
    if re.search(r'"status"\s*:\s*"error"', output):
        return "an HTTP answer says status error"
    return ""


# ---- the README's tour ---------------------------------------------------------

class Demo:
    def __init__(self, source, build, work):
        self.source, self.build, self.work = source, build, work
        self.log_path = os.path.join(work, "demo.log")
        env = dict(os.environ, HKP_DEV_BUILD=build, HKP_DEV_NO_INSTALL="1")
        self.log = open(self.log_path, "w")
        # Its own session: Ctrl-C is SIGINT to the whole foreground group, as on a terminal.
        self.process = subprocess.Popen([os.path.join(source, "dev"), "demo"], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: re.search(r"notice +ready$", self.text(), re.M) or self.process.poll() is not None,
                 "the demo to be ready")
        if self.process.poll() is not None:
            raise RuntimeError("./dev demo ended:\n" + self.text())
        self.pid = int(re.search(r"hkp-plugind runs as PID (\d+)", self.text()).group(1))

    def text(self):
        return open(self.log_path, encoding="utf-8", errors="replace").read()

    def stop(self):
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(LONG)
        return code


def pattern_of_sample_line(line, build):
    """A README log line with … as "anything", runs of spaces as any spaces, and build/ as the build under test."""
    line = line.replace("/build/demo/", f"/{os.path.basename(build)}/demo/")
    parts = [re.escape(p) for p in line.strip().split("…")]
    return re.sub(r"(\\ )+", r"\\s+", ".*".join(parts))


# ---- the sandboxed system -------------------------------------------------------

def mount_overlays(work):
    for target in ("/usr", "/etc", "/var"):
        upper = os.path.join(work, "overlay" + target.replace("/", "-"))
        os.makedirs(upper + "/upper")
        os.makedirs(upper + "/work")
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={target},upperdir={upper}/upper,workdir={upper}/work", target], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"], check=True)


def start_system_bus_and_polkit(work):
    os.makedirs("/run/dbus", exist_ok=True)
    bus = subprocess.Popen(["dbus-daemon", "--system", "--nofork", "--nopidfile"],
                           stdout=open(os.path.join(work, "bus.log"), "w"), stderr=subprocess.STDOUT)
    wait_for(lambda: os.path.exists("/run/dbus/system_bus_socket"), "the system bus")
    polkit = subprocess.Popen(["/usr/lib/polkit-1/polkitd", "--no-debug"],
                              stdout=open(os.path.join(work, "polkit.log"), "w"), stderr=subprocess.STDOUT)
    wait_for(lambda: subprocess.run(["busctl", "status", "org.freedesktop.PolicyKit1"],
                                    capture_output=True).returncode == 0, "polkitd")
    return [bus, polkit]


# ---- main ----------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    for name in ("source", "build", "prefix", "sysconfdir", "localstatedir", "libdir", "datadir"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (mount and network namespaces, a system bus, polkitd)")
        return 0
    if os.environ.get(SANDBOX_ENV) != "1":
        env = dict(os.environ, **{SANDBOX_ENV: "1"})
        # --kill-child: nothing started here outlives the test.
        return subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                               "--propagation", "private", sys.executable, *sys.argv], env=env).returncode

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", "/proc"], check=True)
    tap = Tap()
    work = tempfile.mkdtemp(prefix="hkp-docs-")
    source, build = os.path.realpath(args.source), os.path.realpath(args.build)
    # Where a reader stands: the source tree, its build directory called build.
    reader = os.path.join(work, "reader")
    os.makedirs(reader)
    os.symlink(build, os.path.join(reader, "build"))
    try:
        readme = fenced_blocks(os.path.join(source, "README.md"))
        man_dir = os.path.join(build, "data", "man")
        pages = sorted(f for f in os.listdir(man_dir) if f.endswith(".scd"))
        man_blocks = {p: fenced_blocks(os.path.join(man_dir, p), unescape=True) for p in pages}
        # One point per example, the demo's stop, one per page rendered, and the documented paths.
        print(f"1..{len(readme) + sum(len(b) for b in man_blocks.values()) + len(pages) + 2}", flush=True)
        tour(tap, args, source, build, reader, [b for b in readme if not admin_section(b)])
        system(tap, args, source, build, work, reader, [b for b in readme if admin_section(b)], man_blocks)
    finally:
        reap()
    return 1 if tap.failed else 0


CTL_RUNS_THEM = "hkp-pluginctl's examples are run by tests/ctl (test-ctl-docs, test-ctl-remote)"
# Pages whose examples tests/ctl runs (their EXAMPLES sections; the D-Bus page's other blocks list interfaces).
PAGES_RUN_ELSEWHERE = ("hkp-pluginctl.1.scd", "org.hkp.PluginManager1.5.scd")


def ctl_block(block):
    """A block of hkp-pluginctl commands only: the CLI's own tests run every one of them."""
    commands = [l for l in block.text.splitlines() if l.strip() and not l.startswith("#")]
    return commands and all(re.match(r"(build/src/ctl/)?hkp-pluginctl\b", c) for c in commands)


def admin_section(block):
    return block.heading in ("Building and installing by hand", "For admins")


def tour(tap, args, source, build, reader, blocks):
    try:
        demo = Demo(source, build, reader)
    except Exception as e:
        for b in blocks:
            tap.result(False, b.name, f"./dev demo did not start: {e}")
        return
    env = dict(os.environ)
    for b in blocks:
        why, skip = "", None
        try:
            if ctl_block(b):
                skip = CTL_RUNS_THEM
            elif "./dev demo" in b.text:
                why = expect(demo.text(), r"hkp-plugind runs as PID \d+", r"kill -HUP \d+")
                skip_note = "./dev test is this suite's own runner (.ci/run)"
                tap.note(f"{b.name}: ./dev demo runs (PID {demo.pid}); {skip_note}")
            elif b.text.startswith("hkp-plugind "):
                shown = shlex.split(b.text.replace("\\\n", " ").replace("$PWD/build/", build + "/"))[1:]
                actual = open(f"/proc/{demo.pid}/cmdline").read().split("\0")
                missing = [o for o in shown if o not in actual]
                why = f"the demo runs {actual}, without {missing}" if missing else ""
            elif b.info == "json":
                shown = json.loads(b.text)
                real = json.load(open(os.path.join(source, "data", "demo", "plugins.d", "allow-all.json")))
                why = "" if shown == real else f"data/demo/plugins.d/allow-all.json is {real}"
            elif b.info == "":
                log = demo.text()
                missing = [l for l in b.text.splitlines() if l.strip()
                           and not re.search(pattern_of_sample_line(l, build), log)]
                why = f"the demo's log lacks {missing}" if missing else ""
            else:
                code, out = run(b.text, reader, env)
                why = (f"exit status {code}" if code else "") or generic_problems(out) or tour_expectations(b, out)
                if why:
                    why += "\n" + out
                elif "kill -HUP" in b.text:
                    why = after_hangup(b, demo, reader, build)
        except Exception as e:
            why = f"{type(e).__name__}: {e}"
        tap.result(not why, b.name, why, skip)
    code = demo.stop()
    why = "" if code == 0 and re.search(r"notice +stopped$", demo.text(), re.M) else \
        f"./dev demo exited {code} on Ctrl-C:\n" + demo.text()[-3000:]
    tap.result(not why, "README.md: Ctrl-C stops the demo cleanly", why)


def tour_expectations(block, out):
    if "busctl --address=$A tree" in block.text:
        return expect(out, r"/org/hkp/PluginManager1/plugin/allow_2dall", r'^s "active"$', r"overall_status")
    if "plugins/status" in block.text and "11381/check" in block.text:
        return expect(out, r'"healthy_count"', r'"message"', r"reloads_total", r"HTTP/1.1 200",
                      r"HTTP/1.1 403", r"X-Hkp-Reason: ", r"^403 429$")
    return ""


def demo_last_error(demo, reader):
    bus = f"unix:path={os.path.join(reader, 'build', 'demo', 'bus.sock')}"
    return subprocess.run(["busctl", f"--address={bus}", "get-property", "org.hkp.PluginManager1",
                           "/org/hkp/PluginManager1/plugin/allow_2dall", "org.hkp.PluginManager1.Plugin", "LastError"],
                          capture_output=True, text=True).stdout.strip()


def after_hangup(block, demo, reader, build):
    """The README says what follows each SIGHUP: the refusal in the log, then the error gone once fixed."""
    if '100/\\1"high"' in block.text:
        needle = pattern_of_sample_line(
            '…/build/demo/plugins.d/allow-all.json refused: key "priority" must be an integer, not string', build)
        what, done = "the refusal in the log", lambda: re.search(needle, demo.text())
    else:
        what, done = "LastError of allow-all to go", lambda: demo_last_error(demo, reader) == 's ""'
    try:
        wait_for(done, what, 30)
    except TimeoutError:
        state = subprocess.run(["ps", "-eo", "pid,stat,cmd"], capture_output=True, text=True).stdout
        return f"never saw {what} (PID {demo.pid}):\n{state}\n" + demo.text()[-2000:]
    return ""


def system(tap, args, source, build, work, reader, readme_blocks, man_blocks):
    blocks = readme_blocks + [b for p in sorted(man_blocks) for b in man_blocks[p]]
    layout = (args.prefix, args.sysconfdir, args.localstatedir)
    if layout != ("/usr", "/etc", "/var"):
        for b in blocks:
            tap.result(True, b.name, skip=f"the documents describe a --prefix=/usr --sysconfdir=/etc "
                                          f"--localstatedir=/var build; this one is {layout}")
        for p in man_blocks:
            tap.result(True, f"{p}: examples render as written", skip="see above")
        tap.result(True, "every path the documents name exists after meson install", skip="see above")
        return
    # Examples name the plugin directory of a Debian --prefix=/usr build: this one's, if it is one.
    plugin_dir = os.path.join(args.prefix, args.libdir, "hkp-plugind", "plugins")
    mount_overlays(work)
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin")
    env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
    manager = ServiceManager(work, "/usr/lib/systemd/system/hkp-plugind.service")
    open(os.path.join(bin_dir, "systemctl"), "w").write(SYSTEMCTL_SHIM % manager.socket_path)
    os.chmod(os.path.join(bin_dir, "systemctl"), 0o755)
    try:
        for b in blocks:
            why = ""
            if ctl_block(b) or os.path.basename(b.source) in PAGES_RUN_ELSEWHERE:
                tap.result(True, b.name, skip=CTL_RUNS_THEM)
                continue
            try:
                script, notes = rewrite(b.text, build, args)
                for n in notes:
                    tap.note(f"{b.name}: {n}")
                if b.text.startswith("[hkp-plugind]"):
                    path = os.path.join(work, "example.conf")
                    open(path, "w").write(b.text)
                    code, out = run(f"hkp-plugind --check-config --config={path}", reader, env)
                    why = f"exit status {code}\n{out}" if code else expect(out, "configuration OK")
                elif b.text.startswith("{"):
                    why = plugin_file_example(b, reader, env, manager)
                elif b.text.startswith("#include"):
                    open(os.path.join(reader, "blocker.c"), "w").write(b.text)
                else:
                    code, out = run(script, reader, env)
                    why = (f"exit status {code}" if code else "") or generic_problems(out) or \
                        system_expectations(b, out, reader, env, plugin_dir)
                    if why:
                        why += "\n" + out
            except Exception as e:
                why = f"{type(e).__name__}: {e}"
                if manager._unit is not None and os.path.exists(manager.unit.log_path):
                    why += "\n" + open(manager.unit.log_path).read()[-3000:]
            tap.result(not why, b.name, why)
        for page in sorted(man_blocks):
            tap.result(*rendered_as_written(build, page, man_blocks[page]))
        why = documented_paths_exist(source, build)
        tap.result(not why, "every path the documents name exists after meson install", why)
    finally:
        try:
            manager.close()
        except Exception as e:
            tap.result(False, "hkp-plugind stops cleanly at the end", str(e))


def rewrite(text, build, args):
    """The lines of an example that cannot run as written here, and what runs instead."""
    notes, lines = [], []
    for line in text.splitlines():
        if line.startswith("meson setup build"):
            wanted = shlex.split(line)[3:]
            options = {o["name"]: o["value"] for o in json.loads(subprocess.run(
                ["meson", "introspect", "--buildoptions", build], capture_output=True, text=True, check=True).stdout)}
            for w in wanted:
                key, value = w.lstrip("-").split("=", 1)
                if options.get(key) != value:
                    raise AssertionError(f"the build under test has {key}={options.get(key)}, the example {value}")
            notes.append(f"'{line}': the build under test is configured so (checked, not run again)")
            lines.append(":")
        elif line.startswith("meson test"):
            notes.append(f"'{line}': that is this suite, not run from inside itself")
            lines.append(":")
        elif "npm ci" in line:
            notes.append(f"'{line.strip()}': ./dev installs them (no network here); not run again")
            lines.append(":")
        elif line.startswith("apt-get install"):
            notes.append("apt-get install: simulated (every package must exist)")
            lines.append(line.replace("apt-get install", "apt-get install --simulate --no-install-recommends", 1))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n", notes


def busctl_property(env, plugin, prop):
    code, out = run(f"busctl get-property org.hkp.PluginManager1 /org/hkp/PluginManager1/plugin/{plugin} "
                    f"org.hkp.PluginManager1.Plugin {prop}", "/", env)
    return out.strip() if code == 0 else f"(busctl failed: {out.strip()})"


def plugin_file_example(block, reader, env, manager):
    """hkp-plugind.conf(5)'s plugin file: the ratelimit plugin runs with it."""
    name = re.search(r'"module": "([a-z0-9_-]+)\.so"', block.text).group(1)
    before = busctl_property(env, name, "ConfigVersion")
    open(f"/etc/hkp-plugind/plugins.d/{name}.json", "w").write(block.text)
    code, out = run("hkp-plugind --check-config && systemctl reload hkp-plugind", reader, env)
    if code:
        return f"exit status {code}\n{out}"
    state, error = busctl_property(env, name, "State"), busctl_property(env, name, "LastError")
    if state != 's "active"' or error != 's ""':
        return f"{name} is {state} ({error}) with this file"
    if busctl_property(env, name, "ConfigVersion") == before:
        return f"{name}'s ConfigVersion stayed {before}: the file was not applied"
    return ""


def system_expectations(block, out, reader, env, plugin_dir):
    text = block.text
    if "apt-get install" in text:
        return "" if os.path.isfile("/usr/sbin/hkp-plugind") else "meson install put no hkp-plugind in /usr/sbin"
    if "systemctl enable --now" in text:
        code, owner = run("busctl status org.hkp.PluginManager1", reader, env)
        return (f"nobody owns org.hkp.PluginManager1: {owner}" if code else "") or \
            ("" if os.path.isfile(os.path.join(plugin_dir, "ratelimit.so")) else f"no ratelimit.so in {plugin_dir}")
    if "examples/plugins.d/ratelimit.json" in text:
        return expect(out, "configuration OK") or \
            ("" if busctl_property(env, "ratelimit", "State") == 's "active"' else "ratelimit is not active")
    if "SetPluginConfig" in text:
        return expect(out, r'^s "active"\nu \d+\ns ""$', r"overall_status")
    if "http-token-file=" in text:
        return "" if os.stat("/etc/hkp-plugind/token").st_mode & 0o077 == 0 else "the token file is readable by others"
    if "TOKEN=$(cat" in text:
        return "" if out.count('"status":"success"') == 2 else "the reload and the config change did not both succeed"
    if text.startswith("hkp-plugind --check-config"):
        return expect(out, "configuration OK")
    if "plugins/status" in text:
        return expect(out, r"overall_status", r'"status":"success"')
    if "busctl tree" in text:
        return expect(out, r"/org/hkp/PluginManager1/plugin/ratelimit")
    if "blocker.so" in text:
        # The installed unit serves checks on its unix socket (see its ExecStart).
        code, answer = run("curl -si --unix-socket /run/hkp-plugind/check.sock -H 'X-Original-Method: GET' "
                           "-H 'X-Original-URI: /admin/users' -H 'X-Real-IP: 192.0.2.9' http://localhost/check",
                           reader, env)
        return expect(busctl_property(env, "blocker", "State"), r'"active"') or \
            expect(answer, r"^HTTP/1.1 403", r"^X-Hkp-Plugin: blocker")
    return ""


def rendered_as_written(build, page, blocks):
    """Each example reads in the rendered page as in the source: no line lost or joined by the formatter."""
    text = rendered_man(os.path.join(build, "data", "man", page.removesuffix(".scd")))
    lines = {l.strip() for l in text.splitlines()}
    missing = [l.strip() for b in blocks for l in b.text.splitlines() if l.strip() and l.strip() not in lines]
    return (not missing, f"{page}: examples render as written", f"not in `man -l` as written: {missing}")


def documented_paths_exist(source, build):
    """Absolute paths of ours that README and the man pages name are there once installed and running."""
    texts = [open(os.path.join(source, "README.md"), encoding="utf-8").read()]
    man_dir = os.path.join(build, "data", "man")
    texts += [open(os.path.join(man_dir, p), encoding="utf-8").read() for p in os.listdir(man_dir) if p.endswith(".scd")]
    made_by_reader = ("/etc/hkp-plugind/token", "/etc/hkp-plugind/proxy-secret", "/etc/hkp-plugind/plugins.d/blocker.json",
                      "/etc/polkit-1/rules.d/", "/etc/nginx/conf.d/")
    # Parts a build may leave out (-Dcockpit=auto without node_modules): required only when this one installs them.
    installed = json.loads(subprocess.run(["meson", "introspect", "--installed", build], capture_output=True,
                                          text=True, check=True).stdout).values()
    optional = tuple(p for p in ("/usr/share/cockpit/",) if not any(i.startswith(p) for i in installed))
    missing = set()
    for text in texts:
        for path in re.findall(r"(/(?:usr|etc|var)/[A-Za-z0-9_./-]*hkp[A-Za-z0-9_./-]*)", text):
            path = path.rstrip("._*")  # a full stop, or scdoc's underline and bold
            if "NAME" in path or "<" in path or path.startswith(made_by_reader + optional):
                continue
            if not os.path.exists(path):
                missing.add(path)
    return "missing: " + ", ".join(sorted(missing)) if missing else ""


if __name__ == "__main__":
    sys.exit(main())
