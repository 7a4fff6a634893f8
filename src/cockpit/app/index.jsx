// Entry point of the bundle: PatternFly's styles, the store, and the page.
import "@patternfly/react-core/dist/styles/base.css";
import "./page.css";

import { createRoot } from "react-dom/client";

import { App } from "./app.jsx";
import { Store } from "./store.js";
import { followShellTheme } from "./theme.js";

document.addEventListener("DOMContentLoaded", () => {
    followShellTheme();
    createRoot(document.getElementById("app")).render(<App store={new Store()} />);
});
