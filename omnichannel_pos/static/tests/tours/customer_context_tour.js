/* global posmodel */
import { registry } from "@web/core/registry";
import { session } from "@web/session";
import * as Chrome from "@point_of_sale/../tests/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/tours/utils/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/tours/utils/receipt_screen_util";
import { refresh } from "@point_of_sale/../tests/tours/utils/common";

/**
 * The customer context at the till, as omnichannel_pos/tests/test_pos_ui.py sets it up: a cashier
 * (no Omnichannel group) serves Marta Quintana, who asked on WhatsApp yesterday about the size
 * 38. Her number is on her contact as 612 34 56 78; she gives it as +34 612 345 678, which
 * neither the POS's own filter nor its server search reads as the same number.
 */
const CUSTOMER = "Marta Quintana";
const CONTEXT = ".modal .o_omni_pos_context";
const READY = `${CONTEXT}[data-status='ready']`;
const LOG = ".modal .o_omni_pos_log";

function searchCustomerByPhone(phone) {
    return [
        ...ProductScreen.clickPartnerButton(),
        {
            content: `Type the phone as the customer says it: ${phone}`,
            trigger: ".modal-header .input-group input",
            run: `edit ${phone}`,
        },
        {
            content: "Search more on the server: the identity lookup is part of the search",
            trigger: ".modal .search-more-button > button",
            run: "click",
        },
        {
            trigger: `.o_notification:contains('1 customer(s) found for "${phone}"')`,
        },
        {
            content: "The identity lookup finds her, first in the list",
            trigger: `.modal .partner-list .partner-info:first-child:has(.o_omni_pos_phone_match):contains('${CUSTOMER}')`,
        },
        {
            content: "Select her",
            trigger: `.modal .partner-list .partner-info:has(.o_omni_pos_phone_match):contains('${CUSTOMER}')`,
            run: "click",
        },
    ];
}

function logInteraction({ kind, note, team }) {
    const steps = [
        {
            content: "Log what happened in the store",
            trigger: ".modal .o_omni_pos_context_log",
            run: "click",
        },
        {
            trigger: `${LOG} .o_omni_pos_log_kind[data-kind='${kind}']`,
            run: "click",
        },
        {
            trigger: `${LOG} .o_omni_pos_log_note`,
            run: `edit ${note}`,
        },
    ];
    if (team) {
        steps.push({
            content: `Ask ${team} to follow up`,
            trigger: `${LOG} .o_omni_pos_log_team`,
            run: `selectByLabel ${team}`,
        });
    }
    steps.push({
        trigger: ".modal .o_omni_pos_log_save:enabled",
        run: "click",
    });
    steps.push({
        content: "The log dialog closes",
        trigger: `body:not(:has(${LOG}))`,
    });
    return steps;
}

function noErrorDialog() {
    return {
        content: "No error dialog, whatever failed",
        trigger:
            "body:not(:has(.o_error_dialog)):not(:has(.modal-title:contains('Error')))" +
            ":not(:has(.modal-title:contains('Connection Lost')))",
    };
}

function closeContext() {
    return [
        {
            trigger: ".modal .o_omni_pos_context_close",
            run: "click",
        },
        {
            trigger: `body:not(:has(${CONTEXT}))`,
        },
    ];
}

function setOnline(online) {
    return {
        content: online ? "The network comes back" : "The network goes down",
        trigger: "body",
        run() {
            // What the browser says when the shop's connection drops or returns; the POS data
            // service listens to it.
            window.dispatchEvent(new Event(online ? "online" : "offline"));
        },
    };
}

function payCash() {
    return [
        ...ProductScreen.clickPayButton(),
        ...PaymentScreen.clickPaymentMethod("Cash"),
        ...PaymentScreen.clickValidate(),
        ...ReceiptScreen.isShown(),
    ];
}

