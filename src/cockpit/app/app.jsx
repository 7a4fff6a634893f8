// The page: an overview of the daemon, the hint for limited access, and the plugin table.
import { useEffect, useState } from "react";
import { Alert } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Card, CardBody, CardTitle } from "@patternfly/react-core/dist/esm/components/Card/index.js";
import { DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm } from "@patternfly/react-core/dist/esm/components/DescriptionList/index.js";
import { EmptyState, EmptyStateBody } from "@patternfly/react-core/dist/esm/components/EmptyState/index.js";
import { Label } from "@patternfly/react-core/dist/esm/components/Label/index.js";
import { Page, PageSection } from "@patternfly/react-core/dist/esm/components/Page/index.js";
import { Spinner } from "@patternfly/react-core/dist/esm/components/Spinner/index.js";

import { formatDuration, healthColor } from "./format.js";
import { PluginTable } from "./plugin-table.jsx";
import { useStore } from "./store.js";

// The current time, refreshed every interval ms (for the uptime; no D-Bus traffic).
function useNow(interval) {
    const [now, setNow] = useState(Date.now());
    useEffect(() => {
        const timer = setInterval(() => setNow(Date.now()), interval);
        return () => clearInterval(timer);
    }, [interval]);
    return now;
}

function Overview({ store }) {
    const manager = store.manager;
    const now = useNow(1000);
    const uptime = manager.StartTimestamp ? formatDuration(now / 1000 - manager.StartTimestamp / 1e6) : "";
    const item = (term, description) => (
        <DescriptionListGroup>
            <DescriptionListTerm>{term}</DescriptionListTerm>
            <DescriptionListDescription>{description}</DescriptionListDescription>
        </DescriptionListGroup>
    );

    return (
        <Card isPlain>
            <CardTitle component="h2">hkp-plugind</CardTitle>
            <CardBody>
                <DescriptionList isHorizontal isCompact columnModifier={{ default: "2Col" }} aria-label="Overview">
                    {item("Version", manager.Version)}
                    {item("Uptime", uptime)}
                    {item("Plugins", `${manager.ActivePlugins ?? 0} active of ${manager.TotalPlugins ?? 0}`)}
                    {item("Overall health",
                          <Label color={healthColor(manager.OverallHealth)}>{manager.OverallHealth}</Label>)}
                </DescriptionList>
            </CardBody>
        </Card>
    );
}

function AccessHint({ store }) {
    if (store.canChange !== false)
        return null;
    return (
        <Alert variant="info" isInline title="Administrative access is needed to change plugins">
            You can see every plugin&apos;s state, health and config. To reload, enable, disable or
            configure plugins, turn on administrative access.
        </Alert>
    );
}

function Message({ title, children, loading }) {
    return (
        <Page className="hkp-page">
            <PageSection>
                <EmptyState titleText={title} headingLevel="h1" icon={loading ? Spinner : undefined}>
                    {children && <EmptyStateBody>{children}</EmptyStateBody>}
                </EmptyState>
            </PageSection>
        </Page>
    );
}

export function App({ store }) {
    useStore(store);

    if (store.problem)
        return <Message title="Cannot reach hkp-plugind">{store.problem}</Message>;
    if (store.owner === null)
        return (
            <Message title="hkp-plugind is not running">
                Start it with <code>systemctl start hkp-plugind</code>; this page follows it once it runs.
            </Message>
        );
    if (!store.manager.valid || !store.pluginsLoaded)
        return <Message title="Loading plugins" loading />;

    return (
        <Page className="hkp-page">
            <PageSection>
                <AccessHint store={store} />
                <Overview store={store} />
            </PageSection>
            <PageSection>
                <PluginTable store={store} />
            </PageSection>
        </Page>
    );
}
