import { registry } from "@web/core/registry";

/**
 * An administrator generates an API channel's token: a dialog shows it once, with a copy
 * button. Data comes from omnichannel_base/tests/test_api.py (TestApiToken).
 */
registry.category("web_tour.tours").add("omnichannel_api_token_tour", {
    steps: () => [
        {
            content: "Open the API tab",
            trigger: ".o_notebook .nav-link[name='api']",
            run: "click",
        },
        {
            content: "No token yet",
            trigger: ".o_field_widget[name='has_api_token'] input:not(:checked)",
        },
        {
            content: "Generate one",
            trigger: "button[name='action_generate_api_token']:visible",
            run: "click",
        },
        {
            content: "The dialog shows the token, with a copy button",
            trigger: ".modal .o_field_CopyClipboardChar:has(button.o_clipboard_button)",
        },
        {
            trigger: ".modal .o_field_widget[name='token'] span:contains(/^[A-Za-z0-9_-]{43}$/)",
        },
        {
            content: "Close it",
            trigger: ".modal button:contains(Done)",
            run: "click",
        },
        {
            content: "The channel has a token now",
            trigger: ".o_field_widget[name='has_api_token'] input:checked",
        },
    ],
});
