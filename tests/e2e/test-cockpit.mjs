#!/usr/bin/env node
// End to end: the Cockpit page in a real Chromium.  hkp-plugind runs with 100
// real plugins (the shipped ipfilter and ratelimit, test modules for the rest)
// on a private system bus with the real bus policy defaults, our bus policy
// and the real polkitd deciding; Debian's cockpit-ws serves the page with a
// local bridge (as root: administrative access; as nobody: limited access),
// and playwright-core drives Debian's chromium through what a user sees and does.
// Last, 30 more plugins with configs near the 1 MiB limit make the daemon refuse
// GetManagedObjects for its size, and the page must show and follow them all the same.
// Everything runs in a PID and network namespace of its own, so nothing it
// starts outlives it.  TAP on stdout; figures as "# figure:" lines.  The
// processes, buses, TAP and page helpers are in cockpit-harness.mjs.
//
// Environment (from tests/meson.build): HKP_PLUGIND, HKP_TEST_PLUGIN_DIR,
// HKP_SHIPPED_PLUGIN_DIR, HKP_COCKPIT_SRC_DIR, HKP_COCKPIT_BUILD_DIR; and
// HKP_COCKPIT_SCREENSHOTS=DIR to keep pictures of the page as the steps left it.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";

import {
    BUS, COCKPIT_WS, PLUGIN_IFACE, POLKITD, PERMISSIVE_POLICY, SYSTEM_POLICY, WAIT_MS, busctl, busctlAsync, cell, check,
    children, diagnose, getProperty, pluginPath, row, signalSeen, start, startBus, startCockpit, startMonitor,
    startPolkit, step, stderrLine, stop, tap, useBus, waitForText,
} from "./cockpit-harness.mjs";

const CHROMIUM = "/usr/bin/chromium";
const COCKPIT_BRIDGE = "/usr/bin/cockpit-bridge";
const POLKIT_ACTIONS = "/usr/share/polkit-1/actions";
const PLUGIN_COUNT = 100;
const LARGE_COUNT = 30; // with 900 KiB configs: past what one GetManagedObjects reply may carry

const env = process.env;

function skip(reason) {
    console.log(`1..0 # SKIP ${reason}`);
    process.exit(0);
}

function bail(reason) {
    console.log(`Bail out! ${reason}`);
    process.exit(1);
}

// ---------------------------------------------------------------------------
// What the test needs, or why it skips.

function findPlaywright() {
    try {
        return createRequire(path.join(env.HKP_COCKPIT_SRC_DIR, "package.json"))("playwright-core");
    } catch (_e) {
        return null;
    }
}

if (process.getuid() !== 0)
    skip("needs root (namespaces, and cockpit-ws run as nobody for limited access)");
for (const [file, what] of [[CHROMIUM, "chromium"], [COCKPIT_WS, "cockpit-ws"], [COCKPIT_BRIDGE, "cockpit-bridge"]])
    if (!fs.existsSync(file))
        skip(`${what} is not installed (${file}); ./dev installs it`);
const playwright = findPlaywright();
if (!playwright)
    skip("playwright-core is missing from src/cockpit/node_modules; ./dev (npm ci) installs it");
if (!fs.existsSync(path.join(env.HKP_COCKPIT_BUILD_DIR, "index.js.gz")))
    skip("the Cockpit page was not built (src/cockpit/node_modules was missing when meson configured)");

// ---------------------------------------------------------------------------

