// Pure helpers of the page: label colours, durations and times, the config check.
// No cockpit or React here, so node's test runner checks them directly.

const STATE_COLORS = {
    active: "green",
    loading: "blue",
    reloading: "blue",
    unloading: "blue",
    failed: "red",
    disabled: "grey",
};

const HEALTH_COLORS = {
    healthy: "green",
    degraded: "orange",
    unhealthy: "red",
    transitioning: "blue",
};

// PatternFly label colour for a plugin state.
export function stateColor(state) {
    return STATE_COLORS[state] || "grey";
}

// PatternFly label colour for a health status (a plugin's, or the overall one).
export function healthColor(health) {
    return HEALTH_COLORS[health] || "grey";
}

// "3d 4h", "2h 15m", "5m 3s", "12s": the two largest units of a duration in seconds.
export function formatDuration(seconds) {
    let rest = Math.max(0, Math.floor(seconds));
    const parts = [];
    for (const [name, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
        const count = Math.floor(rest / size);
        rest -= count * size;
        if (parts.length > 0 || count > 0)
            parts.push(count + name);
    }
    return parts.length > 0 ? parts.slice(0, 2).join(" ") : "0s";
}

// A realtime timestamp in µs (D-Bus "t") as local date and time, or "never" for 0.
export function formatTimestampUSec(usec) {
    if (!usec)
        return "never";
    return new Date(usec / 1000).toLocaleString();
}

// A config as the editor shows it: pretty-printed JSON, or the text as it is when it is not JSON.
export function prettyConfig(text) {
    try {
        return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_e) {
        return text ?? "";
    }
}

// Checks an edited config before it is sent: null when it is a JSON object, else what is wrong.
export function checkConfig(text) {
    let value;
    try {
        value = JSON.parse(text);
    } catch (e) {
        return "Not valid JSON: " + e.message;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value))
        return "The config must be a JSON object, such as {\"enabled\": true}";
    return null;
}

// The reason shown beside a plugin: its last error, else its health message.
export function pluginReason(plugin) {
    return plugin.LastError || plugin.HealthMessage || "";
}

// A duration in µs as seconds for people ("60 s"), or "" when unknown.
export function formatUSec(usec) {
    if (usec === undefined || usec === null)
        return "";
    const seconds = usec / 1e6;
    return (Number.isInteger(seconds) ? seconds : seconds.toFixed(3)) + " s";
}
