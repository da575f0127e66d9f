import { registry } from "@web/core/registry";

/**
 * A salesperson opens a customer's contact form and goes through her timeline:
 * several channels and an order, a channel filter, a search, the next page on
 * scroll, a logged call, a scheduled activity, then the order itself. Data comes from
 * omnichannel_base/tests/test_timeline_ui.py (demo customer Lucía Fernández, plus
 * 45 older Telegram messages so that a second page exists).
 */
const CUSTOMER = "Lucía Fernández";
const PAGE_SIZE = 40;
const READY = ".o_omni_timeline:not(.o_omni_timeline_loading)";

let orderName;

registry.category("web_tour.tours").add("omnichannel_timeline_tour", {
    steps: () => [
        {
            content: "Find the customer",
            trigger: ".o_searchview_input",
            run: `edit ${CUSTOMER}`,
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            trigger: `.o_facet_value:contains('${CUSTOMER}')`,
        },
        {
            content: "Open the customer",
            trigger: `.o_kanban_record:contains('${CUSTOMER}')`,
            run: "click",
        },
        {
            content: "The timeline is the page the contact opens on",
            trigger: ".o_notebook .nav-link.active:contains('Timeline')",
        },
        {
            content: "Messages from at least three channels are on the timeline",
            trigger:
                `${READY}:has(.o_omni_timeline_item[data-channel-type='whatsapp'])` +
                ":has(.o_omni_timeline_item[data-channel-type='email'])" +
                ":has(.o_omni_timeline_item[data-channel-type='store'])",
        },
        {
            content: "... with her sales order, grouped under local days",
            trigger:
                `${READY} .o_omni_timeline_day .o_omni_timeline_item ` +
                ".o_omni_timeline_source[data-model='sale.order']",
        },
        {
            content: "The first page is full and more can be loaded",
            trigger:
                `${READY}:has(.o_omni_timeline_item:eq(${PAGE_SIZE - 1})) .o_omni_timeline_more`,
        },
        {
            content: "Show only WhatsApp",
            trigger: ".o_omni_timeline_filter_channel",
            run: "select whatsapp",
        },
        {
            content: "Only WhatsApp items remain",
            trigger:
                `${READY}:has(.o_omni_timeline_item[data-channel-type='whatsapp'])` +
                ":not(:has(.o_omni_timeline_item:not([data-channel-type='whatsapp'])))" +
                ":not(:has(.o_omni_timeline_more))",
        },
        {
            content: "Clear the filter",
            trigger: ".o_omni_timeline_clear",
            run: "click",
        },
        {
            trigger:
                `${READY}:has(.o_omni_timeline_item[data-channel-type='email'])` +
                `:has(.o_omni_timeline_item:eq(${PAGE_SIZE - 1}))`,
        },
        {
            content: "Search the summaries",
            trigger: ".o_omni_timeline_search",
            run: "edit zapatillas",
        },
        {
            content: "Only matching items remain",
            trigger:
                `${READY}:has(.o_omni_timeline_clear) ` +
                ".o_omni_timeline_item:contains('zapatillas')",
            run() {
                const items = [...document.querySelectorAll(".o_omni_timeline_item")];
                const off = items.filter((item) => !/zapatillas/i.test(item.textContent));
                if (off.length) {
                    throw new Error(`${off.length}/${items.length} items do not match the search`);
                }
            },
        },
        {
            trigger: ".o_omni_timeline_clear",
            run: "click",
        },
        {
            trigger: `${READY}:has(.o_omni_timeline_item:eq(${PAGE_SIZE - 1}))`,
        },
        {
            content: "Scroll to the end of the timeline",
            trigger: `${READY} .o_omni_timeline_list`,
            run() {
                this.anchor.scrollTop = this.anchor.scrollHeight;
            },
        },
        {
            content: "The next page has been appended",
            trigger: `${READY}:has(.o_omni_timeline_item:eq(${PAGE_SIZE}))`,
        },
        {
            content: "... down to the oldest message",
            trigger: `${READY} .o_omni_timeline_item:contains('Tour history 01')`,
        },
        {
            content: "Log a call",
            trigger: ".o_omni_timeline_log",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='summary'] input",
            run: "edit Called about the delivery of the chairs",
        },
        {
            trigger: ".modal button[name='action_log']",
            run: "click",
        },
        {
            content: "The call is on the timeline once the dialog closes",
            trigger:
                `${READY} .o_omni_timeline_item[data-kind-group='calls']` +
                ":contains('Called about the delivery of the chairs')",
        },
        {
            content: "Schedule a follow-up",
            trigger: ".o_omni_timeline_schedule",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='summary'] input",
            run: "edit Send the chair catalogue",
        },
        {
            trigger: ".modal button[name='action_schedule_activities']",
            run: "click",
        },
        {
            content: "The chatter next to the timeline shows the activity",
            trigger: "body:not(:has(.modal)) .o-mail-Activity:contains('Send the chair catalogue')",
        },
        {
            content: "Open her sales order from the timeline",
            trigger: `${READY} .o_omni_timeline_source[data-model='sale.order']`,
            async run(helpers) {
                orderName = this.anchor.textContent.trim();
                await helpers.click();
            },
        },
        {
            content: "The sales order form is shown",
            trigger: ".o_form_view .o_field_widget[name='order_line']",
        },
        {
            trigger: ".o_breadcrumb .active",
            run() {
                const shown = this.anchor.textContent.trim();
                if (shown !== orderName) {
                    throw new Error(`Expected the form of ${orderName}, got ${shown}`);
                }
            },
        },
    ],
});