function writeTree(root) {
    const pluginDir = path.join(root, "plugins");
    const configDir = path.join(root, "plugins.d");
    fs.mkdirSync(pluginDir);
    fs.mkdirSync(configDir);
    fs.mkdirSync(path.join(root, "state"));
    fs.writeFileSync(path.join(root, "hkp-plugind.conf"), "[hkp-plugind]\n");
    for (const module of ["ipfilter.so", "ratelimit.so"])
        fs.copyFileSync(path.join(env.HKP_SHIPPED_PLUGIN_DIR, module), path.join(pluginDir, module));
    for (const module of ["answer.so", "health.so", "sleeper.so"])
        fs.copyFileSync(path.join(env.HKP_TEST_PLUGIN_DIR, module), path.join(pluginDir, module));

    const plugins = {
        ipfilter: { module: "ipfilter.so", priority: 1, config: { enabled: true, deny: ["192.0.2.0/24"] } },
        ratelimit: {
            module: "ratelimit.so", priority: 5,
            config: { enabled: true, lookup: { requests_per_second: 10, burst: 20 } },
        },
        watched: {
            module: "health.so", priority: 10, health_interval_sec: 1,
            config: { enabled: true, health: "degraded", message: "reports itself degraded" },
        },
        // Each call writes a byte to the FIFO (so the test knows it is in flight), then takes 2 s;
        // instances made after the first answer at once.  In the daemon: a plugin host may not open a
        // FIFO for writing.
        slow: {
            module: "sleeper.so", priority: 2, isolation: "none",
            config: { enabled: true, sleep_ms: 2000, sleep_instances: 1, signal_fifo: path.join(root, "calls.fifo") },
        },
        secretive: {
            module: "answer.so", priority: 20,
            config: { enabled: true, verdict: "continue", reason: "first", api_token: "s3cret-value" },
        },
    };
    for (let i = 1; Object.keys(plugins).length < PLUGIN_COUNT; i++) {
        const name = `p${String(i).padStart(3, "0")}`;
        plugins[name] = { module: "answer.so", priority: 100 + i, config: { enabled: true, verdict: "continue" } };
    }
    for (const [name, file] of Object.entries(plugins))
        fs.writeFileSync(path.join(configDir, `${name}.json`), JSON.stringify(file, null, 2));
    spawnSync("mkfifo", [path.join(root, "calls.fifo")]);
    return { pluginDir, configDir, fifo: path.join(root, "calls.fifo"), checkSocket: path.join(root, "check.sock") };
}

// A request through the check endpoint (as nginx's auth_request would send it); resolves with the status.
function checkRequest(socketPath) {
    return new Promise((resolve, reject) => {
        const request = http.request({
            socketPath, path: "/check", headers: {
                "X-Original-Method": "GET",
                "X-Original-URI": "/pks/lookup?op=get&search=0x1234",
                "X-Real-IP": "198.51.100.7",
            },
        }, response => {
            response.resume();
            response.on("end", () => resolve(response.statusCode));
        });
        request.on("error", reject);
        request.end();
    });
}

// Resolves once count calls wrote their byte to the FIFO.  Opened read-write, so it never sees end-of-file;
// read as a pipe on the event loop (net.Socket), not by a blocking read on a pool thread, which would keep
// the process from exiting should the test end before the byte comes.
function callsInFlight(fifo, count) {
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const stream = new net.Socket({ fd, readable: true, writable: false });
    let seen = 0;
    return new Promise(resolve => {
        stream.on("data", chunk => {
            seen += chunk.length;
            if (seen >= count) {
                stream.destroy();
                resolve();
            }
        });
    });
}

function installPage(root) {
    const dir = path.join(root, "data", "cockpit", "hkp-plugind");
    fs.mkdirSync(dir, { recursive: true });
    for (const name of ["manifest.json", "index.html"])
        fs.copyFileSync(path.join(env.HKP_COCKPIT_SRC_DIR, name), path.join(dir, name));
    for (const name of ["index.js.gz", "index.css.gz"])
        fs.copyFileSync(path.join(env.HKP_COCKPIT_BUILD_DIR, name), path.join(dir, name));
    spawnSync("chmod", ["-R", "a+rX", path.join(root, "data")]);
}

