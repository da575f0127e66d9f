import { registry } from "@web/core/registry";

/**
 * An agent opens the inbox, takes a customer's conversation, answers from the
 * chatter and resolves it. Data comes from omnichannel_base/tests/test_ui.py.
 */
registry.category("web_tour.tours").add("omnichannel_inbox_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open the Omnichannel app",
            trigger: ".o_app[data-menu-xmlid='omnichannel_base.menu_omnichannel_root']",
            run: "click",
        },
        {
            content: "Filter my unassigned conversations",
            trigger: ".o_searchview_input",
            run: "edit Tour Customer",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "Open the customer's conversation",
            trigger: ".o_kanban_record:contains('Tour Customer')",
            run: "click",
        },
        {
            content: "The customer's message is in the chatter",
            trigger: ".o-mail-Message:contains('¿Tenéis la talla 42?')",
        },
        {
            content: "Take the conversation",
            trigger: "button[name='action_assign_to_me']",
            run: "click",
        },
        {
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Open')",
        },
        {
            content: "Answer the customer",
            trigger: "button:contains(Send message)",
            run: "click",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: "edit Sí, la tenemos en tienda.",
        },
        {
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            trigger: ".o-mail-Message:contains('Sí, la tenemos en tienda.')",
        },
        {
            content: "Resolve",
            trigger: "button[name='action_resolve']",
            run: "click",
        },
        {
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Resolved')",
        },
    ],
});
