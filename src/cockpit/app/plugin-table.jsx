// Every plugin in one table: live state, health and reason, and the Reload /
// Enable / Disable actions, with an expandable row of details per plugin.
import { memo, useCallback, useState } from "react";
import { Alert, AlertActionCloseButton } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Button } from "@patternfly/react-core/dist/esm/components/Button/index.js";
import { Label } from "@patternfly/react-core/dist/esm/components/Label/index.js";
import { Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core/dist/esm/components/Modal/index.js";
import { Spinner } from "@patternfly/react-core/dist/esm/components/Spinner/index.js";
import { ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table/dist/esm/components/Table/index.js";

import { pluginReason, stateColor, healthColor } from "./format.js";
import { PluginDetails } from "./plugin-details.jsx";
import { errorText } from "./store.js";

const COLUMNS = 9;

const PENDING_TEXT = {
    reload: "Reloading",
    enable: "Enabling",
    disable: "Disabling",
    configure: "Applying config",
    restore: "Restoring config",
};

// What a running change shows, and how many requests its old instances still
// serve (DrainingRequests: an overlap reload answers once the new instance
// serves, while the old one drains on).
function Progress({ what, draining }) {
    const text = what ? PENDING_TEXT[what] || "Working" : null;
    const requests = `${draining} request${draining === 1 ? "" : "s"}`;
    return (
        <span className="hkp-progress" role="status">
            <Spinner size="md" aria-hidden />
            {text && draining > 0 && `${text}: draining ${requests}…`}
            {text && !(draining > 0) && `${text}…`}
            {!text && `Draining ${requests}…`}
        </span>
    );
}

function Actions({ store, plugin, canChange, onChange, onDisable }) {
    const pending = store.pending.get(plugin.path);
    const draining = plugin.DrainingRequests ?? 0;
    if (pending)
        return <Progress what={pending} draining={draining} />;

    const locked = canChange !== true;
    const disabled = plugin.State === "disabled";
    return (
        <span className="hkp-actions">
            {draining > 0 && <><Progress draining={draining} />{" "}</>}
            <Button variant="secondary" size="sm" isDisabled={locked || disabled}
                    onClick={() => onChange("reload", "Reload")}>
                Reload
            </Button>
            {" "}
            {disabled
                ? <Button variant="secondary" size="sm" isDisabled={locked}
                          onClick={() => onChange("enable", "Enable")}>
                    Enable
                </Button>
                : <Button variant="secondary" size="sm" isDisabled={locked} onClick={onDisable}>
                    Disable
                </Button>}
        </span>
    );
}

function ConfirmDisable({ name, onConfirm, onCancel }) {
    return (
        <Modal variant="small" isOpen onClose={onCancel} aria-labelledby="hkp-disable-title">
            <ModalHeader title={`Disable ${name}?`} labelId="hkp-disable-title" />
            <ModalBody>
                Its requests in flight finish first; after that the plugin no longer checks any request
                until it is enabled again.
            </ModalBody>
            <ModalFooter>
                <Button variant="danger" onClick={onConfirm}>Disable</Button>
                <Button variant="link" onClick={onCancel}>Cancel</Button>
            </ModalFooter>
        </Modal>
    );
}

// One plugin's rows.  Memoized: a change of one plugin (its stamp) renders its rows alone,
// not all of them, which keeps a page of a hundred plugins quick to follow signals.
const PluginRows = memo(function PluginRows({
    store, plugin, rowIndex, canChange, activeRequests, isExpanded, notice, onToggle, onChange, onDisable,
    onCloseNotice,
}) {
    return (
        <Tbody isExpanded={isExpanded} aria-label={plugin.Name}>
            <Tr>
                <Td expand={{ rowIndex, isExpanded, onToggle: () => onToggle(plugin.path) }} />
                <Th dataLabel="Name" modifier="nowrap">{plugin.Name}</Th>
                <Td dataLabel="State">
                    <Label color={stateColor(plugin.State)}>{plugin.State}</Label>
                </Td>
                <Td dataLabel="Health">
                    <Label color={healthColor(plugin.Health)}>{plugin.Health}</Label>
                </Td>
                <Td dataLabel="Reason" modifier="breakWord">{pluginReason(plugin)}</Td>
                <Td dataLabel="Priority">{plugin.Priority ?? ""}</Td>
                <Td dataLabel="Isolation">{plugin.Isolation ?? ""}</Td>
                <Td dataLabel="Active requests">{activeRequests}</Td>
                <Td dataLabel="Actions" isActionCell modifier="fitContent">
                    <Actions store={store} plugin={plugin} canChange={canChange}
                             onChange={(what, method) => onChange(plugin, what, method)}
                             onDisable={() => onDisable(plugin)} />
                </Td>
            </Tr>
            {notice &&
                <Tr>
                    <Td colSpan={COLUMNS}>
                        <Alert variant={notice.variant} isInline isPlain={notice.variant === "success"}
                               title={notice.title}
                               actionClose={<AlertActionCloseButton onClose={() => onCloseNotice(plugin.path)} />}>
                            {notice.text}
                        </Alert>
                    </Td>
                </Tr>}
            <Tr isExpanded={isExpanded}>
                <Td colSpan={COLUMNS}>
                    {isExpanded &&
                        <ExpandableRowContent>
                            <PluginDetails store={store} plugin={plugin} />
                        </ExpandableRowContent>}
                </Td>
            </Tr>
        </Tbody>
    );
});

export function PluginTable({ store }) {
    const [expanded, setExpanded] = useState({});
    const [notices, setNotices] = useState({});
    const [confirm, setConfirm] = useState(null);
    const plugins = store.pluginList();

    const setNotice = useCallback((path, notice) => setNotices(old => ({ ...old, [path]: notice })), []);
    const onCloseNotice = useCallback(path => setNotice(path, null), [setNotice]);
    const onToggle = useCallback(path => setExpanded(old => ({ ...old, [path]: !old[path] })), []);

    // Runs a change and shows its outcome on the plugin's row.
    const runChange = useCallback((plugin, what, method) => {
        const name = plugin.Name;
        setNotice(plugin.path, null);
        store.change(plugin, what, method)
                .then(() => {
                    if (what === "reload")
                        setNotice(plugin.path, { variant: "success", title: `${name} reloaded` });
                })
                .catch(error => setNotice(plugin.path, {
                    variant: "danger",
                    title: `${PENDING_TEXT[what]} ${name} failed`,
                    text: errorText(error),
                }));
    }, [store, setNotice]);

    if (plugins.length === 0)
        return <Alert variant="info" isInline isPlain title="No plugins are configured" />;

    return (
        <>
            <Table aria-label="Plugins" variant="compact">
                <Thead>
                    <Tr>
                        <Th screenReaderText="Details" />
                        <Th>Name</Th>
                        <Th>State</Th>
                        <Th>Health</Th>
                        <Th>Reason</Th>
                        <Th modifier="wrap">Priority</Th>
                        <Th modifier="wrap">Isolation</Th>
                        <Th modifier="wrap">Active requests</Th>
                        <Th screenReaderText="Actions" />
                    </Tr>
                </Thead>
                {plugins.map((plugin, rowIndex) =>
                    <PluginRows key={plugin.path} store={store} plugin={plugin} rowIndex={rowIndex}
                                stamp={store.stamp(plugin)} canChange={store.canChange}
                                activeRequests={store.activeRequests(plugin)}
                                isExpanded={!!expanded[plugin.path]} notice={notices[plugin.path]}
                                onToggle={onToggle} onChange={runChange} onDisable={setConfirm}
                                onCloseNotice={onCloseNotice} />)}
            </Table>
            {confirm &&
                <ConfirmDisable name={confirm.Name}
                                onCancel={() => setConfirm(null)}
                                onConfirm={() => {
                                    runChange(confirm, "disable", "Disable");
                                    setConfirm(null);
                                }} />}
        </>
    );
}
