import { registry } from "@web/core/registry";

/**
 * An agent (no settings rights) at work on Telegram and Messenger, as
 * omnichannel_social/tests/test_channel_ui.py (TestChannelAgentTour) sets it up; the test sends
 * what the agent queued once the tour is over.
 *
 * 1. Miren wrote to the Telegram bot: no window applies; the agent answers in the chatter and
 *    the answer waits in the outbox ("Queued").
 * 2. Ane wrote on Messenger 30 hours ago, to a page with Meta's Human Agent permission: the
 *    window note says answers go with the Human Agent tag; the agent answers.
 * 3. Maite wrote on Messenger 8 days ago: the window is closed, and an answer is refused with
 *    the reason.
 */
const TELEGRAM_REPLY = "Sí, el domingo abrimos de 10:00 a 14:00.";
const MESSENGER_REPLY = "Te la reservo en azul hasta el viernes.";
const LATE_REPLY = "¿Sigues interesada?";

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

function answer(text) {
    return [
        {
            content: "Answer in the chatter",
            trigger: ".o-mail-Chatter-sendMessage",
            run: "click",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: `edit ${text}`,
        },
        {
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("omnichannel_channel_agent_tour", {
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
        // 1. Telegram: no window, the answer goes to the outbox.
        ...openConversation("Miren Zubizarreta"),
        {
            content: "Her message is in the chatter",
            trigger: ".o-mail-Message:contains('Kaixo! ¿Abrís el domingo?')",
        },
        {
            content: "A bot may answer at any time: no window note",
            trigger: ".o_form_view:not(:has(.o_omnichannel_window_open, .o_omnichannel_window_closed))",
        },
        {
            content: "Agents do not see the channel's connection settings",
            trigger: ".o_form_view:not(:has(.o_field_widget[name='provider']))",
        },
        ...answer(TELEGRAM_REPLY),
        {
            content: "The answer waits for the outbox",
            trigger: `.o-mail-Message:contains('${TELEGRAM_REPLY}') .o_omnichannel_delivery[data-state='queued']:contains('Queued')`,
        },
        // 2. Messenger, 30 hours later, with the Human Agent tag.
        ...openConversation("Ane Etxeberria"),
        {
            content: "The note: past Meta's 24 hours, answers go with the Human Agent tag",
            trigger: ".o_omnichannel_window_open:contains(\"Replies go with Meta's Human Agent tag\")",
        },
        ...answer(MESSENGER_REPLY),
        {
            trigger: `.o-mail-Message:contains('${MESSENGER_REPLY}') .o_omnichannel_delivery[data-state='queued']`,
        },
        // 3. Messenger, 8 days later: closed.
        ...openConversation("Maite Urrutia"),
        {
            content: "The closed window's note",
            trigger: ".o_omnichannel_window_closed:contains('7 days')",
        },
        ...answer(LATE_REPLY),
        {
            content: "Meta would refuse it: the agent is told why",
            trigger: ".modal:contains('more than 7 days ago')",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Nothing was posted",
            trigger: `body:not(:has(.modal)):not(:has(.o-mail-Message:contains('${LATE_REPLY}')))`,
        },
    ],
});
