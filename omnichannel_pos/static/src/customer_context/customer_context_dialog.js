import { Component, onWillUnmount, useEffect, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { usePos } from "@point_of_sale/app/store/pos_hook";
import { LogInteractionDialog } from "@omnichannel_pos/log_interaction/log_interaction_dialog";
import { formatServerDate, isConnectionLost, readableError } from "@omnichannel_pos/utils";

let nextDialogId = 1; // ids of each dialog's headings, for aria-labelledby

/**
 * What the shop knows about a customer: last interactions on every channel, open
 * conversations, preferred channel and last contact, consent, last orders and loyalty points.
 *
 * Fetched from the server when it opens (res.partner.omnichannel_pos_context), never preloaded.
 * Offline, or when the call fails, it says so inside the dialog: the sale goes on and no error
 * dialog is raised.
 */
export class CustomerContextDialog extends Component {
    static template = "omnichannel_pos.CustomerContextDialog";
    static components = { Dialog };
    static props = {
        partner: Object,
        close: Function,
    };

    setup() {
        this.pos = usePos();
        this.dialog = useService("dialog");
        // status: loading | ready | offline | error
        this.state = useState({ status: "loading", context: null, error: "" });
        this.domId = `o_omni_pos_context_${nextDialogId++}`;
        this.request = 0;
        this.alive = true;
        onWillUnmount(() => (this.alive = false));
        // Offline, the context shows again by itself once the POS is back online.
        useEffect(
            (offline) => {
                if (!offline && this.state.status === "offline") {
                    this.load();
                }
            },
            () => [this.pos.data.network.offline]
        );
        this.load();
    }

    get partnerName() {
        return this.state.context?.partner?.name || this.props.partner.name || "";
    }

    get isOffline() {
        return this.pos.data.network.offline;
    }

    get context() {
        return this.state.context;
    }

    get interactions() {
        return (this.context?.interactions || []).map((item) => ({
            ...item,
            when: formatServerDate(item.date),
        }));
    }

    get consents() {
        return (this.context?.consents || []).map((consent) => ({
            ...consent,
            when: formatServerDate(consent.date),
        }));
    }

    get orders() {
        return (this.context?.orders || []).map((order) => ({
            ...order,
            key: `${order.model},${order.id}`,
            when: formatServerDate(order.date),
        }));
    }

    get lastContact() {
        const last = this.context?.last_contact;
        if (!last || !last.date) {
            return false;
        }
        return { ...last, when: formatServerDate(last.date) };
    }

    get hasLoyalty() {
        return Array.isArray(this.context?.loyalty);
    }

    async load() {
        const request = ++this.request;
        this.state.status = "loading";
        this.state.error = "";
        try {
            const context = await this.pos.data.call("res.partner", "omnichannel_pos_context", [
                [this.props.partner.id],
                this.pos.config.id,
            ]);
            if (!this.alive || request !== this.request) {
                return;
            }
            this.state.context = context;
            this.state.status = "ready";
            // The server answers again: time to send what was logged while it did not.
            this.pos.omniSendPendingLogs();
        } catch (error) {
            if (!this.alive || request !== this.request) {
                return;
            }
            if (isConnectionLost(this.pos, error)) {
                this.state.status = "offline";
            } else {
                this.state.status = "error";
                this.state.error = readableError(
                    error,
                    _t("The customer context could not be loaded.")
                );
                console.warn("omnichannel_pos: customer context not loaded", error);
            }
        }
    }

    onRetry() {
        return this.load();
    }

    onLogInteraction() {
        this.dialog.add(LogInteractionDialog, {
            partner: { id: this.props.partner.id, name: this.partnerName },
            teams: this.context?.teams || [],
            onLogged: () => {
                if (this.alive) {
                    this.load();
                }
            },
        });
    }
}