async function main() {
    const t0 = Date.now();
    const watchdog = setTimeout(() => bail("the test took longer than 100 s"), 100 * 1000);
    spawnSync("ip", ["link", "set", "lo", "up"]);

    const root = fs.mkdtempSync(path.join(os.tmpdir(), "hkp-cockpit-"));
    fs.chmodSync(root, 0o755);
    let browser = null;
    let daemon = null;
    try {
        const tree = writeTree(root);
        installPage(root);
        const systemBus = await startBus(path.join(root, "system-bus"), "system", SYSTEM_POLICY);
        const sessionBus = await startBus(path.join(root, "session-bus"), "session", PERMISSIVE_POLICY);
        useBus(systemBus.address);
        // polkit decides, as on a real system; without polkitd only the daemon's uid (root) may change things.
        const polkit = env.HKP_COCKPIT_TEST_POLICY ? ["--http-listen=none"] : ["--no-polkit", "--http-listen=none"];
        if (env.HKP_COCKPIT_TEST_POLICY)
            await startPolkit(systemBus);
        else
            console.log("# polkitd is not installed: the daemon runs with --no-polkit");

        const daemonControl = {
            async start() {
                daemon = start("hkp-plugind", [env.HKP_PLUGIND, `--config=${root}/hkp-plugind.conf`,
                    `--plugin-dir=${tree.pluginDir}`, `--config-dir=${tree.configDir}`, `--state-dir=${root}/state`,
                    `--bus=${systemBus.address}`, ...polkit, `--check-listen=unix:${tree.checkSocket}`]);
                await stderrLine(daemon, /\bready$/);
            },
            // SIGTERM; resolves with the exit code (0 for an orderly stop).
            async stop() {
                const { code, signal } = await stop(daemon);
                daemon = null;
                return signal ? signal : code;
            },
        };
        await daemonControl.start();

        const admin = await startCockpit(root, 0, systemBus, sessionBus);
        const chromeHome = path.join(root, "chromium");
        fs.mkdirSync(path.join(chromeHome, "tmp"), { recursive: true });
        browser = await playwright.chromium.launch({
            executablePath: CHROMIUM,
            args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
            env: { PATH: env.PATH, HOME: chromeHome, TMPDIR: path.join(chromeHome, "tmp"),
                   DBUS_SESSION_BUS_ADDRESS: "disabled:" },
        });
        console.log(`# set up in ${Date.now() - t0} ms`);
        await adminSteps(browser, admin.url, tree);
        await limitedSteps(browser, root, systemBus, sessionBus, daemonControl);
        await largeConfigSteps(browser, admin.url, tree, daemonControl);
    } catch (error) {
        tap.failures++;
        tap.number++;
        console.log(`not ok ${tap.number} - the test ran to its end`);
        diagnose(error.stack || error);
    } finally {
        if (browser)
            await browser.close();
        for (const child of [...children].filter(c => c !== daemon && !c.label.startsWith("dbus")))
            await stop(child);
        if (daemon) {
            const { code, signal } = await stop(daemon);
            if (code !== 0) {
                tap.failures++;
                console.log(`not ok ${++tap.number} - hkp-plugind stops cleanly (exit ${code}, signal ${signal})`);
            }
        }
        for (const child of [...children])
            await stop(child);
        fs.rmSync(root, { recursive: true, force: true });
        clearTimeout(watchdog);
    }
    console.log(`1..${tap.number}`);
    console.log(`# whole run: ${Date.now() - t0} ms`);
    process.exit(tap.failures > 0 ? 1 : 0);
}

