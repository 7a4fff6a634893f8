// The Cockpit page's pure helpers (src/cockpit/app/format.js): what the page shows for
// states, health, durations, and which configs it refuses before sending them.
import assert from "node:assert/strict";
import path from "node:path";
import test from "node:test";
import { pathToFileURL } from "node:url";

const format = await import(pathToFileURL(path.join(process.env.HKP_COCKPIT_SRC_DIR, "app", "format.js")));

test("every state and health has its colour; unknown ones are grey", () => {
    assert.equal(format.stateColor("active"), "green");
    assert.equal(format.stateColor("failed"), "red");
    assert.equal(format.stateColor("disabled"), "grey");
    for (const state of ["loading", "reloading", "unloading"])
        assert.equal(format.stateColor(state), "blue");
    assert.equal(format.healthColor("healthy"), "green");
    assert.equal(format.healthColor("degraded"), "orange");
    assert.equal(format.healthColor("unhealthy"), "red");
    assert.equal(format.healthColor("transitioning"), "blue");
    assert.equal(format.healthColor("unknown"), "grey");
    assert.equal(format.stateColor(undefined), "grey");
});

test("durations show their two largest units", () => {
    assert.equal(format.formatDuration(0), "0s");
    assert.equal(format.formatDuration(12.7), "12s");
    assert.equal(format.formatDuration(303), "5m 3s");
    assert.equal(format.formatDuration(2 * 3600 + 15 * 60 + 30), "2h 15m");
    assert.equal(format.formatDuration(3600), "1h 0m");
    assert.equal(format.formatDuration(3 * 86400 + 4 * 3600 + 59), "3d 4h");
    assert.equal(format.formatDuration(-5), "0s");
    assert.equal(format.formatUSec(60 * 1e6), "60 s");
    assert.equal(format.formatUSec(1500), "0.002 s");
    assert.equal(format.formatUSec(undefined), "");
    assert.equal(format.formatTimestampUSec(0), "never");
});

test("a config must be a JSON object before it is sent", () => {
    assert.equal(format.checkConfig('{"enabled": true, "api_token": "[redacted]"}'), null);
    assert.match(format.checkConfig('{"enabled": true,'), /^Not valid JSON: /);
    assert.match(format.checkConfig(""), /^Not valid JSON: /);
    for (const text of ["[]", "null", "42", '"text"'])
        assert.match(format.checkConfig(text), /must be a JSON object/);
});

test("the editor pretty-prints JSON and keeps other text as it is", () => {
    assert.equal(format.prettyConfig('{"a":1}'), '{\n  "a": 1\n}');
    assert.equal(format.prettyConfig("not json"), "not json");
    assert.equal(format.prettyConfig(undefined), "");
});

test("the reason is the last error, else the health message", () => {
    assert.equal(format.pluginReason({ LastError: "init failed", HealthMessage: "slow" }), "init failed");
    assert.equal(format.pluginReason({ LastError: "", HealthMessage: "slow" }), "slow");
    assert.equal(format.pluginReason({}), "");
});
