import { registry } from "@web/core/registry";

/**
 * Click-to-dial, as omnichannel_voip/tests/test_voip_ui.py sets it up: an agent (extension 1001)
 * calls a customer from her contact, then calls back a missed call from the timeline and from
 * the conversation. The channel talks to the local Asterisk ARI server; the test counts the
 * calls it was asked to place.
 */
const CUSTOMER = "Lucía Prieto";
const READY = ".o_omni_timeline:not(.o_omni_timeline_loading)";

function notified() {
    return {
        content: "Odoo says the agent's phone rings first",
        trigger: `.o_notification:contains('Calling ${CUSTOMER}'):contains('1001')`,
    };
}

function closeNotifications() {
    return [
        {
            trigger: ".o_notification .o_notification_close",
            run: "click",
        },
        {
            trigger: "body:not(:has(.o_notification))",
        },
    ];
}

registry.category("web_tour.tours").add("omnichannel_voip_click_to_dial_tour", {
    steps: () => [
        {
            content: "The customer's contact is open",
            trigger: `.o_breadcrumb .active:contains('${CUSTOMER}')`,
        },
        {
            trigger: `${READY}:not(:has(.o_omni_timeline_item[data-kind-group='calls']))`,
        },
        {
            content: "Call her",
            trigger: ".o_form_view .o_omni_dial_button",
            run: "click",
        },
        notified(),
        {
            content: "Show her calls on the timeline",
            trigger: ".o_omni_timeline_filter_kind",
            run: "select calls",
        },
        {
            content: "The call placed is on her timeline",
            trigger:
                `${READY} .o_omni_timeline_item.o_omni_timeline_outbound[data-kind-group='calls']` +
                ":has(.o_omni_timeline_action[data-method='action_omni_dial'])",
        },
    ],
});

registry.category("web_tour.tours").add("omnichannel_voip_call_back_tour", {
    steps: () => [
        {
            content: "The customer's contact is open, with her missed call",
            trigger:
                `${READY} .o_omni_timeline_item.o_omni_timeline_inbound[data-kind-group='calls']:contains('Missed')`,
        },
        {
            content: "Call her back from the timeline",
            trigger:
                `${READY} .o_omni_timeline_item.o_omni_timeline_inbound[data-kind-group='calls'] ` +
                ".o_omni_timeline_action[data-method='action_omni_dial']",
            run: "click",
        },
        notified(),
        {
            content: "The timeline shows the call placed",
            trigger: `${READY} .o_omni_timeline_item.o_omni_timeline_outbound[data-kind-group='calls']`,
        },
        ...closeNotifications(),
        {
            content: "Open the conversation of the missed call",
            trigger:
                `${READY} .o_omni_timeline_item.o_omni_timeline_inbound[data-kind-group='calls'] ` +
                ".o_omni_timeline_reply",
            run: "click",
        },
        {
            content: "Call her from the conversation",
            trigger: ".o_form_view .o_statusbar_buttons .o_omni_dial_button",
            run: "click",
        },
        notified(),
    ],
});
