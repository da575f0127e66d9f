import { registry } from "@web/core/registry";

/**
 * Back office, after omnichannel_pos_context_tour: an agent opens the customer's contact; her
 * timeline shows the visit the cashier logged and the order she paid at the till.
 */
registry.category("web_tour.tours").add("omnichannel_pos_timeline_tour", {
    steps: () => [
        {
            content: "The customer's contact is open",
            trigger: ".o_breadcrumb .active:contains('Marta Quintana')",
        },
        {
            content: "Her store visit, logged by the cashier, is on her timeline",
            trigger:
                ".o_omni_timeline:not(.o_omni_timeline_loading) .o_omni_timeline_item[data-kind-group='visits']" +
                ":contains('Se prueba la talla 38')",
        },
        {
            content: "... and so is the order she paid at the till",
            trigger:
                ".o_omni_timeline:not(.o_omni_timeline_loading) .o_omni_timeline_item[data-kind-group='orders']" +
                ":contains('POS order')",
        },
    ],
});
