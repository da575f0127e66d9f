import { browser } from "@web/core/browser/browser";
import { session } from "@web/session";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { PosStore } from "@point_of_sale/app/store/pos_store";
import { CustomerContextDialog } from "@omnichannel_pos/customer_context/customer_context_dialog";
import { isConnectionLost, isRefusal, readableError } from "@omnichannel_pos/utils";

function pendingLogsKey() {
    return `omnichannel_pos.pending_logs.${session.db || ""}`;
}

patch(PosStore.prototype, {
    async setup() {
        await super.setup(...arguments);
        // Store interactions logged while offline, oldest first: [{partnerId, configId, values}].
        // Kept in the browser, so that a POS reloaded before the connection returns still sends them.
        this.omniPendingLogs = this.omniReadPendingLogs() || [];
        this.omniSendingLogs = false;
        browser.addEventListener("online", () => this.omniSendPendingLogs());
        this.omniSendPendingLogs();
    },

    /** Once the cashier picks another customer, show what the shop knows about them. */
    async selectPartner() {
        const order = this.get_order();
        const previous = order?.get_partner();
        const result = await super.selectPartner(...arguments);
        const partner = order?.get_partner();
        if (partner && partner.id !== previous?.id && this.config.omni_show_context) {
            // Not awaited: the dialog fetches the context itself and the sale goes on.
            this.showOmniCustomerContext(partner);
        }
        return result;
    },

    showOmniCustomerContext(partner) {
        if (!partner?.id || this.omniContextPartnerId === partner.id) {
            return; // a double click opens it once
        }
        this.omniContextPartnerId = partner.id;
        this.dialog.add(
            CustomerContextDialog,
            { partner },
            { onClose: () => (this.omniContextPartnerId = false) }
        );
    },

    /**
     * Logs a store interaction (res.partner.omnichannel_pos_log) and returns what the server
     * recorded; offline, keeps it to send later and returns false.
     *
     * The POS data service's own queue is not used: a call it replays and the server refuses
     * (say, the chosen team was archived meanwhile) would raise an error dialog and hold up the
     * POS's own queued changes behind it.
     */
    async omniLogStoreInteraction(partnerId, values) {
        try {
            const result = await this.omniSendLog({ partnerId, configId: this.config.id, values });
            // The server answers again: time to send what was logged while it did not.
            this.omniSendPendingLogs();
            return result;
        } catch (error) {
            if (!isConnectionLost(this, error)) {
                throw error;
            }
            this.omniUpdatePendingLogs((logs) =>
                logs.some((log) => log.values.uuid === values.uuid)
                    ? logs
                    : [...logs, { partnerId, configId: this.config.id, values }]
            );
            return false;
        }
    },

    omniSendLog({ partnerId, configId, values }) {
        return this.data.call("res.partner", "omnichannel_pos_log", [
            [partnerId],
            configId,
            values,
        ]);
    },

    /**
     * Sends the store interactions logged offline, in order; called when the browser is back
     * online, when the POS starts, and after each call that reached the server. The uuid of each
     * one makes the server record it once, however many times it is sent.
     */
    async omniSendPendingLogs() {
        if (this.omniSendingLogs || !this.omniPendingLogs?.length || this.data.network.offline) {
            return;
        }
        this.omniSendingLogs = true;
        let sent = 0;
        try {
            // Another tab of this POS may have queued or sent some meanwhile.
            this.omniUpdatePendingLogs((logs) => logs);
            while (this.omniPendingLogs.length) {
                const log = this.omniPendingLogs[0];
                try {
                    await this.omniSendLog(log);
                    sent++;
                } catch (error) {
                    if (isConnectionLost(this, error) || !isRefusal(error)) {
                        // Offline, or a server hiccup: the next occasion sends it, in order.
                        return;
                    }
                    // Refused for good: said once, then dropped, so that the others go on.
                    console.warn(
                        "omnichannel_pos: store interaction logged offline refused",
                        error
                    );
                    this.notification.add(readableError(error, _t("The server refused it.")), {
                        title: _t("A store interaction logged offline was not recorded"),
                        type: "warning",
                        sticky: true,
                    });
                }
                this.omniUpdatePendingLogs((logs) =>
                    logs.filter((other) => other.values.uuid !== log.values.uuid)
                );
            }
        } finally {
            this.omniSendingLogs = false;
            if (sent) {
                this.notification.add(_t("Store interactions logged offline were sent."), {
                    type: "success",
                });
            }
        }
    },

    /**
     * Changes the queue as kept in the browser, where each tab of this POS adds and removes its
     * own: read it again just before, so that no tab writes over another's. What this tab holds
     * and the browser does not (the storage is full or disabled, or another tab sent it) stays:
     * sent twice, it is still recorded once.
     */
    omniUpdatePendingLogs(change) {
        const logs = [...this.omniPendingLogs];
        const uuids = new Set(logs.map((log) => log.values.uuid));
        const stored = this.omniReadPendingLogs() || [];
        logs.push(...stored.filter((log) => !uuids.has(log.values.uuid)));
        this.omniPendingLogs = change(logs);
        this.omniWritePendingLogs();
    },

    /** The queue kept in the browser, or null without one. */
    omniReadPendingLogs() {
        try {
            const logs = JSON.parse(browser.localStorage.getItem(pendingLogsKey()) || "[]");
            return Array.isArray(logs) ? logs.filter((log) => log?.values?.uuid) : [];
        } catch {
            return null;
        }
    },

    omniWritePendingLogs() {
        try {
            if (this.omniPendingLogs.length) {
                browser.localStorage.setItem(
                    pendingLogsKey(),
                    JSON.stringify(this.omniPendingLogs)
                );
            } else {
                browser.localStorage.removeItem(pendingLogsKey());
            }
        } catch (error) {
            console.warn("omnichannel_pos: pending store interactions not saved", error);
        }
    },
});
