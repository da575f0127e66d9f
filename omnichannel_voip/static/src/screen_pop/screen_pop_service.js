import { reactive } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { ScreenPopContainer } from "./screen_pop";

export const SCREEN_POP = "omnichannel_voip/screen_pop";
/** Cards shown at once; an older call's card gives way to a new call's. */
const MAX_POPS = 3;

/**
 * Screen pop: when a call rings for the logged-in agent, the server sends its caller over the
 * bus (omnichannel.call._screen_pop); this service keeps the cards and ScreenPopContainer shows
 * them, over whatever the agent is doing, until they close them.
 */
export const screenPopService = {
    dependencies: ["bus_service", "orm", "action"],

    start(env, { bus_service, orm, action }) {
        const state = reactive({ pops: [] });

        function add(payload) {
            if (!payload?.call_id) {
                return;
            }
            const pop = {
                ...payload,
                interactions: payload.interactions || [],
                conversations: payload.conversations || [],
                receivedAt: Date.now(),
            };
            // The same call again (another leg rang): refresh its card, keep the agent's note.
            const index = state.pops.findIndex((p) => p.call_id === pop.call_id);
            if (index >= 0) {
                state.pops.splice(index, 1, { ...state.pops[index], ...pop });
                return;
            }
            state.pops.unshift(pop);
            state.pops.splice(MAX_POPS);
        }

        function close(callId) {
            const index = state.pops.findIndex((p) => p.call_id === callId);
            if (index >= 0) {
                state.pops.splice(index, 1);
            }
        }

        /**
         * A call of another of the agent's companies than the ones active in this browser (a
         * line of company A while they work in B) is read and written with its company allowed too.
         */
        function callContext(pop) {
            const active = user.context.allowed_company_ids || [];
            if (!pop.company_id || active.includes(pop.company_id)) {
                return {};
            }
            return { allowed_company_ids: [...active, pop.company_id] };
        }

        async function runCallAction(pop, method) {
            const result = await orm.call("omnichannel.call", method, [[pop.call_id]], {
                context: callContext(pop),
            });
            if (result) {
                await action.doAction(result);
            }
        }

        function openConversation(conversationId) {
            return action.doAction({
                type: "ir.actions.act_window",
                res_model: "omnichannel.conversation",
                res_id: conversationId,
                views: [[false, "form"]],
                target: "current",
            });
        }

        function saveNote(pop, note) {
            return orm.write("omnichannel.call", [pop.call_id], { note }, { context: callContext(pop) });
        }

        registry.category("main_components").add("omnichannel_voip.ScreenPopContainer", {
            Component: ScreenPopContainer,
            props: { state, close, runCallAction, openConversation, saveNote },
        });
        bus_service.subscribe(SCREEN_POP, add);
        bus_service.start();

        return { state, add, close };
    },
};

registry.category("services").add("omnichannel_voip.screen_pop", screenPopService);