async function adminSteps(browser, url, tree) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", error => diagnose(`page error: ${error.message}`));
    tap.screenshotPage = page;

    await step(`all ${PLUGIN_COUNT} plugins appear with their state`, async () => {
        const start = Date.now();
        await page.goto(url);
        await page.waitForFunction(count => {
            const labels = document.querySelectorAll('tbody td[data-label="State"]');
            return labels.length === count && [...labels].every(label => label.textContent === "active");
        }, PLUGIN_COUNT, { timeout: WAIT_MS, polling: "raf" });
        console.log(`# figure: ${PLUGIN_COUNT} plugins shown ${Date.now() - start} ms after the page was opened`);
        await waitForText(page.getByRole("definition").filter({ hasText: "active of" }),
                          `${PLUGIN_COUNT} active of ${PLUGIN_COUNT}`);
        check(await page.getByText("hkp-plugind", { exact: true }).isVisible(), "no overview");
        check(await page.getByText("Administrative access is needed").count() === 0,
              "the limited-access hint shows with administrative access");
    });

    await step("health and its message show as the plugin's reason", async () => {
        await waitForText(cell(page, "watched", "Health"), "degraded");
        await waitForText(cell(page, "watched", "Reason"), "reports itself degraded");
    });

    await step("plugins are listed in priority order with their priority and isolation", async () => {
        const names = await page.locator('tbody th[data-label="Name"]').allTextContents();
        check(names.slice(0, 5).join(" ") === "ipfilter slow ratelimit watched secretive",
              `the first rows are ${names.slice(0, 5).join(" ")}`);
        await waitForText(cell(page, "ipfilter", "Priority"), "1");
        await waitForText(cell(page, "p001", "Priority"), "101");
        await waitForText(cell(page, "ratelimit", "Isolation"), getProperty("ratelimit", "Isolation"));
    });

    await step("a change made over D-Bus shows up without reloading the page", async () => {
        await page.evaluate(() => { window.hkpSamePage = true });
        // Each sample: from the daemon's PropertiesChanged (as gdbus monitor saw it) to the new state
        // on the page, and from busctl's start; the daemon's signal comes before its reply.
        const monitor = await startMonitor();
        const fromSignal = [];
        const fromBusctl = [];
        const change = async (name, method, state) => {
            const signal = signalSeen(monitor,
                                      new RegExp(`^${pluginPath(name)}: .*PropertiesChanged.*'State': <'${state}'>`));
            const start = Date.now();
            const call = busctlAsync("call", BUS, pluginPath(name), PLUGIN_IFACE, method);
            await waitForText(cell(page, name, "State"), state);
            const shown = Date.now();
            fromBusctl.push(shown - start);
            fromSignal.push(shown - await signal);
            await call;
        };
        for (const name of ["p051", "p052", "p053", "p054"]) {
            await change(name, "Disable", "disabled");
            await change(name, "Enable", "active");
        }
        await change("p050", "Disable", "disabled");
        await stop(monitor);
        const summary = samples => {
            samples.sort((a, b) => a - b);
            return `median ${samples[samples.length >> 1]} ms (${samples[0]} to ${samples[samples.length - 1]} ms, ` +
                   `${samples.length} changes)`;
        };
        console.log(`# figure: a D-Bus change shown on the page, from the daemon's signal: ${summary(fromSignal)}`);
        console.log(`# figure: the same, from busctl's start: ${summary(fromBusctl)}`);
        check(await page.evaluate(() => window.hkpSamePage === true), "the page was reloaded");
        await waitForText(page.getByRole("definition").filter({ hasText: "active of" }),
                          `${PLUGIN_COUNT - 1} active of ${PLUGIN_COUNT}`);
    });

    await step("Enable enables a disabled plugin", async () => {
        await row(page, "p050").getByRole("button", { name: "Enable", exact: true }).click();
        await waitForText(cell(page, "p050", "State"), "active");
        check(getProperty("p050", "State") === "active", "the daemon does not say active");
    });

    await step("the Reload button reloads the plugin", async () => {
        const before = getProperty("ratelimit", "ReloadCount");
        await row(page, "ratelimit").getByRole("button", { name: "Reload", exact: true }).click();
        await row(page, "ratelimit").getByText("ratelimit reloaded").waitFor({ timeout: WAIT_MS });
        const after = getProperty("ratelimit", "ReloadCount");
        check(after === before + 1, `ReloadCount went from ${before} to ${after}`);
    });

    await step("a reload shows its progress while a request drains", async () => {
        const slow = row(page, "slow");
        const inFlight = callsInFlight(tree.fifo, 1);
        const request = checkRequest(tree.checkSocket);
        await inFlight;
        await slow.getByRole("button", { name: "Reload", exact: true }).click();
        // The actions cell stays while what it holds changes (Reloading… while the call runs, then the count).
        await waitForText(cell(page, "slow", "Actions"), /[Dd]raining 1 request…/);
        await slow.getByText("slow reloaded").waitFor({ timeout: WAIT_MS });
        const answer = await request;
        check(answer === 200, `the request in flight was answered ${answer}`);
        // Drained: the count goes away.
        await slow.getByRole("status").waitFor({ state: "detached", timeout: WAIT_MS });
    });

    await step("Disable asks first, then disables", async () => {
        await row(page, "p002").getByRole("button", { name: "Disable", exact: true }).click();
        const dialog = page.getByRole("dialog");
        await dialog.getByText("Disable p002?").waitFor({ timeout: WAIT_MS });
        check(getProperty("p002", "State") === "active", "disabled before the confirmation");
        await dialog.getByRole("button", { name: "Disable", exact: true }).click();
        await waitForText(cell(page, "p002", "State"), "disabled");
        check(getProperty("p002", "State") === "disabled", "the daemon does not say disabled");
        await row(page, "p002").getByRole("button", { name: "Enable", exact: true }).click();
        await waitForText(cell(page, "p002", "State"), "active");
    });

    const ratelimit = row(page, "ratelimit");
    const editor = ratelimit.getByRole("textbox", { name: "Config (JSON)" });
    await step("a bad config shows why and changes nothing", async () => {
        const version = getProperty("ratelimit", "ConfigVersion");
        const config = getProperty("ratelimit", "Config");
        await ratelimit.getByRole("button", { name: "Details" }).click();
        await editor.waitFor({ timeout: WAIT_MS });
        check(JSON.parse(await editor.inputValue()).lookup.requests_per_second === 10, "the editor holds another config");

        // Not JSON: refused in the page, nothing sent.
        await editor.fill('{"enabled": true,');
        await ratelimit.getByRole("button", { name: "Apply", exact: true }).click();
        await ratelimit.getByText("Not valid JSON").waitFor({ timeout: WAIT_MS });

        // JSON the plugin refuses: its own message, inline, and the edit stays.
        const refused = '{"enabled": true, "lookup": {"requests_per_second": -5, "burst": 20}}';
        await editor.fill(refused);
        await ratelimit.getByRole("button", { name: "Apply", exact: true }).click();
        // The alert: the innermost element holding both its title and the plugin's message.
        await ratelimit.locator("div", { has: page.getByText("The config was not applied") })
                .filter({ hasText: /"lookup.requests_per_second" must be a number/ }).last()
                .waitFor({ timeout: WAIT_MS });
        check(await editor.inputValue() === refused, "the edit was lost");
        check(getProperty("ratelimit", "ConfigVersion") === version, "ConfigVersion changed");
        check(getProperty("ratelimit", "Config") === config, "Config changed");
    });

    await step("a good config applies, and Restore from the history returns the old one", async () => {
        const version = getProperty("ratelimit", "ConfigVersion");
        await editor.fill('{"enabled": true, "lookup": {"requests_per_second": 50, "burst": 20}}');
        await ratelimit.getByRole("button", { name: "Apply", exact: true }).click();
        await ratelimit.getByText(/Applied as config version/).waitFor({ timeout: WAIT_MS });
        check(getProperty("ratelimit", "ConfigVersion") > version, "ConfigVersion did not grow");
        check(JSON.parse(getProperty("ratelimit", "Config")).lookup.requests_per_second === 50, "not applied");

        await ratelimit.getByRole("tab", { name: "History" }).click();
        const history = ratelimit.getByLabel("Config history of ratelimit");
        const old = history.getByRole("row")
                .filter({ has: page.getByRole("gridcell", { name: String(version), exact: true }) });
        await old.getByRole("button", { name: "Restore", exact: true }).click();
        await ratelimit.getByText(`Restored version ${version}`).waitFor({ timeout: WAIT_MS });
        check(JSON.parse(getProperty("ratelimit", "Config")).lookup.requests_per_second === 10, "not restored");
    });

    await step("secrets show redacted, and a config sent back keeps them", async () => {
        const secretive = row(page, "secretive");
        await secretive.getByRole("button", { name: "Details" }).click();
        const text = secretive.getByRole("textbox", { name: "Config (JSON)" });
        await text.waitFor({ timeout: WAIT_MS });
        const shown = await text.inputValue();
        check(!shown.includes("s3cret-value"), "the secret shows in the page");
        check(JSON.parse(shown).api_token === "[redacted]", "the page does not show the token redacted");
        await text.fill(shown.replace('"first"', '"second"'));
        await secretive.getByRole("button", { name: "Apply", exact: true }).click();
        await secretive.getByText(/Applied as config version/).waitFor({ timeout: WAIT_MS });
        const file = JSON.parse(fs.readFileSync(path.join(tree.configDir, "secretive.json"), "utf8"));
        check(file.config.reason === "second", "the edit was not applied");
        check(file.config.api_token === "s3cret-value", `the secret became ${file.config.api_token}`);
    });

    await step("the health checks show the plugin's own checks", async () => {
        const watched = row(page, "watched");
        await watched.getByRole("button", { name: "Details" }).click();
        await watched.getByRole("tab", { name: "Health checks" }).click();
        const checks = watched.getByLabel("Health checks", { exact: true });
        await checks.getByText("checks", { exact: true }).waitFor({ timeout: WAIT_MS });
        await checks.getByText("active_requests", { exact: true }).waitFor({ timeout: WAIT_MS });
    });
    await page.close();
}

