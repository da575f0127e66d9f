import { registry } from "@web/core/registry";

const SHIPPING = "Los pedidos salen en 24 horas laborables y llegan en 2-3 días a la península.";

/**
 * An agent opens the inbox, answers a customer's email with a canned response and
 * resolves the conversation. In Odoo 18 canned responses are suggested on ":" (one
 * colon, then the response's source). Data comes from omnichannel_mail/tests/test_ui.py.
 */
registry.category("web_tour.tours").add("omnichannel_mail_tour", {
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
            content: "Look for the customer's conversation",
            trigger: ".o_searchview_input",
            run: "edit Tour Cliente",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "Open the customer's email conversation",
            trigger: ".o_kanban_record:contains('Tour Cliente')",
            run: "click",
        },
        {
            // Odoo 18 renders the body of email messages in a shadow root.
            content: "The customer's email is in the chatter",
            trigger: ".o-mail-Message .overflow-x-auto:shadow span:contains('¿Cuánto tarda el envío a Sevilla?')",
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
            content: "Ask for the shipping canned response",
            trigger: ".o-mail-Composer-input",
            run: "edit :envio",
        },
        {
            content: "Pick the canned response",
            trigger: ".o-mail-Composer-suggestion:contains('envio'):contains('24 horas laborables')",
            run: "click",
        },
        {
            content: "The composer holds the canned response's text",
            trigger: `.o-mail-Composer-input:value('${SHIPPING}')`,
            run() {
                const value = this.anchor.value;
                if (!value.startsWith(SHIPPING) || value.includes(":envio")) {
                    throw new Error(`The canned response did not replace ":envio": "${value}"`);
                }
            },
        },
        {
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            content: "The answer is in the chatter",
            trigger: ".o-mail-Message:not(:contains('Sevilla')):contains('24 horas laborables')",
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
