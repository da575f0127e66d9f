import { Message } from "@mail/core/common/message";
import { _t } from "@web/core/l10n/translation";
import { rpc } from "@web/core/network/rpc";
import { patch } from "@web/core/utils/patch";

/**
 * How far an agent's reply sent through an outbox (WhatsApp) got, next to its date in the
 * chatter. The server adds ``omnichannel_delivery`` ({state, error, outbox_id, outbox_state})
 * to such messages (``mail.message._to_store``) and pushes it again through the bus whenever
 * it changes (``mail.record/insert``), so the state updates live.
 */
const STATES = {
    queued: { icon: "fa fa-clock-o", className: "text-muted", label: () => _t("Queued") },
    sent: { icon: "fa fa-check", className: "text-muted", label: () => _t("Sent") },
    delivered: { icon: "fa fa-check-circle-o", className: "text-success", label: () => _t("Delivered") },
    read: { icon: "fa fa-check-circle", className: "text-info", label: () => _t("Read") },
    failed: { icon: "fa fa-exclamation-triangle", className: "text-danger", label: () => _t("Failed") },
};

patch(Message.prototype, {
    get omnichannelDelivery() {
        const delivery = this.message.omnichannel_delivery;
        const shown = delivery && STATES[delivery.state];
        if (!shown) {
            return null;
        }
        const label = shown.label();
        const failed = delivery.state === "failed";
        return {
            state: delivery.state,
            icon: shown.icon,
            className: shown.className,
            label,
            title: failed ? delivery.error || _t("Not delivered, for no reason given") : label,
            // Only a message the provider never accepted can be sent again.
            canRetry: failed && delivery.outbox_state === "failed",
        };
    },

    async onClickOmnichannelRetry() {
        const message = this.message;
        await this.env.services.orm.call("omnichannel.outbox", "action_retry", [
            [message.omnichannel_delivery.outbox_id],
        ]);
        // The bus brings the new state too; reading the message back shows it even without the bus.
        const thread = message.thread;
        if (thread) {
            const { data } = await rpc(thread.getFetchRoute(), {
                ...thread.getFetchParams(),
                around: message.id,
                limit: 2,
            });
            this.store.insert(data, { html: true });
        }
    },
});