registry.category("web_tour.tours").add("omnichannel_pos_context_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            ...searchCustomerByPhone("+34 612 345 678"),
            {
                content: "Her context opens by itself once she is selected",
                trigger: `${CONTEXT} .o_omni_pos_context_partner:contains('${CUSTOMER}')`,
            },
            {
                content: "... with yesterday's WhatsApp message",
                trigger: `${READY} .o_omni_pos_context_interaction[data-channel-type='whatsapp']:contains('¿Tenéis la talla 38 en rojo?')`,
            },
            {
                content: "... her open WhatsApp conversation and who handles it",
                trigger: `${READY} .o_omni_pos_context_conversation:contains('WhatsApp'):has(.o_omni_pos_context_agent:contains('Ana Agente'))`,
            },
            {
                content: "... her preferred channel",
                trigger: `${READY} .o_omni_pos_context_preferred:contains('WhatsApp')`,
            },
            {
                content: "... her consent on WhatsApp",
                trigger: `${READY} .o_omni_pos_context_consent[data-opt='out']:contains('WhatsApp Tienda'):contains('Opted Out of Marketing')`,
            },
            {
                content: "... and her loyalty points",
                trigger: `${READY} .o_omni_pos_context_loyalty_card:contains('Club Tienda'):contains('120')`,
            },
            ...logInteraction({
                kind: "visit",
                note: "Se prueba la talla 38; pedirla en rojo y llamarla",
                team: "Tienda Madrid",
            }),
            {
                content: "The visit is on her context now",
                trigger: `${READY} .o_omni_pos_context_interaction[data-channel-type='store']:contains('Se prueba la talla 38')`,
            },
            {
                content: "... with the conversation it opened for the store team",
                trigger: `${READY} .o_omni_pos_context_conversation[data-channel-type='store']:contains('Tienda Madrid')`,
            },
            ...closeContext(),
            ProductScreen.customerIsSelected(CUSTOMER),
            {
                content: "The context can be opened again from the order (a hurried double click)",
                trigger: ".control-buttons .o_omni_pos_context_button",
                run: "dblclick",
            },
            {
                trigger: `${READY} .o_omni_pos_context_interaction:contains('Se prueba la talla 38')`,
            },
            {
                content: "... opens it once",
                trigger: READY,
                run() {
                    const count = document.querySelectorAll(CONTEXT).length;
                    if (count !== 1) {
                        throw new Error(`${count} customer context dialogs open`);
                    }
                },
            },
            ...closeContext(),
            ProductScreen.clickDisplayedProduct("Whiteboard Pen"),
            ...payCash(),
            noErrorDialog(),
        ].flat(),
});

/**
 * The shop's connection drops while Marta is at the till: the context says it is offline, the
 * visit waits in the POS's queue, the sale goes on; back online, the visit is sent.
 */
