import { registry } from "@web/core/registry";

/**
 * Screen pop, as omnichannel_voip/tests/test_voip_ui.py sets it up: an agent (no settings
 * rights, extension 1001) has Odoo open when a call rings for them; the test sends the ringing
 * through the call model once the agent's browser listens on the bus.
 */
const POP = ".o_omni_screen_pop";

function writeNote(note) {
    return [
        {
            content: "Note what the caller wants",
            trigger: `${POP} .o_omni_screen_pop_note`,
            run: `edit ${note}`,
        },
        {
            trigger: `${POP} .o_omni_screen_pop_save:enabled`,
            run: "click",
        },
        {
            content: "The note is saved on the call",
            trigger: `${POP} .o_omni_screen_pop_note_saved`,
        },
    ];
}

/** A customer who wrote on Telegram yesterday calls. */
registry.category("web_tour.tours").add("omnichannel_voip_screen_pop_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "Odoo is open; the call rings",
            trigger: ".o_main_navbar",
        },
        {
            content: "The caller's card pops up with their name and company",
            trigger:
                `${POP}.o_omni_screen_pop_known:has(.o_omni_screen_pop_title:contains('Lucía Prieto'))` +
                ":has(.o_omni_screen_pop_company:contains('Calzados Prieto'))" +
                ":has(.o_omni_screen_pop_number:contains('+34 612 34 56 78'))",
        },
        {
            content: "... their last interactions",
            trigger: `${POP} .o_omni_screen_pop_interaction:contains('¿Tenéis la talla 42?')`,
        },
        {
            content: "... and their open conversation",
            trigger: `${POP} .o_omni_screen_pop_conversation:contains('Telegram Tienda')`,
        },
        {
            content: "A known caller needs no new contact",
            trigger: `${POP}:not(:has(.o_omni_screen_pop_create))`,
        },
        ...writeNote("Quiere cambiar la talla 42 por una 43"),
        {
            content: "Open the contact",
            trigger: `${POP} .o_omni_screen_pop_open`,
            run: "click",
        },
        {
            content: "Her contact opens on the Timeline tab",
            trigger: ".o_breadcrumb .active:contains('Lucía Prieto')",
        },
        {
            trigger: ".o_form_view .o_notebook .nav-link.active:contains('Timeline')",
        },
        {
            content: "The call is on her timeline, with the note",
            trigger:
                ".o_omni_timeline_item[data-kind-group='calls']" +
                ":contains('Quiere cambiar la talla 42 por una 43')" +
                ":has(.o_omni_timeline_action[data-method='action_omni_dial'])",
        },
        {
            content: "Close the card",
            trigger: `${POP} .o_omni_screen_pop_close`,
            run: "click",
        },
        {
            trigger: `body:not(:has(${POP}))`,
        },
    ],
});

/** Someone whose number is on no contact calls. */
registry.category("web_tour.tours").add("omnichannel_voip_screen_pop_unknown_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "Odoo is open; the call rings",
            trigger: ".o_main_navbar",
        },
        {
            content: "The card says the number is unknown",
            trigger:
                `${POP}.o_omni_screen_pop_unknown:has(.o_omni_screen_pop_title:contains('Unknown number'))` +
                ":has(.o_omni_screen_pop_number:contains('+44 7700 900123'))" +
                ":not(:has(.o_omni_screen_pop_open))",
        },
        ...writeNote("Pregunta por un pedido al Reino Unido"),
        {
            content: "Create a contact for the caller",
            trigger: `${POP} .o_omni_screen_pop_create`,
            run: "click",
        },
        {
            content: "The new contact opens in edit mode, with the number",
            trigger: ".o_form_view .o_field_widget[name='phone'] input:value('+447700900123')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='name'] input",
            run: "edit Oliver Smith",
        },
        {
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "The contact is saved with the caller's name",
            trigger: ".o_form_view .o_form_status_indicator_buttons.invisible:not(:visible)",
        },
        {
            trigger: ".o_breadcrumb .active:contains('Oliver Smith')",
        },
        {
            content: "The call is on the new contact's timeline",
            trigger: ".o_omni_timeline_item[data-kind-group='calls']:contains('Pregunta por un pedido al Reino Unido')",
        },
    ],
});
