import { registry } from "@web/core/registry";

/**
 * A WhatsApp agent at work, as omnichannel_social/tests/test_whatsapp_ui.py sets it up: while
 * the tour runs, the test plays Odoo's outbox cron and Meta's signed status webhooks, and the
 * states reach the chatter through the bus, without reloading.
 *
 * 1. Carmen wrote a moment ago: the agent answers in the chatter and sees the answer
 *    delivered, then (once she waits for the customer) read.
 * 2. A reply to Marta failed (Meta refused it): the agent reads why and retries it.
 * 3. Javier last wrote 25 hours ago: the window is closed, so the agent sends an approved
 *    template, previewed with his name.
 */
const REPLY = "Sí, la tenemos en la 38.";
const REFUSED = "Te envío el catálogo.";

function openConversation(customer) {
    return [
        {
            content: "Open the inbox",
            trigger: ".o_menu_sections [data-menu-xmlid='omnichannel_base.menu_omnichannel_inbox']",
            run: "click",
        },
        {
            trigger: ".o_kanban_view .o_searchview_input",
            run: `edit ${customer}`,
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            trigger: `.o_facet_value:contains('${customer}')`,
        },
        {
            content: `Open ${customer}'s conversation`,
            trigger: `.o_kanban_record:contains('${customer}')`,
            run: "click",
        },
        {
            trigger: `.o_form_view .o_field_widget[name='partner_id'] input:value('${customer}')`,
        },
    ];
}

function messageState(text, state) {
    return `.o-mail-Message:contains('${text}') .o_omnichannel_delivery[data-state='${state}']`;
}

registry.category("web_tour.tours").add("omnichannel_whatsapp_tour", {
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
        // 1. A reply inside the window, followed to "read".
        ...openConversation("Carmen Tour"),
        {
            content: "Her message is in the chatter",
            trigger: ".o-mail-Message:contains('¿Tenéis la talla 38?')",
        },
        {
            content: "The window is open",
            trigger: ".o_omnichannel_window_open",
        },
        {
            content: "Answer in the chatter",
            trigger: ".o-mail-Chatter-sendMessage",
            run: "click",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: `edit ${REPLY}`,
        },
        {
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            content: "The answer shows how far it got: sent by the cron, then delivered to Carmen",
            trigger: `${messageState(REPLY, "delivered")}:contains('Delivered')`,
        },
        {
            content: "Wait for the customer",
            trigger: "button[name='action_set_pending']",
            run: "click",
        },
        {
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Pending')",
        },
        {
            content: "Carmen reads it",
            trigger: `${messageState(REPLY, "read")}:contains('Read')`,
        },
        // 2. A reply Meta refused: why, and Retry.
        ...openConversation("Marta Reintento"),
        {
            content: "The refused reply says why when hovered",
            trigger: `${messageState(REFUSED, "failed")}[title*='131009']:contains('Failed')`,
        },
        {
            content: "Send it again",
            trigger: `${messageState(REFUSED, "failed")} .o_omnichannel_delivery_retry`,
            run: "click",
        },
        {
            content: "It is sent",
            trigger: messageState(REFUSED, "sent"),
        },
        {
            trigger: `.o-mail-Message:contains('${REFUSED}'):not(:has(.o_omnichannel_delivery_retry))`,
        },
        // 3. The window is closed: an approved template.
        ...openConversation("Javier Plantilla"),
        {
            content: "The closed-window banner",
            trigger: ".o_omnichannel_window_closed:contains('24')",
        },
        {
            content: "Send a template",
            trigger: "button[name='action_send_whatsapp_template'].btn-primary",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='template_id'] input",
            run: "edit pedido",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains('pedido_listo')",
            run: "click",
        },
        {
            content: "The preview names the customer",
            trigger:
                ".modal .o_field_widget[name='preview']:contains('Hola Javier Plantilla, tu pedido está listo')",
        },
        {
            trigger: ".modal button[name='action_send']",
            run: "click",
        },
        {
            content: "The template is in the chatter, with its state, delivered in the end",
            trigger:
                "body:not(:has(.modal)) " +
                messageState("Hola Javier Plantilla, tu pedido está listo", "delivered"),
        },
    ],
});
