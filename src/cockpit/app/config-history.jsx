// A plugin's config history (GetConfigHistory: newest first, who and when), with Restore.
import { Fragment, useCallback, useEffect, useState } from "react";
import { Alert } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Button } from "@patternfly/react-core/dist/esm/components/Button/index.js";
import { Label } from "@patternfly/react-core/dist/esm/components/Label/index.js";
import { Spinner } from "@patternfly/react-core/dist/esm/components/Spinner/index.js";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table/dist/esm/components/Table/index.js";

import { formatTimestampUSec, prettyConfig } from "./format.js";
import { errorText } from "./store.js";

export function ConfigHistory({ store, plugin }) {
    const [entries, setEntries] = useState(null);
    const [loadError, setLoadError] = useState(null);
    const [shown, setShown] = useState({});
    const [notice, setNotice] = useState(null);
    const locked = store.canChange !== true;
    const busy = store.pending.has(plugin.path);

    const load = useCallback(() => {
        store.callPlugin(plugin, "GetConfigHistory")
                .then(([history]) => {
                    setEntries(history.map(([time, version, who, config]) => ({ time, version, who, config })));
                    setLoadError(null);
                })
                .catch(error => setLoadError(errorText(error)));
    }, [store, plugin]);

    // Read again whenever a new version is made, here or elsewhere.
    useEffect(load, [load, plugin.ConfigVersion]);

    const restore = version => {
        setNotice(null);
        store.change(plugin, "restore", "RestoreConfig", [version])
                .then(() => setNotice({ variant: "success", title: `Restored version ${version}` }))
                .catch(error => setNotice({
                    variant: "danger", title: `Restoring version ${version} failed`, text: errorText(error),
                }));
    };

    if (loadError)
        return <Alert variant="danger" isInline title="Cannot read the config history">{loadError}</Alert>;
    if (entries === null)
        return <Spinner size="md" aria-label="Loading the config history" />;
    if (entries.length === 0)
        return <p>No earlier versions are kept.</p>;

    return (
        <>
            {notice && <Alert variant={notice.variant} isInline title={notice.title}>{notice.text}</Alert>}
            <Table aria-label={`Config history of ${plugin.Name}`} variant="compact">
                <Thead>
                    <Tr>
                        <Th>Version</Th>
                        <Th>When</Th>
                        <Th>Who</Th>
                        <Th screenReaderText="Actions" />
                    </Tr>
                </Thead>
                <Tbody>
                    {entries.map(entry => {
                        const isCurrent = entry.version === plugin.ConfigVersion;
                        return (
                            <Fragment key={entry.version}>
                                <Tr>
                                    <Td dataLabel="Version">
                                        {entry.version}
                                        {isCurrent && <> <Label color="blue" isCompact>current</Label></>}
                                    </Td>
                                    <Td dataLabel="When">{formatTimestampUSec(entry.time)}</Td>
                                    <Td dataLabel="Who">{entry.who}</Td>
                                    <Td dataLabel="Actions" isActionCell>
                                        <span className="hkp-actions">
                                            <Button variant="link" isInline
                                                    onClick={() => setShown(old => ({ ...old, [entry.version]: !old[entry.version] }))}>
                                                {shown[entry.version] ? "Hide" : "Show"}
                                            </Button>
                                            {" "}
                                            <Button variant="secondary" size="sm" isDisabled={locked || busy || isCurrent}
                                                    onClick={() => restore(entry.version)}>
                                                Restore
                                            </Button>
                                        </span>
                                    </Td>
                                </Tr>
                                {shown[entry.version] &&
                                    <Tr>
                                        <Td colSpan={4}>
                                            <pre className="hkp-config-view">{prettyConfig(entry.config)}</pre>
                                        </Td>
                                    </Tr>}
                            </Fragment>
                        );
                    })}
                </Tbody>
            </Table>
        </>
    );
}
