// One plugin's expanded row: its properties, config editor, config history and health checks.
import { useCallback, useEffect, useState } from "react";
import { Alert } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Button } from "@patternfly/react-core/dist/esm/components/Button/index.js";
import { DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm } from "@patternfly/react-core/dist/esm/components/DescriptionList/index.js";
import { Label } from "@patternfly/react-core/dist/esm/components/Label/index.js";
import { Spinner } from "@patternfly/react-core/dist/esm/components/Spinner/index.js";
import { Tab, TabTitleText, Tabs } from "@patternfly/react-core/dist/esm/components/Tabs/index.js";

import { ConfigEditor } from "./config-editor.jsx";
import { ConfigHistory } from "./config-history.jsx";
import { formatTimestampUSec, formatUSec, healthColor } from "./format.js";
import { errorText } from "./store.js";

function Item({ term, children }) {
    return (
        <DescriptionListGroup>
            <DescriptionListTerm>{term}</DescriptionListTerm>
            <DescriptionListDescription>{children}</DescriptionListDescription>
        </DescriptionListGroup>
    );
}

function Properties({ plugin }) {
    const optional = value => (value === undefined ? "" : String(value));
    return (
        <DescriptionList isHorizontal isCompact columnModifier={{ default: "2Col" }} aria-label="Properties">
            <Item term="Version">{plugin.Version}</Item>
            <Item term="Description">{plugin.Description}</Item>
            <Item term="Module">{plugin.ModulePath}</Item>
            <Item term="Last error">{plugin.LastError || "none"}</Item>
            <Item term="Reload strategy">{optional(plugin.ReloadStrategy)}</Item>
            <Item term="Failure mode">{optional(plugin.FailureMode)}</Item>
            <Item term="Isolation">{optional(plugin.Isolation)}</Item>
            <Item term="Host process">{plugin.HostPID ? String(plugin.HostPID) : optional(plugin.HostPID)}</Item>
            <Item term="Required">{plugin.Required === undefined ? "" : plugin.Required ? "yes" : "no"}</Item>
            <Item term="Drain timeout">{formatUSec(plugin.DrainTimeoutUSec)}</Item>
            <Item term="Call timeout">{formatUSec(plugin.CallTimeoutUSec)}</Item>
            <Item term="Health interval">{formatUSec(plugin.HealthIntervalUSec)}</Item>
            <Item term="Config version">{optional(plugin.ConfigVersion)}</Item>
            <Item term="Reloads">{optional(plugin.ReloadCount)}</Item>
        </DescriptionList>
    );
}

// The plugin's own checks from GetHealth(), read again whenever its health, message or state changes.
function HealthChecks({ store, plugin }) {
    const [health, setHealth] = useState(null);
    const [error, setError] = useState(null);
    const name = plugin.Name;

    const load = useCallback(() => {
        store.health()
                .then(doc => {
                    setHealth(doc.plugins?.[name] ?? null);
                    setError(null);
                })
                .catch(e => setError(errorText(e)));
    }, [store, name]);

    useEffect(load, [load, plugin.Health, plugin.HealthMessage, plugin.State]);

    if (error)
        return <Alert variant="danger" isInline title="Cannot read the health checks">{error}</Alert>;
    if (!health)
        return <Spinner size="md" aria-label="Loading health checks" />;

    const checks = Object.entries(health.checks || {});
    return (
        <>
            <DescriptionList isHorizontal isCompact aria-label="Health checks">
                <Item term="Status"><Label color={healthColor(health.status)}>{health.status}</Label></Item>
                <Item term="Message">{plugin.HealthMessage || "none"}</Item>
                <Item term="Last check">{formatTimestampUSec(health.last_check * 1e6)}</Item>
                {checks.map(([key, value]) => <Item key={key} term={key}>{String(value)}</Item>)}
            </DescriptionList>
            <Button variant="link" isInline onClick={load}>Refresh</Button>
        </>
    );
}

export function PluginDetails({ store, plugin }) {
    const [tab, setTab] = useState("config");

    return (
        <Tabs activeKey={tab} onSelect={(_event, key) => setTab(key)} mountOnEnter unmountOnExit
              aria-label={`Details of ${plugin.Name}`}>
            <Tab eventKey="config" title={<TabTitleText>Configuration</TabTitleText>}>
                <ConfigEditor store={store} plugin={plugin} />
            </Tab>
            <Tab eventKey="history" title={<TabTitleText>History</TabTitleText>}>
                <ConfigHistory store={store} plugin={plugin} />
            </Tab>
            <Tab eventKey="health" title={<TabTitleText>Health checks</TabTitleText>}>
                <HealthChecks store={store} plugin={plugin} />
            </Tab>
            <Tab eventKey="properties" title={<TabTitleText>Properties</TabTitleText>}>
                <Properties plugin={plugin} />
            </Tab>
        </Tabs>
    );
}
