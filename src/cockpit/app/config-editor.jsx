// A plugin's config as editable JSON.  The text is checked before it is sent;
// a refusal (the plugin's own message) shows inline and the edit stays.
import { useEffect, useState } from "react";
import { Alert } from "@patternfly/react-core/dist/esm/components/Alert/index.js";
import { Button } from "@patternfly/react-core/dist/esm/components/Button/index.js";
import { ActionGroup, Form, FormGroup, FormHelperText } from "@patternfly/react-core/dist/esm/components/Form/index.js";
import { HelperText, HelperTextItem } from "@patternfly/react-core/dist/esm/components/HelperText/index.js";
import { TextArea } from "@patternfly/react-core/dist/esm/components/TextArea/index.js";

import { checkConfig, prettyConfig } from "./format.js";
import { errorText } from "./store.js";

export function ConfigEditor({ store, plugin }) {
    const current = plugin.Config ?? "";
    // base: the Config the edit started from; text: what the editor holds.
    const [base, setBase] = useState(current);
    const [text, setText] = useState(() => prettyConfig(current));
    const [dirty, setDirty] = useState(false);
    const [checkError, setCheckError] = useState(null);
    const [refusal, setRefusal] = useState(null);
    const [applied, setApplied] = useState(null);
    const busy = store.pending.has(plugin.path);
    const locked = store.canChange !== true;
    const id = `hkp-config-${plugin.Name}`;

    // Follow changes made elsewhere while the user is not editing.
    useEffect(() => {
        if (!dirty && current !== base) {
            setBase(current);
            setText(prettyConfig(current));
        }
    }, [current, base, dirty]);

    const load = () => {
        setBase(current);
        setText(prettyConfig(current));
        setDirty(false);
        setCheckError(null);
        setRefusal(null);
    };

    const apply = () => {
        const problem = checkConfig(text);
        setCheckError(problem);
        setRefusal(null);
        setApplied(null);
        if (problem)
            return;
        // Sent as shown: "[redacted]" values keep the stored secrets (the daemon's rule).
        store.change(plugin, "configure", "SetConfig", [text])
                .then(() => {
                    setDirty(false);
                    setApplied(`Applied as config version ${plugin.ConfigVersion}`);
                })
                .catch(error => setRefusal(errorText(error)));
    };

    return (
        <Form onSubmit={event => { event.preventDefault(); apply() }}>
            {dirty && current !== base &&
                <Alert variant="warning" isInline title="The config changed since you started editing"
                       actionLinks={<Button variant="link" isInline onClick={load}>Discard my edit</Button>} />}
            <FormGroup label="Config (JSON)" fieldId={id}>
                <TextArea id={id} className="hkp-config-editor" value={text} rows={Math.min(24, text.split("\n").length + 2)}
                          resizeOrientation="vertical" readOnlyVariant={locked ? "default" : undefined}
                          validated={checkError ? "error" : "default"}
                          onChange={(_event, value) => {
                              setText(value);
                              setDirty(true);
                              setCheckError(null);
                              setApplied(null);
                          }} />
                <FormHelperText>
                    <HelperText>
                        {checkError
                            ? <HelperTextItem variant="error">{checkError}</HelperTextItem>
                            : <HelperTextItem>
                                Secrets show as &quot;[redacted]&quot;; leave them so to keep them.
                            </HelperTextItem>}
                    </HelperText>
                </FormHelperText>
            </FormGroup>
            {refusal &&
                <Alert variant="danger" isInline title="The config was not applied">{refusal}</Alert>}
            {applied && <Alert variant="success" isInline isPlain title={applied} />}
            <ActionGroup>
                <Button variant="primary" type="submit" isDisabled={locked || busy || !dirty} isLoading={busy}>
                    Apply
                </Button>
                {dirty && <Button variant="link" onClick={load}>Revert</Button>}
            </ActionGroup>
        </Form>
    );
}
