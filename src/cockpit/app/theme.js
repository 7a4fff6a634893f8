// Follows the style the user picked in Cockpit's shell (light, dark, or the
// system's): PatternFly's dark theme is a class on the root element.
const DARK_CLASS = "pf-v6-theme-dark";
const systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

function apply(style) {
    let chosen = style;
    try {
        chosen = chosen || window.localStorage.getItem("shell:style");
    } catch (_e) {
        // no storage (a sandboxed frame): follow the system
    }
    chosen = chosen || "auto";
    const dark = chosen === "dark" || (chosen === "auto" && !!systemDark?.matches);
    document.documentElement.classList.toggle(DARK_CLASS, dark);
}

// Applies the style now and whenever the shell or the system changes it.
export function followShellTheme() {
    apply();
    window.addEventListener("storage", event => {
        if (event.key === "shell:style")
            apply();
    });
    // The shell tells its frames directly too.
    window.addEventListener("cockpit-style", event => apply(event.detail?.style));
    systemDark?.addEventListener("change", () => apply());
}
