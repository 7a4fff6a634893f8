// The page's view of hkp-plugind: the manager and every plugin object, kept
// current from the ObjectManager and PropertiesChanged (never polled), and the
// user's administrative access.  Components read it through useStore().
/* global cockpit */
import { useSyncExternalStore } from "react";

export const BUS_NAME = "org.hkp.PluginManager1";
export const MANAGER_PATH = "/org/hkp/PluginManager1";
export const MANAGER_IFACE = "org.hkp.PluginManager1.Manager";
export const PLUGIN_IFACE = "org.hkp.PluginManager1.Plugin";

// A reload or config change answers once its outcome is known: up to the drain
// timeout plus the init timeout (default 30 s).  Wait that long and a margin.
const INIT_MARGIN_MS = 60 * 1000;

export class Store {
    constructor() {
        this.version = 0;
        this.listeners = new Set();
        this.notifyPending = false;
        this.owner = undefined; // undefined: not known yet; null: the service is not running
        this.problem = null;
        this.pending = new Map(); // plugin path → what is running ("reload", "enable"…)

        // superuser "try": with administrative access the calls are made as root,
        // which polkit allows; with limited access they are made as the user.
        this.client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        this.client.addEventListener("owner", (_event, owner) => {
            this.owner = owner;
            this.notify();
        });
        this.client.addEventListener("close", (_event, options) => {
            this.problem = options.problem || "disconnected";
            this.notify();
        });

        this.manager = this.client.proxy(MANAGER_IFACE, MANAGER_PATH);
        this.manager.addEventListener("changed", () => this.notify());
        this.manager.wait(() => this.notify());

        this.plugins = this.client.proxies(PLUGIN_IFACE, MANAGER_PATH);
        this.stamps = new Map(); // plugin path → a number that changes with anything shown about the plugin
        for (const event of ["added", "changed", "removed"])
            this.plugins.addEventListener(event, (_event, proxy) => {
                this.touch(proxy.path);
                this.notify();
                this.refreshCountsSoon();
            });
        this.requestCounts = new Map(); // plugin name → active requests, from the last GetHealth()
        this.countsTimer = null;
        this.pluginsLoaded = false;
        this.plugins.wait(() => {
            this.pluginsLoaded = true;
            this.notify();
        });

        this.permission = cockpit.permission({ admin: true });
        this.permission.addEventListener("changed", () => this.notify());
    }

    // Marks a plugin as changed, so that its rows render again.
    touch(path) {
        this.stamps.set(path, (this.stamps.get(path) ?? 0) + 1);
    }

    stamp(plugin) {
        return this.stamps.get(plugin.path) ?? 0;
    }

    // Many signals arrive in a burst (a rescan, the first GetManagedObjects):
    // render once for all of them.
    notify() {
        if (this.notifyPending)
            return;
        this.notifyPending = true;
        setTimeout(() => {
            this.notifyPending = false;
            this.version++;
            for (const listener of this.listeners)
                listener();
        }, 0);
    }

    subscribe = (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    };

    getVersion = () => this.version;

    // Every plugin proxy that is valid, in priority order (then by name).
    pluginList() {
        return Object.values(this.plugins)
                .filter(proxy => proxy.valid && proxy.Name !== undefined)
                .sort((a, b) => (a.Priority ?? 0) - (b.Priority ?? 0) || a.Name.localeCompare(b.Name));
    }

    // ActiveRequests is a fast counter and emits no signal (DESIGN §4): read the counts again,
    // at most four times a second, whenever something else about the plugins changed.
    refreshCountsSoon() {
        if (this.countsTimer)
            return;
        this.countsTimer = setTimeout(() => {
            this.health()
                    .then(doc => {
                        for (const [name, health] of Object.entries(doc.plugins || {}))
                            this.requestCounts.set(name, health.checks?.active_requests ?? 0);
                        // Counts are passed to the rows as they are: no stamp needed.
                        this.notify();
                    })
                    .catch(() => {})
                    .finally(() => { this.countsTimer = null });
        }, 250);
    }

    // A plugin's requests in flight, as last read.
    activeRequests(plugin) {
        return this.requestCounts.get(plugin.Name) ?? plugin.ActiveRequests ?? 0;
    }

    // true, false, or null while not known yet.
    get canChange() {
        return this.permission.allowed;
    }

    changeTimeoutMs(proxy) {
        const drainUSec = proxy.DrainTimeoutUSec ?? this.manager.DrainTimeoutUSec ?? 60 * 1000 * 1000;
        return Math.ceil(drainUSec / 1000) + INIT_MARGIN_MS;
    }

    // Calls a Plugin method; resolves with the reply's arguments, rejects with the D-Bus error.
    callPlugin(proxy, method, args = [], options = {}) {
        return this.client.call(proxy.path, PLUGIN_IFACE, method, args, options);
    }

    // Runs a change (Reload, Enable, Disable, SetConfig…) and remembers it as the plugin's
    // pending change while it runs, so its row can show the progress.
    change(proxy, what, method, args = []) {
        this.pending.set(proxy.path, what);
        this.touch(proxy.path);
        this.notify();
        return this.callPlugin(proxy, method, args, { timeout: this.changeTimeoutMs(proxy) })
                .finally(() => {
                    this.pending.delete(proxy.path);
                    this.touch(proxy.path);
                    this.notify();
                });
    }

    // The manager's GetHealth() document, parsed.
    health() {
        return this.client.call(MANAGER_PATH, MANAGER_IFACE, "GetHealth", [])
                .then(([json]) => JSON.parse(json));
    }
}

// Re-renders the calling component on every change of the store.
export function useStore(store) {
    useSyncExternalStore(store.subscribe, store.getVersion);
    return store;
}

// The text a user should read for a failed call: the daemon's message, which names the problem.
export function errorText(error) {
    if (!error)
        return "";
    if (error.name === "org.freedesktop.DBus.Error.AccessDenied" ||
        error.name === "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")
        return "Not permitted: " + (error.message || "administrative access is needed");
    return error.message || error.problem || String(error);
}
