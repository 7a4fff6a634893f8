// The harness of tests/e2e/test-cockpit.mjs: child processes (each one the test's own and
// waited for), private buses, the real polkitd, cockpit-ws, busctl and gdbus monitor on the
// test's bus, TAP output, and what a user sees of the page.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";

const env = process.env;
export const COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws";
export const POLKITD = "/usr/lib/polkit-1/polkitd";
export const BUS = "org.hkp.PluginManager1";
export const PLUGIN_IFACE = "org.hkp.PluginManager1.Plugin";
export const WAIT_MS = 15000; // a bound for what should take well under a second; generous for a loaded machine

// ---------------------------------------------------------------------------
// Child processes: each one is ours, followed and waited for.

export const children = new Set();

// Starts a child; its stderr goes to ours with a prefix (meson shows it when the test fails).
export function start(name, argv, options = {}) {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], ...options });
    child.label = name;
    child.exited = new Promise(resolve => child.on("exit", (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
    }));
    child.stderrLines = readline.createInterface({ input: child.stderr });
    child.stderrLines.on("line", line => process.stderr.write(`${name}: ${line}\n`));
    children.add(child);
    return child;
}

export async function stop(child, signal = "SIGTERM") {
    if (!children.has(child))
        return child.exited;
    child.kill(signal);
    return child.exited;
}

// Resolves with the first line of the child's stdout (dbus-daemon prints its address there).
export function firstLine(child) {
    return new Promise((resolve, reject) => {
        const lines = readline.createInterface({ input: child.stdout });
        lines.once("line", line => resolve(line.trim()));
        child.once("exit", () => reject(new Error(`${child.label} exited before printing anything`)));
    });
}

// Resolves when a line of the child's stderr matches pattern.
export function stderrLine(child, pattern) {
    return new Promise((resolve, reject) => {
        const onLine = line => {
            if (pattern.test(line)) {
                child.stderrLines.off("line", onLine);
                resolve(line);
            }
        };
        child.stderrLines.on("line", onLine);
        child.once("exit", () => reject(new Error(`${child.label} exited before printing ${pattern}`)));
    });
}

// The defaults of Debian's /usr/share/dbus-1/system.conf: no one may own a name or call a
// method unless a policy file (ours, polkit's) says so.
export const SYSTEM_POLICY = `
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <includedir>${path.join(env.G_TEST_SRCDIR, "..", "dbus")}</includedir>
  <includedir>/usr/share/dbus-1/system.d</includedir>`;

// Anyone may do anything: the session bus the bridge wants (it runs as nobody too).
export const PERMISSIVE_POLICY = `
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>`;

// A private dbus-daemon whose socket every uid can reach.
export async function startBus(dir, type, policy) {
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "bus.conf"), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>${type}</type>
  <listen>unix:path=${dir}/bus.sock</listen>
  <auth>EXTERNAL</auth>${policy}
</busconfig>
`);
    const bus = start(`dbus-daemon (${type})`, ["dbus-daemon", `--config-file=${dir}/bus.conf`, "--nofork", "--nopidfile",
        "--print-address=1"]);
    bus.address = await firstLine(bus);
    return bus;
}

// The real polkitd on the system bus, with our actions installed (by the process outside the
// namespaces); resolves once it owns its name.
export async function startPolkit(systemBus) {
    const polkitd = start("polkitd", [POLKITD, "--no-debug"], {
        env: { PATH: env.PATH, DBUS_SYSTEM_BUS_ADDRESS: systemBus.address },
    });
    const waited = spawnSync("gdbus", ["wait", "--system", "--timeout", "30", "org.freedesktop.PolicyKit1"], {
        env: { ...env, DBUS_SYSTEM_BUS_ADDRESS: systemBus.address }, encoding: "utf8",
    });
    if (waited.status !== 0)
        throw new Error(`polkitd did not appear on the bus: ${waited.stderr}`);
    return polkitd;
}

// cockpit-ws on a socket we bind (port 0) and hand over as systemd would (LISTEN_FDS), so it
// listens before it starts and no port is guessed; its bridge runs as uid (0 or nobody).
export async function startCockpit(root, uid, systemBus, sessionBus) {
    const server = net.createServer();
    await new Promise(resolve => server.listen(0, "127.0.0.1", resolve));
    const port = server.address().port;
    const home = fs.mkdtempSync(path.join(root, "ws-home-"));
    fs.chmodSync(home, 0o777);
    const wrap = uid === 0 ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"];
    const ws = start(`cockpit-ws (uid ${uid})`,
        [...wrap, "sh", "-c", 'LISTEN_FDS=1 LISTEN_PID=$$ exec "$0" "$@"', COCKPIT_WS,
            "--local-session=cockpit-bridge"], {
            // Node has no public way to hand a listening socket to a child: its handle's fd becomes fd 3.
            stdio: ["ignore", "pipe", "pipe", server._handle.fd],
            env: {
                PATH: env.PATH,
                HOME: home,
                XDG_RUNTIME_DIR: home,
                XDG_DATA_HOME: path.join(root, "data"),
                DBUS_SYSTEM_BUS_ADDRESS: systemBus.address,
                DBUS_SESSION_BUS_ADDRESS: sessionBus.address,
                LANG: "C.UTF-8",
            },
        });
    server.close(); // cockpit-ws holds its own copy of the listening socket now
    return { ws, url: `http://127.0.0.1:${port}/cockpit/@localhost/hkp-plugind/index.html` };
}