async function limitedSteps(browser, root, systemBus, sessionBus, daemonControl) {
    const nobody = Number(spawnSync("id", ["-u", "nobody"], { encoding: "utf8" }).stdout.trim());
    const limited = await startCockpit(root, nobody, systemBus, sessionBus);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", error => diagnose(`page error: ${error.message}`));
    tap.screenshotPage = page;

    await step("with limited access the page is read-only and says why", async () => {
        await page.goto(limited.url);
        await page.getByText("Administrative access is needed to change plugins").waitFor({ timeout: WAIT_MS });
        await waitForText(cell(page, "ratelimit", "State"), "active");
        await row(page, "ratelimit").getByRole("button", { name: "Details" }).click();
        await row(page, "ratelimit").getByRole("textbox", { name: "Config (JSON)" }).waitFor({ timeout: WAIT_MS });
        const actions = page.getByRole("button", { name: /^(Reload|Enable|Disable|Apply|Restore)$/ });
        const count = await actions.count();
        check(count >= 2 * PLUGIN_COUNT, `only ${count} action buttons`);
        const enabled = await page.locator("button:is(:text-is('Reload'), :text-is('Enable'), :text-is('Disable'), " +
                                           ":text-is('Apply'), :text-is('Restore')):not([disabled]):not([aria-disabled=true])").count();
        check(enabled === 0, `${enabled} action buttons are enabled`);
    });

    await step("the page says when hkp-plugind stops, and follows it when it is back", async () => {
        const exit = await daemonControl.stop();
        check(exit === 0, `hkp-plugind stopped with ${exit}`);
        await page.getByText("hkp-plugind is not running").waitFor({ timeout: WAIT_MS });
        await daemonControl.start();
        await waitForText(cell(page, "ratelimit", "State"), "active");
        await waitForText(page.getByRole("definition").filter({ hasText: "active of" }),
                          `${PLUGIN_COUNT} active of ${PLUGIN_COUNT}`);
    });
    await page.close();
}