registry.category("web_tour.tours").add("omnichannel_pos_context_offline_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            ...searchCustomerByPhone("+34 612 345 678"),
            {
                trigger: `${READY} .o_omni_pos_context_partner:contains('${CUSTOMER}')`,
            },
            ...closeContext(),
            setOnline(false),
            {
                content: "The POS shows it is offline",
                trigger: ".pos-rightheader .oe_status .fa-chain-broken",
            },
            {
                trigger: ".control-buttons .o_omni_pos_context_button",
                run: "click",
            },
            {
                content: "The context says it is offline, without an error",
                trigger: `${CONTEXT}[data-status='offline'] .o_omni_pos_context_offline_message`,
            },
            noErrorDialog(),
            {
                content: "Another tab of this POS has a request of hers waiting too",
                trigger: "body",
                run() {
                    const partner = posmodel.models["res.partner"].find(
                        (record) => record.name === CUSTOMER
                    );
                    const key = `omnichannel_pos.pending_logs.${session.db || ""}`;
                    window.localStorage.setItem(
                        key,
                        JSON.stringify([
                            {
                                partnerId: partner.id,
                                configId: posmodel.config.id,
                                values: {
                                    kind: "request",
                                    note: "Otra pestaña: quiere el catálogo",
                                    team_id: false,
                                    uuid: "omni-other-tab",
                                },
                            },
                        ])
                    );
                },
            },
            {
                content: "Logging a visit offline needs no team list",
                trigger: ".modal .o_omni_pos_context_log",
                run: "click",
            },
            {
                trigger: `${LOG}:has(.o_omni_pos_log_offline):not(:has(.o_omni_pos_log_team))`,
            },
            {
                trigger: `${LOG} .o_omni_pos_log_note`,
                run: "edit Ha pasado a recoger un paquete",
            },
            {
                trigger: ".modal .o_omni_pos_log_save:enabled",
                run: "click",
            },
            {
                content: "The cashier is told it will be sent later",
                trigger: ".o_notification:contains('will be sent once the POS is back online')",
            },
            {
                content: "It waits on the till, with the other tab's request",
                trigger: `${CONTEXT}[data-status='offline'] .o_omni_pos_context_pending_count:contains('2')`,
            },
            ...closeContext(),
            noErrorDialog(),
            {
                content: "The sale goes on offline",
                ...ProductScreen.clickDisplayedProduct("Whiteboard Pen")[0],
            },
            {
                trigger: ".product-screen .orderline:contains('Whiteboard Pen')",
            },
            {
                content: "Another one waiting, which the server will refuse (its customer is gone)",
                trigger: "body",
                run() {
                    posmodel.omniPendingLogs.unshift({
                        partnerId: 2147483000,
                        configId: posmodel.config.id,
                        values: { kind: "visit", note: "", team_id: false, uuid: "gone-customer" },
                    });
                },
            },
            setOnline(true),
            {
                content:
                    "Back online: the refused one is said in a notification, not an error dialog",
                trigger:
                    ".o_notification:contains('A store interaction logged offline was not recorded')",
            },
            {
                content: "... and the visit is sent after it",
                trigger: ".o_notification:contains('Store interactions logged offline were sent')",
            },
            noErrorDialog(),
            {
                trigger: ".control-buttons .o_omni_pos_context_button",
                run: "click",
            },
            {
                content: "The visit logged offline is on her context",
                trigger: `${READY} .o_omni_pos_context_interaction[data-channel-type='store']:contains('Ha pasado a recoger un paquete')`,
            },
            ...closeContext(),
            ...payCash(),
            noErrorDialog(),
        ].flat(),
});

/**
 * The till is restarted before the connection returns: the visit logged offline is kept in the
 * browser and sent when the POS starts again.
 */
registry.category("web_tour.tours").add("omnichannel_pos_context_reload_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            ...searchCustomerByPhone("+34 612 345 678"),
            {
                trigger: `${READY} .o_omni_pos_context_partner:contains('${CUSTOMER}')`,
            },
            setOnline(false),
            {
                trigger: ".modal .o_omni_pos_context_log",
                run: "click",
            },
            {
                trigger: `${LOG}:has(.o_omni_pos_log_offline) .o_omni_pos_log_note`,
                run: "edit Deja un vale de regalo para su hermana",
            },
            {
                trigger: ".modal .o_omni_pos_log_save:enabled",
                run: "click",
            },
            {
                trigger: `${CONTEXT} .o_omni_pos_context_pending_count:contains('1')`,
            },
            refresh(),
            {
                content: "The restarted POS sends what was logged offline",
                trigger: ".o_notification:contains('Store interactions logged offline were sent')",
            },
            noErrorDialog(),
        ].flat(),
});

/**
 * A context the server refuses (here: a customer that does not exist) is a short message in the
 * dialog, never an error dialog.
 */
registry.category("web_tour.tours").add("omnichannel_pos_context_error_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            {
                content: "Ask for the context of a customer the server does not know",
                trigger: ".product-screen",
                run() {
                    posmodel.showOmniCustomerContext({ id: 2147483000, name: "Nobody" });
                },
            },
            {
                trigger: `${CONTEXT}[data-status='error'] .o_omni_pos_context_error`,
            },
            noErrorDialog(),
            {
                content: "Retrying fails the same quiet way",
                trigger: `${CONTEXT} .o_omni_pos_context_retry`,
                run: "click",
            },
            {
                trigger: `${CONTEXT}[data-status='error'] .o_omni_pos_context_error`,
            },
            ...closeContext(),
            noErrorDialog(),
            Dialog.isNot(),
        ].flat(),
});