// ---------------------------------------------------------------------------
// busctl: the "elsewhere" that changes things, and the witness of what the page did.

export function pluginPath(name) {
    // sd_bus_path_encode: every byte but [A-Za-z0-9] as _XX.
    const encoded = [...Buffer.from(name)].map(b => (/[A-Za-z0-9]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : "_" + b.toString(16).padStart(2, "0"))).join("");
    return `/org/hkp/PluginManager1/plugin/${encoded}`;
}

let busAddress = null;

// Points busctl() and the monitor at the test's system bus.
export function useBus(address) {
    busAddress = address;
}

export function busctl(...args) {
    const result = spawnSync("busctl", [`--address=${busAddress}`, "--timeout=60", ...args], { encoding: "utf8" });
    if (result.status !== 0)
        throw new Error(`busctl ${args.join(" ")}: ${result.stderr.trim()}`);
    return result.stdout;
}

// Like busctl(), without waiting: resolves when busctl exits.
export function busctlAsync(...args) {
    return new Promise((resolve, reject) => {
        const child = spawn("busctl", [`--address=${busAddress}`, "--timeout=60", ...args], { stdio: "ignore" });
        child.on("exit", code => (code === 0 ? resolve() : reject(new Error(`busctl ${args.join(" ")} failed`))));
    });
}

// gdbus monitor on the daemon's signals, line-buffered: signalSeen() resolves with the time a
// matching signal arrived, so a figure can start at the daemon's signal rather than at busctl.
export async function startMonitor() {
    const monitor = start("gdbus monitor", ["stdbuf", "-oL", "gdbus", "monitor", "--address", busAddress, "--dest", BUS]);
    monitor.waiters = [];
    const lines = readline.createInterface({ input: monitor.stdout });
    const ready = new Promise(resolve => lines.once("line", resolve)); // "The name … is owned by …"
    lines.on("line", line => {
        const now = Date.now();
        for (const waiter of [...monitor.waiters])
            if (waiter.pattern.test(line)) {
                monitor.waiters.splice(monitor.waiters.indexOf(waiter), 1);
                waiter.resolve(now);
            }
    });
    await ready;
    return monitor;
}

export function signalSeen(monitor, pattern) {
    return new Promise(resolve => monitor.waiters.push({ pattern, resolve }));
}

export function getProperty(name, property) {
    return JSON.parse(busctl("--json=short", "get-property", BUS, pluginPath(name), PLUGIN_IFACE, property)).data;
}

// ---------------------------------------------------------------------------
// TAP

// The TAP counters, and the page to picture after each step (HKP_COCKPIT_SCREENSHOTS).
export const tap = { number: 0, failures: 0, screenshotPage: null };

export function diagnose(text) {
    for (const line of String(text).split("\n"))
        console.log(`# ${line}`);
}

export async function step(name, body) {
    tap.number++;
    const start = Date.now();
    try {
        await body();
        console.log(`# ${Date.now() - start} ms`);
        console.log(`ok ${tap.number} - ${name}`);
        if (env.HKP_COCKPIT_SCREENSHOTS && tap.screenshotPage)
            await tap.screenshotPage.screenshot({ path: path.join(env.HKP_COCKPIT_SCREENSHOTS, `step-${tap.number}.png`), fullPage: true });
    } catch (error) {
        tap.failures++;
        console.log(`not ok ${tap.number} - ${name}`);
        diagnose(error.stack || error);
    }
}

export function check(condition, message) {
    if (!condition)
        throw new Error(message);
}

// ---------------------------------------------------------------------------
// The page, as a user sees it.

export function row(page, name) {
    return page.getByRole("rowgroup", { name, exact: true });
}

export function cell(page, name, column) {
    return row(page, name).locator(`td[data-label="${column}"]`).first();
}

// Waits until the text of locator's element is exactly text (or matches a RegExp): a
// MutationObserver in the page says when, so no step sleeps or polls.
export async function waitForText(locator, text, timeout = WAIT_MS) {
    const element = await locator.elementHandle({ timeout });
    const expected = text instanceof RegExp ? { source: text.source, flags: text.flags } : { exact: text };
    await element.evaluate((node, { expected, timeout }) => new Promise((resolve, reject) => {
        const matches = () => {
            const shown = node.textContent.trim();
            return expected.exact !== undefined ? shown === expected.exact
                : new RegExp(expected.source, expected.flags).test(shown);
        };
        if (matches())
            return resolve();
        const observer = new MutationObserver(() => {
            if (matches()) {
                observer.disconnect();
                resolve();
            }
        });
        observer.observe(node, { subtree: true, childList: true, characterData: true });
        setTimeout(() => {
            observer.disconnect();
            reject(new Error(`expected ${JSON.stringify(expected)}, the page shows ${JSON.stringify(node.textContent)}`));
        }, timeout);
    }), { expected, timeout });
}