const MANAGER_PATH = "/org/hkp/PluginManager1";

function rescan() {
    busctl("call", BUS, MANAGER_PATH, "org.hkp.PluginManager1.Manager", "Rescan");
}

// Many plugins whose configs are near the 1 MiB limit: their properties together pass what one
// message may carry, so the daemon refuses GetManagedObjects (LimitsExceeded), and what the page
// shows comes from cockpit-bridge reading each plugin by itself (Introspect and GetAll; the page
// itself does nothing different).  Last, since it leaves the daemon with LARGE_COUNT more plugins.
async function largeConfigSteps(browser, url, tree, daemonControl) {
    const padding = "x".repeat(900 * 1024);
    const large = i => `large${String(i).padStart(2, "0")}`;
    for (let i = 0; i < LARGE_COUNT; i++) {
        const file = { module: "answer.so", isolation: "none", priority: 500 + i,
                       config: { verdict: "continue", padding } };
        fs.writeFileSync(path.join(tree.configDir, `${large(i)}.json`), JSON.stringify(file));
    }
    rescan();
    const total = PLUGIN_COUNT + LARGE_COUNT;
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", error => diagnose(`page error: ${error.message}`));
    tap.screenshotPage = page;

    await step(`with GetManagedObjects refused for its size, all ${total} plugins appear`, async () => {
        let refused = null;
        try {
            busctl("call", BUS, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
        } catch (error) {
            refused = error;
        }
        check(/too large/.test(refused?.message),
              `GetManagedObjects was not refused for its size: ${refused?.message}`);
        const start = Date.now();
        await page.goto(url);
        await page.waitForFunction(count => {
            const labels = document.querySelectorAll('tbody td[data-label="State"]');
            return labels.length === count && [...labels].every(label => label.textContent === "active");
        }, total, { timeout: WAIT_MS, polling: "raf" });
        console.log(`# figure: ${total} plugins (${LARGE_COUNT} of large configs) shown ${Date.now() - start} ms ` +
                    "after the page was opened");
        await waitForText(cell(page, large(LARGE_COUNT - 1), "Priority"), String(500 + LARGE_COUNT - 1));
        await waitForText(page.getByRole("definition").filter({ hasText: "active of" }), `${total} active of ${total}`);
    });

    await step("with GetManagedObjects refused, the page follows changes, added and removed plugins", async () => {
        await busctlAsync("call", BUS, pluginPath(large(5)), PLUGIN_IFACE, "Disable");
        await waitForText(cell(page, large(5), "State"), "disabled");
        await busctlAsync("call", BUS, pluginPath(large(5)), PLUGIN_IFACE, "Enable");
        await waitForText(cell(page, large(5), "State"), "active");

        fs.rmSync(path.join(tree.configDir, `${large(0)}.json`));
        fs.writeFileSync(path.join(tree.configDir, "late.json"), JSON.stringify({
            module: "answer.so", isolation: "none", priority: 499, config: { verdict: "continue" },
        }));
        rescan();
        await row(page, large(0)).waitFor({ state: "detached", timeout: WAIT_MS });
        await waitForText(cell(page, "late", "State"), "active");
        await waitForText(page.getByRole("definition").filter({ hasText: "active of" }), `${total} active of ${total}`);
        const rows = await page.locator('tbody td[data-label="State"]').count();
        check(rows === total, `${rows} rows for ${total} plugins`);
    });

    // A new daemon: the bridge reads every plugin again, GetManagedObjects still refused.
    await step("with GetManagedObjects refused, the page follows hkp-plugind back after a restart", async () => {
        const exit = await daemonControl.stop();
        check(exit === 0, `hkp-plugind stopped with ${exit}`);
        await page.getByText("hkp-plugind is not running").waitFor({ timeout: WAIT_MS });
        await daemonControl.start();
        await waitForText(cell(page, large(LARGE_COUNT - 1), "State"), "active");
        await waitForText(page.getByRole("definition").filter({ hasText: "active of" }), `${total} active of ${total}`);
        const rows = await page.locator('tbody td[data-label="State"]').count();
        check(rows === total, `${rows} rows for ${total} plugins`);
    });
    await page.close();
}

// Our polkit actions, installed while the test runs under a name that says whose they are:
// hkp-plugind-test-<pid>.policy, as tests/bus/test-polkit.c names them (each removes files
// whose process is gone, left by a run that crashed).
function installPolicy() {
    if (!fs.existsSync(POLKITD))
        return null;
    for (const entry of fs.readdirSync(POLKIT_ACTIONS)) {
        const match = /^hkp-plugind-test-(\d+)\.policy$/.exec(entry);
        if (match && !fs.existsSync(`/proc/${match[1]}`))
            fs.rmSync(path.join(POLKIT_ACTIONS, entry), { force: true });
    }
    const installed = path.join(POLKIT_ACTIONS, `hkp-plugind-test-${process.pid}.policy`);
    fs.copyFileSync(path.join(env.G_TEST_SRCDIR, "..", "polkit", "org.hkp.PluginManager1.policy"), installed);
    fs.chmodSync(installed, 0o644);
    return installed;
}

// Run again inside private PID and network namespaces: when this process ends, so does everything it started.
if (env.HKP_COCKPIT_TEST_NAMESPACE !== "1") {
    const policy = installPolicy();
    // --mount-proc: a /proc of the new PID namespace (LeakSanitizer reads /proc/PID/task of the daemon).
    const child = spawn("unshare", ["--fork", "--pid", "--mount-proc", "--kill-child", "--net", process.execPath,
        ...process.execArgv, process.argv[1]], {
        stdio: "inherit",
        env: { ...env, HKP_COCKPIT_TEST_NAMESPACE: "1", HKP_COCKPIT_TEST_POLICY: policy ?? "" },
    });
    child.on("exit", (code, signal) => {
        if (policy)
            fs.rmSync(policy, { force: true });
        process.exit(signal ? 1 : code);
    });
} else {
    await main();
}
